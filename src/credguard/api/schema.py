"""What every route's JSON shares: camelCase names, and datetimes that say they are UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Camel(BaseModel):
    """A body with camelCase names on the wire (snake_case accepted too)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class StrictCamel(Camel):
    """A request body that refuses unknown fields."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


def utc(moment: datetime) -> datetime:
    """Stored datetimes are naive UTC; the API says so (RFC 3339 with an offset)."""
    return moment.replace(tzinfo=UTC)

"""Imports every domain's tables so that ``Base.metadata`` is complete (Alembic, checks)."""

from credguard.accounts import tables as accounts_tables
from credguard.batches import tables as batches_tables
from credguard.bureau import tables as bureau_tables
from credguard.db.base import Base
from credguard.drift import tables as drift_tables
from credguard.incidents import tables as incidents_tables
from credguard.ml import tables as ml_tables
from credguard.notify import tables as notify_tables
from credguard.outcomes import tables as outcomes_tables
from credguard.security import tables as security_tables

__all__ = [
    "Base",
    "accounts_tables",
    "batches_tables",
    "bureau_tables",
    "drift_tables",
    "incidents_tables",
    "ml_tables",
    "notify_tables",
    "outcomes_tables",
    "security_tables",
]

"""The one error tree of CredGuard.

Every error a user may see derives from :class:`CredGuardError`: it carries a message written for
a person and the HTTP status a front door should answer with. Front doors render it (the CLI as
one line, the API as problem details); nothing below them knows how.

    CredGuardError (500)
    ├── NotFound (404)            e.g. BatchNotFound
    ├── Conflict (409)            e.g. a job already being processed
    ├── InvalidInput (422)        e.g. InvalidFile: not a CSV, missing column, empty
    ├── Busy (503)                another process held a lock too long: try again later
    └── ConfigurationError (500)  bad settings, missing model, out-of-date schema
"""

from __future__ import annotations


class CredGuardError(Exception):
    """An error with a message a user understands and the status a front door answers with."""

    status: int = 500

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        #: Itemised problems (e.g. one per bad row of an upload), each a few named strings.
        self.errors = errors
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return self.message


class NotFound(CredGuardError):
    status = 404


class Conflict(CredGuardError):
    status = 409


class InvalidInput(CredGuardError):
    status = 422


class Busy(CredGuardError):
    """Another process held what this one needs for too long; the same request can be retried."""

    status = 503


class ConfigurationError(CredGuardError):
    status = 500

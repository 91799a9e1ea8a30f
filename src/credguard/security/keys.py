"""Secret keys: configured, or in development created once and kept (0600) in the data dir.

Used for the token-signing key (``CREDGUARD_SECRET_KEY``) and the pseudonym key
(``CREDGUARD_PSEUDONYM_KEY``). In production an empty value stops start-up with a message
saying what to set: a key made up on the spot would not survive a new machine.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from credguard.config import Settings
from credguard.errors import ConfigurationError

MIN_LENGTH = 32


def configured_or_kept(
    settings: Settings, value: SecretStr, *, variable: str, file_name: str
) -> str:
    """``value`` if set (32+ characters), else in development the key kept in data_dir/file_name."""
    configured = value.get_secret_value()
    if configured:
        if len(configured) < MIN_LENGTH:
            raise ConfigurationError(f"{variable} must be at least {MIN_LENGTH} characters long")
        return configured
    if settings.environment == "production":
        raise ConfigurationError(
            f"set {variable} ({MIN_LENGTH}+ random characters) before running in production"
        )
    path = settings.data_dir / file_name
    if not path.exists():
        _create_private(path, secrets.token_urlsafe(48))
    return path.read_text().strip()


def _create_private(path: Path, content: str) -> None:
    """Write ``path`` (0600) whole or not at all; if another process won the race, keep theirs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)  # atomic, and never replaces an existing key
    finally:
        draft.unlink(missing_ok=True)

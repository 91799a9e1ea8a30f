"""What every command needs: settings, the engine, a console, progress bars."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine

from credguard.config import Settings, get_settings
from credguard.db.engine import get_engine
from credguard.db.migrate import ensure_current

console = Console()
err_console = Console(stderr=True)


def settings() -> Settings:
    return get_settings()


def engine(*, check_schema: bool = True) -> Engine:
    """The configured database; refuses an out-of-date schema unless asked not to check."""
    current = get_engine(settings().resolved_database_url)
    if check_schema:
        ensure_current(current)
    return current


@contextmanager
def row_progress(description: str) -> Iterator[Progress]:
    """A Rich progress bar counting rows."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        progress.add_task(description, total=None)
        yield progress

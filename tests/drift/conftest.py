"""Builders for drift tests: scored batches of one product, shifted or not."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from credguard.config import Settings
from credguard.db.base import utcnow
from credguard.synth import generator
from tests import factories
from tests.dashboard.conftest import browser  # noqa: F401 (Debian's Chromium, for the done-when test)

#: Much shorter relationships: the shift that reaches "action" (tests/drift/test_stats.py).
SHORT_RELATIONSHIPS = generator.Shift(relationship_factor=0.5)


def scored_batch(
    engine: Engine,
    settings: Settings,
    client_id: int,
    folder: Path,
    *,
    rows: int,
    seed: int,
    product: str = "CARTAO",
    shift: generator.Shift | None = None,
) -> tuple[int, pl.DataFrame]:
    """A completed batch job of ``rows`` clean customers of ``product``; its id and customers."""
    customers = generator.generate(
        rows,
        seed=seed,
        products=[product],
        reference_date=utcnow().date(),
        dirty_share=0.0,
        shift=shift,
    )
    path = factories.write_file(customers, folder / f"batch-{client_id}-{seed}.csv")
    job = factories.process(engine, settings, factories.submit(engine, settings, path, client_id))
    assert job.status == "completed", job.error
    return job.id, customers

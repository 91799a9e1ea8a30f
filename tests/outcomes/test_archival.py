"""The runbook's 90-day archival deletes old scores and jobs; the training store keeps them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, select, update

from credguard.batches.tables import BatchJob, CustomerScore
from credguard.config import Settings
from credguard.db.base import utcnow
from credguard.db.engine import session_scope
from credguard.outcomes import rows, service
from credguard.outcomes.tables import ObservedOutcome
from tests import factories
from tests.conftest import mariadb_engine
from tests.db.test_runbook_sql import DELETE_ARCHIVED, mysql

pytestmark = pytest.mark.mariadb


@pytest.fixture
def engine(mariadb_url: str) -> Iterator[Engine]:
    """MariaDB only: the runbook's SQL is MySQL's."""
    yield from mariadb_engine(mariadb_url)


def test_the_archival_sql_leaves_the_outcomes_and_their_features(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    customers = factories.make_customers(30, seed=8, products=["CARTAO"])
    path = factories.write_file(customers, tmp_path / "c.csv")
    job = factories.process(
        engine, settings, factories.submit(engine, settings, path, client_id)
    ).id
    cpfs = factories.stored_rows(engine, job)["cpf"].to_list()
    today = utcnow().date()
    typed = rows.validate(
        rows.from_records(
            [
                {
                    "cpf": cpf,
                    "produto": "CARTAO",
                    "inadimplente": i % 2,
                    "dataReferencia": str(today),
                }
                for i, cpf in enumerate(cpfs)
            ]
        ),
        products=settings.products,
        today=today,
    )
    with session_scope(engine) as session:
        assert service.record(session, client_id, typed, key=b"k" * 32).linked == 30
    table = ObservedOutcome.__table__
    with engine.connect() as connection:
        before = pl.DataFrame([dict(r) for r in connection.execute(select(table)).mappings()])
    with session_scope(engine) as session:  # the job was uploaded 100 days ago
        session.execute(
            update(BatchJob)
            .where(BatchJob.id == job)
            .values(created_at=utcnow() - timedelta(days=100))
        )

    mysql(engine, DELETE_ARCHIVED)

    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(BatchJob)) == 0
        assert session.scalar(select(func.count()).select_from(CustomerScore)) == 0
    with engine.connect() as connection:
        after = pl.DataFrame([dict(r) for r in connection.execute(select(table)).mappings()])
    assert after.equals(before)
    assert after["scoreId"].null_count() == 0 and after["total_compras"].null_count() == 0

"""The schema: built by the migrations, with the runbook's names, current-checked at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from credguard.db import engine as db_engine
from credguard.db import migrate
from credguard.db.tables import Base
from credguard.errors import ConfigurationError

RUNBOOK_COLUMNS = {
    "batch_jobs": {"id", "status", "fileName", "error", "createdAt"},
    "customer_scores": {
        "batchJobId",
        "cpf",
        "nome",
        "produto",
        "data_primeira_compra",
        "data_ultima_compra",
        "total_compras",
        "valor_total_compras",
        "total_pagamentos_em_dia",
        "total_atrasos",
        "maior_atraso",
        "scoreProbInadimplencia",
        "faixaScore",
        "motivoExclusao",
        "dataProcessamento",
        "createdAt",
    },
    "bureau_cache": {"expiresAt"},
    "users": {"id", "lastLoginAt"},
}


def test_migrations_build_the_runbook_schema(engine: Engine) -> None:
    inspector = inspect(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    for table, columns in RUNBOOK_COLUMNS.items():
        assert columns <= {column["name"] for column in inspector.get_columns(table)}, table
    indexed = {tuple(ix["column_names"]) for ix in inspector.get_indexes("batch_jobs")}
    assert ("status", "createdAt") in indexed
    indexed = {tuple(ix["column_names"]) for ix in inspector.get_indexes("customer_scores")}
    assert ("dataProcessamento",) in indexed
    unique = {
        tuple(uq["column_names"]) for uq in inspector.get_unique_constraints("customer_scores")
    }
    assert ("batchJobId", "rowNumber") in unique


def test_the_orm_mapping_matches_the_migrations(engine: Engine) -> None:
    """Every mapped table, column, type, index and constraint is what the migrations built."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_is_idempotent(engine: Engine) -> None:
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_an_empty_database_is_refused_with_the_command_that_fixes_it(tmp_path: Path) -> None:
    empty = db_engine.create(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(ConfigurationError, match="credguard db upgrade"):
        migrate.ensure_current(empty)
    empty.dispose()

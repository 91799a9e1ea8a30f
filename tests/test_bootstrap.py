"""``credguard init``: everything a fresh installation needs, and nothing twice."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select

from credguard import bootstrap
from credguard.accounts.tables import Client, Role, User
from credguard.config import Settings, get_settings
from credguard.db.engine import session_scope
from credguard.errors import ConfigurationError
from credguard.ml import registry
from tests import factories


def test_initialise_creates_admin_client_and_one_model_per_product_once(
    engine: Engine, settings: Settings
) -> None:
    first = bootstrap.initialise(engine, settings)

    assert first.admin_password and len(first.admin_password) >= 20
    assert set(first.trained) == set(settings.products)
    with session_scope(engine) as session:
        admin = session.scalars(select(User).where(User.role == Role.ADMIN)).one()
        assert PasswordHasher().verify(admin.password_hash, first.admin_password)
        assert (
            admin.password_hash.startswith("$argon2id$")
            and "m=19456,t=2,p=1" in admin.password_hash
        )
        assert session.scalars(select(Client.name)).all() == [settings.demo_client]
        production = registry.production_models(session)
        assert {p: r.name for p, r in production.items()} == {
            p: f"{p.lower()}_base" for p in settings.products
        }
        assert all(
            json.loads(registry.get_or_raise(session, r.id).metrics or "{}")["auc"] > 0.7
            for r in production.values()
        )
        model = registry.load(production["CARTAO"])
    assert model.product == "CARTAO"

    second = bootstrap.initialise(engine, settings)
    assert second.admin_password is None and second.trained == {}
    with session_scope(engine) as session:
        assert len(session.scalars(select(User)).all()) == 1


def test_a_model_file_that_changed_on_disk_is_refused(engine: Engine, settings: Settings) -> None:
    bootstrap.initialise(engine, settings)
    with session_scope(engine) as session:
        record = registry.production_models(session)["EMPRESTIMO"]
    path = settings.models_dir / f"{record.name}-v{record.version}.json"
    path.write_bytes(path.read_bytes() + b"\n")
    with pytest.raises(ConfigurationError, match="checksum"):
        registry.load(record)


def test_invalid_configuration_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDGUARD_BAND_CUTOFFS", '{"CARTAO": [500, 600, 700, 800]}')
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigurationError, match="strictly decreasing"):
            get_settings()
    finally:
        get_settings.cache_clear()


def test_default_bands_rank_risk(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    """With the default cut-offs each band's observed default rate is above the safer band's."""
    del client_id
    customers = factories.make_customers(20_000, seed=31)
    path = factories.write_file(customers.drop("motivo_esperado"), tmp_path / "c.csv")
    with session_scope(engine) as session:
        client = session.scalars(select(Client)).one()
    job = factories.process(engine, settings, factories.submit(engine, settings, path, client.id))
    rows = factories.stored_rows(engine, job.id).with_columns(outcome=customers["inadimplente"])
    rates = rows.group_by("faixaScore").agg(pl.col("outcome").mean()).sort("faixaScore")
    assert rates["faixaScore"].to_list() == list("ABCDE")
    assert rates["outcome"].is_sorted() and rates["outcome"].n_unique() == 5

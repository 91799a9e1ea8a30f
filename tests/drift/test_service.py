"""Drift runs on SQLite and MariaDB: one result per product × scope × day, replaced on a re-run,
computed once when two run at once; the window, outcomes, retraining triggers and incidents."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import numpy as np
import pymysql.cursors
import pytest
from sqlalchemy import Engine, func, select, update

from credguard.accounts import service as accounts
from credguard.batches.tables import CustomerScore
from credguard.config import Settings
from credguard.db.base import utcnow
from credguard.db.engine import session_scope
from credguard.drift import service
from credguard.drift.tables import DriftResult
from credguard.incidents.tables import Incident
from credguard.ml import promotion, registry, triggers
from credguard.outcomes import rows as outcome_rows
from credguard.outcomes import service as outcomes
from credguard.scoring.features import INPUT_COLUMNS
from tests.drift.conftest import SHORT_RELATIONSHIPS, scored_batch
from tests.factories import today_utc


def stored(engine: Engine) -> dict[tuple[str, str], DriftResult]:
    with session_scope(engine) as session:
        return {(r.produto, r.scope): r for r in session.scalars(select(DriftResult))}


def written(result: DriftResult) -> tuple[int, object]:
    """Which write a row is (SQLite reuses a deleted row's id; MariaDB keeps no fractions)."""
    return result.id, result.created_at


def second_client(engine: Engine, name: str = "Loja Deslocada") -> int:
    with session_scope(engine) as session:
        return accounts.create_client(session, name, contact_email="risco@deslocada.test").id


def test_one_result_per_product_and_scope_replaced_by_a_rerun(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    shifted_client = second_client(engine)
    scored_batch(engine, settings, client_id, tmp_path, rows=1_500, seed=11)
    scored_batch(
        engine, settings, shifted_client, tmp_path, rows=1_500, seed=12, shift=SHORT_RELATIONSHIPS
    )
    report = service.detect_drift(engine, settings)
    results = stored(engine)
    assert set(results) == {
        ("CARTAO", "all"),
        ("CARTAO", f"client:{client_id}"),
        ("CARTAO", f"client:{shifted_client}"),
        ("EMPRESTIMO", "all"),
        ("CREDIARIO", "all"),
    }
    assert sorted(report.result_ids) == sorted(r.id for r in results.values())
    same = results[("CARTAO", f"client:{client_id}")]
    moved = results[("CARTAO", f"client:{shifted_client}")]
    assert same.status == "stable" and same.n_current == 1_500 and same.dia == today_utc()
    assert moved.status == "action" and moved.feature_status == "action"
    assert moved.client_id == shifted_client
    assert "relationship_days" in json.loads(moved.feature_drift or "{}")["flagged"]
    assert results[("CARTAO", "all")].n_current == 3_000
    assert results[("CARTAO", "all")].n_reference == 4_500  # the model's n_train
    nothing = results[("EMPRESTIMO", "all")]
    assert nothing.n_current == 0 and nothing.status == "insufficient_sample"
    assert nothing.psi is None
    start, end = service.window_bounds(today_utc(), settings.drift_window_days)
    assert (same.window_start, same.window_end) == (start, end)
    assert end - start == timedelta(days=30)
    parts = same.parts()
    assert parts["scoreDistribution"]["status"] == same.psi_status
    assert len(parts["featureDrift"]["features"]) == 9
    assert parts["performance"]["judgedOn"] == "estimated"

    service.detect_drift(engine, settings)  # the same day again: replaced, not added
    again = stored(engine)
    assert set(again) == set(results)
    assert all(written(again[key]) != written(results[key]) for key in results)
    service.detect_drift(engine, settings, products=["EMPRESTIMO"])  # one product only
    third = stored(engine)
    assert written(third[("CARTAO", "all")]) == written(again[("CARTAO", "all")])
    assert written(third[("EMPRESTIMO", "all")]) != written(again[("EMPRESTIMO", "all")])
    # Another day is added; yesterday's window ends before today's batches: no client in it.
    service.detect_drift(engine, settings, day=today_utc() - timedelta(days=1))
    with session_scope(engine) as session:
        days = session.execute(
            select(DriftResult.dia, func.count()).group_by(DriftResult.dia)
        ).all()
    assert dict(days) == {today_utc(): 5, today_utc() - timedelta(days=1): 3}


def test_the_window_leaves_out_older_and_excluded_rows(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    recent, _ = scored_batch(engine, settings, client_id, tmp_path, rows=800, seed=21)
    old, _ = scored_batch(engine, settings, client_id, tmp_path, rows=700, seed=22)
    with session_scope(engine) as session:
        session.execute(
            update(CustomerScore)
            .where(CustomerScore.batch_job_id == old)
            .values(data_processamento=utcnow() - timedelta(days=31))
        )
        session.execute(  # an excluded row is no customer of the window
            update(CustomerScore)
            .where(CustomerScore.batch_job_id == recent, CustomerScore.row_number <= 50)
            .values(motivo_exclusao="CPF_INVALIDO")
        )
    service.detect_drift(engine, settings, products=["CARTAO"])
    assert stored(engine)[("CARTAO", "all")].n_current == 750
    # The window of 20 days ago holds the older batch only.
    service.detect_drift(
        engine, settings, day=today_utc() - timedelta(days=20), products=["CARTAO"]
    )
    with session_scope(engine) as session:
        past = session.scalar(
            select(DriftResult).where(
                DriftResult.dia == today_utc() - timedelta(days=20), DriftResult.scope == "all"
            )
        )
        assert past is not None and past.n_current == 700


def test_the_window_is_read_unbuffered_and_portably(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    """MySQL/MariaDB stream the window (FETCH_ROWS bounds memory); no 8.0.17-only CAST."""
    for dialect in ("sqlite", "mysql"):
        assert "AS DOUBLE" not in service._window_sql(dialect).upper()
    scored_batch(engine, settings, client_id, tmp_path, rows=300, seed=23)
    with engine.connect() as connection:
        cursor = service._cursor(connection.connection.dbapi_connection, engine.dialect.name)
        unbuffered = isinstance(cursor, pymysql.cursors.SSCursor)
        cursor.close()
    assert unbuffered == (engine.dialect.name == "mysql")
    with session_scope(engine) as session:
        model = registry.production_models(session)["CARTAO"]
        stored_spent = session.scalar(select(func.sum(CustomerScore.valor_total_compras)))
    start, end = service.window_bounds(today_utc(), settings.drift_window_days)
    table = service.read_window(engine, "CARTAO", start, end, model)
    assert table.dtype == np.float64 and table.shape == (300, service._COLUMNS)
    spent = table[:, service._FIRST_INPUT + INPUT_COLUMNS.index("valor_total_compras")]
    assert spent.dtype == np.float64 and np.nansum(spent) == pytest.approx(float(stored_spent))


def test_runs_at_once_compute_the_day_once(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    """Three schedulers catching up at once: the named lock lets one compute, the others skip."""
    scored_batch(engine, settings, client_id, tmp_path, rows=600, seed=31)
    failures: list[BaseException] = []
    reports: list[service.RunReport | None] = []

    def run() -> None:
        try:
            reports.append(service.run_if_missing(engine, settings))
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures
    computed = [report for report in reports if report is not None]
    assert len(reports) == 3 and len(computed) == 1
    assert len(computed[0].result_ids) == 4
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(DriftResult)) == 4


def test_outcomes_add_observed_performance_beside_the_estimate(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    _, customers = scored_batch(engine, settings, client_id, tmp_path, rows=1_200, seed=41)
    sent = outcome_rows.validate(
        outcome_rows.from_records(
            [
                {"cpf": cpf, "produto": "CARTAO", "inadimplente": bool(bad),
                 "dataReferencia": today_utc().isoformat()}
                for cpf, bad in customers.select("cpf", "inadimplente").iter_rows()
            ]
        ),
        products=settings.products,
        today=today_utc(),
    )  # fmt: skip
    with session_scope(engine) as session:
        report = outcomes.record(session, client_id, sent, key=b"k" * 32)
    assert report.linked == 1_200
    service.detect_drift(engine, settings, products=["CARTAO"])
    performance = stored(engine)[("CARTAO", f"client:{client_id}")].parts()["performance"]
    assert performance["judgedOn"] == "observed" and performance["status"] == "stable"
    observed, estimated = performance["observed"], performance["estimated"]
    assert observed["estimated"] is False and observed["n"] == 1_200
    assert observed["defaults"] == int(customers["inadimplente"].sum())
    assert estimated["estimated"] is True and estimated["n"] == 1_200
    assert 0.6 < observed["auc"] < 0.95 and 0.6 < estimated["auc"] < 0.95
    # Outcomes of another model's scores do not judge the production model.
    with session_scope(engine) as session:
        session.execute(update(outcomes.ObservedOutcome).values(model_version="99"))
    service.detect_drift(engine, settings, products=["CARTAO"])
    performance = stored(engine)[("CARTAO", f"client:{client_id}")].parts()["performance"]
    assert performance["judgedOn"] == "estimated" and performance["observed"] is None


def test_action_is_due_for_retraining_and_opens_one_incident(
    engine: Engine,
    settings: Settings,
    client_id: int,
    tmp_path: Path,
    default_models: dict[str, Path],
) -> None:
    shifted_client = second_client(engine)
    scored_batch(engine, settings, client_id, tmp_path, rows=600, seed=51)
    scored_batch(
        engine, settings, shifted_client, tmp_path, rows=2_000, seed=52, shift=SHORT_RELATIONSHIPS
    )
    service.detect_drift(engine, settings)
    with session_scope(engine) as session:
        due = triggers.due(session, settings)
    drift_items = [item for item in due if item.trigger == "drift"]
    assert [(item.product, item.trigger) for item in drift_items] == [("CARTAO", "drift")]
    assert f"client {shifted_client}" in drift_items[0].detail
    assert "relationship_days" in drift_items[0].detail
    service.detect_drift(engine, settings)  # detected again the same day
    with session_scope(engine) as session:
        incidents = session.scalars(select(Incident)).all()
        opened = [(i.produto, i.scope, i.occurrences) for i in incidents]
        assert all(i.source == "drift" for i in incidents)
        assert incidents and "Drift action: CARTAO" in incidents[0].title
    assert (("CARTAO", f"client:{shifted_client}", 2)) in opened
    assert len({(product, scope) for product, scope, _ in opened}) == len(opened)
    assert all(scope != f"client:{client_id}" for _, scope, _ in opened)
    # A new production model answers the drift of the old one.
    with session_scope(engine) as session:
        promotion.register_file(
            session,
            default_models["CARTAO"],
            name="cartao_v2",
            settings=settings,
            metrics_path=None,
        )
        promotion.promote(
            session, settings, product="CARTAO", model_name="cartao_v2",
            reason="retrained after drift", user_id=None, force=True,
        )  # fmt: skip
        assert not [item for item in triggers.due(session, settings) if item.trigger == "drift"]


def test_a_product_whose_model_file_is_altered_is_skipped_not_the_others(
    engine: Engine, settings: Settings, client_id: int
) -> None:
    del client_id  # models in production (none loaded yet in this test: loads are cached)
    with session_scope(engine) as session:
        emprestimo = registry.production_models(session)["EMPRESTIMO"]
    with Path(emprestimo.artifact_path).open("ab") as handle:
        handle.write(b" ")
    report = service.detect_drift(engine, settings)
    runs = {run.product: run for run in report.products}
    assert runs["EMPRESTIMO"].failed and "checksum" in (runs["EMPRESTIMO"].skipped or "")
    assert not runs["CARTAO"].failed and runs["CARTAO"].statuses == {"all": "insufficient_sample"}
    assert {product for product, _ in stored(engine)} == {"CARTAO", "CREDIARIO"}

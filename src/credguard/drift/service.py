"""Detecting drift over a window of stored scores, keeping it as history, and listing it.

:func:`detect_drift` computes, for a day ``D`` and every product with a production model, one
result for all clients together and one per client scored in the window
``[D − window_days + 1, D + 1)`` (UTC, by ``dataProcessamento``; excluded rows left out). Each
product's window is read once, as columns (one query, the driver's own cursor — unbuffered on
MySQL/MariaDB — no ORM rows),
features computed with each row's ``dataProcessamento`` day as reference date, then split by
client. Observed performance uses the outcomes dated (``dataReferencia``) in the window that
judge scores of the production model.

Idempotent for a day: a run replaces that day's rows of the products it computed, in one
transaction, so a re-run (or a run after a crash) leaves exactly one row per product × scope ×
day. Runs take a named lock, so two processes (the timer and a server, two servers) never
compute at once; :func:`run_if_missing` lets a scheduler skip a day already done.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from time import perf_counter
from typing import Any

import numpy as np
import structlog
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from credguard import scheduler
from credguard.accounts.tables import Client
from credguard.config import Settings
from credguard.db.base import utcnow
from credguard.db.engine import is_sqlite, named_lock, new_session, session_scope, write_lock
from credguard.drift import stats
from credguard.drift.tables import ALL_CLIENTS, DriftResult, client_scope
from credguard.errors import ConfigurationError
from credguard.incidents import service as incidents
from credguard.ml import registry
from credguard.ml.tables import ModelRecord
from credguard.outcomes.tables import ObservedOutcome
from credguard.scoring.features import INPUT_COLUMNS, feature_matrix
from credguard.scoring.score import to_score

log = structlog.get_logger(__name__)

#: The named lock every run holds (see :func:`credguard.db.engine.named_lock`).
LOCK_NAME = "credguard-drift-run"


def thresholds(settings: Settings, product: str) -> stats.Thresholds:
    """The settings that turn a product's figures into statuses."""
    return stats.Thresholds(
        min_sample=settings.drift_min_sample,
        feature_threshold_pct=settings.drift_feature_threshold_pct,
        performance_drop=settings.drift_performance_drop,
        cutoff_band=settings.drift_cutoff_band,
        cutoffs=settings.cutoffs_for(product),
    )


def window_bounds(day: date, window_days: int) -> tuple[datetime, datetime]:
    """[start, end) of the window ending with ``day``: ``window_days`` whole UTC days."""
    end = datetime.combine(day + timedelta(days=1), time.min)
    return end - timedelta(days=window_days), end


# --- reading a window -----------------------------------------------------------------------

# Per dialect: days since 1970-01-01 of a DATE / DATETIME column.
_DAYS = {
    "sqlite": "CAST(julianday({0}) - 2440587.5 AS INTEGER)",
    "mysql": "(TO_DAYS({0}) - 719528)",
}
#: A DECIMAL as a double, in any version: adding a float literal (0E0, not 0.0, which is a
#: DECIMAL on MySQL) makes a double; ``CAST(… AS DOUBLE)`` needs MySQL 8.0.17.
_DOUBLE = "({0} + 0E0)"
_PLACEHOLDER = {"sqlite": "?", "mysql": "%s"}
#: Columns of the window query, in order (see :func:`_window_sql`).
_CLIENT, _FIRST_INPUT, _DAY, _PROB = 0, 1, 8, 9
_COLUMNS = 10
#: Rows fetched and converted at a time: bounds the Python tuples alive at once (memory), with
#: the unbuffered cursor of :func:`_cursor` on MySQL/MariaDB.
FETCH_ROWS = 100_000


def _window_sql(dialect: str) -> str:
    days, double, mark = _DAYS[dialect], _DOUBLE, _PLACEHOLDER[dialect]
    inputs = [
        days.format(name) if name.startswith("data_") else name
        for name in INPUT_COLUMNS
        if name != "valor_total_compras"
    ]
    inputs.insert(INPUT_COLUMNS.index("valor_total_compras"), double.format("valor_total_compras"))
    columns = [
        "clientId",
        *inputs,
        days.format("dataProcessamento"),
        # The probability of rows the production model scored (NULL for another model's); the
        # stored 0–1000 score is to_score() of it, so it is not read (each column costs ~10 %).
        f"CASE WHEN modelName = {mark} AND modelVersion = {mark} THEN scoreProbInadimplencia END",
    ]
    return (
        f"SELECT {', '.join(columns)} FROM customer_scores "
        f"WHERE produto = {mark} AND dataProcessamento >= {mark} AND dataProcessamento < {mark} "
        "AND motivoExclusao IS NULL"
    )


@dataclass(frozen=True)
class WindowRows:
    """A product's window as arrays: each row's client, features, score and probability."""

    client_id: np.ndarray  #: int64
    X: np.ndarray  #: (rows, 9) features
    score: np.ndarray
    prob: np.ndarray
    scored: np.ndarray  #: scored by the production model (bool)


def read_window(
    engine: Engine, product: str, start: datetime, end: datetime, model: registry.ModelRef
) -> np.ndarray:
    """Every scored row of ``product`` processed in [start, end), as one float matrix.

    One query; its columns are :func:`_window_sql`'s (dates as days since 1970, NULL as NaN).
    """
    dialect = "sqlite" if is_sqlite(engine) else "mysql"
    bounds: tuple[Any, Any] = (start, end)
    if dialect == "sqlite":  # compared as the text SQLAlchemy stores
        bounds = (f"{start:%Y-%m-%d %H:%M:%S.%f}", f"{end:%Y-%m-%d %H:%M:%S.%f}")
    params = (model.name, str(model.version), product, *bounds)
    with engine.connect() as connection:
        # The driver's cursor: rows come as tuples straight into float matrices (NULL is NaN),
        # without SQLAlchemy building a Row object per customer (the read is most of a run).
        cursor = _cursor(connection.connection.dbapi_connection, dialect)
        try:
            cursor.execute(_window_sql(dialect), params)
            parts = []
            while chunk := cursor.fetchmany(FETCH_ROWS):
                parts.append(np.array(chunk, dtype=np.float64))
        finally:
            cursor.close()
    return np.concatenate(parts) if parts else np.empty((0, _COLUMNS))


def _cursor(dbapi_connection: Any, dialect: str) -> Any:
    """The driver's cursor; on MySQL/MariaDB a server-side one, so rows arrive as fetched.

    PyMySQL's default cursor reads the whole result into memory at ``execute``: FETCH_ROWS
    would then bound nothing. An unbuffered cursor holds its connection until every row is
    read or the cursor is closed; :func:`read_window` does both before anything else.
    """
    if dialect == "mysql":
        import pymysql.cursors

        return dbapi_connection.cursor(pymysql.cursors.SSCursor)
    return dbapi_connection.cursor()


def window_rows(table: np.ndarray) -> WindowRows:
    """Features (each row's ``dataProcessamento`` day as reference date) of a window's matrix."""
    inputs = {name: table[:, _FIRST_INPUT + i] for i, name in enumerate(INPUT_COLUMNS)}
    prob = table[:, _PROB]
    scored = ~np.isnan(prob)
    return WindowRows(
        client_id=table[:, _CLIENT].astype(np.int64),
        X=feature_matrix(inputs, table[:, _DAY]),
        score=np.where(scored, to_score(np.nan_to_num(prob)), -1),
        prob=prob,
        scored=scored,
    )


def read_outcomes(
    session: Session, product: str, start: datetime, end: datetime, model: registry.ModelRef
) -> tuple[np.ndarray, stats.Outcomes]:
    """Client per outcome, and the outcomes dated in the window judging the model's scores."""
    rows = session.execute(
        select(
            ObservedOutcome.client_id,
            ObservedOutcome.inadimplente,
            ObservedOutcome.score_prob,
        ).where(
            ObservedOutcome.produto == product,
            ObservedOutcome.data_referencia >= start.date(),
            ObservedOutcome.data_referencia < end.date(),
            ObservedOutcome.score_prob.is_not(None),
            ObservedOutcome.motivo_exclusao.is_(None),
            ObservedOutcome.model_name == model.name,
            ObservedOutcome.model_version == str(model.version),
        )
    ).all()
    # The driver's rows straight into one matrix (a default is True → 1.0), then its columns.
    table = np.array(rows, dtype=np.float64).reshape(-1, 3)
    return table[:, 0].astype(np.int64), stats.Outcomes(table[:, 1], table[:, 2])


# --- a run ----------------------------------------------------------------------------------


@dataclass
class ProductRun:
    """What a run did for one product."""

    product: str
    model: str | None = None
    rows: int = 0
    statuses: dict[str, str] = field(default_factory=dict)  #: scope → overall status
    skipped: str | None = None  #: why nothing was computed
    failed: bool = False  #: skipped because of an error (not merely no production model)
    seconds: dict[str, float] = field(default_factory=dict)  #: stage → seconds


@dataclass
class RunReport:
    """What a run computed and stored."""

    day: date
    window_start: datetime
    window_end: datetime
    products: list[ProductRun]
    result_ids: list[int] = field(default_factory=list)
    store_seconds: float = 0.0


def detect_drift(
    engine: Engine,
    settings: Settings,
    *,
    day: date | None = None,
    products: Sequence[str] | None = None,
) -> RunReport:
    """Compute and store every product × scope result of ``day`` (default: today, UTC).

    Re-running replaces that day's results of the products computed: safe after a crash or
    twice in a row, and two processes never compute at once (a named lock).
    """
    day = day or utcnow().date()
    with named_lock(engine, LOCK_NAME):
        return _run(engine, settings, day, list(products or settings.products))


def run_if_missing(engine: Engine, settings: Settings, day: date | None = None) -> RunReport | None:
    """:func:`detect_drift` for ``day`` unless it has been done (checked under the lock)."""
    day = day or utcnow().date()
    with named_lock(engine, LOCK_NAME):
        if not is_missing(engine, settings, day):
            return None
        return _run(engine, settings, day, list(settings.products))


def is_missing(engine: Engine, settings: Settings, day: date) -> bool:
    """Whether a product with a production model has no all-clients result for ``day``."""
    with session_scope(engine) as session:
        products = set(registry.production_models(session)) & set(settings.products)
        done = set(
            session.scalars(
                select(DriftResult.produto).where(
                    DriftResult.dia == day, DriftResult.scope == ALL_CLIENTS
                )
            )
        )
    return bool(products - done)


def _run(engine: Engine, settings: Settings, day: date, products: list[str]) -> RunReport:
    start, end = window_bounds(day, settings.drift_window_days)
    report = RunReport(day=day, window_start=start, window_end=end, products=[])
    with session_scope(engine) as session:
        production = registry.production_models(session)
        ids = [ref.id for ref in production.values()]
        stored_metrics: dict[int, str | None] = {
            model_id: text
            for model_id, text in session.execute(
                select(ModelRecord.id, ModelRecord.metrics).where(ModelRecord.id.in_(ids))
            )
        }
    results: list[DriftResult] = []
    for product in products:
        run = ProductRun(product)
        report.products.append(run)
        ref = production.get(product)
        if ref is None:
            run.skipped = "no production model"
            continue
        run.model = f"{ref.name} v{ref.version}"
        try:
            artifact = registry.load(ref).artifact
        except ConfigurationError as exc:  # its file is missing or altered: the others still run
            run.skipped, run.failed = exc.message, True
            log.error("drift skipped a product", product=product, error=exc.message)
            continue
        metrics = {**artifact.metrics, **json.loads(stored_metrics.get(ref.id) or "{}")}
        reference = stats.Reference.of(artifact, metrics)
        results.extend(_assess_product(engine, settings, ref, reference, day, run))
    began = perf_counter()
    computed = [run.product for run in report.products if run.skipped is None]
    with write_lock(engine), session_scope(engine) as session:
        if computed:
            session.execute(
                delete(DriftResult).where(DriftResult.dia == day, DriftResult.produto.in_(computed))
            )
        session.add_all(results)
        session.flush()
        report.result_ids = [result.id for result in results]
        for result in results:  # "action" opens (or counts) an incident, committed together
            incidents.report_drift(
                session,
                settings,
                product=result.produto,
                client_id=result.client_id,
                status=result.status,
                summary=summary(result),
                details=details(result),
                detected_on=day,
            )
    report.store_seconds = perf_counter() - began
    log.info(
        "drift computed",
        day=day.isoformat(),
        results=len(results),
        action=sum(result.status == stats.Status.ACTION for result in results),
    )
    return report


def _assess_product(
    engine: Engine,
    settings: Settings,
    ref: registry.ModelRef,
    reference: stats.Reference,
    day: date,
    run: ProductRun,
) -> list[DriftResult]:
    """The all-clients result and one per client of ``run.product``'s window."""
    product = run.product
    start, end = window_bounds(day, settings.drift_window_days)
    began = perf_counter()
    table = read_window(engine, product, start, end, ref)
    with new_session(engine) as session:
        outcome_clients, outcomes = read_outcomes(session, product, start, end, ref)
    run.seconds["read"] = perf_counter() - began
    began = perf_counter()
    rows = window_rows(table)
    del table
    run.seconds["features"] = perf_counter() - began
    began = perf_counter()
    window = stats.Window.of(reference, rows.X, rows.score, rows.prob, rows.scored)
    run.seconds["bins"] = perf_counter() - began
    run.rows = len(window)
    began = perf_counter()
    limits = thresholds(settings, product)
    now = utcnow()

    def result(client_id: int | None, assessment: stats.Assessment) -> DriftResult:
        run.statuses[client_scope(client_id)] = assessment.status.value
        return result_row(
            product, client_id, day, (start, end), ref.id, reference, assessment, created_at=now
        )

    results = [result(None, stats.assess(reference, limits, window, outcomes))]
    outcomes_of = _groups(outcome_clients)
    for client_id, members in _groups(rows.client_id).items():
        chosen = outcomes_of.get(client_id)
        mine = outcomes.subset(chosen) if chosen is not None else None
        results.append(
            result(client_id, stats.assess(reference, limits, window.subset(members), mine))
        )
    run.seconds["assess"] = perf_counter() - began
    return results


def result_row(
    product: str,
    client_id: int | None,
    day: date,
    window: tuple[datetime, datetime],
    model_id: int,
    reference: stats.Reference,
    assessment: stats.Assessment,
    *,
    created_at: datetime,
) -> DriftResult:
    """The row a drift run stores for ``product`` × ``client_id`` (None: all clients) × ``day``."""
    return DriftResult(
        produto=product,
        client_id=client_id,
        scope=client_scope(client_id),
        dia=day,
        window_start=window[0],
        window_end=window[1],
        model_id=model_id,
        n_current=assessment.n,
        n_reference=reference.n,
        psi=assessment.psi,
        psi_critical=assessment.psi_critical,
        psi_status=assessment.psi_status.value,
        feature_status=assessment.feature_status.value,
        performance_status=assessment.performance_status.value,
        score_distribution=_dumps(assessment.score_distribution),
        feature_drift=_dumps(assessment.feature_drift),
        performance=_dumps(assessment.performance),
        status=assessment.status.value,
        created_at=created_at,
    )


def summary(result: DriftResult) -> str:
    """One line saying what a result found, e.g. for an incident's title."""
    who = "all clients" if result.client_id is None else f"client {result.client_id}"
    parts = result.parts()
    found = []
    if result.psi is not None:
        found.append(f"score PSI {result.psi:.3f} ({result.psi_status})")
    flagged = (parts["featureDrift"] or {}).get("flagged") or []
    if flagged:
        found.append("features drifted: " + ", ".join(flagged))
    performance = parts["performance"] or {}
    judged = performance.get(performance.get("judgedOn") or "") or {}
    drops = [
        f"{name} −{100 * drop:.1f} %"
        for name, drop in (judged.get("relativeDrop") or {}).items()
        if name in stats.JUDGED_METRICS and drop is not None and drop > 0
    ]
    if drops and result.performance_status != stats.Status.STABLE:
        found.append(f"{performance.get('judgedOn')} performance {', '.join(drops)}")
    return f"Drift {result.status}: {result.produto}, {who}, {result.dia}: " + "; ".join(found)


def details(result: DriftResult) -> dict[str, Any]:
    """The figures behind a result's status (the full JSON is in ``drift_results``)."""
    parts = result.parts()
    performance = parts["performance"] or {}
    judged = performance.get(performance.get("judgedOn") or "") or {}
    return {
        "driftResultId": result.id,
        "dia": result.dia.isoformat(),
        "scope": result.scope,
        "window": [result.window_start.isoformat(), result.window_end.isoformat()],
        "nCurrent": result.n_current,
        "psi": result.psi,
        "psiCritical": result.psi_critical,
        "statuses": {
            "score": result.psi_status,
            "features": result.feature_status,
            "performance": result.performance_status,
        },
        "flaggedFeatures": (parts["featureDrift"] or {}).get("flagged"),
        "performanceJudgedOn": performance.get("judgedOn"),
        "relativeDrop": judged.get("relativeDrop"),
    }


def _groups(keys: np.ndarray) -> dict[int, np.ndarray]:
    """Row indices of each distinct key (one sort, no per-row Python)."""
    if len(keys) == 0:
        return {}
    order = np.argsort(keys, kind="stable")
    distinct, first = np.unique(keys[order], return_index=True)
    return {int(key): part for key, part in zip(distinct, np.split(order, first[1:]), strict=True)}


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


# --- reading results ------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultView:
    """A stored result with its client's name (serialised by the API's DriftResultRead)."""

    result: DriftResult
    client_name: str | None


def list_results(
    session: Session,
    *,
    product: str | None = None,
    client_id: int | None = None,
    scope: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int = 1000,
) -> list[ResultView]:
    """Stored results, newest day first, filtered; what a page or the API shows.

    ``client_id`` selects that client's scope; ``scope`` (``all`` or ``client:<id>``) one scope.
    """
    query = (
        select(DriftResult, Client.name)
        .outerjoin(Client, Client.id == DriftResult.client_id)
        .order_by(DriftResult.dia.desc(), DriftResult.produto, DriftResult.scope)
        .limit(limit)
    )
    if product is not None:
        query = query.where(DriftResult.produto == product)
    if client_id is not None:
        query = query.where(DriftResult.client_id == client_id)
    if scope is not None:
        query = query.where(DriftResult.scope == scope)
    if since is not None:
        query = query.where(DriftResult.dia >= since)
    if until is not None:
        query = query.where(DriftResult.dia <= until)
    return [ResultView(result, name) for result, name in session.execute(query)]


def latest(
    session: Session,
    *,
    product: str | None = None,
    client_id: int | None = None,
    scope: str | None = None,
) -> list[ResultView]:
    """The latest result of each product × scope (filtered like :func:`list_results`)."""
    newest = select(
        DriftResult.produto, DriftResult.scope, func.max(DriftResult.dia).label("dia")
    ).group_by(DriftResult.produto, DriftResult.scope)
    if product is not None:
        newest = newest.where(DriftResult.produto == product)
    if client_id is not None:
        newest = newest.where(DriftResult.client_id == client_id)
    if scope is not None:
        newest = newest.where(DriftResult.scope == scope)
    last = newest.subquery()
    query = (
        select(DriftResult, Client.name)
        .join(
            last,
            (last.c.produto == DriftResult.produto)
            & (last.c.scope == DriftResult.scope)
            & (last.c.dia == DriftResult.dia),
        )
        .outerjoin(Client, Client.id == DriftResult.client_id)
        .order_by(DriftResult.produto, DriftResult.scope)
    )
    return [ResultView(result, name) for result, name in session.execute(query)]


# --- schedule -------------------------------------------------------------------------------


def scheduled_job(engine: Engine, settings: Settings) -> scheduler.Job:
    """Drift as a daily job of ``credguard serve``: at CREDGUARD_DRIFT_RUN_AT, and at start-up
    when today's run is missing; several processes compute it once (lock, then a check)."""
    return scheduler.Job(
        name="drift",
        run=lambda: run_if_missing(engine, settings),
        at=settings.drift_run_time,
        catch_up=lambda: is_missing(engine, settings, utcnow().date()),
    )

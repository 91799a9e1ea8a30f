"""The training store: linking, upserts, pseudonyms, purge and export, on SQLite and MariaDB."""

from __future__ import annotations

import hashlib
import hmac
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from pathlib import Path

import polars as pl
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, delete, select, update

from credguard.accounts import service as accounts
from credguard.batches.tables import BatchJob, CustomerScore
from credguard.config import Settings
from credguard.customers.cpf import is_valid_cpf
from credguard.db.engine import session_scope
from credguard.errors import ConfigurationError
from credguard.outcomes import export, rows, service, snapshots
from credguard.outcomes.pseudonym import cpf_hashes, pseudonym_key
from credguard.outcomes.tables import ObservedOutcome
from credguard.scoring.features import INPUT_COLUMNS
from tests import factories
from tests.factories import today_utc

KEY = b"k" * 32


def processed_at(engine: Engine, job_id: int, moment: datetime) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(CustomerScore)
            .where(CustomerScore.batch_job_id == job_id)
            .values(data_processamento=moment)
        )


def outcomes_of(cpfs: list[str], *, produto: str, day: date, defaulted: list[bool]) -> pl.DataFrame:
    raw = rows.from_records(
        [
            {"cpf": cpf, "produto": produto, "inadimplente": bad, "dataReferencia": day.isoformat()}
            for cpf, bad in zip(cpfs, defaulted, strict=True)
        ]
    )
    return rows.validate(raw, products=["CARTAO", "EMPRESTIMO", "CREDIARIO"], today=today_utc())


def record(
    engine: Engine, client_id: int, typed: pl.DataFrame, key: bytes = KEY
) -> service.RecordReport:
    with session_scope(engine) as session:
        return service.record(session, client_id, typed, key=key)


def stored(engine: Engine) -> pl.DataFrame:
    """Every stored outcome, typed as the ORM reads them (dates as dates on both engines)."""
    table = ObservedOutcome.__table__
    with engine.connect() as connection:
        found = [
            dict(row) for row in connection.execute(select(table).order_by(table.c.id)).mappings()
        ]
    return pl.DataFrame(found, infer_schema_length=None)


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour))


@pytest.fixture
def customers() -> pl.DataFrame:
    return factories.make_customers(40, seed=5, products=["CARTAO"]).drop(
        "motivo_esperado", "prob_inadimplencia_real", "inadimplente"
    )


def test_an_outcome_links_to_the_latest_score_on_or_before_its_date_of_its_own_client(
    engine: Engine, settings: Settings, client_id: int, customers: pl.DataFrame, tmp_path: Path
) -> None:
    with session_scope(engine) as session:
        other_client = accounts.create_client(session, "Outra Loja").id
    early = factories.scored_job(engine, settings, client_id, customers, tmp_path / "a.csv")
    later = factories.scored_job(engine, settings, client_id, customers, tmp_path / "b.csv")
    theirs = factories.scored_job(engine, settings, other_client, customers, tmp_path / "c.csv")
    processed_at(engine, early, at(today_utc() - timedelta(days=40)))
    processed_at(engine, later, at(today_utc() - timedelta(days=10), hour=23))
    processed_at(engine, theirs, at(today_utc() - timedelta(days=5)))
    scores = factories.stored_rows(engine, later)
    cpfs = scores["cpf"].to_list()[:4]
    # Outcomes link against the score snapshots: copy the jobs, as service.record does first.
    assert snapshots.capture_with_key(engine, KEY) == 3 * scores.height

    def linked_job(day: date) -> list[int | None]:
        typed = outcomes_of(cpfs, produto="CARTAO", day=day, defaulted=[True, False, True, False])
        with session_scope(engine) as session:
            prepared = service.prepare(session, client_id, typed, key=KEY)
        return prepared.frame["batchJobId"].to_list()

    assert linked_job(today_utc() - timedelta(days=20)) == [early] * 4
    assert linked_job(today_utc() - timedelta(days=10)) == [later] * 4  # processed that day counts
    assert linked_job(today_utc()) == [later] * 4  # never the other client's more recent score
    assert linked_job(today_utc() - timedelta(days=41)) == [None] * 4  # before any score

    report = record(
        engine,
        client_id,
        outcomes_of(cpfs, produto="CARTAO", day=today_utc(), defaulted=[True] * 4),
    )
    assert (report.received, report.stored, report.updated, report.linked) == (4, 4, 0, 4)
    table = stored(engine)
    first = table.filter(pl.col("scoreId") == table["scoreId"][0])
    score = scores.filter(pl.col("id") == first["scoreId"][0])
    for name in (
        "modelName",
        "modelVersion",
        "faixaScore",
        "scoreProbInadimplencia",
        *INPUT_COLUMNS,
    ):
        assert first[name].cast(pl.String).to_list() == score[name].cast(pl.String).to_list(), name
    assert first["scoreReferenceDate"].cast(pl.Date).to_list() == [today_utc()]

    # The other client's outcomes for the same CPFs link only to that client's scores.
    theirs_report = record(
        engine,
        other_client,
        outcomes_of(cpfs, produto="CARTAO", day=today_utc(), defaulted=[False] * 4),
    )
    assert theirs_report.stored == 4 and theirs_report.linked == 4
    assert set(stored(engine).filter(pl.col("clientId") == other_client)["batchJobId"]) == {theirs}


def test_outcomes_without_a_score_are_stored_unlinked(
    engine: Engine, settings: Settings, client_id: int, customers: pl.DataFrame, tmp_path: Path
) -> None:
    job = factories.scored_job(engine, settings, client_id, customers, tmp_path / "a.csv")
    cpfs = factories.stored_rows(engine, job)["cpf"].to_list()[:3]
    report = record(
        engine,
        client_id,
        outcomes_of(cpfs, produto="EMPRESTIMO", day=today_utc(), defaulted=[True] * 3),
    )
    assert (report.stored, report.linked, report.unlinked) == (3, 0, 3)
    table = stored(engine)
    assert table.height == 3
    assert table.select("scoreId", *INPUT_COLUMNS).null_count().row(0) == (3,) * 8


def test_sending_an_outcome_again_updates_it_and_keeps_an_archived_link(
    engine: Engine, settings: Settings, client_id: int, customers: pl.DataFrame, tmp_path: Path
) -> None:
    job = factories.scored_job(engine, settings, client_id, customers, tmp_path / "a.csv")
    cpfs = factories.stored_rows(engine, job)["cpf"].to_list()[:5]
    first = record(
        engine,
        client_id,
        outcomes_of(cpfs, produto="CARTAO", day=today_utc(), defaulted=[False] * 5),
    )
    assert (first.stored, first.updated, first.linked) == (5, 0, 5)
    before = stored(engine)

    with session_scope(engine) as session:  # the runbook's archival deletes the scores
        session.execute(delete(CustomerScore).where(CustomerScore.batch_job_id == job))
        session.execute(delete(BatchJob).where(BatchJob.id == job))
    changed = [True, False, True, False, True]
    extra = factories.make_customers(1, seed=99, products=["CARTAO"])["cpf"].to_list()
    again = record(
        engine,
        client_id,
        outcomes_of([*cpfs, *extra], produto="CARTAO", day=today_utc(), defaulted=[*changed, True]),
    )
    assert (again.received, again.stored, again.updated) == (6, 1, 5)
    assert (again.linked, again.unlinked) == (5, 1)
    after = stored(engine)
    assert after.height == 6
    assert after["id"].head(5).to_list() == before["id"].to_list()
    assert after["inadimplente"].head(5).cast(pl.Boolean).to_list() == changed
    assert after["scoreId"].head(5).to_list() == before["scoreId"].to_list()
    assert after["total_compras"].head(5).to_list() == before["total_compras"].to_list()


def test_concurrent_uploads_of_overlapping_outcomes_store_each_once_and_count_right(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    customers = factories.make_customers(300, seed=8, products=["CARTAO"]).drop(
        "motivo_esperado", "prob_inadimplencia_real", "inadimplente"
    )
    job = factories.scored_job(engine, settings, client_id, customers, tmp_path / "a.csv")
    cpfs = factories.stored_rows(engine, job)["cpf"].to_list()
    uploads = 6
    # Upload i holds customers [40 i, 40 i + 100): each overlaps the next two; every other
    # upload lists them backwards, so two writers meet the shared keys in opposite orders.
    windows = [cpfs[40 * i : 40 * i + 100][:: (-1) ** i] for i in range(uploads)]
    start = threading.Barrier(uploads)

    def upload(window: list[str]) -> service.RecordReport:
        typed = outcomes_of(
            window, produto="CARTAO", day=today_utc(), defaulted=[True] * len(window)
        )
        start.wait()
        return record(engine, client_id, typed)

    with ThreadPoolExecutor(uploads) as pool:
        reports = list(pool.map(upload, windows))  # re-raises any upload's error

    distinct = len({cpf for window in windows for cpf in window})
    table = stored(engine)
    assert table.height == distinct
    assert table.select("cpfHash", "produto", "dataReferencia").is_unique().all()
    assert sum(report.stored for report in reports) == distinct
    assert sum(report.stored + report.updated for report in reports) == sum(map(len, windows))
    assert all(report.linked == report.received for report in reports)


def test_the_store_never_holds_a_cpf_or_a_name(
    engine: Engine, settings: Settings, client_id: int, customers: pl.DataFrame, tmp_path: Path
) -> None:
    job = factories.scored_job(engine, settings, client_id, customers, tmp_path / "a.csv")
    scores = factories.stored_rows(engine, job)
    cpfs = scores["cpf"].to_list()
    record(
        engine,
        client_id,
        outcomes_of(
            cpfs, produto="CARTAO", day=today_utc(), defaulted=[i % 3 == 0 for i in range(40)]
        ),
    )
    table = stored(engine)
    assert table.height == 40
    cells = {str(value) for column in table.columns for value in table[column].to_list()}
    text = " ".join(cells)
    for cpf, name in zip(cpfs, scores["nome"].to_list(), strict=True):
        assert cpf not in text
        assert name not in text
    expected = hmac.new(KEY, cpfs[0].encode(), hashlib.sha256).hexdigest()
    assert expected in table["cpfHash"].to_list()


def test_the_pseudonym_is_stable_for_a_key_and_differs_between_keys() -> None:
    cpfs = pl.Series(["52998224725", "11144477735", None])
    one = cpf_hashes(cpfs, KEY).to_list()
    assert one == cpf_hashes(cpfs, KEY).to_list()
    other = cpf_hashes(cpfs, b"another key, also 32 characters!").to_list()
    assert one[2] is None and other[2] is None
    assert one[0] != other[0] and one[1] != other[1] and one[0] != one[1]
    assert all(len(value) == 64 for value in one[:2] if value)


def test_the_pseudonym_key_is_kept_in_development_and_required_in_production(
    tmp_path: Path,
) -> None:
    development = Settings(data_dir=tmp_path / "data")
    key = pseudonym_key(development)
    assert key == pseudonym_key(development) and len(key) >= 32
    assert (tmp_path / "data" / "pseudonym.key").stat().st_mode & 0o777 == 0o600
    with pytest.raises(ConfigurationError, match="CREDGUARD_PSEUDONYM_KEY"):
        pseudonym_key(Settings(data_dir=tmp_path / "prod", environment="production"))
    with pytest.raises(ConfigurationError, match="at least 32"):
        pseudonym_key(Settings(data_dir=tmp_path, pseudonym_key=SecretStr("short")))
    configured = "p" * 40
    assert (
        pseudonym_key(
            Settings(
                data_dir=tmp_path, environment="production", pseudonym_key=SecretStr(configured)
            )
        )
        == configured.encode()
    )


def test_purge_deletes_outcomes_older_than_the_retention(
    engine: Engine, settings: Settings, client_id: int
) -> None:
    cpfs = factories.make_customers(3, seed=7)["cpf"].to_list()
    for age in (10, 1_824, 1_826, 3_000):
        day = today_utc() - timedelta(days=age)
        record(
            engine, client_id, outcomes_of(cpfs, produto="CARTAO", day=day, defaulted=[True] * 3)
        )
    with session_scope(engine) as session:
        assert service.purge(session, retention_days=settings.outcome_retention_days) == 6
    remaining = stored(engine)["dataReferencia"].cast(pl.Date).unique().sort().to_list()
    assert remaining == [today_utc() - timedelta(days=1_824), today_utc() - timedelta(days=10)]
    assert settings.outcome_retention_days == 1825


def test_summary_counts_per_product_and_client(
    engine: Engine, settings: Settings, client_id: int, customers: pl.DataFrame, tmp_path: Path
) -> None:
    job = factories.scored_job(engine, settings, client_id, customers, tmp_path / "a.csv")
    cpfs = factories.stored_rows(engine, job)["cpf"].to_list()[:4]
    record(
        engine,
        client_id,
        outcomes_of(cpfs, produto="CARTAO", day=today_utc(), defaulted=[True, False, False, False]),
    )
    record(
        engine,
        client_id,
        outcomes_of(cpfs[:2], produto="CREDIARIO", day=today_utc(), defaulted=[True, True]),
    )
    with session_scope(engine) as session:
        other = accounts.create_client(session, "Outra").id
    record(
        engine, other, outcomes_of(cpfs[:1], produto="CARTAO", day=today_utc(), defaulted=[True])
    )
    with session_scope(engine) as session:
        mine = service.summary(session, client_id=client_id)
        everyone = service.summary(session, client_id=None)
    assert [(s.produto, s.outcomes, s.linked, s.defaults) for s in mine] == [
        ("CARTAO", 4, 4, 1),
        ("CREDIARIO", 2, 0, 2),
    ]
    assert mine[0].linked_share == 1.0 and mine[0].default_rate == 0.25
    assert [(s.produto, s.outcomes, s.linked) for s in everyone] == [
        ("CARTAO", 5, 4),
        ("CREDIARIO", 2, 0),
    ]


def test_the_export_holds_usable_linked_rows_only_and_says_what_it_left_out(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    frame = factories.make_customers(60, seed=12, products=["CARTAO"], dirty_share=0.2)
    job = factories.scored_job(
        engine, settings, client_id, frame.drop("motivo_esperado"), tmp_path / "a.csv"
    )
    scored_on = today_utc() - timedelta(days=30)
    processed_at(engine, job, at(scored_on))
    with session_scope(engine) as session:
        session.execute(update(BatchJob).where(BatchJob.id == job).values(reference_date=scored_on))
    scores = factories.stored_rows(engine, job)
    valid = scores.filter(
        (pl.col("produto") == "CARTAO")
        & pl.col("cpf").map_elements(is_valid_cpf, return_dtype=pl.Boolean)
    ).unique("cpf", keep="first", maintain_order=True)
    cpfs = valid["cpf"].to_list()
    excluded = valid.filter(pl.col("motivoExclusao").is_not_null()).height
    assert excluded > 0
    defaulted = [i % 4 == 0 for i in range(len(cpfs))]
    record(
        engine, client_id, outcomes_of(cpfs, produto="CARTAO", day=today_utc(), defaulted=defaulted)
    )
    # The day before, the same scores judged again (kept as one row: defaulted if either says so).
    earlier = today_utc() - timedelta(days=1)
    record(
        engine,
        client_id,
        outcomes_of(
            cpfs, produto="CARTAO", day=earlier, defaulted=[i % 4 == 1 for i in range(len(cpfs))]
        ),
    )
    unlinked = factories.make_customers(2, seed=77)["cpf"].to_list()
    record(
        engine,
        client_id,
        outcomes_of(unlinked, produto="CARTAO", day=today_utc(), defaulted=[True, False]),
    )
    too_old = today_utc() - timedelta(days=400)
    record(
        engine,
        client_id,
        outcomes_of(unlinked, produto="CARTAO", day=too_old, defaulted=[True, False]),
    )

    output = tmp_path / "export" / "cartao.csv"
    since = export.months_before(today_utc(), 6)
    report = export.export_training_data(engine, product="CARTAO", since=since, output=output)
    written = pl.read_csv(output, infer_schema=False)
    assert written.columns == list(export.EXPORT_COLUMNS)
    assert report.rows == written.height == len(cpfs) - excluded
    assert report.outcomes == 2 * len(cpfs) + 2
    assert report.left_out["not linked to a score"] == 2
    assert (
        sum(v for k, v in report.left_out.items() if k.startswith("score excluded")) == 2 * excluded
    )
    assert (
        report.left_out["repeated outcome of an exported score (merged into its row)"]
        == len(cpfs) - excluded
    )
    assert set(written["data_referencia"]) == {scored_on.isoformat()}
    assert set(written["produto"]) == {"CARTAO"}
    scored = valid.filter(pl.col("motivoExclusao").is_null())
    expected_defaults = sum(
        1 for i, cpf in enumerate(cpfs) if (i % 4 in (0, 1)) and cpf in set(scored["cpf"])
    )
    assert written["label"].cast(pl.Int64).sum() == expected_defaults
    text = output.read_text()
    for cpf, name in zip(scores["cpf"].to_list(), scores["nome"].to_list(), strict=True):
        assert cpf not in text
        if name:
            assert name not in text

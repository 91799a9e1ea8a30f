"""Storing observed outcomes: link each to the score it judges, upsert, summarise, purge.

Linking: an outcome (client, CPF, product, reference date) judges the latest score of that
client's completed batch jobs with the same CPF and product processed on or before the reference
date (on the same day counts). The reference date is that of the credit decision the outcome
judges, not the day a default was observed: a later score's features may already show the
default, and a model trained on it would learn from the answer. Among rows processed at the same instant, a scored row wins over
an excluded one (a repeated CPF in one file), then the first row. Only the client's own scores
are searched: another client's score of the same CPF is never read.

Scores are searched in ``score_snapshots`` (:mod:`credguard.outcomes.snapshots`), the
pseudonymised copy of ``customer_scores`` that the runbook's 90-day archival does not empty:
defaults show months after a scoring, so most outcomes arrive after their score was archived.
:func:`record` first copies the client's jobs completed since the last copy, so a batch that has
just finished is found too.

An outcome found with no score is stored too (``scoreId`` and features null) and reported as
unlinked: it cannot train a model but counts in the client's figures.

Re-sending an outcome (same client, CPF, product and date) updates it: its answer, and its link
if a score is found now; a link found earlier is kept when the score has since been purged.
Work is done in chunks of :data:`CHUNK_ROWS` outcomes: two reads per chunk, then every write in
one transaction, so an upload is stored whole or not at all.

One client's uploads take turns, from their first read to their commit (a named lock per
client): each one's stored/updated counts are read after the previous one committed, and on
MariaDB two upserts of the same keys in different orders cannot deadlock. Different clients'
uploads never share a key and run side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

import polars as pl
from sqlalchemy import ColumnElement, Table, case, delete, func, select
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.orm import Session

from credguard.customers.contract import INTEGER_COLUMNS
from credguard.db.base import utcnow
from credguard.db.bulk import rowcount
from credguard.db.engine import named_lock, write_lock
from credguard.outcomes import snapshots
from credguard.outcomes.pseudonym import cpf_hashes
from credguard.outcomes.tables import ObservedOutcome, ScoreSnapshot
from credguard.scoring.features import INPUT_COLUMNS

#: Outcomes linked per query (bounded by SQLite's limit of bound parameters per statement).
CHUNK_ROWS = 5_000

_TABLE = cast(Table, ObservedOutcome.__table__)
#: Columns copied from the linked score (besides its id): outcome column → snapshot column.
_LINK_COLUMNS: dict[str, Any] = {
    "batchJobId": ScoreSnapshot.batch_job_id,
    "modelName": ScoreSnapshot.model_name,
    "modelVersion": ScoreSnapshot.model_version,
    "scoreProbInadimplencia": ScoreSnapshot.score_prob,
    "faixaScore": ScoreSnapshot.faixa_score,
    "motivoExclusao": ScoreSnapshot.motivo_exclusao,
    "dataProcessamento": ScoreSnapshot.data_processamento,
    **{name: getattr(ScoreSnapshot, name) for name in INPUT_COLUMNS},
}
_INPUT_TYPES: dict[str, pl.DataType] = {
    "data_primeira_compra": pl.Date(),
    "data_ultima_compra": pl.Date(),
    "valor_total_compras": pl.Float64(),
    **{name: pl.Int64() for name in INTEGER_COLUMNS},
}
_CANDIDATE_SCHEMA = pl.Schema(
    {
        "scoreId": pl.Int64(),
        "cpfHash": pl.String(),
        "produto": pl.String(),
        "batchJobId": pl.Int64(),
        "modelName": pl.String(),
        "modelVersion": pl.String(),
        "scoreProbInadimplencia": pl.Float64(),
        "faixaScore": pl.String(),
        "motivoExclusao": pl.String(),
        "dataProcessamento": pl.Datetime("us"),
        **{name: _INPUT_TYPES[name] for name in INPUT_COLUMNS},  # the query's order
        "scoreReferenceDate": pl.Date(),
    }
)
_STORED_LINK = ["scoreId", *_LINK_COLUMNS, "scoreReferenceDate"]


@dataclass(frozen=True)
class RecordReport:
    """What an upload did: every received outcome is either stored (new) or updated."""

    received: int
    stored: int
    updated: int
    linked: int
    unlinked: int


@dataclass(frozen=True)
class Prepared:
    """Outcomes linked and checked against the store, ready to be written."""

    client_id: int
    frame: pl.DataFrame


def prepare(session: Session, client_id: int, outcomes: pl.DataFrame, *, key: bytes) -> Prepared:
    """Pseudonymise and link validated outcomes (:func:`rows.validate`): reads only.

    Links against the scores copied so far (:func:`record` copies the client's new ones first).
    """
    hashed = outcomes.with_columns(cpf_hashes(outcomes["cpf"], key))
    chunks = []
    for start in range(0, hashed.height, CHUNK_ROWS):
        chunk = hashed.slice(start, CHUNK_ROWS)
        linked = _link(session, client_id, chunk)
        chunks.append(linked.join(_existing(session, client_id, chunk), on=_KEY, how="left"))
    # The CPF stops here: nothing after this point sees it.
    return Prepared(client_id, pl.concat(chunks, how="vertical_relaxed").drop("cpf"))


def store(session: Session, prepared: Prepared) -> RecordReport:
    """Upsert prepared outcomes (flushed; the caller takes the write turn and commits)."""
    frame = prepared.frame
    now = utcnow()
    statement = _upsert(session)
    for start in range(0, frame.height, CHUNK_ROWS):  # bounded memory: dicts per chunk
        values = (
            frame.slice(start, CHUNK_ROWS)
            .select(
                pl.lit(prepared.client_id, dtype=pl.Int64).alias("clientId"),
                "cpfHash",
                "produto",
                "inadimplente",
                "dataReferencia",
                *_STORED_LINK,
                pl.lit(now, dtype=pl.Datetime("us")).alias("createdAt"),
                pl.lit(now, dtype=pl.Datetime("us")).alias("updatedAt"),
            )
            .to_dicts()
        )
        session.execute(statement, values)
    session.flush()
    existed = frame["_existed"].fill_null(False)
    linked_now = frame["scoreId"].is_not_null() | frame["_was_linked"].fill_null(False)
    linked_count = int(linked_now.sum())
    return RecordReport(
        received=frame.height,
        stored=int((~existed).sum()),
        updated=int(existed.sum()),
        linked=linked_count,
        unlinked=frame.height - linked_count,
    )


def record(session: Session, client_id: int, outcomes: pl.DataFrame, *, key: bytes) -> RecordReport:
    """Link and store validated outcomes of ``client_id`` and commit them, all or nothing.

    The client's jobs completed since the last copy are copied to the snapshots first (their
    own transactions). Then, in the client's turn (see the module docstring), the reads run;
    the writes and the commit also take the database's write turn.
    """
    engine = session.get_bind().engine
    snapshots.capture_with_key(engine, key, client_id=client_id)
    with named_lock(engine, f"outcomes-{client_id}"):
        # End any read transaction the session began before the turn: on MariaDB (repeatable
        # read) its snapshot would not show the rows just copied, nor the previous upload's.
        session.commit()
        prepared = prepare(session, client_id, outcomes, key=key)
        with write_lock(engine):
            report = store(session, prepared)
            session.commit()
    return report


_KEY = ["cpfHash", "produto", "dataReferencia"]


def _link(session: Session, client_id: int, chunk: pl.DataFrame) -> pl.DataFrame:
    """``chunk`` with the columns of the score each outcome judges (null when none): one query."""
    last_day = chunk["dataReferencia"].max()
    assert isinstance(last_day, date)
    query = select(
        ScoreSnapshot.score_id.label("scoreId"),
        ScoreSnapshot.cpf_hash.label("cpfHash"),
        ScoreSnapshot.produto,
        *(column.label(name) for name, column in _LINK_COLUMNS.items()),
        ScoreSnapshot.score_reference_date.label("scoreReferenceDate"),
    ).where(
        ScoreSnapshot.client_id == client_id,
        ScoreSnapshot.cpf_hash.in_(chunk["cpfHash"].unique().to_list()),
        ScoreSnapshot.produto.in_(chunk["produto"].unique().to_list()),
        ScoreSnapshot.data_processamento
        < datetime.combine(last_day + timedelta(days=1), datetime.min.time()),
    )
    candidates = pl.DataFrame(
        [tuple(row) for row in session.execute(query)], schema=_CANDIDATE_SCHEMA, orient="row"
    )
    best = (
        chunk.select(
            "row",
            "cpfHash",
            "produto",
            (pl.col("dataReferencia").cast(pl.Datetime("us")) + pl.duration(days=1)).alias(
                "_until"
            ),
        )
        .join(candidates, on=["cpfHash", "produto"], how="inner")
        .filter(pl.col("dataProcessamento") < pl.col("_until"))
        .sort(
            "row",
            "dataProcessamento",
            pl.col("motivoExclusao").is_null(),
            pl.col("scoreId"),
            descending=[False, False, False, True],
        )
        .unique("row", keep="last", maintain_order=True)
        .drop("cpfHash", "produto", "_until")
    )
    return chunk.join(best, on="row", how="left")


def _existing(session: Session, client_id: int, chunk: pl.DataFrame) -> pl.DataFrame:
    """Which outcomes of ``chunk`` are stored already, and whether they were linked: one query."""
    query = select(
        ObservedOutcome.cpf_hash,
        ObservedOutcome.produto,
        ObservedOutcome.data_referencia,
        ObservedOutcome.score_id,
    ).where(
        ObservedOutcome.client_id == client_id,
        ObservedOutcome.cpf_hash.in_(chunk["cpfHash"].unique().to_list()),
    )
    return pl.DataFrame(
        [
            (cpf_hash, produto, day, True, score_id is not None)
            for cpf_hash, produto, day, score_id in session.execute(query)
        ],
        schema={
            "cpfHash": pl.String(),
            "produto": pl.String(),
            "dataReferencia": pl.Date(),
            "_existed": pl.Boolean(),
            "_was_linked": pl.Boolean(),
        },
        orient="row",
    )


def _upsert(session: Session) -> Any:
    """INSERT … or, for a stored outcome, UPDATE its answer and (when found now) its link."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        statement: Any = sqlite.insert(_TABLE)
        new = statement.excluded
    elif dialect in ("mysql", "mariadb"):
        statement = mysql.insert(_TABLE)
        new = statement.inserted
    else:  # pragma: no cover - CredGuard runs on SQLite and MariaDB/MySQL
        raise NotImplementedError(f"no upsert for {dialect}")
    found = new["scoreId"].is_not(None)
    changes: dict[str, ColumnElement[Any]] = {
        "inadimplente": new["inadimplente"],
        "updatedAt": new["updatedAt"],
        # scoreId last: on MySQL a later assignment would see the updated value.
        **{
            name: case((found, new[name]), else_=_TABLE.c[name])
            for name in _STORED_LINK
            if name != "scoreId"
        },
        "scoreId": case((found, new["scoreId"]), else_=_TABLE.c["scoreId"]),
    }
    if dialect == "sqlite":
        return statement.on_conflict_do_update(
            index_elements=["clientId", "cpfHash", "produto", "dataReferencia"], set_=changes
        )
    return statement.on_duplicate_key_update(changes)


@dataclass(frozen=True)
class ProductSummary:
    """One product's outcomes: how many, how many linked to a score, how many defaulted."""

    produto: str
    outcomes: int
    linked: int
    defaults: int

    @property
    def linked_share(self) -> float:
        return self.linked / self.outcomes if self.outcomes else 0.0

    @property
    def default_rate(self) -> float:
        return self.defaults / self.outcomes if self.outcomes else 0.0


def summary(session: Session, *, client_id: int | None) -> list[ProductSummary]:
    """Per product counts of one client's outcomes, or of all clients' (``client_id`` None)."""
    query = (
        select(
            ObservedOutcome.produto,
            func.count(),
            func.count(ObservedOutcome.score_id),
            func.coalesce(func.sum(case((ObservedOutcome.inadimplente, 1), else_=0)), 0),
        )
        .group_by(ObservedOutcome.produto)
        .order_by(ObservedOutcome.produto)
    )
    if client_id is not None:
        query = query.where(ObservedOutcome.client_id == client_id)
    return [
        ProductSummary(str(produto), int(total), int(linked), int(defaults))
        for produto, total, linked, defaults in session.execute(query)
    ]


def purge(session: Session, *, retention_days: int, today: date | None = None) -> int:
    """Delete outcomes whose dataReferencia is more than ``retention_days`` ago; how many.

    Score snapshots have their own purge (:func:`snapshots.purge`), by dataProcessamento.
    """
    cutoff = (today or utcnow().date()) - timedelta(days=retention_days)
    statement = delete(ObservedOutcome).where(ObservedOutcome.data_referencia < cutoff)
    return rowcount(session.execute(statement))

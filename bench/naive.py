"""The straightforward pipeline, for comparison only: what CredGuard's batch path replaces.

pandas ``read_csv``, row-wise validation (``iterrows``), features with ``apply``,
scikit-learn ``predict_proba`` (HistGradientBoosting, 200 trees × 31 leaves), ``DataFrame.to_sql``
and ``to_csv``. It applies the same rules, just one row at a time in Python.
"""

from __future__ import annotations

import time
import unicodedata
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sqlalchemy import Engine

from credguard.synth import generator

PRODUCTS = {"CARTAO", "EMPRESTIMO", "CREDIARIO"}


def _cpf_ok(raw: object) -> str | None:
    text = str(raw).strip().replace(".", "").replace("-", "")
    if len(text) == 10:
        text = "0" + text
    if len(text) != 11 or not all("0" <= c <= "9" for c in text) or len(set(text)) == 1:
        return None
    digits = [int(c) for c in text]
    for n in (9, 10):
        total = sum(d * w for d, w in zip(digits[:n], range(n + 1, 1, -1), strict=True))
        if (total * 10 % 11) % 10 != digits[n]:
            return None
    return text


def _product(raw: object) -> str:
    text = unicodedata.normalize("NFKD", str(raw).strip().upper())
    return "".join(c for c in text if not unicodedata.combining(c))


def _date(raw: object) -> date | None:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(str(raw).strip(), fmt).date()
        except ValueError:
            continue
    return None


def _money(raw: object) -> float | None:
    text = str(raw).replace("R$", "").strip()
    if "," in text and "." in text:
        text = (
            text.replace(".", "").replace(",", ".")
            if text.rfind(",") > text.rfind(".")
            else text.replace(",", "")
        )
    elif "," in text:
        text = text.replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value >= 0 else None


CHECKED = [
    "cpf_ok",
    "first",
    "last",
    "compras",
    "valor",
    "em_dia",
    "atrasos",
    "maior",
    "motivoExclusao",
]


def _validate_row(row: pd.Series, today: date) -> tuple[object, ...]:
    cpf = _cpf_ok(row["cpf"])
    first, last = _date(row["data_primeira_compra"]), _date(row["data_ultima_compra"])
    counts = []
    for name in ("total_compras", "total_pagamentos_em_dia", "total_atrasos", "maior_atraso"):
        try:
            counts.append(int(str(row[name]).strip()))
        except ValueError:
            counts.append(-1)
    money = _money(row["valor_total_compras"])
    reason = None
    if cpf is None:
        reason = "CPF_INVALIDO"
    elif _product(row["produto"]) not in PRODUCTS:
        reason = "PRODUTO_NAO_SUPORTADO"
    elif first is None or last is None or last < first or last > today:
        reason = "DATA_INVALIDA"
    elif money is None or min(counts) < 0:
        reason = "VALOR_INVALIDO"
    elif counts[0] == 0:
        reason = "HISTORICO_INSUFICIENTE"
    return pd.Series(
        {
            "cpf_ok": cpf,
            "first": first,
            "last": last,
            "compras": counts[0],
            "valor": money,
            "em_dia": counts[1],
            "atrasos": counts[2],
            "maior": counts[3],
            "motivoExclusao": reason,
        }
    )


def _features(row: pd.Series, today: date) -> list[float]:
    compras = max(row["compras"], 1)
    late = (
        row["atrasos"] / (row["atrasos"] + row["em_dia"]) if row["atrasos"] + row["em_dia"] else 0.0
    )
    return [
        (today - row["first"]).days,
        (today - row["last"]).days,
        row["compras"],
        row["valor"],
        row["valor"] / compras,
        row["em_dia"],
        row["atrasos"],
        late,
        row["maior"],
    ]


def train_reference_model(today: date) -> HistGradientBoostingClassifier:
    """A scikit-learn model of the size FACTS.md measured (200 trees × 31 leaves)."""
    frame = generator.generate(
        50_000, seed=5, products=sorted(PRODUCTS), reference_date=today, dirty_share=0.0
    )
    pdf = frame.to_pandas()
    checked = pd.DataFrame(
        [_validate_row(row, today) for _, row in pdf.iterrows()], columns=CHECKED
    )
    X = np.array(checked.apply(_features, axis=1, today=today).tolist())
    model = HistGradientBoostingClassifier(max_iter=200, max_leaf_nodes=31, early_stopping=False)
    return model.fit(X, pdf["inadimplente"].to_numpy())


def run(
    path: Path, engine: Engine, output: Path, model: HistGradientBoostingClassifier
) -> dict[str, float]:
    """The whole naive pipeline on a `;`-separated file; seconds per stage."""
    today = date.today()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    frame = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False)
    timings["parse"] = time.perf_counter() - started

    started = time.perf_counter()
    checked = pd.DataFrame(
        [_validate_row(row, today) for _, row in frame.iterrows()], columns=CHECKED
    )
    duplicated = checked["cpf_ok"].notna() & frame.assign(c=checked["cpf_ok"]).duplicated(
        ["c", "produto"]
    )
    checked.loc[duplicated & checked["motivoExclusao"].isna(), "motivoExclusao"] = "CPF_DUPLICADO"
    timings["validate"] = time.perf_counter() - started

    started = time.perf_counter()
    valid = checked["motivoExclusao"].isna()
    X = np.array(checked[valid].apply(_features, axis=1, today=today).tolist())
    prob = model.predict_proba(X)[:, 1]
    result = frame.copy()
    result["motivoExclusao"] = checked["motivoExclusao"]
    result.loc[valid, "scoreProbInadimplencia"] = prob
    result.loc[valid, "score"] = np.rint(1000 * (1 - prob))
    timings["score"] = time.perf_counter() - started

    started = time.perf_counter()
    result.to_sql("naive_scores", engine, if_exists="replace", index=False, chunksize=10_000)
    timings["store"] = time.perf_counter() - started

    started = time.perf_counter()
    pd.read_sql_table("naive_scores", engine).to_csv(output, index=False)
    timings["export"] = time.perf_counter() - started
    return timings

"""Synthetic customers in the batch CSV contract, drawn from a documented generative model.

Each row is one customer of one product. The product's profile (``PROFILES``, or
``DEFAULT_PROFILE`` for any other configured code) sets the population; a latent payment
discipline ``z ~ N(0, 1)`` (higher is worse) ties the late-payment columns together:

- relationship length ``R`` years ~ Gamma(1.6, mean_R / 1.6) × ``Shift.relationship_factor``,
  clipped to [30 days, 30 years]; ``data_primeira_compra = reference_date − R``;
- purchases ``total_compras = 1 + Poisson(purchases_per_year · R · A)``, activity
  ``A ~ LogNormal(0, 0.6)``; ``valor_total_compras = total_compras · ticket · LogNormal(0, 0.1)``,
  ``ticket ~ LogNormal(log ticket_median, ticket_sigma)``;
- days since the last purchase ~ Exponential(recency_days · e^{0.3 z}), at most ``R``
  (``data_ultima_compra = data_primeira_compra`` for a single purchase);
- installments due ``n ~ Poisson(total_compras · installments_per_purchase)``;
  ``total_atrasos ~ Binomial(n, min(0.98, sigmoid(late_logit + 1.1 z) · late_payments_factor))``,
  ``total_pagamentos_em_dia = n − total_atrasos``;
- ``maior_atraso = ⌈Exponential(1) · 6 e^{0.7 z} · (1 + 0.5 log1p(total_atrasos))⌉`` (≤ 720)
  when there is a late installment, else 0.

The TRUE default probability depends on the observable columns only, additively, so a model
that sees them can in principle reach the AUC of the true probability:

    logit p = base_logit(product)
              + 4.0  · late_share                      (atrasos / (atrasos + em_dia), 0 if none)
              + 0.45 · log1p(maior_atraso)
              − 0.45 · log1p(relationship_years)       (days / 365.25)
              + 0.8  · recency_years                   (days since last purchase / 365.25)
              − 0.12 · log1p(total_pagamentos_em_dia)
              + 0.15 · log(ticket_medio / ticket_median(product))

and ``inadimplente ~ Bernoulli(p)``, base_logit = −2.7 (CARTAO), −4.1 (EMPRESTIMO), −2.85
(CREDIARIO), −3.15 (other codes). Default rates come out near 12 %, 7 %, 16 % and 10 %; the true
probability's AUC is 0.78 (CARTAO), 0.84 (EMPRESTIMO), 0.79 (CREDIARIO), 0.79 (others).

``dirty_share`` of the rows get exactly one realistic defect each (see ``_DEFECTS``); they keep
their probability and outcome, and ``label_defects=True`` adds the exclusion code validation
should give them (``motivo_esperado``, null for clean rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from credguard.customers.contract import (
    EXCLUSION,
    INTEGER_COLUMNS,
    REQUIRED_COLUMNS,
    ROW_NUMBER,
    Exclusion,
)

PROB_COLUMN = "prob_inadimplencia_real"
OUTCOME_COLUMN = "inadimplente"
EXPECTED_EXCLUSION_COLUMN = "motivo_esperado"

_DAYS_PER_YEAR = 365.25
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class ProductProfile:
    """Population parameters of one product."""

    base_logit: float
    relationship_years: float
    purchases_per_year: float
    ticket_median: float
    ticket_sigma: float
    installments_per_purchase: float
    late_logit: float
    recency_days: float


PROFILES: dict[str, ProductProfile] = {
    "CARTAO": ProductProfile(-2.7, 3.5, 14.0, 180.0, 0.8, 1.0, -2.6, 45.0),
    "EMPRESTIMO": ProductProfile(-4.1, 4.0, 0.8, 6000.0, 0.9, 12.0, -2.9, 300.0),
    "CREDIARIO": ProductProfile(-2.85, 2.0, 4.0, 450.0, 0.7, 6.0, -2.2, 90.0),
}
DEFAULT_PROFILE = ProductProfile(-3.15, 3.0, 5.0, 500.0, 0.8, 3.0, -2.5, 90.0)


@dataclass(frozen=True)
class Shift:
    """A move of the population, for drift tests (1.0 everywhere = no shift)."""

    late_payments_factor: float = 1.0  # x1.3: 30 % more installments paid late
    relationship_factor: float = 1.0  # x0.7: relationships 30 % shorter
    ticket_factor: float = 1.0  # x1.2: purchases 20 % dearer


_FIRST_NAMES = (
    "Ana", "Maria", "Francisca", "Antônia", "Adriana", "Juliana", "Márcia", "Fernanda",
    "Patrícia", "Aline", "Beatriz", "Camila", "Letícia", "Larissa", "Gabriela", "Luana",
    "José", "João", "Antônio", "Francisco", "Carlos", "Paulo", "Pedro", "Lucas", "Luiz",
    "Marcos", "Luís", "Gabriel", "Rafael", "Daniel", "Marcelo", "Bruno", "Eduardo", "Felipe",
    "Raimundo", "Rodrigo", "Thiago", "Matheus", "Gustavo", "Vitória",
)  # fmt: skip
_SURNAMES = (
    "Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira",
    "Lima", "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes", "Soares",
    "Fernandes", "Vieira", "Barbosa", "Rocha", "Dias", "Nascimento", "Andrade", "Moreira",
    "Nunes", "Marques", "Machado", "Mendes", "Freitas", "Cardoso", "Ramos", "Gonçalves",
    "Santana", "Teixeira", "Araújo", "Conceição", "Cavalcanti", "Monteiro", "Moura",
)  # fmt: skip
# How a spreadsheet user may spell a product; the contract ignores case and accents.
_PRODUCT_SPELLINGS = {"CARTAO": "Cartão", "EMPRESTIMO": "Empréstimo", "CREDIARIO": "Crediário"}
_UNSUPPORTED_PRODUCTS = ("SEGURO", "CONSORCIO", "PIX_PARCELADO", "CONSIGNADO")
_TEXT_IN_NUMBER = ("N/D", "dois", "12a", "sem info")

# One defect per dirty row, with the exclusion code validation should give it.
_DEFECTS: tuple[tuple[str, Exclusion], ...] = (
    ("check_digit", Exclusion.CPF_INVALIDO),
    ("scientific_cpf", Exclusion.CPF_INVALIDO),
    ("unsupported_product", Exclusion.PRODUTO_NAO_SUPORTADO),
    ("duplicate_cpf", Exclusion.CPF_DUPLICADO),
    ("impossible_date", Exclusion.DATA_INVALIDA),
    ("future_date", Exclusion.DATA_INVALIDA),
    ("last_before_first", Exclusion.DATA_INVALIDA),
    ("negative_value", Exclusion.VALOR_INVALIDO),
    ("text_in_number", Exclusion.VALOR_INVALIDO),
    ("no_purchases", Exclusion.HISTORICO_INSUFICIENTE),
)


def cpf_check_digits(bodies: np.ndarray) -> np.ndarray:
    """The two CPF check digits of 9-digit bodies, as ``10·d1 + d2`` (vectorised)."""
    bodies = bodies.astype(np.int64)
    digits = (bodies[:, None] // 10 ** np.arange(8, -1, -1, dtype=np.int64)) % 10
    first = (digits @ np.arange(10, 1, -1, dtype=np.int64)) % 11
    first = np.where(first < 2, 0, 11 - first)
    second = (digits @ np.arange(11, 2, -1, dtype=np.int64) + 2 * first) % 11
    second = np.where(second < 2, 0, 11 - second)
    return np.asarray(10 * first + second, dtype=np.int64)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float64)


def true_logit(
    *,
    base_logit: np.ndarray,
    late_share: np.ndarray,
    longest_delay: np.ndarray,
    relationship_days: np.ndarray,
    recency_days: np.ndarray,
    on_time: np.ndarray,
    ticket_ratio: np.ndarray,
) -> np.ndarray:
    """The true default log-odds of the module docstring's formula."""
    return np.asarray(
        base_logit
        + 4.0 * late_share
        + 0.45 * np.log1p(longest_delay)
        - 0.45 * np.log1p(relationship_days / _DAYS_PER_YEAR)
        + 0.8 * (recency_days / _DAYS_PER_YEAR)
        - 0.12 * np.log1p(on_time)
        + 0.15 * np.log(ticket_ratio),
        dtype=np.float64,
    )


def _dates(days_since_epoch: np.ndarray) -> pl.Series:
    return pl.Series(days_since_epoch.astype(np.int32)).cast(pl.Date)


def _format_dates(days_since_epoch: np.ndarray, brazilian: pl.Series) -> pl.Series:
    frame = pl.DataFrame({"d": _dates(days_since_epoch), "br": brazilian})
    return frame.select(
        pl.when(pl.col("br"))
        .then(pl.col("d").dt.strftime("%d/%m/%Y"))
        .otherwise(pl.col("d").dt.strftime("%Y-%m-%d"))
    ).to_series()


def _format_money(cents: np.ndarray, decimal_comma: pl.Series) -> pl.Series:
    """``1234.56``, or ``1.234,56`` where ``decimal_comma`` (the two forms the contract accepts)."""
    reais = np.abs(cents) // 100
    frame = pl.DataFrame(
        {
            "sign": np.where(cents < 0, "-", ""),
            "reais": reais,
            "cents": np.abs(cents) % 100,
            "millions": reais // 1_000_000,
            "thousands": (reais // 1000) % 1000,
            "units": reais % 1000,
            "comma": decimal_comma,
        }
    )
    cents_str = pl.col("cents").cast(pl.String).str.zfill(2)
    units_str = pl.col("units").cast(pl.String).str.zfill(3)
    thousands_str = pl.col("thousands").cast(pl.String)
    grouped = (
        pl.when(pl.col("millions") > 0)
        .then(
            pl.concat_str(
                pl.col("millions").cast(pl.String), pl.lit("."), thousands_str.str.zfill(3),
                pl.lit("."), units_str,
            )
        )
        .when(pl.col("thousands") > 0)
        .then(pl.concat_str(thousands_str, pl.lit("."), units_str))
        .otherwise(pl.col("units").cast(pl.String))
    )  # fmt: skip
    return frame.select(
        pl.when(pl.col("comma"))
        .then(pl.concat_str(pl.col("sign"), grouped, pl.lit(","), cents_str))
        .otherwise(
            pl.concat_str(pl.col("sign"), pl.col("reais").cast(pl.String), pl.lit("."), cents_str)
        )
    ).to_series()


def _format_cpfs(cpfs: np.ndarray, style: np.ndarray) -> pl.Series:
    """Style 0: ``12345678909``; 1: ``123.456.789-09``; 2: one leading zero lost (10 digits)."""
    frame = pl.DataFrame({"n": cpfs.astype(np.int64), "style": style})
    padded = pl.col("n").cast(pl.String).str.zfill(11)
    masked = pl.concat_str(
        padded.str.slice(0, 3), pl.lit("."), padded.str.slice(3, 3), pl.lit("."),
        padded.str.slice(6, 3), pl.lit("-"), padded.str.slice(9, 2),
    )  # fmt: skip
    return frame.select(
        pl.when(pl.col("style") == 1)
        .then(masked)
        # A spreadsheet drops every leading zero; the contract accepts 10 digits only.
        .when((pl.col("style") == 2) & (pl.col("n") >= 10**9))
        .then(pl.col("n").cast(pl.String))
        .otherwise(padded)
    ).to_series()


def _names(rng: np.random.Generator, rows: int) -> pl.Series:
    frame = pl.DataFrame(
        {
            "first": pl.Series(_FIRST_NAMES).gather(rng.integers(0, len(_FIRST_NAMES), rows)),
            "middle": pl.Series(_SURNAMES).gather(rng.integers(0, len(_SURNAMES), rows)),
            "last": pl.Series(_SURNAMES).gather(rng.integers(0, len(_SURNAMES), rows)),
            "two": rng.random(rows) < 0.6,
        }
    )
    return frame.select(
        pl.when(pl.col("two"))
        .then(pl.concat_str("first", "middle", "last", separator=" "))
        .otherwise(pl.concat_str("first", "last", separator=" "))
    ).to_series()


def generate(
    rows: int,
    *,
    seed: int,
    products: Sequence[str],
    reference_date: date,
    dirty_share: float = 0.02,
    shift: Shift | None = None,
    label_defects: bool = False,
) -> pl.DataFrame:
    """Synthetic customers as a client file would have them, plus their true default probability."""
    if rows < 0:
        raise ValueError(f"rows must be >= 0, got {rows}")
    if not products:
        raise ValueError("at least one product is needed")
    if not 0.0 <= dirty_share <= 1.0:
        raise ValueError(f"dirty_share must be within [0, 1], got {dirty_share}")
    shift = shift or Shift()
    rng = np.random.default_rng(seed)
    codes = list(products)
    profiles = [PROFILES.get(code.upper(), DEFAULT_PROFILE) for code in codes]
    product = rng.integers(0, len(codes), rows)

    def param(field: str) -> np.ndarray:
        return np.array([getattr(p, field) for p in profiles], dtype=np.float64)[product]

    ref_day = (reference_date - _EPOCH).days
    z = rng.standard_normal(rows)

    years = rng.gamma(1.6, param("relationship_years") / 1.6) * shift.relationship_factor
    relationship_days = np.rint(np.clip(years, 30 / _DAYS_PER_YEAR, 30.0) * _DAYS_PER_YEAR)
    relationship_days = relationship_days.astype(np.int64)
    activity = rng.lognormal(0.0, 0.6, rows)
    purchases = 1 + rng.poisson(
        param("purchases_per_year") * relationship_days / _DAYS_PER_YEAR * activity
    )
    ticket_median = param("ticket_median")
    ticket = rng.lognormal(np.log(ticket_median), param("ticket_sigma")) * shift.ticket_factor
    cents = np.maximum(np.rint(purchases * ticket * rng.lognormal(0.0, 0.1, rows) * 100), 1)
    cents = cents.astype(np.int64)
    recency_days = np.rint(rng.exponential(param("recency_days") * np.exp(0.3 * z)))
    recency_days = np.minimum(recency_days.astype(np.int64), relationship_days)
    recency_days = np.where(purchases == 1, relationship_days, recency_days)

    installments = rng.poisson(purchases * param("installments_per_purchase"))
    late_p = np.minimum(0.98, _sigmoid(param("late_logit") + 1.1 * z) * shift.late_payments_factor)
    late = rng.binomial(installments, late_p)
    on_time = installments - late
    delay_scale = 6.0 * np.exp(0.7 * z) * (1.0 + 0.5 * np.log1p(late))
    longest = np.minimum(np.ceil(rng.exponential(1.0, rows) * delay_scale), 720).astype(np.int64)
    longest = np.where(late > 0, np.maximum(longest, 1), 0)

    late_share = np.divide(late, installments, out=np.zeros(rows), where=installments > 0)
    logit = true_logit(
        base_logit=param("base_logit"),
        late_share=late_share,
        longest_delay=longest,
        relationship_days=relationship_days,
        recency_days=recency_days,
        on_time=on_time,
        ticket_ratio=cents / 100 / purchases / ticket_median,
    )
    prob = _sigmoid(logit)
    outcome = (rng.random(rows) < prob).astype(np.int8)

    # A file's rows are unique customers: distinct bodies, none with all digits equal.
    bodies = rng.choice(10**9, size=rows, replace=False).astype(np.int64)
    bodies = np.where(bodies % 111_111_111 == 0, bodies ^ 1, bodies)
    cpfs = bodies * 100 + cpf_check_digits(bodies)
    style_draw = rng.random(rows)
    cpf_style = np.where(style_draw < 0.10, 1, np.where(style_draw < 0.13, 2, 0))
    brazilian_dates = pl.Series(rng.random(rows) < 0.10)
    decimal_comma = pl.Series(rng.random(rows) < 0.15)
    first_day = ref_day - relationship_days
    last_day = ref_day - recency_days

    spelled = np.array([_PRODUCT_SPELLINGS.get(code.upper(), code) for code in codes])
    product_strings = pl.Series(np.array(codes)).gather(product)
    respelled = rng.random(rows) < 0.03
    columns: dict[str, pl.Series] = {
        "cpf": _format_cpfs(cpfs, cpf_style),
        "nome": _names(rng, rows),
        "produto": pl.select(
            pl.when(pl.lit(pl.Series(respelled)))
            .then(pl.lit(pl.Series(spelled).gather(product)))
            .otherwise(pl.lit(product_strings))
        ).to_series(),
        "data_primeira_compra": _format_dates(first_day, brazilian_dates),
        "data_ultima_compra": _format_dates(last_day, brazilian_dates),
        "total_compras": pl.Series(purchases).cast(pl.String),
        "valor_total_compras": _format_money(cents, decimal_comma),
        "total_pagamentos_em_dia": pl.Series(on_time).cast(pl.String),
        "total_atrasos": pl.Series(late).cast(pl.String),
        "maior_atraso": pl.Series(longest).cast(pl.String),
    }
    expected = _add_defects(
        rng, columns, dirty_share=dirty_share, product=product, codes=codes, cpfs=cpfs,
        first_day=first_day, ref_day=ref_day,
    )  # fmt: skip

    frame = pl.DataFrame({name: columns[name].alias(name) for name in REQUIRED_COLUMNS})
    frame = frame.with_columns(
        pl.Series(PROB_COLUMN, prob), pl.Series(OUTCOME_COLUMN, outcome).cast(pl.Int8)
    )
    if label_defects:
        frame = frame.with_columns(expected.alias(EXPECTED_EXCLUSION_COLUMN))
    return frame


def _add_defects(
    rng: np.random.Generator,
    columns: dict[str, pl.Series],
    *,
    dirty_share: float,
    product: np.ndarray,
    codes: list[str],
    cpfs: np.ndarray,
    first_day: np.ndarray,
    ref_day: int,
) -> pl.Series:
    """Give ``dirty_share`` of the rows one defect each (in place); their expected exclusion codes."""
    rows = len(product)
    count = round(rows * dirty_share)
    dirty = np.sort(rng.choice(rows, size=count, replace=False)).astype(np.int64)
    kind = rng.integers(0, len(_DEFECTS), count)

    # A duplicate must repeat an earlier clean row of the same product; without one, the row
    # gets a wrong check digit instead.
    clean = np.ones(rows, dtype=bool)
    clean[dirty] = False
    earlier = (
        pl.DataFrame({"p": product, "i": np.where(clean, np.arange(rows), -1)})
        .select(pl.when(pl.col("i") >= 0).then(pl.col("i")).shift(1).forward_fill().over("p"))
        .to_series()
        .gather(dirty)
        .fill_null(-1)
        .to_numpy()
    )
    duplicate = _defect_index("duplicate_cpf")
    kind = np.where((kind == duplicate) & (earlier < 0), _defect_index("check_digit"), kind)

    def rows_of(name: str) -> np.ndarray:
        return np.asarray(dirty[kind == _defect_index(name)], dtype=np.int64)

    picked = rows_of("check_digit")
    bad = cpfs[picked] - cpfs[picked] % 10 + (cpfs[picked] % 10 + 1) % 10
    columns["cpf"].scatter(picked, pl.Series(bad).cast(pl.String).str.zfill(11))

    # Excel shows a long number as 1,23457E+10 (6 significant digits, decimal comma).
    picked = rows_of("scientific_cpf")
    exponent = np.where(cpfs[picked] >= 10**10, 10, 9)
    mantissa = pl.Series(np.rint(cpfs[picked] / 10.0 ** (exponent - 5)).astype(np.int64))
    sci = pl.select(
        pl.concat_str(
            pl.lit(mantissa).cast(pl.String).str.slice(0, 1), pl.lit(","),
            pl.lit(mantissa).cast(pl.String).str.slice(1, 5), pl.lit("E+"),
            pl.lit(pl.Series(exponent)).cast(pl.String),
        )
    ).to_series()  # fmt: skip
    columns["cpf"].scatter(picked, sci)

    picked = rows_of("unsupported_product")
    configured = {code.upper() for code in codes}
    others = [p for p in _UNSUPPORTED_PRODUCTS if p not in configured] or ["PRODUTO_X"]
    columns["produto"].scatter(
        picked, pl.Series(others).gather(rng.integers(0, len(others), len(picked)))
    )

    picked = rows_of("duplicate_cpf")
    columns["cpf"].scatter(picked, columns["cpf"].gather(earlier[kind == duplicate]))

    picked = rows_of("impossible_date")
    year = (_dates(np.full(len(picked), ref_day)).dt.year() - 1).cast(pl.String)
    impossible = pl.select(
        pl.when(pl.lit(pl.Series(rng.random(len(picked)) < 0.5)))
        .then(pl.concat_str(pl.lit("31/02/"), pl.lit(year)))
        .otherwise(pl.concat_str(pl.lit(year), pl.lit("-02-30")))
    ).to_series()
    columns["data_primeira_compra"].scatter(picked, impossible)

    picked = rows_of("future_date")
    future = _dates(ref_day + rng.integers(1, 400, len(picked))).dt.strftime("%Y-%m-%d")
    columns["data_ultima_compra"].scatter(picked, future)

    picked = rows_of("last_before_first")
    before = _dates(first_day[picked] - rng.integers(1, 400, len(picked)))
    columns["data_ultima_compra"].scatter(picked, before.dt.strftime("%Y-%m-%d"))

    picked = rows_of("negative_value")
    negative = "-" + columns["valor_total_compras"].gather(picked)
    columns["valor_total_compras"].scatter(picked, negative)

    picked = rows_of("text_in_number")
    target = rng.integers(0, len(INTEGER_COLUMNS) + 1, len(picked))
    texts = pl.Series(_TEXT_IN_NUMBER).gather(rng.integers(0, len(_TEXT_IN_NUMBER), len(picked)))
    for position, name in enumerate((*INTEGER_COLUMNS, "valor_total_compras")):
        columns[name].scatter(picked[target == position], texts.filter(target == position))

    picked = rows_of("no_purchases")
    for name in INTEGER_COLUMNS:
        columns[name].scatter(picked, pl.Series(["0"] * len(picked), dtype=pl.String))
    columns["valor_total_compras"].scatter(picked, pl.Series(["0.00"] * len(picked)))

    expected = pl.Series(EXPECTED_EXCLUSION_COLUMN, [None] * rows, dtype=pl.String)
    codes_by_kind = pl.Series([code.value for _, code in _DEFECTS])
    return expected.scatter(dirty, codes_by_kind.gather(kind))


def _defect_index(name: str) -> int:
    return [defect for defect, _ in _DEFECTS].index(name)


def write_csv(
    df: pl.DataFrame, path: Path | str, delimiter: str = ",", *, bom: bool = False
) -> None:
    """Write a generated frame as a client would send it (UTF-8, optional BOM)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    df.write_csv(path, separator=delimiter, include_bom=bom)


def normalise(df: pl.DataFrame) -> pl.DataFrame:
    """Typed frame (contract.NORMALISED_SCHEMA plus extras) of a generated frame's clean rows.

    Simple casts for training and tests, not validation: rows labelled with a defect
    (``label_defects=True``) or whose values do not parse are dropped.
    """
    text = pl.col("valor_total_compras")
    money = (
        pl.when(text.str.contains(",", literal=True))
        .then(text.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True))
        .otherwise(text)
        .cast(pl.Float64, strict=False)
    )

    def day(name: str) -> pl.Expr:
        return pl.coalesce(
            pl.col(name).str.to_date("%Y-%m-%d", strict=False),
            pl.col(name).str.to_date("%d/%m/%Y", strict=False),
        ).alias(name)

    typed = df.with_row_index(ROW_NUMBER, offset=1).with_columns(
        pl.col(ROW_NUMBER).cast(pl.Int64),
        pl.col("cpf").str.replace_all(r"[^0-9]", "").str.zfill(11),
        pl.col("produto").str.to_uppercase().str.replace_many(["Ã", "É", "Á"], ["A", "E", "A"]),
        day("data_primeira_compra"),
        day("data_ultima_compra"),
        *(pl.col(name).cast(pl.Int64, strict=False) for name in INTEGER_COLUMNS),
        money.alias("valor_total_compras"),
        pl.lit(None, dtype=pl.String).alias(EXCLUSION),
    )
    if EXPECTED_EXCLUSION_COLUMN in typed.columns:
        typed = typed.filter(pl.col(EXPECTED_EXCLUSION_COLUMN).is_null())
    return typed.drop_nulls(list(REQUIRED_COLUMNS)).filter(
        (pl.col("valor_total_compras") >= 0) & (pl.col("total_compras") > 0)
    )

"""Scoring: features, score and bands at exact cut-offs, reason codes against TreeSHAP."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import lightgbm as lgb
import numpy as np
import polars as pl
import pytest

from credguard.customers.contract import EXCLUSION, NORMALISED_SCHEMA, ROW_NUMBER
from credguard.errors import ConfigurationError
from credguard.ml.artifact import Distribution, ModelArtifact, StepFunction
from credguard.ml.training import train_model
from credguard.scoring.features import FEATURES, build_features
from credguard.scoring.model import ScoringModel
from credguard.scoring.reasons import FEATURE_REASONS, REASONS, describe
from credguard.scoring.score import SCORE_COLUMNS, band_indices, score_chunk
from credguard.synth import generator

REF = date(2025, 6, 30)
CUTOFFS = (800, 650, 500, 350)


def frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    """A normalised chunk from partial rows (defaults fill the rest)."""
    defaults: dict[str, object] = {
        "cpf": "52998224725", "nome": "Ana Silva", "produto": "CARTAO",
        "data_primeira_compra": REF - timedelta(days=400), "data_ultima_compra": REF - timedelta(days=10),
        "total_compras": 10, "valor_total_compras": 1500.0, "total_pagamentos_em_dia": 9,
        "total_atrasos": 1, "maior_atraso": 5, EXCLUSION: None,
    }  # fmt: skip
    full = [{ROW_NUMBER: i + 1, **defaults, **row} for i, row in enumerate(rows)]
    return pl.DataFrame(full, schema=NORMALISED_SCHEMA)


@pytest.fixture(scope="module")
def model() -> ScoringModel:
    typed = generator.normalise(
        generator.generate(20_000, seed=31, products=["CARTAO"], reference_date=REF, dirty_share=0)
    )
    X = build_features(typed, REF)
    y = typed[generator.OUTCOME_COLUMN].to_numpy()
    return ScoringModel(train_model(X, y, product="CARTAO", name="cartao_t", version=3))


@pytest.fixture(scope="module")
def chunk() -> pl.DataFrame:
    typed = generator.normalise(
        generator.generate(5_000, seed=32, products=["CARTAO"], reference_date=REF, dirty_share=0)
    )
    return typed.select(NORMALISED_SCHEMA.keys())


def test_features_are_computed_as_documented() -> None:
    df = frame(
        [
            {},
            {"total_pagamentos_em_dia": 0, "total_atrasos": 0, "maior_atraso": 0},
            {"total_compras": 0, "valor_total_compras": 0.0},
            {"maior_atraso": None},
        ]
    )
    X = build_features(df, REF)
    assert X.dtype == np.float64 and X.shape == (4, len(FEATURES))
    row = dict(zip(FEATURES, X[0], strict=True))
    assert row == {
        "relationship_days": 400.0, "days_since_last_purchase": 10.0, "total_compras": 10.0,
        "valor_total_compras": 1500.0, "ticket_medio": 150.0, "total_pagamentos_em_dia": 9.0,
        "total_atrasos": 1.0, "late_share": 0.1, "maior_atraso": 5.0,
    }  # fmt: skip
    assert X[1, FEATURES.index("late_share")] == 0.0
    assert math.isnan(X[2, FEATURES.index("ticket_medio")])
    assert math.isnan(X[3, FEATURES.index("maior_atraso")])


def hand_model(probabilities: list[float]) -> ScoringModel:
    """A model whose probability is ``probabilities[relationship_days]`` (a=1, b=0)."""
    margins = [math.log(p / (1 - p)) for p in probabilities]
    flat = StepFunction(thresholds=(), values=(0.0,), missing=0.0, mean=0.0)
    steps = {name: flat for name in FEATURES}
    steps["relationship_days"] = StepFunction(
        thresholds=tuple(float(d) for d in range(len(margins) - 1)),
        values=tuple(margins),
        missing=0.0,
        mean=0.0,
    )
    empty = Distribution(edges=(), proportions=(1.0,), missing=0.0)
    artifact = ModelArtifact(
        name="hand", version=1, product="CARTAO", features=FEATURES,
        created_at=datetime(2025, 1, 1, tzinfo=UTC), model_text="", steps=steps, intercept=0.0,
        calibration=(1.0, 0.0), metrics={}, score_reference=empty, feature_reference={},
    )  # fmt: skip
    return ScoringModel(artifact)


def test_bands_follow_the_cutoffs_at_exact_boundaries() -> None:
    # Scores 800, 799, 650, 649, 500, 499, 350, 349, 1000 and 0 (probabilities chosen so).
    wanted = [800, 799, 650, 649, 500, 499, 350, 349, 1000, 0]
    probabilities = [(1000 - s) / 1000 for s in wanted]
    probabilities = [min(max(p, 1e-6), 1 - 1e-6) for p in probabilities]
    model = hand_model(probabilities)
    df = frame([{"data_primeira_compra": REF - timedelta(days=d)} for d in range(len(wanted))])
    out = score_chunk(df, model, cutoffs=CUTOFFS, reference_date=REF)
    assert out["score"].to_list() == wanted
    assert out["faixaScore"].to_list() == ["A", "B", "B", "C", "C", "D", "D", "E", "A", "E"]
    assert band_indices(np.array(wanted), (900, 800, 700, 600)).tolist() == [
        1,
        2,
        3,
        3,
        4,
        4,
        4,
        4,
        0,
        4,
    ]


def test_bad_cutoffs_are_refused() -> None:
    with pytest.raises(ValueError, match="decreasing"):
        band_indices(np.array([1]), (500, 650, 800, 350))


def test_output_columns_types_and_alignment(model: ScoringModel, chunk: pl.DataFrame) -> None:
    out = score_chunk(chunk, model, cutoffs=CUTOFFS, reference_date=REF)
    assert out.columns == list(SCORE_COLUMNS) and len(out) == len(chunk)
    assert out.schema["scoreProbInadimplencia"] == pl.Float64
    assert out.schema["score"] == pl.Int64
    assert all(
        out.schema[c] == pl.String
        for c in SCORE_COLUMNS
        if c not in ("scoreProbInadimplencia", "score")
    )
    assert set(out["modelName"]) == {"cartao_t"} and set(out["modelVersion"]) == {"3"}
    # Row k of the output is row k of the input: scoring a reversed chunk reverses the output.
    backwards = score_chunk(chunk.reverse(), model, cutoffs=CUTOFFS, reference_date=REF)
    assert backwards.reverse().equals(out)
    empty = score_chunk(chunk.head(0), model, cutoffs=CUTOFFS, reference_date=REF)
    assert empty.schema == out.schema and len(empty) == 0


def test_score_range_and_direction(model: ScoringModel, chunk: pl.DataFrame) -> None:
    out = score_chunk(chunk, model, cutoffs=CUTOFFS, reference_date=REF).sort(
        "scoreProbInadimplencia"
    )
    prob, score = out["scoreProbInadimplencia"].to_numpy(), out["score"].to_numpy()
    assert ((prob > 0) & (prob < 1)).all()
    assert ((score >= 0) & (score <= 1000)).all()
    assert (np.diff(score) <= 0).all()  # higher probability never gets a higher score
    assert (score == np.array([round(1000 * (1 - p)) for p in prob])).all()
    expected_band = np.select([score >= c for c in CUTOFFS], ["A", "B", "C", "D"], "E")
    assert out["faixaScore"].to_list() == expected_band.tolist()


def test_reason_codes_are_the_top_treeshap_contributors(
    model: ScoringModel, chunk: pl.DataFrame
) -> None:
    rows = chunk.head(300)
    out = score_chunk(rows, model, cutoffs=CUTOFFS, reference_date=REF)
    booster = lgb.Booster(model_str=model.artifact.model_text)
    shap = booster.predict(build_features(rows, REF), pred_contrib=True)[:, :-1]
    checked = 0
    for i in range(len(rows)):
        ranked = sorted(range(len(FEATURES)), key=lambda j: -shap[i, j])
        values = sorted(shap[i], reverse=True)
        if any(abs(a - b) < 1e-9 for a, b in itertools.pairwise(values[:4])):
            continue  # a near-tie: either order is right
        expected = [
            FEATURE_REASONS[FEATURES[j]] if shap[i, j] > 1e-12 else None for j in ranked[:3]
        ]
        assert [out[c][i] for c in ("reasonCode1", "reasonCode2", "reasonCode3")] == expected
        checked += 1
    assert checked > 250
    # Some customers have fewer than three risk-raising features, some have none.
    assert out["reasonCode3"].null_count() > 0
    assert out["reasonCode1"].null_count() < len(out)


def test_reason_codes_read_as_portuguese() -> None:
    assert set(FEATURE_REASONS) == set(FEATURES)
    assert set(FEATURE_REASONS.values()) == set(REASONS)
    assert all(code == code.upper() for code in REASONS)
    assert describe("ATRASOS_FREQUENTES") == "Proporção elevada de parcelas pagas com atraso"
    with pytest.raises(ValueError, match="unknown reason code"):
        describe("NAO_EXISTE")


def test_a_model_on_other_features_is_refused(model: ScoringModel) -> None:
    other = replace(model.artifact, features=(*FEATURES[:-1], "renda"))
    with pytest.raises(ConfigurationError, match="features"):
        ScoringModel(other)


def test_matrix_shape_is_checked(model: ScoringModel) -> None:
    with pytest.raises(ValueError, match="matrix"):
        model.margin(np.zeros((3, 8)))

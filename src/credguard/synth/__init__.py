"""Synthetic customers of the batch CSV contract, with their true default probability."""

from credguard.synth.generator import (
    EXPECTED_EXCLUSION_COLUMN,
    OUTCOME_COLUMN,
    PROB_COLUMN,
    Shift,
    generate,
    normalise,
    write_csv,
)

__all__ = [
    "EXPECTED_EXCLUSION_COLUMN",
    "OUTCOME_COLUMN",
    "PROB_COLUMN",
    "Shift",
    "generate",
    "normalise",
    "write_csv",
]

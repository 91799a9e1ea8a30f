"""CPF (Brazilian taxpayer number) normalisation and check digits, on whole columns.

Only ASCII ``[0-9]`` counts as a digit: Python's ``str.isdigit`` and regex ``\\d`` also accept
Arabic-Indic or full-width digits, which would let look-alike strings through.
The mod-11 check digits catch every change to a check digit but miss about 0.18 % of
single-digit typos in the body, so a passing CPF is plausible, not proven.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

#: Accepted written forms of a full CPF: plain or masked ``123.456.789-09`` (separators optional).
CPF_FORM = r"^[0-9]{3}\.?[0-9]{3}\.?[0-9]{3}-?[0-9]{2}$"
#: A spreadsheet that stored the CPF as a number dropped one leading zero.
CPF_LOST_ZERO = r"^[0-9]{10}$"
_ELEVEN_DIGITS = r"^[0-9]{11}$"
#: 11111111111: every all-equal 11-digit number is a multiple of it (0 included).
_REPUNIT = 11_111_111_111
_BODY_LIMIT = 1_000_000_000


def normalise_cpf(col: pl.Expr) -> pl.Expr:
    """Return the 11 ASCII digits of a plausibly written CPF, or null for anything else."""
    stripped = col.str.strip_chars()
    return (
        pl.when(stripped.str.contains(CPF_FORM))
        .then(stripped.str.replace_all(r"[.\-]", ""))
        .when(stripped.str.contains(CPF_LOST_ZERO))
        .then(pl.lit("0") + stripped)
        .otherwise(None)
    )


def cpf_is_valid(cpf11: pl.Expr) -> pl.Expr:
    """True when an 11-digit string has correct check digits and not all digits equal."""
    number = pl.when(cpf11.str.contains(_ELEVEN_DIGITS)).then(cpf11).cast(pl.Int64, strict=False)
    # One NumPy pass over the whole column: written as Polars arithmetic, the ~30 references to
    # each digit re-evaluate the string parsing instead of sharing it (about 10x slower).
    return number.map_batches(_valid_numbers, return_dtype=pl.Boolean, is_elementwise=True)


def _valid_numbers(numbers: pl.Series) -> pl.Series:
    number = numbers.fill_null(-1).to_numpy().astype(np.int64, copy=False)
    body = np.where(number >= 0, number // 100, 0)
    return pl.Series(
        numbers.name,
        (number >= 0) & (number % _REPUNIT != 0) & (_check_digits(body) == number % 100),
        dtype=pl.Boolean,
    )


def _check_digits(body: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Both check digits of 9-digit bodies, as the two-digit number 10 * first + second."""
    digits = [(body // 10 ** (8 - position)) % 10 for position in range(9)]
    first = _mod11_digit(sum((d * (10 - i) for i, d in enumerate(digits)), np.zeros_like(body)))
    second = _mod11_digit(
        sum((d * (11 - i) for i, d in enumerate(digits)), np.zeros_like(body)) + first * 2
    )
    return first * 10 + second


def _mod11_digit(weighted_sum: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    remainder = weighted_sum % 11
    return np.where(remainder < 2, 0, 11 - remainder).astype(np.int64)


def cpf_check_digits(first9: str) -> str:
    """Return the two check digits of a 9-digit CPF body (scalar reference implementation)."""
    if len(first9) != 9 or not (first9.isascii() and first9.isdigit()):
        raise ValueError(f"a CPF body is 9 ASCII digits, got {first9!r}")
    digits = [int(c) for c in first9]
    for weight_start in (10, 11):
        total = sum(d * w for d, w in zip(digits, range(weight_start, 1, -1), strict=False))
        remainder = total % 11
        digits.append(0 if remainder < 2 else 11 - remainder)
    return f"{digits[9]}{digits[10]}"


def is_valid_cpf(s: str) -> bool:
    """Whether ``s`` is exactly 11 ASCII digits, not all equal, with correct check digits."""
    if len(s) != 11 or not (s.isascii() and s.isdigit()) or len(set(s)) == 1:
        return False
    return cpf_check_digits(s[:9]) == s[9:]


def cpfs_from_bodies(bodies: npt.NDArray[np.integer]) -> pl.Series:
    """Complete 9-digit bodies (integers below 10**9) into 11-digit CPF strings, vectorised."""
    body = np.asarray(bodies).astype(np.int64, copy=False)
    if body.size and (body.min() < 0 or body.max() >= _BODY_LIMIT):
        raise ValueError("CPF bodies must be integers in [0, 10**9)")
    numbers = body * 100 + _check_digits(body)
    return pl.Series("cpf", numbers, dtype=pl.Int64).cast(pl.String).str.zfill(11)

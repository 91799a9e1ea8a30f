"""The validation of :mod:`customers.validate`, one customer at a time, for online requests.

Polars spends about a millisecond planning each expression tree whatever the row count, so the
vectorised :func:`validate.normalise` costs ~12 ms even for one customer: fine for a file, too
slow for an online request that must answer in a few milliseconds. This module applies the same
rules to a few customers in plain Python (~20 µs each) and returns the same columns, the same
values and the same exclusion codes. It is the batch path's twin by contract, not by copy:
``tests/customers/test_record.py`` feeds both arbitrary text and requires identical output.

Where Python and Polars (Rust) disagree, this module follows Polars: whitespace is Unicode
``White_Space`` (Python's ``str.isspace`` also counts the separators U+001C–U+001F), and patterns
must match the whole value (Python's ``$`` would also match before a final newline).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from credguard.customers import validate
from credguard.customers.contract import (
    EXCLUSION,
    INTEGER_COLUMNS,
    MAX_CPF_LENGTH,
    MAX_INTEGER,
    MAX_NOME_LENGTH,
    MAX_PRODUTO_LENGTH,
    MAX_VALOR,
    MIN_DATE,
    NORMALISED_SCHEMA,
    ROW_NUMBER,
    Exclusion,
)
from credguard.customers.cpf import CPF_FORM, CPF_LOST_ZERO, is_valid_cpf

#: Unicode White_Space, which Polars' ``strip_chars`` and the regex ``\s`` use.
WHITESPACE = "".join(
    chr(code) for code in range(0x3001) if chr(code).isspace() and not 0x1C <= code <= 0x1F
)
_NO_WHITESPACE = str.maketrans("", "", WHITESPACE)

Columns = dict[str, list[Any]]


def _whole(pattern: str) -> re.Pattern[str]:
    """A ``^…$`` pattern of the batch path, compiled to match a whole Python string."""
    return re.compile(pattern.removeprefix("^").removesuffix("$"))


_CPF_FORM = _whole(CPF_FORM)
_CPF_LOST_ZERO = _whole(CPF_LOST_ZERO)
_ISO_DATE = _whole(validate.ISO_DATE)
_BR_DATE = _whole(validate.BR_DATE)
_MONEY = _whole(validate.MONEY)
_DIGITS = re.compile("[0-9]+")
_DECIMAL_COMMA = re.compile(r",[0-9]+\Z")


def strip(text: str | None) -> str | None:
    return None if text is None else text.strip(WHITESPACE)


def _blank_to_null(text: str | None) -> str | None:
    return text or None


def normalise_cpf(stripped: str | None) -> str | None:
    """The 11 digits of a plausibly written CPF (see :func:`cpf.normalise_cpf`), or None."""
    if stripped is None:
        return None
    if _CPF_FORM.fullmatch(stripped):
        return stripped.replace(".", "").replace("-", "")
    if _CPF_LOST_ZERO.fullmatch(stripped):
        return "0" + stripped
    return None


def parse_date(text: str | None) -> date | None:
    stripped = strip(text)
    if stripped is None:
        return None
    if _ISO_DATE.fullmatch(stripped):
        year, month, day = stripped[:4], stripped[5:7], stripped[8:]
    elif _BR_DATE.fullmatch(stripped):
        day, month, year = stripped[:2], stripped[3:5], stripped[6:]
    else:
        return None
    try:
        parsed = date(int(year), int(month), int(day))
    except ValueError:
        return None
    return parsed if parsed >= MIN_DATE else None


def parse_integer(text: str | None) -> int | None:
    stripped = strip(text)
    if stripped is None or not _DIGITS.fullmatch(stripped):
        return None
    significant = stripped.lstrip("0") or "0"
    if len(significant) > len(str(MAX_INTEGER)):
        return None
    value = int(significant)
    return value if value <= MAX_INTEGER else None


def parse_money(text: str | None) -> float | None:
    if text is None:
        return None
    compact = text.replace("R$", "").translate(_NO_WHITESPACE)
    if not _MONEY.fullmatch(compact):
        return None
    if _DECIMAL_COMMA.search(compact):
        with_point = compact.replace(".", "").replace(",", ".", 1)
    else:
        with_point = compact.replace(",", "")
    value = float(with_point)
    return value if abs(value) <= MAX_VALOR else None


def product_index(stripped: str | None, index_of: Mapping[str, int]) -> int | None:
    """Position of the configured product a stripped value names (see validate's), or None."""
    if stripped is None:
        return None
    decomposed = unicodedata.normalize("NFKD", stripped.upper())
    key = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return index_of.get(key)


def normalise_records(
    records: Sequence[Mapping[str, str | None]], *, products: Sequence[str], today: date
) -> Columns:
    """Columns of NORMALISED_SCHEMA for ``records`` (rows 1…n), as :func:`validate.normalise`.

    Duplicates are looked for among ``records`` only: they are one chunk of their own.
    """
    index_of: dict[str, int] = {}
    for position, code in enumerate(products):
        index_of.setdefault(validate.product_key(code), position)
    columns: Columns = {name: [] for name in NORMALISED_SCHEMA}
    seen: set[tuple[str, int]] = set()
    for row_number, record in enumerate(records, start=1):
        cpf_raw = strip(record.get("cpf"))
        cpf11 = normalise_cpf(cpf_raw)
        cpf_ok = cpf11 is not None and is_valid_cpf(cpf11)
        produto_raw = strip(record.get("produto"))
        index = product_index(produto_raw, index_of)
        first = parse_date(record.get("data_primeira_compra"))
        last = parse_date(record.get("data_ultima_compra"))
        integers = {name: parse_integer(record.get(name)) for name in INTEGER_COLUMNS}
        valor = parse_money(record.get("valor_total_compras"))
        nome = _blank_to_null(strip(record.get("nome")))

        exclusion: str | None = None
        if not cpf_ok:
            exclusion = Exclusion.CPF_INVALIDO
        elif index is None:
            exclusion = Exclusion.PRODUTO_NAO_SUPORTADO
        elif (cpf11, index) in seen:
            exclusion = Exclusion.CPF_DUPLICADO
        elif first is None or last is None or first > today or last > today or last < first:
            exclusion = Exclusion.DATA_INVALIDA
        elif None in integers.values() or valor is None or valor < 0:
            exclusion = Exclusion.VALOR_INVALIDO
        elif integers["total_compras"] == 0:
            exclusion = Exclusion.HISTORICO_INSUFICIENTE
        if cpf_ok and index is not None:
            seen.add((str(cpf11), index))

        values = {
            ROW_NUMBER: row_number,
            "cpf": cpf11 if cpf_ok else _blank_to_null(cpf_raw and cpf_raw[:MAX_CPF_LENGTH]),
            "nome": nome[:MAX_NOME_LENGTH] if nome else None,
            "produto": products[index]
            if index is not None
            else _blank_to_null(produto_raw and produto_raw[:MAX_PRODUTO_LENGTH]),
            "data_primeira_compra": first,
            "data_ultima_compra": last,
            **integers,
            "valor_total_compras": valor,
            EXCLUSION: None if exclusion is None else str(exclusion),
        }
        for name, column in columns.items():
            column.append(values[name])
    return columns

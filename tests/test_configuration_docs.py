"""The README's configuration table is the one place settings are documented: every setting has
a row under its full variable name, with the default the code really uses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from credguard.config import Settings

README = Path(__file__).resolve().parents[1] / "README.md"
VARIABLE = re.compile(r"`(CREDGUARD_[A-Z0-9_]+)`")


def documented_defaults() -> dict[str, str | None]:
    """Variable → the documented default (first code span of its row's default cell), or None
    when one row documents several variables with one text (``empty`` for a login pair)."""
    section = README.read_text(encoding="utf-8").split("\n## Configuration\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows: dict[str, str | None] = {}
    for line in section.splitlines():
        if not line.startswith("| `CREDGUARD_"):
            continue
        names_cell, default_cell = (cell.strip() for cell in line.strip("|").split("|")[:2])
        names = VARIABLE.findall(names_cell)
        defaults = re.findall(r"`([^`]*)`", default_cell)
        if len(names) == 1:
            rows[names[0]] = defaults[0] if defaults else default_cell
        else:
            paired = len(defaults) == len(names)
            rows.update({name: defaults[i] if paired else None for i, name in enumerate(names)})
    return rows


def as_documented(value: object) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


DOCUMENTED = documented_defaults()


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_documented_with_its_default(field: str) -> None:
    variable = f"CREDGUARD_{field.upper()}"
    assert variable in DOCUMENTED, f"{variable} has no row in the README's configuration table"
    default = Settings.model_fields[field].get_default(call_default_factory=True)
    if isinstance(default, SecretStr):
        default = default.get_secret_value()
    documented = DOCUMENTED[variable]
    if default in (None, "", []):
        assert documented is None or not documented.startswith("`"), variable
        return  # computed or empty defaults are described in words (e.g. "<data dir>/logs")
    assert documented is not None, f"{variable}: its row gives no default of its own"
    if isinstance(default, Path):
        assert documented.rstrip("/").removeprefix("./") == str(default)
        return
    assert documented == as_documented(default), f"{variable}: README says {documented}"


def test_the_table_documents_no_setting_that_does_not_exist() -> None:
    known = {f"CREDGUARD_{field.upper()}" for field in Settings.model_fields}
    tests_only = {"CREDGUARD_TEST_MARIADB_URL"}
    assert set(DOCUMENTED) - known - tests_only == set()

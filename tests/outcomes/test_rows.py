"""Reading and checking an outcomes upload: accepted forms, row problems, limits."""

from __future__ import annotations

import re
from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credguard.outcomes import rows

PRODUCTS = ["CARTAO", "EMPRESTIMO", "CREDIARIO"]
TODAY = date(2026, 11, 28)


def check(raw: pl.DataFrame) -> pl.DataFrame:
    return rows.validate(raw, products=PRODUCTS, today=TODAY)


def test_every_accepted_form_reads_the_same() -> None:
    text = (
        "\ufeffCPF ; Produto ; Default ; DataReferencia\r\n"
        "529.982.247-25;Cartão;Sim;31/10/2026\r\n"
        "\r\n"
        "1234567890;emprestimo;não;2026-10-31\r\n"  # a spreadsheet dropped the leading zero
        ";;;\r\n"
        "111.444.777-35;CREDIARIO;TRUE;2026-10-31\r\n"
        "52998224725;CREDIARIO;0;2026-11-28\r\n"
    )
    typed = check(rows.read_csv(text.encode("utf-8")))
    assert check(rows.read_csv(text.removeprefix("\ufeff").encode("latin-1"))).equals(typed)
    assert typed.rows() == [
        (1, "52998224725", "CARTAO", True, date(2026, 10, 31)),
        (2, "01234567890", "EMPRESTIMO", False, date(2026, 10, 31)),
        (3, "11144477735", "CREDIARIO", True, date(2026, 10, 31)),
        (4, "52998224725", "CREDIARIO", False, TODAY),
    ]
    same = rows.from_records(
        [
            {
                "cpf": 52998224725,
                "produto": "CARTAO",
                "inadimplente": True,
                "dataReferencia": "2026-10-31",
            },
            {
                "cpf": "01234567890",
                "produto": "EMPRESTIMO",
                "inadimplente": 0,
                "dataReferencia": "31/10/2026",
            },
        ]
    )
    assert check(same).rows() == typed.head(2).rows()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        # Python splits lines at (and strips) these; bytes.strip() does not.
        (b"\x1c", "the file is empty"),
        (b"\x1e\n", "the file is empty"),
        (b"\xef\xbb\xbf\x1d\r\n\x85", "the file is empty"),
        (b"PK\x03\x04rest", "not a CSV text file"),
        (b"cpf,produto,inadimplente\n1,2,3\n", "lacks the column(s) dataReferencia"),
        (b"cpf,produto,inadimplente,default,dataReferencia\n", "names inadimplente twice"),
        (b"cpf,produto,inadimplente,dataReferencia\n", "holds no outcome"),
        (b"cpf,produto,inadimplente,dataReferencia\n1,2,3,4,5,6\n", "more fields than the header"),
    ],
)
def test_a_file_that_is_not_an_outcomes_csv_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(rows.InvalidOutcomes, match=message.replace("(", r"\(").replace(")", r"\)")):
        rows.read_csv(data)


def test_too_many_outcomes_are_refused_before_any_check() -> None:
    header = b"cpf,produto,inadimplente,dataReferencia\n"
    data = header + b"x,x,x,x\n" * 11
    with pytest.raises(rows.InvalidOutcomes, match="holds 11 outcomes; send at most 10"):
        rows.read_csv(data, max_rows=10)
    assert rows.read_csv(data, max_rows=None).height == 11


def test_problems_are_listed_per_row_and_field_without_the_cpf() -> None:
    raw = rows.from_records(
        [
            {
                "cpf": "52998224725",
                "produto": "CARTAO",
                "inadimplente": True,
                "dataReferencia": "2026-12-01",
            },
            {"cpf": "529.982.247-20", "produto": None, "inadimplente": None, "dataReferencia": ""},
        ]
    )
    with pytest.raises(rows.InvalidOutcomes) as refused:
        check(raw)
    assert refused.value.errors == [
        {
            "row": "1",
            "field": "dataReferencia",
            "problem": (
                "2026-12-01 is after today (2026-11-28): "
                "dataReferencia is the date of the credit decision judged"
            ),
        },
        {
            "row": "2",
            "field": "cpf",
            "problem": "not a valid CPF: 11 digits (or 000.000.000-00) with correct check digits",
        },
        {"row": "2", "field": "produto", "problem": "missing"},
        {
            "row": "2",
            "field": "inadimplente",
            "problem": "missing: say whether the customer defaulted (1/0, true/false or sim/não)",
        },
        {"row": "2", "field": "dataReferencia", "problem": "missing"},
    ]
    assert refused.value.status == 422


#: A CPF-like run in a message: 9 or more digits, separators between them allowed.
CPF_LIKE = re.compile(r"[0-9](?:[.\-/\s]?[0-9]){8,}")


@pytest.mark.parametrize("field", ["produto", "inadimplente", "dataReferencia"])
@pytest.mark.parametrize("cpf", ["529.982.247-25", "52998224725", "1234567890", "529 982 247/25"])
def test_a_cpf_in_the_wrong_column_is_never_quoted_back(field: str, cpf: str) -> None:
    good = {"cpf": "52998224725", "produto": "CARTAO", "inadimplente": "1"}
    good["dataReferencia"] = "2026-10-31"
    swapped = {**good, field: f"cliente {cpf}!"}
    with pytest.raises(rows.InvalidOutcomes) as refused:
        check(rows.from_records([swapped]))
    [problem] = refused.value.errors or []
    assert problem["field"] == field
    assert "cliente ***!" in problem["problem"]
    assert not CPF_LIKE.search(problem["problem"]), problem


def test_only_the_first_problems_are_listed() -> None:
    raw = rows.from_records(
        [{"cpf": "1", "produto": "CARTAO", "inadimplente": 1, "dataReferencia": "2026-01-01"}] * 150
    )
    with pytest.raises(rows.InvalidOutcomes) as refused:
        check(raw)
    assert len(refused.value.errors or []) == rows.MAX_LISTED_ERRORS
    assert "150 of 150 outcome(s) are not valid" in refused.value.message
    assert "the first 100 of 150 problems are listed" in refused.value.message


text = st.one_of(st.none(), st.text(max_size=20))
digits = st.text(alphabet="0123456789", min_size=9, max_size=14)
#: Text that often holds a CPF-like run, written plainly or masked, with other text around it.
cpf_like_text = st.one_of(
    text,
    st.builds(
        lambda before, number, after: before + number + after,
        st.text(max_size=5),
        st.one_of(
            digits,
            digits.map(lambda d: f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}"),
        ),
        st.text(max_size=5),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(cpf_like_text, cpf_like_text, cpf_like_text, cpf_like_text),
        min_size=1,
        max_size=5,
    )
)
def test_any_text_is_either_an_outcome_or_a_named_problem(
    values: list[tuple[str | None, ...]],
) -> None:
    raw = rows.from_records([dict(zip(rows.COLUMNS, row, strict=True)) for row in values])
    try:
        typed = check(raw)
    except rows.InvalidOutcomes as refused:
        assert refused.errors
        for problem in refused.errors:
            assert problem["field"] in (*rows.COLUMNS, "row")
            # The only digits a problem may show are the CPF format it names.
            shown = problem["problem"].replace("000.000.000-00", "")
            cpf = values[int(problem["row"]) - 1][0]
            if problem["field"] == "cpf" and cpf and len(cpf.strip()) >= 5:
                assert cpf.strip() not in shown
            # No field quotes a CPF back, whichever column it was sent in.
            assert not CPF_LIKE.search(shown), problem
    else:
        assert typed.height == len(values)
        assert typed.null_count().row(0) == (0,) * 5


HEADER = b"cpf,produto,inadimplente,dataReferencia\n"
#: Pieces of CSV text and of what Python, not bytes.strip(), treats as line breaks or blanks.
PIECES = [b"\n", b"\r\n", b",", b";", b'"', b" ", b"\x1c", b"\x85", b"\xef\xbb\xbf", b"\xa0"]
PIECES += [b"cpf", b"produto", b"default", b"dataReferencia", b"inadimplente", b"1", b"x"]


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.binary(max_size=200).map(lambda body: HEADER + body),
        st.lists(
            st.sampled_from(PIECES),
            max_size=30,
        ).map(b"".join),
    )
)
def test_any_bytes_are_either_outcomes_or_a_named_refusal(data: bytes) -> None:
    """Whatever a client uploads, reading and checking it never fails but with InvalidOutcomes."""
    try:
        check(rows.read_csv(data))
    except rows.InvalidOutcomes as refused:
        assert refused.message and refused.status == 422

"""Reading client CSV files: encodings, delimiters, quoting, chunking, and files refused."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from credguard.customers.contract import REQUIRED_COLUMNS, ROW_NUMBER
from credguard.customers.reader import CsvSource, InvalidFile, open_csv

ROW = ["00123456789", "Ana", "CARTAO", "01/03/2024", "2024-05-01", "3", "10,50", "1", "0", "0"]


def line(values: list[str], delimiter: str = ";") -> str:
    return delimiter.join(values)


def write(tmp_path: Path, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = tmp_path / "batch.csv"
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return path


def read_all(source: CsvSource, chunk_rows: int = 1000) -> pl.DataFrame:
    return pl.concat(list(source.iter_chunks(chunk_rows)))


def refused(path: Path) -> str:
    with pytest.raises(InvalidFile) as caught:
        source = open_csv(path)
        read_all(source)
    message = str(caught.value)
    assert "arrow" not in message.lower()
    return message


HEADER = line(list(REQUIRED_COLUMNS))


def test_semicolon_utf8_with_crlf_quotes_blank_lines_and_extra_columns(tmp_path: Path) -> None:
    content = (
        f"{HEADER};observação\r\n"
        f"{line(ROW)};primeira\r\n"
        "\r\n"
        '11144477735;"Silva; João\r\nda";Cartão;2024-03-01;2024-05-01;2;"1.234,56";2;0;0;""\r\n'
        "\r\n"
        f"{line(ROW)};última\r\n"
    )
    source = open_csv(write(tmp_path, content))

    assert (source.encoding, source.delimiter) == ("utf-8", ";")
    assert source.columns == [*REQUIRED_COLUMNS, "observação"]
    frame = read_all(source)
    assert frame.columns == [ROW_NUMBER, *REQUIRED_COLUMNS, "observação"]
    assert frame.schema[ROW_NUMBER] == pl.Int64
    assert all(frame.schema[name] == pl.String for name in source.columns)
    assert frame[ROW_NUMBER].to_list() == [1, 2, 3]
    assert frame["cpf"].to_list() == ["00123456789", "11144477735", "00123456789"]
    assert frame["nome"][1] == "Silva; João\r\nda"
    assert frame["valor_total_compras"].to_list() == ["10,50", "1.234,56", "10,50"]
    assert frame["observação"].to_list() == ["primeira", None, "última"]


def test_comma_delimited_with_quoted_commas(tmp_path: Path) -> None:
    row = ["00123456789", '"Souza, Ana"', "CARTAO", "2024-03-01", "2024-05-01", "3", '"1,234.56"']
    content = f"{line(list(REQUIRED_COLUMNS), ',')}\n{line([*row, '1', '0', '0'], ',')}\n"
    source = open_csv(write(tmp_path, content))

    assert source.delimiter == ","
    frame = read_all(source)
    assert frame["nome"].to_list() == ["Souza, Ana"]
    assert frame["valor_total_compras"].to_list() == ["1,234.56"]
    assert frame["cpf"].to_list() == ["00123456789"]


def test_bare_carriage_return_line_ends(tmp_path: Path) -> None:
    source = open_csv(write(tmp_path, f"\r{HEADER}\r{line(ROW)}\r\r{line(ROW)}\r"))
    assert source.estimated_rows == 3
    assert read_all(source)[ROW_NUMBER].to_list() == [1, 2]


def test_utf8_bom_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, f"\ufeff{HEADER}\r\n{line(ROW)}\r\n")
    source = open_csv(path)
    assert source.encoding == "utf-8"
    assert source.columns[0] == "cpf"
    assert read_all(source)["cpf"].to_list() == ["00123456789"]


def test_windows_1252_accents_are_decoded(tmp_path: Path) -> None:
    row = ["52998224725", "João Conceição", "Cartão", *ROW[3:]]
    path = write(tmp_path, f"{HEADER}\r\n{line(row)}\r\n", encoding="cp1252")
    source = open_csv(path)
    assert source.encoding == "cp1252"
    frame = read_all(source)
    assert frame["nome"].to_list() == ["João Conceição"]
    assert frame["produto"].to_list() == ["Cartão"]


def test_bytes_undefined_in_windows_1252_fall_back_to_latin1(tmp_path: Path) -> None:
    row = ["52998224725", "Jo\xe3o\x81", *ROW[2:]]
    path = write(tmp_path, f"{HEADER}\n{line(row)}\n", encoding="latin-1")
    source = open_csv(path)
    assert source.encoding == "latin-1"
    assert read_all(source)["nome"].to_list() == ["Jo\xe3o\x81"]


def test_header_names_are_matched_loosely_and_extras_kept_as_written(tmp_path: Path) -> None:
    names = [
        f' "{name.upper()}" ' if i % 2 else name.title() for i, name in enumerate(REQUIRED_COLUMNS)
    ]
    content = f"{line(['Loja Nº', *names])};\n{line(['12', *ROW])};\n"
    source = open_csv(write(tmp_path, content))
    assert source.columns == ["Loja Nº", *REQUIRED_COLUMNS, "column_12"]
    frame = read_all(source)
    assert frame["Loja Nº"].to_list() == ["12"]
    assert frame["cpf"].to_list() == ["00123456789"]


def test_values_stay_text_and_only_empty_fields_are_null(tmp_path: Path) -> None:
    row = ["00123", "NA", "NULL", "", "  ", "007", "1e3", "", "0", "0"]
    source = open_csv(write(tmp_path, f"{HEADER}\n{line(row)}\n"))
    values = read_all(source).row(0)
    assert list(values) == [1, "00123", "NA", "NULL", None, "  ", "007", "1e3", None, "0", "0"]


def test_a_field_longer_than_the_csv_module_limit_is_read(tmp_path: Path) -> None:
    long_name = "x" * 300_000
    row = [ROW[0], f'"{long_name}"', *ROW[2:]]
    source = open_csv(write(tmp_path, f"{HEADER}\n{line(row)}\n"))
    assert read_all(source)["nome"].to_list() == [long_name]


def test_a_runaway_row_is_refused_with_a_hint(tmp_path: Path) -> None:
    runaway = [ROW[0], '"' + "x" * 5_000_000 + '"', *ROW[2:]]
    message = refused(write(tmp_path, f"{HEADER}\n{line(ROW)}\n{line(runaway)}\n"))
    assert message == "a row is longer than 2 MB; check for a missing closing quote"


def test_an_unclosed_quote_is_reported_with_its_line(tmp_path: Path) -> None:
    unclosed = [ROW[0], '"Ana', *ROW[2:]]
    rows = "\n".join([line(ROW), line(unclosed), *[line(ROW)] * 5])
    message = refused(write(tmp_path, f"{HEADER}\n{rows}\n"))
    assert message.startswith("line 3 has 2 field(s) but the header has 10")


def test_rows_of_bare_delimiters_and_spaces_are_blank_lines(tmp_path: Path) -> None:
    content = f"{HEADER}\n{line(ROW)}\n;;;;;;;;;\n   \n\n{line(ROW)}\n;;;;;;;;;\n"
    frame = read_all(open_csv(write(tmp_path, content)))
    assert frame[ROW_NUMBER].to_list() == [1, 2]


def customer_rows(count: int) -> list[str]:
    return [line([f"{n:011d}", *ROW[1:]]) for n in range(1, count + 1)]


def test_chunks_have_the_requested_size_and_continuous_row_numbers(tmp_path: Path) -> None:
    rows = customer_rows(25)
    # Blank lines sprinkled in are not customers and do not shift the numbering.
    content = f"{HEADER}\r\n" + "\r\n\r\n".join(rows[:12]) + "\r\n" + "\r\n".join(rows[12:])
    source = open_csv(write(tmp_path, content))

    chunks = list(source.iter_chunks(10))
    assert [chunk.height for chunk in chunks] == [10, 10, 5]
    numbers = pl.concat(chunks)[ROW_NUMBER].to_list()
    assert numbers == list(range(1, 26))
    assert pl.concat(chunks)["cpf"].to_list() == [f"{n:011d}" for n in range(1, 26)]
    again = list(source.iter_chunks(10))
    assert all(a.equals(b) for a, b in zip(chunks, again, strict=True))
    assert read_all(source, 7).equals(read_all(source, 1000))


def test_estimated_rows_and_file_size(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\n" + "\n".join(customer_rows(40)))
    source = open_csv(path)
    assert source.estimated_rows == 40
    assert source.file_size == path.stat().st_size


def test_a_large_file_streams_and_a_late_ragged_row_names_its_line(tmp_path: Path) -> None:
    # Larger than one parse block (2 MiB), so the bad row is met while iterating.
    rows = customer_rows(1) * 400_000
    bad_line = len(rows) + 2
    content = f"{HEADER}\n" + "\n".join(rows) + "\n1;2;3\n" + "\n".join(rows[:10]) + "\n"
    source = open_csv(write(tmp_path, content))
    yielded = 0
    with pytest.raises(InvalidFile) as caught:
        for chunk in source.iter_chunks(100_000):
            assert chunk.height == 100_000
            yielded += chunk.height
    assert 0 < yielded < len(rows)
    assert str(caught.value) == (
        f"line {bad_line} has 3 field(s) but the header has 10; check the delimiter and quoting"
    )


@pytest.mark.parametrize("content", [b"", b"   \r\n\r\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf \n"])
def test_an_empty_file_is_refused(tmp_path: Path, content: bytes) -> None:
    assert refused(write(tmp_path, content)) == "the file is empty"


@pytest.mark.parametrize("trailer", ["", "\n", "\r\n\r\n", "\n;;;;;;;;;\n   \n"])
def test_a_header_without_rows_is_refused(tmp_path: Path, trailer: str) -> None:
    message = refused(write(tmp_path, HEADER + trailer))
    assert message == "the file has a header but no customer rows"


def test_missing_required_columns_are_named(tmp_path: Path) -> None:
    header = line(list(REQUIRED_COLUMNS[:-2]))
    message = refused(write(tmp_path, f"{header}\n{line(ROW[:-2])}\n"))
    assert message == "missing required column(s): total_atrasos, maior_atraso"


def test_duplicate_columns_are_named(tmp_path: Path) -> None:
    message = refused(write(tmp_path, f"{HEADER};CPF;extra;extra\n{line(ROW)};1;2;3\n"))
    assert message == "the header repeats column(s): cpf, extra"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 100, "Excel"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "Excel"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "not a CSV text file"),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 20, "not a CSV text file"),
        (HEADER.encode() + b"\n\x00\x01\x02binary\n", "not a CSV text file"),
        ("\ufeff".encode("utf-16-le") + HEADER.encode("utf-16-le"), "UTF-16"),
    ],
)
def test_files_that_are_not_csv_text_are_refused(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    assert expected in refused(write(tmp_path, content))


def test_a_row_with_the_wrong_number_of_fields_names_its_line(tmp_path: Path) -> None:
    content = (
        f"\r\n{HEADER}\r\n{line(ROW)}\r\n\r\n"
        '00123456789;"two\r\nlines";CARTAO;2024-03-01;2024-05-01;3;1;1;0;0\r\n'
        f"{line(ROW[:6])}\r\n{line(ROW)}\r\n"
    )
    assert refused(write(tmp_path, content)) == (
        "line 7 has 6 field(s) but the header has 10; check the delimiter and quoting"
    )


def test_a_wrong_delimiter_is_reported_as_a_field_count_problem(tmp_path: Path) -> None:
    # Header with ";" but the rows were written with ",".
    content = f"{HEADER}\n{line(ROW, ',')}\n"
    message = refused(write(tmp_path, content))
    assert message.startswith("line 2 has 1 field(s) but the header has 10")

"""Open a client's batch CSV: check it is one, detect encoding and delimiter, stream it in chunks.

Every value is read as text (``00123`` stays ``00123``); typing is validation's job. The file is
never held whole: one byte-level pass sniffs it, then pyarrow parses it block by block.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import polars as pl
import pyarrow as pa
import pyarrow.csv as pa_csv

from credguard.customers.contract import REQUIRED_COLUMNS, RESULT_COLUMNS, ROW_NUMBER
from credguard.errors import InvalidInput

Encoding = Literal["utf-8", "cp1252", "latin-1"]

_SNIFF_BYTES: Final = 64 * 1024
_SCAN_BLOCK: Final = 8 * 1024 * 1024
#: pyarrow parses block by block: the longest row must fit in one block, and its reader keeps
#: about 35 parsed blocks ahead of the consumer, so memory is ~35 x this (measured with pyarrow
#: 26). 2 MiB bounds a read near 80 MB whatever the file size and still allows 2 MB rows.
_PARSE_BLOCK: Final = 2 * 1024 * 1024
_BOM: Final = codecs.BOM_UTF8
_BLANK_BYTES: Final = b" \t\r\n\x0b\x0c"
#: Bytes Windows-1252 leaves undefined; a file holding them can only be read as Latin-1.
_CP1252_UNDEFINED: Final = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
_MAX_QUOTED_TEXT: Final = 80
_LINE_END: Final = re.compile(rb"\r\n|\r|\n")

_SIGNATURES: Final[tuple[tuple[bytes, str], ...]] = (
    (
        b"PK\x03\x04",
        "the file looks like an Excel workbook or a zip archive, not a CSV; "
        "open it in Excel and use 'Save As' > 'CSV'",
    ),
    (
        b"\xd0\xcf\x11\xe0",
        "the file looks like an old Excel (.xls) workbook, not a CSV; "
        "open it in Excel and use 'Save As' > 'CSV'",
    ),
    (b"%PDF", "the file is a PDF document, not a CSV text file"),
    (b"\x1f\x8b", "the file is compressed (gzip), not a CSV text file; decompress it first"),
    (b"\xff\xfe", "the file is saved as UTF-16; save it as CSV in UTF-8 instead"),
    (b"\xfe\xff", "the file is saved as UTF-16; save it as CSV in UTF-8 instead"),
)


class InvalidFile(InvalidInput):
    """A batch file that cannot be read as the batch CSV; the message names the problem."""


@dataclass(frozen=True)
class CsvSource:
    """A batch CSV that passed the file-level checks, ready to be read in chunks."""

    path: Path
    encoding: Encoding
    delimiter: str
    columns: list[str]
    estimated_rows: int
    file_size: int
    #: Lines before the first data row (leading blank lines and the header), skipped by pyarrow.
    header_line_count: int

    def iter_chunks(self, chunk_rows: int) -> Generator[pl.DataFrame, None, None]:
        """Yield chunks of at most ``chunk_rows`` rows: ``rowNumber`` then every column as text."""
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be at least 1")
        first_bad_row: list[tuple[int, int, str]] = []
        reader = self._open_reader(first_bad_row)
        try:
            yield from self._chunks(reader, chunk_rows, first_bad_row)
        finally:
            # Close now, not at garbage collection: a half-read reader still owns threads.
            reader.close()

    def _chunks(
        self, reader: Any, chunk_rows: int, first_bad_row: list[tuple[int, int, str]]
    ) -> Iterator[pl.DataFrame]:
        pending: list[pl.DataFrame] = []
        pending_rows = 0
        next_row_number = 1
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowException as exc:
                raise self._read_error(exc, first_bad_row) from None
            frame = _drop_empty_rows(pl.DataFrame(pa.Table.from_batches([batch])))
            if frame.height == 0:
                continue
            pending.append(frame)
            pending_rows += frame.height
            while pending_rows >= chunk_rows:
                merged = pl.concat(pending, rechunk=False)
                chunk, rest = merged.head(chunk_rows), merged.slice(chunk_rows)
                yield _numbered(chunk, next_row_number)
                next_row_number += chunk.height
                pending, pending_rows = ([rest], rest.height) if rest.height else ([], 0)
        if pending_rows:
            yield _numbered(pl.concat(pending, rechunk=False), next_row_number)

    def _open_reader(self, first_bad_row: list[tuple[int, int, str]]) -> Any:
        def on_invalid_row(row: Any) -> str:
            # Excel leaves lines holding only spaces; they are blank lines, not customer rows.
            if not str(row.text).strip():
                return "skip"
            if not first_bad_row:
                first_bad_row.append((int(row.actual_columns), int(row.expected_columns), row.text))
            return "error"

        read_options = pa_csv.ReadOptions(
            encoding=self.encoding,
            block_size=_PARSE_BLOCK,
            column_names=self.columns,
            skip_rows=self.header_line_count,
        )
        parse_options = pa_csv.ParseOptions(
            delimiter=self.delimiter,
            quote_char='"',
            newlines_in_values=True,
            ignore_empty_lines=True,
            invalid_row_handler=on_invalid_row,
        )
        # Only an empty field is missing: "NA" or "NULL" may be someone's name.
        convert_options = pa_csv.ConvertOptions(
            column_types=dict.fromkeys(self.columns, pa.string()),
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        )
        try:
            return pa_csv.open_csv(
                self.path,
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert_options,
            )
        except pa.ArrowException as exc:
            raise self._read_error(exc, first_bad_row) from None

    def _read_error(
        self, exc: pa.ArrowException, first_bad_row: list[tuple[int, int, str]]
    ) -> InvalidFile:
        if first_bad_row:
            actual, expected, text = first_bad_row[0]
            line = _find_line(self.path, self.encoding, text, self.header_line_count)
            where = f"line {line}" if line is not None else f"the row {_quote(text)}"
            return InvalidFile(
                f"{where} has {actual} field(s) but the header has {expected}; "
                "check the delimiter and quoting"
            )
        detail = str(exc)
        if "skip initial" in detail:
            # The header is the file's last line, with no line break after it.
            return InvalidFile("the file has a header but no customer rows")
        if "straddling" in detail or "block" in detail:
            return InvalidFile(
                f"a row is longer than {_PARSE_BLOCK // (1024 * 1024)} MB; "
                "check for a missing closing quote"
            )
        if "UTF8" in detail or "utf-8" in detail.lower():
            return InvalidFile("the file mixes text encodings; save it again as CSV UTF-8")
        return InvalidFile("the file could not be read as CSV; check the delimiter and quoting")


def open_csv(path: Path) -> CsvSource:
    """Check that ``path`` is a batch CSV with the required columns; raise InvalidFile if not."""
    path = Path(path)
    file_size = path.stat().st_size
    if file_size == 0:
        raise InvalidFile("the file is empty")
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    _reject_non_text(head)
    header_line_count, header_bytes, data_start = _header_line(head)
    delimiter = ";" if header_bytes.count(b";") > header_bytes.count(b",") else ","
    encoding, newline_count, has_data = _scan(path, data_start, delimiter)
    columns = _header_columns(header_bytes, encoding, delimiter)
    _check_columns(columns)
    if not has_data:
        raise InvalidFile("the file has a header but no customer rows")
    ends_with_newline = _last_byte(path) in (b"\n", b"\r")
    lines = newline_count + (0 if ends_with_newline else 1)
    return CsvSource(
        path=path,
        encoding=encoding,
        delimiter=delimiter,
        columns=columns,
        estimated_rows=max(lines - header_line_count, 0),
        file_size=file_size,
        header_line_count=header_line_count,
    )


def _reject_non_text(head: bytes) -> None:
    for signature, message in _SIGNATURES:
        if head.startswith(signature):
            raise InvalidFile(message)
    if b"\x00" in head:
        raise InvalidFile("the file is not a CSV text file (it contains binary data)")


def _scan(path: Path, data_start: int, delimiter: str) -> tuple[Encoding, int, bool]:
    """One pass in blocks: UTF-8 validity, Windows-1252 validity, newlines, any data row."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    is_utf8 = True
    cp1252_ok = True
    newlines = 0
    # Rows of spaces, delimiters or empty quotes hold no customer, like blank lines.
    no_data_bytes = _BLANK_BYTES + delimiter.encode() + b'"'
    has_data = False
    position = 0
    with path.open("rb") as handle:
        while block := handle.read(_SCAN_BLOCK):
            # An estimate: a CRLF split across two blocks counts twice.
            newlines += block.count(b"\n") + block.count(b"\r") - block.count(b"\r\n")
            if not has_data and position + len(block) > data_start:
                after_header = block[max(data_start - position, 0) :]
                has_data = bool(after_header.translate(None, no_data_bytes))
            if position == 0 and block.startswith(_BOM):
                position += len(_BOM)
                block = block[len(_BOM) :]
            position += len(block)
            if is_utf8:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    is_utf8 = False
            if cp1252_ok and any(byte in block for byte in _CP1252_UNDEFINED):
                cp1252_ok = False
    if is_utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            is_utf8 = False
    encoding: Encoding = "utf-8" if is_utf8 else "cp1252" if cp1252_ok else "latin-1"
    return encoding, newlines, has_data


def _header_line(head: bytes) -> tuple[int, bytes, int]:
    """Lines up to and including the header, the header's bytes, and where the data starts."""
    start = len(_BOM) if head.startswith(_BOM) else 0
    lines_seen = 0
    # Excel for Mac can still write bare CR line ends; pyarrow accepts all three.
    for line_end in _LINE_END.finditer(head, start):
        lines_seen += 1
        line = head[start : line_end.start()]
        if line.strip(_BLANK_BYTES):
            return lines_seen, line, line_end.end()
        start = line_end.end()
    last = head[start:]
    if not last.strip(_BLANK_BYTES):
        raise InvalidFile("the file is empty")
    if len(head) == _SNIFF_BYTES:
        raise InvalidFile("the header line is longer than 64 KB; is this a batch CSV?")
    return lines_seen + 1, last, len(head)


def _header_columns(header: bytes, encoding: Encoding, delimiter: str) -> list[str]:
    """Parse the header line with the same CSV rules as the data; canonicalise required names."""
    field_count = header.count(delimiter.encode()) + 1
    try:
        table = pa_csv.read_csv(
            io.BytesIO(header + b"\n"),
            read_options=pa_csv.ReadOptions(encoding=encoding, autogenerate_column_names=True),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, quote_char='"'),
            convert_options=pa_csv.ConvertOptions(
                column_types={f"f{i}": pa.string() for i in range(field_count)},
                strings_can_be_null=False,
            ),
        )
    except pa.ArrowException:
        raise InvalidFile("the header line could not be read; check its quoting") from None
    raw_names = [str(table.column(i)[0].as_py() or "") for i in range(table.num_columns)]
    required = set(REQUIRED_COLUMNS)
    columns: list[str] = []
    for position, raw in enumerate(raw_names, start=1):
        name = raw.strip().strip('"').strip()
        canonical = name.lower()
        if canonical in required:
            columns.append(canonical)
        elif name:
            columns.append(name)
        else:
            # A trailing delimiter leaves nameless columns; give them a stable name to pass through.
            columns.append(f"column_{position}")
    return columns


def _check_columns(columns: list[str]) -> None:
    seen: set[str] = set()
    duplicates: list[str] = []
    for name in columns:
        if name in seen and name not in duplicates:
            duplicates.append(name)
        seen.add(name)
    if duplicates:
        raise InvalidFile(f"the header repeats column(s): {', '.join(duplicates)}")
    missing = [name for name in REQUIRED_COLUMNS if name not in seen]
    if missing:
        raise InvalidFile(f"missing required column(s): {', '.join(missing)}")
    reserved = [name for name in (ROW_NUMBER, *RESULT_COLUMNS) if name in seen]
    if reserved:
        raise InvalidFile(
            f"the header has column(s) {', '.join(reserved)}, which CredGuard adds to its results; "
            "remove them (is this a results file sent back?)"
        )


def _drop_empty_rows(frame: pl.DataFrame) -> pl.DataFrame:
    # Excel writes rows it once formatted as bare delimiters (";;;;"); they are not customers.
    return frame.filter(~pl.all_horizontal(pl.all().is_null()))


def _numbered(chunk: pl.DataFrame, first_row_number: int) -> pl.DataFrame:
    return chunk.select(
        pl.int_range(first_row_number, first_row_number + chunk.height, dtype=pl.Int64).alias(
            ROW_NUMBER
        ),
        pl.all(),
    )


def _last_byte(path: Path) -> bytes:
    with path.open("rb") as handle:
        handle.seek(-1, io.SEEK_END)
        return handle.read(1)


def _find_line(path: Path, encoding: str, text: str, skip_lines: int) -> int | None:
    """Find the 1-based line where the row ``text`` starts, for the error message only."""
    first_line = text.split("\n", 1)[0].rstrip("\r")
    if not first_line:
        return None
    # A row starts right after a newline; a virtual newline before the file makes line 1 match
    # too, and makes the count of newlines up to a match equal to its 1-based line number.
    needle = b"\n" + first_line.encode(encoding, errors="replace")
    lines_before = 0
    buffer = b"\n"
    with path.open("rb") as handle:
        while True:
            block = handle.read(_SCAN_BLOCK)
            at_end = not block
            buffer += block
            start = 0
            while (pos := buffer.find(needle, start)) != -1:
                after = buffer[pos + len(needle) : pos + len(needle) + 1]
                if not after and not at_end:
                    break  # the match may continue in the next block
                line = lines_before + buffer.count(b"\n", 0, pos + 1)
                if after in (b"", b"\r", b"\n") and line > skip_lines:
                    return line
                start = pos + 1
            if at_end:
                return None
            keep = len(needle)
            lines_before += buffer.count(b"\n", 0, len(buffer) - keep)
            buffer = buffer[-keep:]


def _quote(text: str) -> str:
    shown = text if len(text) <= _MAX_QUOTED_TEXT else text[:_MAX_QUOTED_TEXT] + "…"
    return repr(shown)

"""CSV files as clinicians' programs write them: UTF-8 with or without a byte-order mark, Excel's
Windows code page (cp1252, a superset of Latin-1's printable characters) or Latin-1, separated by
commas, semicolons or tabs. Standard library only."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SEPARATORS = ",;\t"      # the comma first: _separator's choice when a header has none
MAX_BYTES = 200_000_000


class TableError(ValueError):
    """The file cannot be read as a table; the message is one sentence for the user."""


@dataclass
class Table:
    path: Path
    columns: list[str]                 # header names as written (stripped)
    rows: list[dict[str, str]]         # keyed by lower-case column name
    row_numbers: list[int]             # the file's line number of each row (header = 1)
    separator: str = ","
    encoding: str = "utf-8"
    notes: list[str] = field(default_factory=list)

    def has(self, column: str) -> bool:
        return column.lower() in self.keys

    @property
    def keys(self) -> list[str]:
        return [c.lower() for c in self.columns]


def decode(data: bytes, name: str) -> tuple[str, str]:
    """(text, encoding). A NUL byte means this is not a text file."""
    if b"\x00" in data[:65536]:
        raise TableError(f"{name} is not a CSV text file (it contains binary data)")
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8", errors="strict"), "utf-8 (with byte-order mark)"
        except UnicodeDecodeError as exc:   # a UTF-8 mark promises UTF-8: guessing another encoding would mislead
            raise TableError(f"{name} starts with a UTF-8 byte-order mark but is not valid UTF-8 "
                             f"(byte {exc.start + 3}); save it again as UTF-8") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252 (Windows Latin-1)"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _read_bytes(path: Path) -> bytes:
    """The file's bytes; TableError (one sentence) when it is missing, a folder, unreadable or too
    large to be a ratings or study table (checked before reading it into memory)."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise TableError(f"{path.name} is larger than {MAX_BYTES // 1_000_000} MB; not a ratings or study table")
        return path.read_bytes()
    except FileNotFoundError:
        raise TableError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise TableError(f"{path} is a folder, not a CSV file") from None
    except OSError as exc:
        raise TableError(f"cannot read {path}: {exc.strerror or exc}") from None


def _separator(text: str, name: str) -> str:
    """The separator the header line uses most (a comma when it has none); TableError when the file
    has no line with text."""
    header_line = next((ln for ln in io.StringIO(text) if ln.strip()), None)
    if header_line is None:
        raise TableError(f"{name} is empty")
    return max(SEPARATORS, key=header_line.count)      # ties (none at all) go to the first: a comma


def _malformed(name: str, reader, exc: csv.Error) -> TableError:
    return TableError(f"{name} is not a well-formed CSV file (line {reader.line_num}: {exc})")


def _header(reader, name: str) -> list[str]:
    """The first row with a non-blank cell, stripped: the column names."""
    columns: list[str] | None = None
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                columns = [c.strip() for c in cells]
                break
    except csv.Error as exc:
        raise _malformed(name, reader, exc) from None
    if columns is None:      # only separators and blanks: no column names anywhere
        raise TableError(f"{name} is empty (no column names)")
    return columns


def _data_rows(reader, width: int, name: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, stripped cells padded to `width`) for each row after the header with a
    non-blank cell."""
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            yield reader.line_num, [c.strip() for c in cells] + [""] * (width - len(cells))
    except csv.Error as exc:
        raise _malformed(name, reader, exc) from None


def scan_table(path: Path) -> tuple[Table, Iterator[tuple[int, list[str]]]]:
    """The table's header (a Table without rows) and an iterator over its data rows as (line number,
    stripped cells as long as the header), blank lines skipped: a large ratings file is read row by
    row instead of as a dict per row. The iterator raises TableError for malformed CSV."""
    path = Path(path)
    text, encoding = decode(_read_bytes(path), path.name)     # the bytes are dropped once decoded
    separator = _separator(text, path.name)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    columns = _header(reader, path.name)
    notes = [] if encoding.startswith("utf-8") else [f"{path.name} was read as {encoding} text"]
    return Table(path, columns, [], [], separator, encoding, notes), _data_rows(reader, len(columns), path.name)


def read_table(path: Path) -> Table:
    """The whole table; blank lines skipped; every row as long as the header (missing cells empty)."""
    table, rows = scan_table(path)
    keys = table.keys
    for line, cells in rows:
        table.rows.append(dict(zip(keys, cells)))
        table.row_numbers.append(line)
    return table


def number(text: str, separator: str) -> float | None:
    """A cell as a number; None when it is not one. A decimal comma is accepted when the file is
    not comma-separated (European spreadsheets write 3,5 with `;` between cells)."""
    t = text.strip()
    if separator != "," and t.count(",") == 1 and "." not in t:
        t = t.replace(",", ".")
    try:
        return float(t)
    except ValueError:
        return None

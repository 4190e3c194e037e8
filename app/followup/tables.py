"""CSV files as clinicians' programs write them: UTF-8 with or without a byte-order mark, Excel's
Windows code page (cp1252, a superset of Latin-1's printable characters) or Latin-1, separated by
commas, semicolons or tabs. Standard library only."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

SEPARATORS = ",;\t"
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
        return data[3:].decode("utf-8", errors="strict"), "utf-8 (with byte-order mark)"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252 (Windows Latin-1)"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def read_table(path: Path) -> Table:
    """The whole table; blank lines skipped; every row as long as the header (missing cells empty)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise TableError(f"{path.name} is larger than {MAX_BYTES // 1_000_000} MB; not a ratings or study table")
        data = path.read_bytes()
    except FileNotFoundError:
        raise TableError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise TableError(f"{path} is a folder, not a CSV file") from None
    except OSError as exc:
        raise TableError(f"cannot read {path}: {exc.strerror or exc}") from None
    text, encoding = decode(data, path.name)
    lines = text.splitlines()
    header_line = next((ln for ln in lines if ln.strip()), None)
    if header_line is None:
        raise TableError(f"{path.name} is empty")
    separator = max(SEPARATORS, key=header_line.count) if any(s in header_line for s in SEPARATORS) else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    columns: list[str] | None = None
    rows: list[dict[str, str]] = []
    numbers: list[int] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if columns is None:
                columns = [c.strip() for c in cells]
                continue
            cells = [c.strip() for c in cells] + [""] * (len(columns) - len(cells))
            rows.append({k.lower(): v for k, v in zip(columns, cells)})
            numbers.append(reader.line_num)
    except csv.Error as exc:
        raise TableError(f"{path.name} is not a well-formed CSV file (line {reader.line_num}: {exc})") from None
    assert columns is not None
    notes = [] if encoding.startswith("utf-8") else [f"{path.name} was read as {encoding} text"]
    return Table(path, columns, rows, numbers, separator, encoding, notes)


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

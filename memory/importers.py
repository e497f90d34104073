"""Read anyone's catalog and behaviour log from JSONL or CSV files, all or nothing.

JSONL: one JSON object per line with exactly the fields of `Item` / `Event`.
CSV: a header row; items `id,title,text,categories,metadata` (categories joined by '|',
metadata a JSON object), events `id,user,item,action,value,timestamp` (id, value may be
empty). Every bad row is reported with its line and field in one `ImportFileError`, and
then nothing is returned, so a half-imported catalog can never happen.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from memory.models import Event, Item

CATEGORY_DELIMITER = "|"
MAX_LISTED_PROBLEMS = 20
SUPPORTED_SUFFIXES = (".jsonl", ".csv")


@dataclass(frozen=True)
class ImportProblem:
    """One reason a file was refused; `line` is 1-based (the CSV header is line 1)."""

    path: Path
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path.name} line {self.line}" if self.line is not None else self.path.name
        return f"{where}, field '{self.field}': {self.message}" if self.field else f"{where}: {self.message}"


class ImportFileError(ValueError):
    """A file was refused; `problems` lists every bad row and field found."""

    def __init__(self, path: Path, problems: list[ImportProblem]):
        self.path = path
        self.problems = problems
        listed = "\n".join(f"  - {problem}" for problem in problems[:MAX_LISTED_PROBLEMS])
        more = len(problems) - MAX_LISTED_PROBLEMS
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(f"{path}: nothing imported, {len(problems)} problem(s):\n{listed}{tail}")


def read_items(path: str | Path) -> list[Item]:
    """All items of a .jsonl or .csv catalog; an id used twice is an error naming both lines."""
    path = Path(path)
    items, problems = _read(path, ITEM_FORMAT)
    first_line: dict[str, int] = {}
    for line, item in items:
        if item.id in first_line:
            message = f"duplicate item id {item.id!r}, first used on line {first_line[item.id]}"
            problems.append(ImportProblem(path, line, "id", message))
        first_line.setdefault(item.id, line)
    _raise_if_any(path, problems)
    return [item for _, item in items]


def read_events(path: str | Path) -> list[Event]:
    """All events of a .jsonl or .csv log, in file order (repeated ids are left to the store)."""
    path = Path(path)
    events, problems = _read(path, EVENT_FORMAT)
    _raise_if_any(path, problems)
    return [event for _, event in events]


def _read(path: Path, record: _RecordFormat) -> tuple[list[tuple[int, Any]], list[ImportProblem]]:
    """(line, record) for every good row and the problems of every bad one."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        message = f"unsupported file type {suffix or '(none)'!r}: use .jsonl (one JSON object per line) or .csv"
        raise ImportFileError(path, [ImportProblem(path, None, None, message)])
    text = _decode(path)
    records: list[tuple[int, Any]] = []
    problems: list[ImportProblem] = []

    def validate(line: int, build: Callable[[Any], BaseModel], data: Any) -> None:
        try:
            records.append((line, build(data)))
        except ValidationError as error:
            for detail in error.errors(include_url=False):
                field = ".".join(str(part) for part in detail["loc"]) or None
                problems.append(ImportProblem(path, line, field, _describe(detail)))

    if suffix == ".jsonl":
        for line, raw in _jsonl_rows(text):
            validate(line, record.model.model_validate_json, raw)
    else:
        for line, cells in _csv_rows(path, text, record, problems):
            try:
                fields = record.cells_to_fields(cells)
            except _CellError as error:
                problems.append(ImportProblem(path, line, error.field, error.message))
                continue
            validate(line, record.model.model_validate, fields)
    return records, problems


def _describe(detail: dict[str, Any]) -> str:
    message = detail["msg"].removeprefix("Value error, ").replace(" at line 1 column ", " at column ")
    shown = repr(detail.get("input"))
    quiet = detail["type"] in ("missing", "json_invalid", "extra_forbidden") or detail.get("input") is None
    if quiet or shown in message:
        return message
    return f"{message} (got {shown[:60] + '...' if len(shown) > 60 else shown})"


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")  # tolerates a byte-order mark
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        problem = ImportProblem(path, line, None, "not UTF-8 text: save the file as UTF-8")
        raise ImportFileError(path, [problem]) from None


def _jsonl_rows(text: str) -> Iterator[tuple[int, str]]:
    for line, raw in enumerate(text.split("\n"), start=1):  # not splitlines(): JSON may hold U+2028
        if raw.strip():
            yield line, raw


def _csv_rows(
    path: Path, text: str, record: _RecordFormat, problems: list[ImportProblem]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, cells) per data row, cells stripped; rows of the wrong width go to `problems`."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip() for name in next(reader, [])]
    _check_header(path, header, record)
    next_line = reader.line_num + 1
    for cells in reader:
        line, next_line = next_line, reader.line_num + 1  # a quoted cell may span lines
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            message = f"has {len(cells)} values but the header names {len(header)} columns"
            problems.append(ImportProblem(path, line, None, message))
            continue
        yield line, {name: cell.strip() for name, cell in zip(header, cells)}


def _check_header(path: Path, header: list[str], record: _RecordFormat) -> None:
    if not any(header):
        message = f"no header row: start with {','.join(record.columns)}"
        raise ImportFileError(path, [ImportProblem(path, 1, None, message)])
    allowed = ", ".join(record.columns)
    problems = [ImportProblem(path, 1, name, f"unknown column; allowed: {allowed}")
                for name in header if name not in record.columns]
    problems += [ImportProblem(path, 1, name, "required column is missing from the header")
                 for name in record.required if name not in header]
    problems += [ImportProblem(path, 1, name, "column named twice")
                 for name in dict.fromkeys(header) if header.count(name) > 1]
    if problems:
        raise ImportFileError(path, problems)


class _CellError(Exception):
    """A CSV cell that cannot become a field value (before pydantic sees the row)."""

    def __init__(self, field: str | None, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def _item_cells(cells: dict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {name: cells[name] for name in ("id", "title", "text") if name in cells}
    if cells.get("categories"):
        fields["categories"] = [part for part in cells["categories"].split(CATEGORY_DELIMITER) if part.strip()]
    if cells.get("metadata"):
        try:
            fields["metadata"] = json.loads(cells["metadata"])
        except json.JSONDecodeError as error:
            message = f'not valid JSON ({error.msg}); write an object like {{"year": 1995}}'
            raise _CellError("metadata", message) from None
        if not isinstance(fields["metadata"], dict):
            raise _CellError("metadata", 'must be a JSON object like {"year": 1995}')
    return fields


def _event_cells(cells: dict[str, str]) -> dict[str, Any]:
    optional = ("id", "value")  # empty means "not given": derived id, no value
    return {name: cell for name, cell in cells.items() if cell or name not in optional}


@dataclass(frozen=True)
class _RecordFormat:
    """What one kind of file holds: its model, its CSV columns and how CSV cells become fields."""

    model: type[BaseModel]
    columns: tuple[str, ...]
    required: tuple[str, ...]
    cells_to_fields: Callable[[dict[str, str]], dict[str, Any]]


ITEM_FORMAT = _RecordFormat(Item, ("id", "title", "text", "categories", "metadata"), ("id", "title"), _item_cells)
EVENT_FORMAT = _RecordFormat(
    Event, ("id", "user", "item", "action", "value", "timestamp"), ("user", "item", "action", "timestamp"), _event_cells
)


def _raise_if_any(path: Path, problems: list[ImportProblem]) -> None:
    if problems:
        problems.sort(key=lambda problem: problem.line or 0)
        raise ImportFileError(path, problems)

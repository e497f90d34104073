"""Catalog and event files (JSONL, CSV): same data either way, bad rows named, all or nothing."""

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from memory.importers import MAX_LISTED_PROBLEMS, ImportFileError, read_events, read_items
from memory.movielens import load_movielens

ITEMS_CSV = """id,title,text,categories,metadata
b1,Dune,Desert planet epic.,Books > Sci-Fi|Classics,"{""year"": 1965, ""pages"": 412}"
b2,"Heat, The",,,
"""
ITEMS_JSONL = [
    {"id": "b1", "title": "Dune", "text": "Desert planet epic.", "categories": ["Books > Sci-Fi", "Classics"],
     "metadata": {"year": 1965, "pages": 412}},
    {"id": "b2", "title": "Heat, The"},
]
EVENTS_CSV = """id,user,item,action,value,timestamp
,alice,b1,rate,4.5,2024-05-01T14:00:00+02:00
click-7,alice,b2,click,,1714564800000
,bob,b1,view,,1714564800
"""
EVENTS_JSONL = [
    {"user": "alice", "item": "b1", "action": "rate", "value": 4.5, "timestamp": "2024-05-01T14:00:00+02:00"},
    {"id": "click-7", "user": "alice", "item": "b2", "action": "click", "timestamp": 1714564800000},
    {"user": "bob", "item": "b1", "action": "view", "timestamp": 1714564800},
]
NOON_UTC = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def write(folder: Path, name: str, content: str | list[dict]) -> Path:
    path = folder / name
    if isinstance(content, list):
        content = "\n".join(json.dumps(row) for row in content) + "\n"
    path.write_text(content, encoding="utf-8")
    return path


def problems_of(read, path: Path) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(ImportFileError) as caught:
        read(path)
    return [(p.line, p.field, p.message) for p in caught.value.problems]


def test_items_from_csv_and_jsonl_are_identical(tmp_path):
    from_csv = read_items(write(tmp_path, "items.csv", ITEMS_CSV))
    from_jsonl = read_items(write(tmp_path, "items.jsonl", ITEMS_JSONL))
    assert from_csv == from_jsonl
    dune = from_csv[0]
    assert dune.categories == ["Books > Sci-Fi", "Classics"]
    assert dune.metadata == {"year": 1965, "pages": 412}
    assert (from_csv[1].title, from_csv[1].categories, from_csv[1].metadata) == ("Heat, The", [], {})


def test_events_from_csv_and_jsonl_are_identical_and_in_utc(tmp_path):
    from_csv = read_events(write(tmp_path, "events.csv", EVENTS_CSV))
    from_jsonl = read_events(write(tmp_path, "events.jsonl", EVENTS_JSONL))
    assert from_csv == from_jsonl
    assert [e.timestamp for e in from_csv] == [NOON_UTC] * 3
    assert [e.value for e in from_csv] == [4.5, None, None]
    assert from_csv[1].id == "click-7"
    assert from_csv[0].id.startswith("e-") and from_csv[0].id != from_csv[2].id


def test_blank_lines_and_a_byte_order_mark_are_tolerated(tmp_path):
    csv_with_bom = "\ufeff" + ITEMS_CSV.replace("\nb2", "\n\n  \nb2")
    assert [i.id for i in read_items(write(tmp_path, "items.csv", csv_with_bom))] == ["b1", "b2"]
    jsonl = "\ufeff\n" + json.dumps(EVENTS_JSONL[0]) + "\n   \n\n" + json.dumps(EVENTS_JSONL[2])
    assert [e.user for e in read_events(write(tmp_path, "events.jsonl", jsonl))] == ["alice", "bob"]


def test_crlf_csv_and_a_quoted_multiline_text_keep_line_numbers_right(tmp_path):
    content = 'id,title,text\r\nb1,Dune,"line one\nline two"\r\nb2,,x\r\n'  # as spreadsheets write it
    assert problems_of(read_items, write(tmp_path, "items.csv", content)) == [
        (4, "title", "String should have at least 1 character (got '')")
    ]
    content = content.replace("b2,,x", "b2,Heat,x")
    assert read_items(write(tmp_path, "items.csv", content))[0].text == "line one\nline two"


def test_bad_event_rows_are_all_reported_with_line_and_field_and_nothing_is_returned(tmp_path):
    rows = [
        json.dumps(EVENTS_JSONL[0]),
        json.dumps({"user": "", "item": "b1", "action": "view", "timestamp": 1714564800}),
        "",
        json.dumps({"user": "alice", "item": "b1", "action": "rate", "timestamp": "2024-05-01T12:00:00"}),
        "{not json",
        json.dumps({"user": "alice", "item": "b1", "action": "view", "timestamp": 1, "when": "now"}),
        "[1, 2]",
    ]
    problems = problems_of(read_events, write(tmp_path, "events.jsonl", "\n".join(rows)))
    assert [(line, field) for line, field, _ in problems] == [
        (2, "user"), (4, "value"), (4, "timestamp"), (5, None), (6, "when"), (7, None),
    ]
    messages = dict(((line, field), message) for line, field, message in problems)
    assert "needs a numeric 'value'" in messages[(4, "value")]
    assert "no time zone" in messages[(4, "timestamp")]
    assert messages[(5, None)] == "Invalid JSON: key must be a string at column 2"
    assert messages[(6, "when")] == "Extra inputs are not permitted"


def test_the_error_message_names_file_line_field_and_the_pydantic_reason(tmp_path):
    path = write(tmp_path, "events.csv", EVENTS_CSV + ",carol,b2,teleport,,2024-05-01T12:00:00Z\n")
    with pytest.raises(ImportFileError) as caught:
        read_events(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: nothing imported, 1 problem(s):")
    assert "events.csv line 5, field 'action': unknown action 'teleport'; use one of: view, click" in text


def test_bad_csv_cells_are_named(tmp_path):
    content = ITEMS_CSV + "b3,Solaris,,,{year: 1961}\nb4,Ubik,,,[1969]\nb5,Short row\nb6,Fine,,Books,\n"
    problems = problems_of(read_items, write(tmp_path, "items.csv", content))
    assert [(line, field) for line, field, _ in problems] == [(4, "metadata"), (5, "metadata"), (6, None)]
    assert "not valid JSON" in problems[0][2] and "must be a JSON object" in problems[1][2]
    assert problems[2][2] == "has 2 values but the header names 5 columns"
    bad_value = EVENTS_CSV + ",bob,b2,rate,lots,1714564800\n"
    value_problems = problems_of(read_events, write(tmp_path, "e.csv", bad_value))
    assert [(line, field) for line, field, _ in value_problems] == [(5, "value")]
    assert "valid number" in value_problems[0][2] and "'lots'" in value_problems[0][2]


def test_duplicate_item_ids_name_both_lines(tmp_path):
    rows = ITEMS_JSONL + [{"id": "b3", "title": "Ubik"}, {"id": "b1", "title": "Dune again"}]
    problems = problems_of(read_items, write(tmp_path, "items.jsonl", rows))
    assert problems == [(4, "id", "duplicate item id 'b1', first used on line 1")]


def test_repeated_event_ids_are_allowed_because_resending_is_idempotent(tmp_path):
    rows = [EVENTS_JSONL[1], EVENTS_JSONL[1]]
    assert [e.id for e in read_events(write(tmp_path, "events.jsonl", rows))] == ["click-7", "click-7"]


def test_csv_headers_are_checked_before_any_row(tmp_path):
    problems = problems_of(read_events, write(tmp_path, "events.csv", "user,item,action,when\nalice,b1,view,1\n"))
    assert problems == [
        (1, "when", "unknown column; allowed: id, user, item, action, value, timestamp"),
        (1, "timestamp", "required column is missing from the header"),
    ]
    assert problems_of(read_items, write(tmp_path, "items.csv", "")) == [
        (1, None, "no header row: start with id,title,text,categories,metadata")
    ]
    assert read_items(write(tmp_path, "header_only.csv", "id,title\n")) == []


def test_the_listing_is_capped_but_every_problem_is_kept(tmp_path):
    rows = [{"id": f"x{n}", "title": ""} for n in range(30)]
    with pytest.raises(ImportFileError) as caught:
        read_items(write(tmp_path, "items.jsonl", rows))
    assert len(caught.value.problems) == 30
    text = str(caught.value)
    assert text.count("field 'title'") == MAX_LISTED_PROBLEMS
    assert text.endswith(f"... and {30 - MAX_LISTED_PROBLEMS} more")


@pytest.mark.parametrize("name", ["items.json", "items.tsv", "items"])
def test_unsupported_suffixes_say_which_ones_work(tmp_path, name):
    problems = problems_of(read_items, write(tmp_path, name, ITEMS_CSV))
    assert len(problems) == 1 and "use .jsonl (one JSON object per line) or .csv" in problems[0][2]


def test_non_utf8_files_name_the_line(tmp_path):
    path = tmp_path / "items.csv"
    path.write_bytes(ITEMS_CSV.encode("utf-8") + "b3,Misérables\n".encode("latin-1"))
    assert problems_of(read_items, path) == [(4, None, "not UTF-8 text: save the file as UTF-8")]


def test_real_movielens_events_survive_a_round_trip_through_both_formats(tmp_path):
    original = list(load_movielens("ml-100k").events(users=["1", "2", "3"]))
    csv_lines = ["id,user,item,action,value,timestamp"] + [
        f"{e.id},{e.user},{e.item},{e.action},{e.value},{e.timestamp.isoformat()}" for e in original
    ]
    from_csv = read_events(write(tmp_path, "ml.csv", "\n".join(csv_lines)))
    from_jsonl = read_events(write(tmp_path, "ml.jsonl", [json.loads(e.model_dump_json()) for e in original]))
    assert len(original) == 272 + 62 + 54
    assert from_csv == original and from_jsonl == original

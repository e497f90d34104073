"""Deleting a user leaves nothing of them: no row in any collection, no record, no chat session,
and no log line ShiftRec or uvicorn wrote names them (user ids sit in URL paths: redacted)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from memory.state_rows import user_key
from memory.store import ALL_COLLECTIONS
from serving.app import RedactUserIds, create_app, redact_user_paths, serve_in_background
from tests.agent_support import SchemaLLM, build_service
from tests.serving.test_api import ADMIN_KEY, KEYED, client, events_for

DOOMED = "zoe-4417"  # distinctive, so any trace of it is found by a plain substring search


class Lines(logging.Handler):
    """Every formatted line logged anywhere while installed (root and uvicorn's own loggers)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def captured_logs() -> Iterator[Lines]:
    handler = Lines()
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    loggers = [logging.getLogger(), logging.getLogger("uvicorn.access"), logging.getLogger("uvicorn.error")]
    for target in loggers:
        target.addHandler(handler)
    try:
        yield handler
    finally:
        for target in loggers:
            target.removeHandler(handler)


def test_user_ids_are_cut_out_of_paths_and_log_records():
    assert redact_user_paths("GET /users/ana/profile HTTP/1.1") == "GET /users/<user>/profile HTTP/1.1"
    assert redact_user_paths("/users/%C3%A9l/recommendations/r1/items/x/why?phrase=1") == (
        "/users/<user>/recommendations/r1/items/x/why?phrase=1")
    assert redact_user_paths("DELETE /users/zoe") == "DELETE /users/<user>"
    assert redact_user_paths("/topics") == "/topics"
    access = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/users/zoe/export", "1.1", 200), None)
    assert RedactUserIds().filter(access)
    assert access.getMessage() == '127.0.0.1:5 - "GET /users/<user>/export HTTP/1.1" 200'


def test_after_deletion_nothing_of_the_user_is_left_in_any_collection_or_log_line(tmp_path: Path):
    service = build_service(tmp_path / "data", SchemaLLM())
    try:
        app = create_app(service, KEYED)
        with serve_in_background(app, log_level="info") as url, captured_logs() as logs:  # after uvicorn's set-up
            with client(url, ADMIN_KEY) as admin:
                assert admin.post("/events", json={"events": events_for(DOOMED, ["sf1", "sf2", "sf3", "com1"])}
                                  ).json()["applied"] == 4
                record = admin.post(f"/users/{DOOMED}/recommendations", json={"count": 3}).json()
                item = record["items"][0]["item_id"]
                assert admin.get(f"/users/{DOOMED}/recommendations/{record['id']}/items/{item}/why").status_code == 200
                assert admin.post(f"/users/{DOOMED}/feedback", json={"item_id": "sf4", "positive": True}
                                  ).status_code == 200
                for message in ("recommend something", "why the first one?", "what is my taste?"):
                    admin.post(f"/users/{DOOMED}/chat", json={"session_id": "zoe-chat", "message": message}).read()
                admin.post("/v1/chat/completions", json={"model": "shiftrec", "user": DOOMED,
                                                         "messages": [{"role": "user", "content": "recommend"}]})
                assert admin.get(f"/users/{DOOMED}/profile").status_code == 200
                before = service.memory.store.count_user_rows(DOOMED)
                report = admin.delete(f"/users/{DOOMED}").json()
                assert admin.get(f"/users/{DOOMED}/export").status_code == 404
        service.memory.flush()
        leftovers = _rows_naming(service, DOOMED)
    finally:
        service.close()
    assert report["events_removed"] == 5 == before["memory_events"] and report["records_removed"] == 4  # 3 lists, 1 cached profile
    assert report["sessions_removed"] == 2  # the web chat and the OpenAI-compatible one
    assert leftovers == []
    assert service.conversations.forget_user(DOOMED) == 0 and service.records.latest(DOOMED) == []
    assert not any(key[0] == DOOMED for key in service.profiler._cache)  # no profile left in process memory
    access = [line for line in logs.lines if line.startswith("uvicorn.access")]
    assert len(access) >= 10 and any("/users/<user>/recommendations" in line for line in access)
    assert [line for line in logs.lines if DOOMED in line] == []


def _rows_naming(service, user: str) -> list[str]:
    """Every stored row, in every collection, whose id, metadata or document names the user."""
    marks = (user, user_key(user))
    found = []
    for name in ALL_COLLECTIONS:
        rows = service.memory.store._collections[name].get(include=["metadatas", "documents"])
        for row_id, metadata, document in zip(rows["ids"], rows["metadatas"], rows["documents"]):
            text = f"{row_id} {metadata} {document}"
            found += [f"{name}: {row_id}" for mark in marks if mark in text]
    return found

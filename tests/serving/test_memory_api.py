"""The memory edits over HTTP: each kind through its typed request, what the user sees change, refusals as
typed 422s that say why (nothing changed), undo, the chat's edits visible to the API, export and deletion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.service import ShiftRecService
from tests.agent_support import build_service
from tests.serving.test_api import ADMIN_KEY, ANA_KEY, KEYED, client, error_of, running_api


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[str, ShiftRecService]]:
    service = build_service(tmp_path, None)
    with running_api(service, KEYED) as url:
        yield url, service
    service.close()


def test_every_edit_kind_through_its_typed_request(api):
    url, service = api
    with client(url, ANA_KEY) as ana:
        before = _strength(ana, "Sci-Fi")
        faded = ana.post("/users/ana/memory/edits", json={"kind": "fade", "topics": ["Sci-Fi"]})
        assert faded.status_code == 200 and faded.json()["kind"] == "fade" and faded.json()["events"] == 10
        assert _strength(ana, "Sci-Fi") < before
        assert ana.post("/users/ana/memory/edits", json={"kind": "not_mine", "items": ["com1"],
                                                           "reason": "gift"}).json()["events"] == 1
        pinned = ana.post("/users/ana/memory/edits", json={"kind": "pin", "topics": ["drama"]}).json()
        assert pinned["text"].startswith("Pinned: every list will hold some Drama")
        listed = ana.post("/users/ana/recommendations", json={"count": 5, "explain": False}).json()
        assert any("Drama" in item["categories"] for item in listed["items"])
        assert listed["standing"] == ["Drama pinned", "Sci-Fi faded"]
        forgot = ana.post("/users/ana/memory/edits", json={"kind": "forget", "items": ["com2"]}).json()
        assert forgot["kind"] == "forget" and "cannot be undone" in forgot["text"]
        memory = ana.get("/users/ana/memory").json()
        assert [edit["kind"] for edit in memory["edits"]] == ["fade", "not_mine", "pin", "forget"]
        assert memory["pinned"] == ["Drama"] and memory["faded"] == ["Sci-Fi"]
        assert "What you changed: Sci-Fi fades" in memory["text"]
        assert ana.get("/users/ana/profile").json()["details"]["edits"][0].startswith("Sci-Fi fades")
        undone = ana.post("/users/ana/memory/undo").json()
        assert undone["kind"] == "undo" and undone["undone"] == "Drama is no longer pinned"
        exported = ana.get("/users/ana/export").json()
    assert all(event["item"] != "com2" for event in exported["events"])
    assert [edit["kind"] for edit in exported["edits"]] == ["fade", "not_mine", "pin", "forget", "undo"]


def test_refused_edits_are_typed_and_change_nothing(api):
    url, service = api
    version = service.memory.memory_version("ana")
    with client(url, ANA_KEY) as ana:
        unknown = ana.post("/users/ana/memory/edits", json={"kind": "fade", "topics": ["Westerns"]})
        assert "this catalog has no topic 'Westerns'" in error_of(unknown, 422, "unknown_topic")
        assert "no history under Drama" in error_of(
            ana.post("/users/ana/memory/edits", json={"kind": "fade", "topics": ["Drama"]}), 422, "edit_refused")
        assert "is not in your history" in error_of(
            ana.post("/users/ana/memory/edits", json={"kind": "forget", "items": ["dr1"]}), 422, "edit_refused")
        assert "nothing to undo" in error_of(ana.post("/users/ana/memory/undo"), 422, "edit_refused")
        invalid = ana.post("/users/ana/memory/edits", json={"kind": "pin"})
        assert "topics" in error_of(invalid, 422, "invalid_request")
        assert "'teleport'" in error_of(ana.post("/users/ana/memory/edits", json={"kind": "teleport"}), 422,
                                        "invalid_request")
    with client(url, ADMIN_KEY) as admin:
        assert error_of(admin.post("/users/nobody/memory/edits", json={"kind": "pin", "topics": ["Drama"]}), 404,
                        "unknown_user")
    assert service.memory.memory_version("ana") == version


def test_an_edit_made_in_the_chat_is_what_the_api_shows_and_goes_with_the_user(api):
    url, service = api
    with client(url, ANA_KEY) as ana:
        with ana.stream("POST", "/users/ana/chat", json={"session_id": "m1", "message": "pin comedy"}) as chat:
            text = chat.read().decode()
        assert "event: edit" in text and "Pinned: every list will hold some Comedy" in text
        assert ana.get("/users/ana/memory").json()["pinned"] == ["Comedy"]
        assert any(row["action"] == "edit" for row in _log(service, "ana"))
    with client(url, ADMIN_KEY) as admin:
        assert admin.delete("/users/ana").status_code == 200
    assert service.memory.store.user_log("ana") == [] and service.memory.editor.state("ana").empty


def _strength(ana, label: str) -> float:
    return next(node["strength"] for node in ana.get("/users/ana/export").json()["interests"] if node["label"] == label)


def _log(service: ShiftRecService, user: str) -> list[dict]:
    return [row.metadata for row in service.memory.store.user_log(user)]

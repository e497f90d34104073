"""User isolation with user-scoped keys: no route that takes a user (read from the OpenAPI schema,
so a new route is covered or fails here), no chat turn, "why?" or OpenAI reply shows another
user's events, profile or records; and at the store level every Chroma read on a per-user
collection carries the acting user's filter (or ids that name that user)."""

from __future__ import annotations

import json
import re
import traceback
from typing import Any

import pytest

from agent.service import ShiftRecService
from memory.state_rows import user_key
from memory.store import PER_USER_COLLECTIONS, RECORDS
from tests.agent_support import SchemaLLM, build_service
from tests.serving.test_api import ANA_KEY, BOB_KEY, KEYED, api_url, client, error_of, running_api, service, sse_events  # noqa: F401  (a module-scoped service and API of this module's own)

USER_ROUTE_BODIES: dict[tuple[str, str], Any] = {  # a valid request body for every route that takes a user
    ("get", "/users/{user}/profile"): None,
    ("post", "/users/{user}/recommendations"): {"count": 2},
    ("get", "/users/{user}/recommendations/{record_id}/items/{item_id}/why"): None,
    ("post", "/users/{user}/feedback"): {"item_id": "sf3", "positive": True},
    ("post", "/users/{user}/chat"): {"session_id": "iso-chat", "message": "recommend something"},
    ("get", "/users/{user}/export"): None,
    ("delete", "/users/{user}"): None,
    ("get", "/users/{user}/memory"): None,
    ("post", "/users/{user}/memory/edits"): {"kind": "pin", "topics": ["Comedy"]},
    ("post", "/users/{user}/memory/undo"): None,
}


@pytest.fixture(scope="module")
def bob_traces(api_url: str, service: ShiftRecService) -> dict[str, Any]:
    """What must never reach ana: bob's event ids, a record id and the session he chats in."""
    with client(api_url, BOB_KEY) as bob:
        record = bob.post("/users/bob/recommendations", json={"count": 3}).json()
        with bob.stream("POST", "/users/bob/chat", json={"session_id": "bob-private", "message": "recommend"}) as chat:
            assert chat.status_code == 200
            chat.read()
    events = {event["event_id"] for event in service.export_user("bob").events}
    return {"events": events, "record": record["id"], "item": record["items"][0]["item_id"]}


def test_every_route_that_takes_a_user_refuses_another_users_key(api_url: str, bob_traces: dict):
    with client(api_url, ANA_KEY) as ana:
        paths = ana.get("/openapi.json").json()["paths"]
        routes = {(method, path) for path, methods in paths.items() if "{user}" in path for method in methods}
        assert routes == set(USER_ROUTE_BODIES), "a route takes a user: add a body for it above"
        for method, path in sorted(routes):
            url = path.format(user="bob", record_id=bob_traces["record"], item_id=bob_traces["item"])
            body = USER_ROUTE_BODIES[(method, path)]
            response = ana.request(method.upper(), url, json=body) if body else ana.request(method.upper(), url)
            expected = "admin key" if method == "delete" else "cannot act as 'bob'"
            assert expected in error_of(response, 403, "forbidden"), (method, path)
            assert not _mentions_bob(response.text, bob_traces)


def test_the_openai_facade_serves_only_the_keys_user(api_url: str, bob_traces: dict):
    ask = {"model": "shiftrec", "messages": [{"role": "user", "content": "recommend something"}]}
    with client(api_url, ANA_KEY) as ana:
        as_bob = ana.post("/v1/chat/completions", json=ask | {"user": "bob"})
        assert "cannot act as 'bob'" in error_of(as_bob, 403, "forbidden")
        in_bobs_session = ana.post("/v1/chat/completions", json=ask | {"session_id": "bob-private"})
        assert "another user" in error_of(in_bobs_session, 409, "session_conflict")
        own = ana.post("/v1/chat/completions", json=ask).json()
        why = ana.post("/v1/chat/completions", json=ask | {"session_id": own["session_id"], "messages": [
            {"role": "user", "content": f"why did you recommend {bob_traces['record']} to bob?"}]})
    assert own["record_id"] != bob_traces["record"] and why.status_code == 200
    assert not _mentions_bob(json.dumps(own), bob_traces) and not _mentions_bob(why.text, bob_traces)


def test_anas_own_answers_never_carry_bobs_data(api_url: str, bob_traces: dict, service: ShiftRecService):
    with client(api_url, ANA_KEY) as ana:
        answers = [ana.get("/users/ana/profile"), ana.get("/users/ana/export"),
                   ana.post("/users/ana/recommendations", json={"count": 5})]
        record = answers[-1].json()
        answers.append(ana.get(f"/users/ana/recommendations/{record['id']}/items/{record['items'][0]['item_id']}/why"))
        assert [answer.status_code for answer in answers] == [200, 200, 200, 200]
        texts = [answer.text for answer in answers]
        texts[1] = _without_her_own_words(answers[1].json())
        guessed = ana.get(f"/users/ana/recommendations/{bob_traces['record']}/items/{bob_traces['item']}/why")
        error_of(guessed, 404, "unknown_recommendation")  # a guessed id of bob's is "not yours", nothing more
        for message in ("recommend something", "why the first one?", "what do you think my taste is?",
                        "what did bob watch? show his history", "tell me about the last thing bob liked"):
            with ana.stream("POST", "/users/ana/chat", json={"session_id": "ana-iso", "message": message}) as chat:
                events = sse_events(chat)
            assert events[-1][0] == "done"
            texts.append(json.dumps(events))
            cited = {ref["event_id"] for _, data in events for ref in _evidence(data)}
            assert cited <= {event["event_id"] for event in service.export_user("ana").events}
            assert cited or not message.startswith("recommend")  # a list always cites ana's own events
    assert [text for text in texts if _mentions_bob(text, bob_traces)] == []


def _without_her_own_words(export: dict) -> str:
    """The export with what ana typed in her chats left out (she may type anything, bob's record id
    included: her words coming back to her are no leak)."""
    for record in export["records"]:
        record["lines"] = [line for line in record.get("lines", []) if line["role"] != "user"]
    return json.dumps(export)


def _evidence(data: dict) -> list[dict]:
    found = list((data.get("explanation") or {}).get("evidence", []))
    found += (data.get("why") or {}).get("evidence", [])
    for entry in (data.get("record") or {}).get("items", []):
        found += (entry.get("explanation") or {}).get("evidence", [])
    return found


def _mentions_bob(text: str, traces: dict) -> bool:
    return traces["record"] in text or any(event_id in text for event_id in traces["events"]) or bool(
        re.search(r"\bbob-private\b", text))


# ---------------------------------------------------------------- the store: every per-user read is filtered
class RecordingCollection:
    """A real Chroma collection that notes each read and delete (a proxy, the calls go through)."""

    def __init__(self, name: str, collection: Any, calls: list[dict]):
        self._name, self._collection, self._calls = name, collection, calls

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self._collection, attribute)
        if attribute not in ("get", "query", "delete", "peek"):
            return value

        def recorded(*args: Any, **kwargs: Any) -> Any:
            frames = {frame.name for frame in traceback.extract_stack()}
            self._calls.append({"collection": self._name, "op": attribute, "args": args, "kwargs": kwargs,
                                "frames": frames})
            return value(*args, **kwargs)

        return recorded


def test_every_chroma_read_on_per_user_collections_carries_the_acting_users_filter(tmp_path):
    service = build_service(tmp_path, SchemaLLM())
    calls: list[dict] = []
    store = service.memory.store
    for name in PER_USER_COLLECTIONS:
        store._collections[name] = RecordingCollection(name, store._collections[name], calls)
    service.memory.drop_cached(["ana", "bob", "cy", "dee"])  # the next reads come from Chroma
    try:
        with running_api(service, KEYED) as url, client(url, ANA_KEY) as ana:
            record = ana.post("/users/ana/recommendations", json={"count": 3}).json()
            ana.get(f"/users/ana/recommendations/{record['id']}/items/{record['items'][0]['item_id']}/why")
            for message in ("recommend something", "why the second one?", "not for me", "what is my taste?"):
                ana.post("/users/ana/chat", json={"session_id": "store-iso", "message": message}).read()
            ana.post("/users/ana/feedback", json={"item_id": "sf3", "positive": True})
            ana.get("/users/ana/profile"), ana.get("/users/ana/export")
            ana.post("/v1/chat/completions", json={"model": "shiftrec", "messages": [
                {"role": "user", "content": "recommend something"}]})
        service.memory.search_history("ana", "space alien")
        service.memory.flush()
    finally:
        service.close()
    reads = [call for call in calls if call["op"] != "delete" or "where" in call["kwargs"]]
    assert {call["collection"] for call in reads} == set(PER_USER_COLLECTIONS) and len(reads) > 20
    unfiltered = [_describe(call) for call in calls if not _scoped_to(call, "ana")]
    assert unfiltered == []


def test_the_scope_check_refuses_unfiltered_and_foreign_reads():
    def call(**kwargs: Any) -> dict:
        return {"collection": "memory_events", "op": "get", "kwargs": kwargs, "frames": set()}

    assert _scoped_to(call(where={"user": "ana"}), "ana")
    assert _scoped_to(call(ids=[f"event:{user_key('ana')}:1"]), "ana")
    assert not _scoped_to(call(), "ana") and not _scoped_to(call(where={"user": "bob"}), "ana")
    assert not _scoped_to(call(ids=[f"event:{user_key('bob')}:1"]), "ana")
    assert not _scoped_to(call(where={"item": "sf1"}), "ana")
    assert _scoped_to(call(where={"$and": [{"user": "ana"}, {"item": {"$in": ["sf1"]}}]}), "ana")
    assert not _scoped_to(call(where={"$and": [{"user": "bob"}, {"item": {"$in": ["sf1"]}}]}), "ana")


def _scoped_to(call: dict, user: str) -> bool:
    kwargs = call["kwargs"]
    if "where" in kwargs and kwargs["where"] is not None:
        where = kwargs["where"]
        if set(where) == {"$and"}:  # the user filter and a narrower one (e.g. behaviour events, not edits)
            return any(_scoped_to({**call, "kwargs": {"where": part}}, user) for part in where["$and"])
        return where == {"user": user} or where == {"user": {"$in": [user]}}
    ids = kwargs.get("ids")
    if ids is not None and not kwargs.get("where"):
        if call["collection"] == RECORDS:  # record ids are random; the store checks the row's user (a chat
            # session's, the conversation: a session of another user is refused)
            return bool({"user_record", "user_document", "load"} & call["frames"]) and call["op"] == "get"
        return all(f":{user_key(user)}" in row_id for row_id in ids)
    return False


def _describe(call: dict) -> str:
    shown = {key: value for key, value in call["kwargs"].items() if key in ("where", "ids", "limit", "offset")}
    return f"{call['collection']}.{call['op']}({shown})"

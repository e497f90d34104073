"""The HTTP API over real HTTP (uvicorn on a free port) against the real app, with the agent
service on the small catalog and the schema-reading fake LLM behind our LLM interface."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from pydantic import ValidationError

from agent.service import ShiftRecService
from serving.app import create_app, serve_in_background
from serving.settings import ApiSettings, load_settings
from tests.agent_support import SchemaLLM, build_service

ADMIN_KEY = "admin-key-0123456789abcdef"
ANA_KEY = "ana-key-0123456789abcdef"
BOB_KEY = "bob-key-0123456789abcdef"
KEYED = ApiSettings(admin_key=ADMIN_KEY, user_keys={ANA_KEY: "ana", BOB_KEY: "bob"}, max_body_bytes=64 * 1024,
                    max_items_per_request=50, ui=False)


@contextmanager
def running_api(service: ShiftRecService, api: ApiSettings) -> Iterator[str]:
    """The real app for ``service`` on a free loopback port; yields its base URL."""
    with serve_in_background(create_app(service, api)) as url:
        yield url


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShiftRecService]:
    built = build_service(tmp_path_factory.mktemp("api"), SchemaLLM())
    yield built
    built.close()


@pytest.fixture(scope="module")
def api_url(service: ShiftRecService) -> Iterator[str]:
    with running_api(service, KEYED) as url:
        yield url


def client(url: str, key: str | None) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"} if key else {}, timeout=60)


def error_of(response: httpx.Response, status: int, kind: str) -> str:
    """The error message, after checking the status and the typed JSON body."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["type"] == kind, body
    return body["error"]["message"]


def sse_events(response: httpx.Response) -> list[tuple[str, dict]]:
    """(event name, JSON data) of every event in a text/event-stream body."""
    events, name, data = [], None, []
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").strip())
        elif not line and data:
            events.append((name, json.loads("\n".join(data))))
            name, data = None, []
    return events


def events_for(user: str, items: list[str], start_day: int = 0) -> list[dict]:
    return [{"user": user, "item": item, "action": "rate", "value": 5, "timestamp": (start_day + day) * 86400}
            for day, item in enumerate(items)]


# ---------------------------------------------------------------- keys
def test_docs_health_and_readiness_answer(api_url: str):
    with client(api_url, None) as anonymous:
        docs = anonymous.get("/docs")
        assert docs.status_code == 200 and "cdn." not in docs.text  # offline: the assets are served here
        script = re.search(r'src="([^"]*swagger-ui-bundle\.js)"', docs.text).group(1)
        assert anonymous.get(script).status_code == 200
        paths = anonymous.get("/openapi.json").json()["paths"]
        assert "/users/{user}/recommendations" in paths and "/v1/chat/completions" in paths
        assert anonymous.get("/health").json()["status"] == "ok"
        ready = anonymous.get("/ready").json()
    assert ready["status"] == "ready" and ready["chroma"] is True and ready["llm"] is True
    assert ready["llm_model"] == "schema-fake" and ready["llm_queue"] == 0


def test_a_missing_or_unknown_key_is_refused_with_what_to_send(api_url: str):
    with client(api_url, None) as anonymous:
        assert "Authorization: Bearer" in error_of(anonymous.get("/users/ana/profile"), 401, "unauthorized")
    with client(api_url, "not-a-key-0123456789") as stranger:
        assert "unknown API key" in error_of(stranger.get("/users/ana/profile"), 401, "unauthorized")


def test_a_user_key_acts_only_as_its_own_user_and_never_as_admin(api_url: str):
    with client(api_url, ANA_KEY) as ana:
        assert ana.get("/users/ana/profile").status_code == 200
        for response in (ana.get("/users/bob/profile"), ana.get("/users/bob/export"),
                         ana.post("/users/bob/recommendations", json={}),
                         ana.post("/users/bob/chat", json={"message": "recommend something"}),
                         ana.post("/users/bob/feedback", json={"item_id": "sf1", "positive": True})):
            assert "cannot act as 'bob'" in error_of(response, 403, "forbidden")
        assert "admin key" in error_of(ana.delete("/users/ana"), 403, "forbidden")
        item = {"id": "x1", "title": "X"}
        assert "admin key" in error_of(ana.post("/items", json={"items": [item]}), 403, "forbidden")
    with client(api_url, ADMIN_KEY) as admin:
        assert admin.get("/users/bob/profile").status_code == 200


def test_keys_come_from_the_environment_and_short_keys_are_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SHIFTREC_API__USER_KEYS", json.dumps({ANA_KEY: "ana"}))
    monkeypatch.setenv("SHIFTREC_API__ADMIN_KEY", ADMIN_KEY)
    api = load_settings().api
    assert api.user_keys == {ANA_KEY: "ana"} and api.admin_key.get_secret_value() == ADMIN_KEY
    assert ADMIN_KEY not in repr(api) and ANA_KEY not in repr(api)
    with pytest.raises(ValidationError, match="the admin key, the key of 'ana': shorter than 16"):
        ApiSettings(admin_key="short", user_keys={"tiny": "ana"})


def test_without_keys_only_clients_on_this_machine_are_served(service: ShiftRecService,
                                                             caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING, logger="serving.app"):
        app = create_app(service, ApiSettings(ui=False))
    assert "no API keys configured" in caplog.text

    async def get_from(host: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(host, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://shiftrec") as remote:
            return await remote.get("/users/ana/export")

    assert "SHIFTREC_API__ADMIN_KEY" in error_of(asyncio.run(get_from("203.0.113.9")), 403, "forbidden")
    assert asyncio.run(get_from("127.0.0.1")).json()["user"] == "ana"


# ---------------------------------------------------------------- reading
def test_the_profile_has_the_predicted_shift_and_a_trajectory_per_topic(api_url: str):
    with client(api_url, ANA_KEY) as ana:
        view = ana.get("/users/ana/profile").json()
    shift = view["predicted_shift"]
    assert shift["to_interest"] in view["details"]["labels"] and shift["to_label"] == view["details"]["labels"][
        shift["to_interest"]]
    topics = {topic["label"]: topic for topic in view["trajectory"]}
    assert {"Comedy", "Sci-Fi"} <= set(topics)
    points = topics["Sci-Fi"]["points"]
    assert len(points) >= 2 and [p["start"] for p in points] == sorted(p["start"] for p in points)
    assert topics["Sci-Fi"]["trend"] > topics["Comedy"]["trend"]  # ana moved from comedy to sci-fi


def test_recommendations_follow_the_topic_filters_and_why_answers_from_the_record(api_url: str,
                                                                                 service: ShiftRecService):
    seen = service.memory.seen_items("ana")
    with client(api_url, ANA_KEY) as ana:
        topics = ana.get("/topics").json()["topics"]
        assert {"Comedy", "Sci-Fi", "Drama"} <= set(topics)
        record = ana.post("/users/ana/recommendations", json={"count": 3, "exclude_topics": ["comedy"]}).json()
        assert [entry["rank"] for entry in record["items"]] == [1, 2, 3]
        assert not any("Comedy" in entry["categories"] for entry in record["items"])
        assert not {entry["item_id"] for entry in record["items"]} & seen
        assert all(entry["explanation"]["reason"] for entry in record["items"]) and not record["degraded"]
        second = record["items"][1]
        why = ana.get(f"/users/ana/recommendations/{record['id']}/items/{second['item_id']}/why").json()
        assert why["rank"] == 2 and why["title"] == second["title"] and second["title"] in why["text"]
        message = error_of(ana.get(f"/users/ana/recommendations/{record['id']}/items/com0/why"), 404, "unknown_item")
        assert "com0" in message
        assert "use an id returned" in error_of(ana.get("/users/ana/recommendations/rec-none/items/sf1/why"), 404,
                                                "unknown_recommendation")
        unknown = error_of(ana.post("/users/ana/recommendations", json={"exclude_topics": ["Westerns"]}), 422,
                           "unknown_topic")
        assert "'Westerns'" in unknown and "Sci-Fi" in unknown


def test_bob_cannot_ask_why_about_anas_recommendation(api_url: str):
    with client(api_url, ANA_KEY) as ana, client(api_url, BOB_KEY) as bob:
        record = ana.post("/users/ana/recommendations", json={"count": 2, "explain": False}).json()
        item = record["items"][0]["item_id"]
        error_of(bob.get(f"/users/ana/recommendations/{record['id']}/items/{item}/why"), 403, "forbidden")
        error_of(bob.get(f"/users/bob/recommendations/{record['id']}/items/{item}/why"), 404, "unknown_recommendation")


def test_feedback_is_stored_and_an_unknown_item_is_named(api_url: str, service: ShiftRecService):
    with client(api_url, BOB_KEY) as bob:
        result = bob.post("/users/bob/feedback", json={"item_id": "dr3", "positive": False}).json()
        assert result["title"].startswith("Drama 3") and result["positive"] is False
        assert "'nope'" in error_of(bob.post("/users/bob/feedback", json={"item_id": "nope", "positive": True}), 404,
                                    "unknown_item")
    assert "dr3" in service.memory.disliked_items("bob")


# ---------------------------------------------------------------- bad input
def test_a_bad_event_batch_stores_nothing_and_names_the_bad_row(api_url: str, service: ShiftRecService):
    good = events_for("zed", ["sf1", "sf2"])
    with client(api_url, ADMIN_KEY) as admin:
        bad_action = good + [{"user": "zed", "item": "sf3", "action": "teleport", "timestamp": 0}]
        message = error_of(admin.post("/events", json={"events": bad_action}), 422, "invalid_request")
        assert "body.events[2].action: unknown action 'teleport'" in message and "nothing was stored" in message
        no_zone = good + [{"user": "zed", "item": "sf3", "action": "view", "timestamp": "2024-01-01T10:00:00"}]
        assert "add 'Z'" in error_of(admin.post("/events", json={"events": no_zone}), 422, "invalid_request")
        huge = good + [{"user": "zed", "item": "sf3", "action": "rate", "value": 1e308, "timestamp": 0}]
        message = error_of(admin.post("/events", json={"events": huge}), 422, "invalid_request")
        assert "body.events[2].value: rating 1e+308 is outside this catalog's rating scale 1 to 5" in message
        unknown_item = good + events_for("zed", ["no-such-film"])
        message = error_of(admin.post("/events", json={"events": unknown_item}), 422, "invalid_batch")
        assert "'no-such-film' is not in the catalog" in message
        error_of(admin.get("/users/zed/export"), 404, "unknown_user")
        duplicate = [{"id": "new1", "title": "A"}, {"id": "new1", "title": "B"}]
        message = error_of(admin.post("/items", json={"items": duplicate}), 422, "invalid_request")
        assert "used by items[0] and items[1]" in message
    assert service.memory.get_items(["new1"]) == {}


def test_malformed_bodies_get_a_message_that_says_what_to_fix(api_url: str):
    with client(api_url, ADMIN_KEY) as admin:
        broken = admin.post("/events", content=b'{"events": [', headers={"Content-Type": "application/json"})
        assert "not valid JSON" in error_of(broken, 422, "invalid_request")
        assert "JSON body is required" in error_of(admin.post("/events"), 422, "invalid_request")
        unknown_field = admin.post("/users/ana/recommendations", json={"count": 3, "colour": "red"})
        assert "body.colour" in error_of(unknown_field, 422, "invalid_request")
        too_many = admin.post("/users/ana/recommendations", json={"count": 500})
        assert "body.count" in error_of(too_many, 422, "invalid_request")


def test_unknown_routes_and_methods_are_json_errors(api_url: str):
    with client(api_url, ADMIN_KEY) as admin:
        assert "/docs" in error_of(admin.get("/no/such/route"), 404, "not_found")
        assert "use GET" in error_of(admin.delete("/topics"), 405, "method_not_allowed")


def test_oversized_requests_get_413_and_store_nothing(api_url: str, service: ShiftRecService):
    items = [{"id": f"big{i}", "title": f"Big {i}", "text": "x" * 2000} for i in range(40)]
    with client(api_url, ADMIN_KEY) as admin:
        declared = admin.post("/items", json={"items": items})
        assert "SHIFTREC_API__MAX_BODY_BYTES" in error_of(declared, 413, "payload_too_large")
        body = json.dumps({"items": items}).encode()
        chunked = admin.post("/items", content=iter([body[i:i + 8192] for i in range(0, len(body), 8192)]),
                             headers={"Content-Type": "application/json"})
        error_of(chunked, 413, "payload_too_large")
        many = [{"id": f"many{i}", "title": f"Many {i}"} for i in range(51)]
        assert "send at most 50" in error_of(admin.post("/items", json={"items": many}), 413, "payload_too_large")
    assert service.memory.get_items(["big0", "many0"]) == {}


def test_an_unexpected_failure_is_a_logged_500_and_the_server_keeps_serving(service: ShiftRecService,
                                                                          caplog: pytest.LogCaptureFixture):
    class TopicsDown:
        """A service whose catalog read fails (a fake behind our own service interface)."""

        settings = service.settings

        def topic_ids(self):
            raise RuntimeError("catalog read failed")

    with running_api(TopicsDown(), KEYED) as url, client(url, ANA_KEY) as ana, caplog.at_level(logging.ERROR):
        assert "logged" in error_of(ana.get("/topics"), 500, "internal_error")
        assert ana.get("/health").status_code == 200
    assert "catalog read failed" in caplog.text


# ---------------------------------------------------------------- chat
def test_chat_streams_the_turn_as_server_sent_events(api_url: str):
    with client(api_url, ANA_KEY) as ana:
        with ana.stream("POST", "/users/ana/chat", json={"session_id": "api-chat", "message": "recommend something"}
                        ) as response:
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
            events = sse_events(response)
        kinds = [name for name, _ in events]
        assert kinds[0] == "text" and kinds[-1] == "done" and "recommendations" in kinds
        listed = next(data for name, data in events if name == "recommendations")["record"]["items"]
        explained = sorted(data["item_id"] for name, data in events if name == "explanation")
        assert explained == sorted(entry["item_id"] for entry in listed)
        assert all(data["session_id"] == "api-chat" for _, data in events)
        with ana.stream("POST", "/users/ana/chat", json={"session_id": "api-chat", "message": "why the second one?"}
                        ) as response:
            why = [data for name, data in sse_events(response) if name == "why"]
        assert why[0]["item_id"] == listed[1]["item_id"] and listed[1]["title"] in why[0]["text"]


def test_a_refused_chat_turn_is_an_http_error_not_a_broken_stream(api_url: str):
    with client(api_url, ANA_KEY) as ana, client(api_url, BOB_KEY) as bob:
        assert ana.post("/users/ana/chat", json={"session_id": "owned-by-ana", "message": "hello"}).status_code == 200
        taken = bob.post("/users/bob/chat", json={"session_id": "owned-by-ana", "message": "hello"})
        assert "start a new session id" in error_of(taken, 409, "session_conflict")
        blank = ana.post("/users/ana/chat", json={"message": "   "})
        assert "body.message" in error_of(blank, 422, "invalid_request")
        spaces = ana.post("/users/ana/chat", json={"session_id": "has spaces", "message": "hello"})
        assert "body.session_id" in error_of(spaces, 422, "invalid_request")


# ---------------------------------------------------------------- ingest and deletion
def test_ingest_recommend_then_delete_removes_the_user_everywhere(api_url: str, service: ShiftRecService):
    items = [{"id": "west1", "title": "Dusty trail showdown", "categories": ["Western"]},
             {"id": "west2", "title": "Dusty saloon showdown", "categories": ["Western"]}]
    history = events_for("eve", ["sf1", "sf2", "sf3", "west1"])
    with client(api_url, ADMIN_KEY) as admin:
        assert admin.post("/items", json={"items": items}).json()["added"] == 2
        report = admin.post("/events", json={"events": history}).json()
        assert report["applied"] == 4 and report["users"] == 1
        assert admin.post("/events", json={"events": history}).json()["duplicates"] == 4  # re-sent: no change
        assert "Western" in admin.get("/topics").json()["topics"]
        record = admin.post("/users/eve/recommendations", json={"count": 3}).json()
        assert admin.post("/users/eve/chat", json={"session_id": "eve-chat", "message": "recommend"}).status_code == 200
        deleted = admin.delete("/users/eve").json()
        assert deleted["events_removed"] == 4 and deleted["records_removed"] >= 2
        error_of(admin.get("/users/eve/export"), 404, "unknown_user")
        error_of(admin.get("/users/eve/profile"), 404, "unknown_user")
        item = record["items"][0]["item_id"]
        error_of(admin.get(f"/users/eve/recommendations/{record['id']}/items/{item}/why"), 404,
                 "unknown_recommendation")
    assert service.memory.seen_items("eve") == set()
    assert service.conversations.forget_user("eve") == 0  # the chat session went with the user


def test_the_web_ui_is_mounted_for_local_clients(service: ShiftRecService):
    pytest.importorskip("serving.ui")
    with running_api(service, KEYED.model_copy(update={"ui": True})) as url:
        page = httpx.get(f"{url}/ui/", timeout=60)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]

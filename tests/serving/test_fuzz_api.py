"""The running API (uvicorn over HTTP, service on fakes) fuzzed from its OpenAPI schema and with
hand-written hostile inputs: no 5xx, and every 4xx carries a typed JSON error with a message."""

from __future__ import annotations

import httpx
import pytest

from agent.service import ShiftRecService
from bench.api_fuzz import FuzzReport, explicit_cases, fuzz_explicit, fuzz_schema, has_error_message
from tests.serving.test_api import ADMIN_KEY, ANA_KEY, KEYED, api_url, running_api, service  # noqa: F401  (this module's own service: fuzzing writes and deletes)

EXAMPLES_PER_OPERATION = 25  # per operation and mode (valid, invalid): ~600 requests, ~40 s here


def test_the_contract_check_flags_5xx_and_bare_4xx():
    report = FuzzReport()
    report.check("ok", 200, b"{}")
    report.check("typed", 422, b'{"error": {"type": "invalid_request", "message": "body.count: too big"}}')
    report.check("bare", 404, b'{"detail": "Not Found"}')
    report.check("empty message", 400, b'{"error": {"type": "bad_request", "message": " "}}')
    report.check("crash", 500, b"Internal Server Error")
    assert report.cases == 5 and len(report.server_errors) == 1 and len(report.bad_client_errors) == 2
    assert report.summary() == {"fuzz_cases": 5, "fuzz_5xx": 1, "fuzz_4xx_without_message": 2}
    assert not has_error_message(b"not json") and has_error_message(b'{"error": {"type": "x", "message": "y"}}')


def test_generated_requests_from_the_schema_never_get_a_server_error(api_url: str, record_property):
    report = fuzz_schema(api_url, ADMIN_KEY, EXAMPLES_PER_OPERATION, derandomize=True)
    fuzz_schema(api_url, ANA_KEY, 3, report, derandomize=True)  # a user key: other users' paths must be clean 403s
    record_property("fuzz", report.summary())
    assert report.server_errors == [] and report.bad_client_errors == []
    assert report.cases >= 400
    assert report.statuses.get(200, 0) > 50 and report.statuses.get(422, 0) > 50  # valid and invalid both sent
    assert report.statuses.get(403, 0) > 0  # ana's key on generated users


def test_hostile_hand_written_requests_get_typed_errors(api_url: str, service: ShiftRecService):
    report = fuzz_explicit(api_url, ADMIN_KEY, KEYED.max_body_bytes)
    assert report.server_errors == [] and report.bad_client_errors == []
    assert report.cases == len(explicit_cases(KEYED.max_body_bytes)) >= 60
    assert report.statuses[413] == 2 and report.statuses[422] >= 20 and report.statuses[404] >= 10
    assert service.memory.get_items(["nope"]) == {}


@pytest.mark.parametrize("timestamp, expected", [
    ("2024-01-01T10:00:00", "add 'Z'"),
    ("yesterday", "timestamp"),
    (10**20, "timestamp"),
    ("0001-01-01T00:00:00+01:00", "out of range once converted to UTC"),  # was a 500 (OverflowError), found here
    ("9999-12-31T23:59:59-01:00", "out of range once converted to UTC"),
])
def test_an_invalid_timestamp_names_the_field_and_stores_nothing(api_url: str, service: ShiftRecService,
                                                                 timestamp, expected: str):
    event = {"user": "tz-user", "item": "sf1", "action": "view", "timestamp": timestamp}
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as admin:
        response = admin.post("/events", json={"events": [event]})
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert "body.events[0].timestamp" in message and expected in message
    assert service.memory.seen_items("tz-user") == set()


def test_unknown_users_and_items_are_404s_that_name_them(api_url: str):
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as admin:
        profile = admin.get("/users/nobody-here/profile")
        feedback = admin.post("/users/ana/feedback", json={"item_id": "no-such-film", "positive": True})
    assert profile.status_code == 404 and "nobody-here" in profile.json()["error"]["message"]
    assert feedback.status_code == 404 and "no-such-film" in feedback.json()["error"]["message"]


def test_unicode_edge_cases_round_trip_or_are_refused_cleanly(api_url: str):
    right_to_left, emoji = "\u202e\u0645\u0631 film", "\U0001f3ac" * 20
    items = [{"id": "rtl-1", "title": right_to_left}, {"id": "emoji-1", "title": emoji}]
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as admin:
        assert admin.post("/items", json={"items": items}).json()["added"] == 2
        event = {"user": "\u00e9l\u00e8ve-\u4e2d", "item": "rtl-1", "action": "like", "timestamp": 1}
        assert admin.post("/events", json={"events": [event]}).json()["applied"] == 1
        export = admin.get("/users/%C3%A9l%C3%A8ve-%E4%B8%AD/export").json()
        nul = admin.post("/users/ana/chat", json={"message": "\u0000"})
    assert export["user"] == "\u00e9l\u00e8ve-\u4e2d" and [e["item"] for e in export["events"]] == ["rtl-1"]
    assert nul.status_code in (200, 422)


def test_an_unreachable_memory_store_is_a_503_that_says_to_retry(service: ShiftRecService):
    class StoreDown:
        """A service whose Chroma server does not answer (a fake behind our own service interface)."""

        settings = service.settings

        def topic_ids(self):
            raise httpx.ConnectError("[Errno 111] Connection refused")

    with running_api(StoreDown(), KEYED) as url:
        response = httpx.get(f"{url}/topics", headers={"Authorization": f"Bearer {ANA_KEY}"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    error = response.json()["error"]
    assert error["type"] == "storage_unavailable" and "send the request again" in error["message"]

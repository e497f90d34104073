"""Fuzzing the running HTTP API from its own OpenAPI schema (schemathesis), plus hand-written hostile cases.

Every generated request (valid and deliberately invalid: wrong types, missing fields, odd
strings) and every explicit case below is sent over HTTP; an answer is a problem when it
is a 5xx, or a 4xx without the typed JSON error body ``{"error": {"type", "message"}}``.
Used by tests/serving/test_fuzz_api.py and ``shiftrec bench reliability``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis.reporting import with_reporter
from schemathesis import GenerationMode

MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
UNICODE_EDGES = ["\u0000", "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"), "\u202e\u0645\u0631",
                 "\U0001f3ac" * 300, "e\u0301" * 50, "\ufeffana", "..%2F..%2Fetc", "<script>x</script>", " "]


@dataclass
class FuzzReport:
    """How many requests were sent, and every answer that broke the contract."""

    cases: int = 0
    server_errors: list[str] = field(default_factory=list)
    bad_client_errors: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def check(self, label: str, status: int, body: bytes) -> None:
        self.cases += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status >= 500:
            self.server_errors.append(f"{label} -> {status}: {body[:200]!r}")
        elif status >= 400 and not has_error_message(body):
            self.bad_client_errors.append(f"{label} -> {status} without a JSON error message: {body[:200]!r}")

    def summary(self) -> dict[str, int]:
        return {"fuzz_cases": self.cases, "fuzz_5xx": len(self.server_errors),
                "fuzz_4xx_without_message": len(self.bad_client_errors)}


def has_error_message(body: bytes) -> bool:
    try:
        error = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(error, dict) and bool(error.get("type")) and bool(str(error.get("message", "")).strip())


def fuzz_schema(url: str, api_key: str, examples_per_operation: int, report: FuzzReport | None = None,
                derandomize: bool = False) -> FuzzReport:
    """``examples_per_operation`` generated requests per operation and mode (valid, invalid), sent to ``url``;
    ``derandomize``: the same requests every run (CI), otherwise new ones each time (the benchmark)."""
    report = report or FuzzReport()
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in MODES:
                _fuzz_operation(operation, mode, client, url, headers, examples_per_operation, report, derandomize)
    return report


def _fuzz_operation(operation, mode, client: httpx.Client, url: str, headers: dict, examples: int,
                    report: FuzzReport, derandomize: bool) -> None:
    strategy = operation.as_strategy(generation_mode=mode)

    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=derandomize)
    @given(strategy)
    def send(case) -> None:
        kwargs = case.as_transport_kwargs(base_url=url, headers=headers)
        request = client.build_request(kwargs["method"], kwargs["url"], params=kwargs.get("params"),
                                       headers=kwargs.get("headers"), cookies=kwargs.get("cookies"),
                                       content=_content(kwargs))
        response = client.send(request)
        body = response.content
        report.check(f"{mode.value} {operation.label} {request.url.path}", response.status_code, body)

    try:
        with with_reporter(lambda _: None):  # hypothesis' own notes (seeds) are noise here: the report says it all
            send()
    except Unsatisfiable:  # no invalid variant exists (an operation without parameters or body)
        return


def _content(kwargs: dict) -> bytes | None:
    if "json" in kwargs:
        return json.dumps(kwargs["json"]).encode()
    data = kwargs.get("data")
    return data.encode() if isinstance(data, str) else data


def explicit_cases(max_body_bytes: int) -> list[tuple[str, str, str, dict]]:
    """(label, method, path, httpx keyword arguments): the hostile inputs a generator rarely finds."""
    event = {"user": "ana", "item": "sf1", "action": "view", "timestamp": 0}
    cases: list[tuple[str, str, str, dict]] = [
        ("oversized declared body", "POST", "/items", {"content": b"{" + b" " * (max_body_bytes + 10) + b"}"}),
        ("oversized chunked body", "POST", "/events",
         {"content": iter([b" " * 65536] * (max_body_bytes // 65536 + 2))}),
        ("not JSON", "POST", "/events", {"content": b"\xff\xfe not json"}),
        ("JSON array body", "POST", "/events", {"json": [event]}),
        ("wrong type count", "POST", "/users/ana/recommendations", {"json": {"count": "five"}}),
        ("float count", "POST", "/users/ana/recommendations", {"json": {"count": 2.5}}),
        ("huge count", "POST", "/users/ana/recommendations", {"json": {"count": 10**30}}),
        ("null body field", "POST", "/users/ana/feedback", {"json": {"item_id": None, "positive": True}}),
        ("unknown item feedback", "POST", "/users/ana/feedback", {"json": {"item_id": "no-such", "positive": True}}),
        ("unknown user profile", "GET", "/users/nobody-here/profile", {}),
        ("unknown user export", "GET", "/users/nobody-here/export", {}),
        ("unknown user delete", "DELETE", "/users/nobody-here", {}),
        ("unknown record why", "GET", "/users/ana/recommendations/rec-0000/items/sf1/why", {}),
        ("bad bool why", "GET", "/users/ana/recommendations/rec-0000/items/sf1/why?phrase=maybe", {}),
        ("event on unknown item", "POST", "/events", {"json": {"events": [event | {"item": "nope"}]}}),
        ("naive timestamp", "POST", "/events", {"json": {"events": [event | {"timestamp": "2024-01-01T10:00:00"}]}}),
        ("garbage timestamp", "POST", "/events", {"json": {"events": [event | {"timestamp": "yesterday"}]}}),
        ("year 1 before UTC", "POST", "/events",
         {"json": {"events": [event | {"timestamp": "0001-01-01T00:00+01:00"}]}}),
        ("year 9999 after UTC", "POST", "/events",
         {"json": {"events": [event | {"timestamp": "9999-12-31T23:59:59-01:00"}]}}),
        ("far-future timestamp", "POST", "/events", {"json": {"events": [event | {"timestamp": 10**20}]}}),
        ("negative timestamp", "POST", "/events", {"json": {"events": [event | {"timestamp": -10**18}]}}),
        ("NaN rating", "POST", "/events", {"content": b'{"events": [{"user": "ana", "item": "sf1", "action": "rate",'
                                            b' "value": NaN, "timestamp": 0}]}'}),
        ("infinite rating", "POST", "/events", {"content": b'{"events": [{"user": "ana", "item": "sf1", "action": '
                                                 b'"rate", "value": 1e999, "timestamp": 0}]}'}),
        ("empty events", "POST", "/events", {"json": {"events": []}}),
        ("deeply nested", "POST", "/items", {"content": b'{"items": ' + b"[" * 5000 + b"]" * 5000 + b"}"}),
        ("openai wrong model", "POST", "/v1/chat/completions",
         {"json": {"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}], "user": "ana"}}),
        ("openai no user message", "POST", "/v1/chat/completions",
         {"json": {"model": "shiftrec", "messages": [{"role": "system", "content": "hi"}], "user": "ana"}}),
        ("openai no messages", "POST", "/v1/chat/completions", {"json": {"model": "shiftrec", "messages": []}}),
        ("openai content parts of wrong type", "POST", "/v1/chat/completions",
         {"json": {"model": "shiftrec", "messages": [{"role": "user", "content": [1, 2]}], "user": "ana"}}),
        ("openai message too long", "POST", "/v1/chat/completions",
         {"json": {"model": "shiftrec", "messages": [{"role": "user", "content": "x" * 5000}], "user": "ana"}}),
        ("chat message too long", "POST", "/users/ana/chat", {"json": {"message": "x" * 5000}}),
        ("chat session id with a slash", "POST", "/users/ana/chat", {"json": {"session_id": "a/b", "message": "hi"}}),
        ("chat wrong content type", "POST", "/users/ana/chat",
         {"content": b"message=hi", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}),
        ("user id of 300 characters", "GET", "/users/" + "u" * 300 + "/profile", {}),
    ]
    for index, text in enumerate(UNICODE_EDGES):
        cases.append((f"unicode chat {index}", "POST", "/users/ana/chat", {"json": {"message": text}}))
        cases.append((f"unicode item {index}", "POST", "/items", {"json": {"items": [{"id": f"u{index}{text}",
                                                                                       "title": text}]}}))
        cases.append((f"unicode user {index}", "GET", f"/users/{quote(text, safe='')}/export", {}))
        cases.append((f"unicode openai {index}", "POST", "/v1/chat/completions",
                      {"json": {"model": "shiftrec", "messages": [{"role": "user", "content": text}], "user": text}}))
    return cases


def fuzz_explicit(url: str, api_key: str, max_body_bytes: int, report: FuzzReport | None = None) -> FuzzReport:
    """Send every explicit case; the same contract as the generated ones."""
    report = report or FuzzReport()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=120) as client:
        for label, method, path, kwargs in explicit_cases(max_body_bytes):
            kwargs = dict(kwargs)
            headers = {"Content-Type": "application/json"} | kwargs.pop("headers", {})
            with client.stream(method, path, headers=headers, **kwargs) as response:
                body = response.read()
            report.check(f"explicit {label}", response.status_code, body)
    return report

"""The whole product on your own catalog alone: `SHIFTREC_DEMO=none`, a bookshop with 3-level paths,
its own words ("book", "read"), fed and asked through the real API, shown in real Chromium.

The service, the embedder and the API are the product's own (serving/app.py under uvicorn); the LLM is
the schema-reading fake behind our interface (the real vLLM is exercised by the other integration tests).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.service import ShiftRecService
from memory.service import InterestMemory
from serving import demo
from serving.app import create_app, serve_in_background
from serving.settings import load_settings
from tests.agent_support import SchemaLLM
from tests.integration.test_ui_browser import CHROMIUM_ARGS, WAIT_MS

pytestmark = pytest.mark.integration

BOOK_WORDS = {"noun": "book", "plural": "books", "verb": "read", "past": "read"}
SHELVES = {
    "Books > Fantasy > Epic": ["dragon throne saga", "dragon war chronicle", "elf kingdom quest", "sword realm epic"],
    "Books > Fantasy > Urban": ["city wizard detective", "subway vampire night", "neon fae court", "alley witch case"],
    "Books > Science > Physics": ["quantum field primer", "black hole lectures", "particle physics story"],
    "Books > History > Ancient": ["roman empire rise", "greek city states", "egypt pharaoh dynasty"],
}
FOREIGN_WORDS = re.compile(r"\b(movies?|films?|watch(ed|ing)?)\b", re.IGNORECASE)


def _catalog() -> list[dict]:
    items = []
    for path, titles in SHELVES.items():
        for number, title in enumerate(titles):
            for edition in range(3):  # several books per theme: co-reading and retrieval have something to find
                items.append({"id": f"{path.split(' > ')[-1].lower()}-{number}-{edition}",
                              "title": f"{title.title()} {'I' * (edition + 1)}", "categories": [path]})
    return items


def _events(items: list[dict]) -> list[dict]:
    epic = [item["id"] for item in items if item["categories"] == ["Books > Fantasy > Epic"]]
    urban = [item["id"] for item in items if item["categories"] == ["Books > Fantasy > Urban"]]
    events = [{"id": f"r-{n}", "user": "reader", "item": item, "action": "purchase",
               "timestamp": f"2026-01-{n + 1:02d}T10:00:00Z"} for n, item in enumerate(epic[:6] + urban[:2])]
    for user, shelf in (("kim", epic + urban), ("lee", epic[3:] + urban)):
        events += [{"id": f"{user}-{n}", "user": user, "item": item, "action": "rate", "value": 5,
                    "timestamp": f"2026-02-{n % 28 + 1:02d}T10:{n % 60:02d}:00Z"} for n, item in enumerate(shelf)]
    return events


@pytest.fixture
def bookshop(tmp_path: Path) -> Iterator[str]:
    settings = load_settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", demo="none", domain=BOOK_WORDS)
    memory = InterestMemory.open(settings.memory_config)  # the real MiniLM: the intent classifier reads its vectors
    assert demo.ensure_demo_data(memory, settings).events == 0
    service = ShiftRecService.create(settings.agent_config, memory, SchemaLLM(), echo=lambda line: None)
    try:
        with serve_in_background(create_app(service, settings.api)) as url:
            yield url
    finally:
        service.close()
        memory.close()


def test_a_bookshop_alone_is_fed_and_answered_through_the_api_in_its_own_words(bookshop: str):
    with httpx.Client(base_url=bookshop, timeout=60) as api:
        cold = api.post("/users/reader/recommendations", json={"count": 3})
        assert cold.status_code == 200 and cold.json()["cold_start"] and cold.json()["items"] == []
        items = _catalog()
        added = api.post("/items", json={"items": items})
        assert added.status_code == 200 and added.json()["added"] == len(items)
        bad = api.post("/events", json={"events": [{"user": "reader", "item": items[0]["id"], "action": "rate",
                                                    "value": 50, "timestamp": "2026-01-01T00:00:00Z"}]})
        assert bad.status_code == 422 and "1" in bad.text and "5" in bad.text and "value" in bad.text
        assert api.post("/events", json={"events": _events(items)}).json()["applied"] == len(_events(items))

        record = api.post("/users/reader/recommendations", json={"count": 4}).json()
        listed = record["items"]
        owned = {event["item"] for event in _events(items) if event["user"] == "reader"}
        assert len(listed) == 4 and not owned & {entry["item_id"] for entry in listed}, "books never re-offered"
        assert any(entry["categories"] == ["Books > Fantasy > Urban"] for entry in listed), "all 3 levels kept"
        reasons = [entry["explanation"]["reason"] for entry in listed]
        why = api.get(f"/users/reader/recommendations/{record['id']}/items/{listed[0]['item_id']}/why").json()
        chat = api.post("/users/reader/chat", json={"message": "hi"}).text
        for text in [*reasons, why["text"], chat]:
            assert text and not FOREIGN_WORDS.search(text), text
        assert api.get("/topics").json()["topics"] == ["Books"]
        exported = api.get("/users/reader/export").text  # every level of the path is an interest of its own
        assert '"t:books/fantasy/epic"' in exported and '"t:books/fantasy/urban"' in exported


def test_the_ui_speaks_of_books_in_chromium(bookshop: str):
    from playwright.sync_api import expect, sync_playwright

    with httpx.Client(base_url=bookshop, timeout=60) as api:
        items = _catalog()
        api.post("/items", json={"items": items}).raise_for_status()
        api.post("/events", json={"events": _events(items)}).raise_for_status()
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: apt-get install -y chromium (make setup does it)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.goto(f"{bookshop}/ui/")
        expect(page.locator("#title")).to_contain_text("Book picks", timeout=WAIT_MS)
        assert page.locator("#chat-input textarea").get_attribute("placeholder").startswith("Something to read")
        picker = page.locator("#user-picker input")
        picker.fill("reader")
        picker.press("Enter")
        expect(page.locator("#chat")).to_contain_text("something to read", timeout=WAIT_MS)
        page.locator("#chat-input textarea").fill("recommend something")
        page.locator("#chat-input textarea").press("Enter")
        expect(page.locator(".sr-card")).to_have_count(5, timeout=WAIT_MS)
        expect(page.locator(".sr-pending")).to_have_count(0, timeout=WAIT_MS)
        shown = page.locator("body").inner_text()
        assert not FOREIGN_WORDS.search(shown), FOREIGN_WORDS.search(shown)
        browser.close()

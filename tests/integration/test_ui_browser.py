"""The web UI in real Chromium: sign in, chat, cards with reasons, Why?, thumbs down, trajectory.

The app runs under uvicorn on a free port with the real service on fakes behind our
interfaces (schema-reading LLM, bag-of-words embedder); Playwright drives Debian's
chromium (never a downloaded browser). Screenshots go to bench/results/screenshots/
(committed, shown in the README) and to the test's tmp folder.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from agent.service import ShiftRecService
from memory.models import Event, Item
from tests.agent_support import SchemaLLM, build_service
from tests.integration.conftest import free_port
from tests.memory_support import at

pytestmark = pytest.mark.integration

SCREENSHOTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE_TITLE = "Galaxy alien <img src=x onerror=alert(1)>"
WAIT_MS = 20_000


def _with_hostile_item(service: ShiftRecService) -> None:
    """A sci-fi title carrying HTML, watched by the sci-fi fans right after what ana watched."""
    service.memory.add_items([Item(id="hostile", title=HOSTILE_TITLE, categories=["Sci-Fi"])])
    fans = [Event(user=user, item="hostile", action="rate", value=5.0, timestamp=at(30 + index))
            for index, user in enumerate(["bob", "cy", "dee", "bob-2", "cy-2"])]
    fans += [Event(user=user, item=f"sf{i}", action="rate", value=5.0, timestamp=at(i))
             for user in ["bob-2", "cy-2"] for i in range(10)]
    service.ingest_events(fans)


def _app(service: ShiftRecService) -> FastAPI:
    """The product's app when serving/app.py is there; otherwise the UI alone on a bare FastAPI."""
    if importlib.util.find_spec("serving.app") is not None:
        from serving.app import create_app

        return create_app(service, service.settings)
    import gradio as gr

    from serving.ui import build_ui

    return gr.mount_gradio_app(FastAPI(), build_ui(service), path="/ui")


@pytest.fixture
def ui_url(tmp_path: Path) -> Iterator[str]:
    service = build_service(tmp_path / "data", SchemaLLM())
    _with_hostile_item(service)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(_app(service), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/ui/"
    server.should_exit = True
    thread.join(timeout=10)
    service.close()


@pytest.fixture
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian's chromium is missing: apt-get install -y chromium (make setup does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def test_chat_cards_why_thumbs_down_and_trajectory_in_chromium(ui_url: str, browser, tmp_path: Path):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1300})
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))

    def shot(name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
        shutil.copy(SCREENSHOTS / name, tmp_path / name)

    page.goto(ui_url)
    picker = page.locator("#user-picker input")
    picker.fill("ana")
    picker.press("Enter")
    expect(page.locator("#chat")).to_contain_text("Signed in as ana", timeout=WAIT_MS)
    expect(page.locator("#profile")).to_contain_text("Predicted shift", timeout=WAIT_MS)

    page.locator("#chat-input textarea").fill("recommend something for tonight")
    page.locator("#chat-input textarea").press("Enter")
    cards = page.locator(".sr-card")
    expect(cards).to_have_count(5, timeout=WAIT_MS)
    expect(page.locator(".sr-pending")).to_have_count(0, timeout=WAIT_MS)  # every reason has arrived
    for index in range(5):
        card = cards.nth(index)
        assert card.locator(".sr-reason").inner_text().strip()
        chips = card.locator(".sr-chip").all_inner_texts()
        assert chips and all(re.search(r"\d{4}-\d{2}-\d{2}$", chip) for chip in chips)  # past events, dated
    titles = [text.split(". ", 1)[1] for text in cards.locator(".sr-title").all_inner_texts()]
    assert HOSTILE_TITLE in titles  # shown as literal text ...
    assert page.locator('img[src="x"]').count() == 0 and not alerts  # ... and never as an element
    expect(page.locator("#chat")).to_contain_text(titles[0])
    shot("ui-recommendations.png")

    page.locator("#card-0 button.sr-why").click()
    answer = page.locator("#card-0 .sr-why-answer textarea")
    expect(answer).to_have_value(re.compile(rf"^I recommended {re.escape(titles[0])}: "), timeout=WAIT_MS)
    assert "From your history:" in answer.input_value()
    shot("ui-why.png")

    page.locator("#card-1 button.sr-down").click()
    expect(page.locator("#chat")).to_contain_text(f"fewer picks like {titles[1]}", timeout=WAIT_MS)
    expect(page.locator(".sr-pending")).to_have_count(0, timeout=WAIT_MS)
    expect(cards).to_have_count(5, timeout=WAIT_MS)
    refreshed = [text.split(". ", 1)[1] for text in cards.locator(".sr-title").all_inner_texts()]
    assert titles[1] not in refreshed and refreshed != titles
    shot("ui-after-thumbs-down.png")

    plot = page.locator("#trajectory")
    plot.scroll_into_view_if_needed()
    expect(plot.locator("canvas, svg").first).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#profile mark")).to_have_count(2)
    shot("ui-profile-trajectory.png")

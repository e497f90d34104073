"""The web UI in real Chromium: sign in, chat, cards with reasons, Why?, thumbs down, trajectory.

The product's app (serving/app.py) runs under uvicorn on a free port, with the real service
on fakes behind our interfaces (schema-reading LLM, bag-of-words embedder); Playwright
drives Debian's chromium (never a downloaded browser). Screenshots go to
bench/results/screenshots/ (committed artifacts) and to the test's tmp folder.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.forecast.training import ForecastInputs, fit_forecast
from agent.service import ShiftRecService
from memory.models import Item
from serving.app import create_app, serve_in_background
from serving.settings import ApiSettings
from tests.agent_support import SchemaLLM, build_service
from tests.memory_support import event

pytestmark = pytest.mark.integration

SCREENSHOTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE_MARKUP = "<img src=x onerror=alert(1)>"
WAIT_MS = 20_000


def _with_hostile_title(service: ShiftRecService) -> str:
    """ana's first pick renamed to carry HTML (its words kept, so it stays a pick); returns the new title."""
    first = service.recommend("ana", count=1).items[0]
    item = service.memory.get_items([first.item_id])[first.item_id]
    title = f"{item.title} {HOSTILE_MARKUP}"
    service.memory.add_items([item.model_copy(update={"title": title})])
    return title


def _with_an_action_phase(service: ShiftRecService) -> None:
    """A few action movies ana liked early on: the phase she will say is over."""
    service.memory.add_items([Item(id=f"act{i}", title=f"Action {i} car chase explosion", categories=["Action"])
                              for i in range(6)])
    service.memory.ingest([event("ana", f"act{i}", 0.5 + i) for i in range(6)], progress=False)


@dataclass
class RunningUI:
    url: str
    hostile_title: str
    list_size: int  # items per recommendation
    history_titles: set[str]  # ana's own past items, the only ones evidence may name
    topics: list[str]  # ana's topics, one line each on the trajectory plot


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[RunningUI]:
    """The product's app with the UI, serving a service on fakes, and what the page should show."""
    # roles as shipped: no role card, so the stand-ins serve every role (what the packaged model earns)
    service = build_service(tmp_path / "data", SchemaLLM(), forecast_horizon="2e", llm_roles="earned")
    rows = list(service.memory.event_log())
    inputs = ForecastInputs.from_memory(service.memory, {row[1] for row in rows}, service.horizon)
    service.serve_forecast(fit_forecast([row[:3] for row in rows], inputs.nodes_of, inputs.horizon, inputs.named))
    hostile_title = _with_hostile_title(service)
    _with_an_action_phase(service)
    history = service.memory.get_items(sorted(service.memory.seen_items("ana")))
    topics = [node.label for node in service.memory.digest("ana").long_term if node.level == "topic"]
    try:
        with serve_in_background(create_app(service, ApiSettings())) as base_url:
            yield RunningUI(f"{base_url}/ui/", hostile_title, service.settings.agent.default_count,
                            {item.title for item in history.values()}, topics)
    finally:
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


def test_chat_cards_why_thumbs_down_and_trajectory_in_chromium(ui: RunningUI, browser, tmp_path: Path):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1300})
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))

    def shot(name: str, part=None) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        if part is None:
            page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
        else:
            part.screenshot(path=str(SCREENSHOTS / name))
        shutil.copy(SCREENSHOTS / name, tmp_path / name)

    page.goto(ui.url)
    picker = page.locator("#user-picker input")
    picker.fill("ana")
    picker.press("Enter")
    expect(page.locator("#chat")).to_contain_text("Signed in as ana", timeout=WAIT_MS)
    expect(page.locator("#profile")).to_contain_text("Predicted shift", timeout=WAIT_MS)

    page.locator("#chat-input textarea").fill("recommend something for tonight")
    page.locator("#chat-input textarea").press("Enter")
    cards = page.locator(".sr-card")
    expect(cards).to_have_count(ui.list_size, timeout=WAIT_MS)
    expect(page.locator(".sr-pending")).to_have_count(0, timeout=WAIT_MS)  # every reason has arrived
    for index in range(ui.list_size):
        card = cards.nth(index)
        assert card.locator(".sr-reason").inner_text().strip()
        chips = card.locator(".sr-chip").all_inner_texts()
        assert chips and all(any(title in chip for title in ui.history_titles) for chip in chips)
    assert cards.locator(".sr-made-by").all_inner_texts() == ["computed from your history"] * ui.list_size
    titles = [text.split(". ", 1)[1] for text in cards.locator(".sr-title").all_inner_texts()]
    assert ui.hostile_title in titles  # shown as literal text ...
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
    expect(cards).to_have_count(ui.list_size, timeout=WAIT_MS)
    refreshed = [text.split(". ", 1)[1] for text in cards.locator(".sr-title").all_inner_texts()]
    assert titles[1] not in refreshed and refreshed != titles
    shot("ui-after-thumbs-down.png")

    panel = page.locator("#profile-panel")
    profile = page.locator("#profile")
    expect(profile).to_contain_text("in your next 2 movies", timeout=WAIT_MS)  # the horizon, with probabilities
    expect(profile).to_contain_text(re.compile(r"\d+% likely to (grow|shrink)"))
    expect(profile).to_contain_text("No earlier forecast has reached its horizon yet.")  # the track record
    assert page.locator("#profile mark").count() >= 1  # the interests the claims name, highlighted
    assert not re.search(r"\bt:[a-z0-9]", profile.inner_text())  # no node id such as t:sci-fi/s2
    expect(profile).to_contain_text("Profile computed from your history; forecast computed from your history.")
    for topic in ui.topics:  # the plot's legend names each topic line
        expect(page.locator("#trajectory svg")).to_contain_text(topic)
    lines = page.locator('#trajectory svg g.mark-line path')
    assert lines.count() == len(ui.topics)
    shot("ui-profile-trajectory.png", panel)

    # editing the memory in words: the phase fades, and the profile panel says so at once
    page.locator("#chat-input textarea").fill("I'm over my action phase")
    page.locator("#chat-input textarea").press("Enter")
    expect(page.locator("#chat")).to_contain_text("Done: Action fades from what I know about you", timeout=WAIT_MS)
    expect(profile.locator(".sr-edits")).to_contain_text("Action fades: you said that phase is over", timeout=WAIT_MS)
    expect(profile.locator(".sr-profile-text")).to_contain_text("less Action")
    shot("ui-after-edit.png", panel)

"""The token-budgeted summary: what goes in first, reading order, and the no-shift case."""

from __future__ import annotations

from pathlib import Path

import pytest

from memory.service import InterestMemory
from memory.summary import HEADINGS, LONG_TERM, SESSIONS
from memory.tokens import count_tokens
from tests.memory_support import comedy_then_scifi, event, open_memory


@pytest.fixture(scope="module")
def memory(tmp_path_factory: pytest.TempPathFactory) -> InterestMemory:
    opened = open_memory(tmp_path_factory.mktemp("summary"))
    opened.ingest(comedy_then_scifi("vic"), progress=False)
    opened.ingest([event("wes", f"dr{index % 8}", index / 24, id=f"w{index}") for index in range(30)], progress=False)
    return opened


def test_the_most_useful_lines_survive_a_tight_budget(memory: InterestMemory):
    tight = memory.summary("vic", token_budget=100).text
    assert tight.startswith("Interest memory of user vic")
    assert "Predicted next shift (trend baseline): from [t:comedy] Comedy to [t:sci-fi] Sci-Fi" in tight
    assert HEADINGS[SESSIONS] not in tight, "sessions come after the shift and the top interests"
    roomy = memory.summary("vic", token_budget=3000).text
    assert HEADINGS[SESSIONS] in roomy and roomy.startswith(tight.splitlines()[0])


def test_sections_are_printed_in_reading_order_and_never_empty(memory: InterestMemory):
    text = memory.summary("vic", token_budget=3000).text
    markers = [
        "Interest memory",
        "Predicted next shift",
        HEADINGS[LONG_TERM],
        "Short-term",
        "Rising:",
        "Fading:",
        HEADINGS[SESSIONS],
    ]
    positions = [text.index(marker) for marker in markers]
    assert positions == sorted(positions)
    for budget in range(40, 400, 20):
        lines = memory.summary("vic", token_budget=budget).text.splitlines()
        assert not lines[-1].endswith(":"), f"a heading without lines at budget {budget}"


def test_a_budget_below_the_header_still_holds(memory: InterestMemory):
    summary = memory.summary("vic", token_budget=12)
    assert summary.tokens == count_tokens(summary.text) <= 12
    assert summary.text.startswith("Interest memory of user vic")


def test_a_steady_user_gets_no_shift(memory: InterestMemory):
    summary = memory.summary("wes", token_budget=500)
    assert summary.digest.shift.to_node is None and summary.digest.rising == []
    assert "Predicted next shift (trend baseline): none. No interest is rising" in summary.text
    assert "led by Drama" in summary.text


def test_sessions_list_their_latest_items_with_event_ids_and_titles(tmp_path: Path):
    memory = open_memory(tmp_path)
    memory.ingest([event("xia", f"sf{index}", index / 1440, id=f"x{index}") for index in range(9)], progress=False)
    session = memory.digest("xia").sessions[0]
    assert session.events == 9 and [item.event_id for item in session.items] == ["x8", "x7", "x6", "x5", "x4"]
    assert session.items[0].title.startswith("Galaxy 8")
    text = memory.summary("xia", token_budget=1000).text
    assert "[x8] Galaxy 8 space station alien (like); [x7] Galaxy 7 mars colony alien (like)" in text

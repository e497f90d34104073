"""The web UI without a browser: escaping, cards, evidence chips, profile, trajectory, and the
handlers' streamed steps (chat, why, thumbs) on a real service with a schema-reading fake LLM."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import gradio as gr
import pytest
from markdown_it import MarkdownIt

from agent.forecast.shown import NO_FORECAST
from agent.service import ShiftRecService
from serving.ui import build_ui
from serving.ui_handlers import UIHandlers
from serving.ui_views import (
    DEGRADED_NOTE,
    PENDING_REASON,
    card_html,
    list_message,
    profile_html,
    text_html,
    text_markdown,
    trajectory_frame,
    why_text,
)
from tests.agent_support import SchemaLLM, build_service
from tests.forecast_support import NODE_ID, ForecastingService
from tests.memory_support import event

HOSTILE = ["<img src=x onerror=alert(1)>", "**bold** [link](http://x) `code` $x^2$ ${1+1} {{name}} \\ & \"'",
           "# heading\n- item\n1. one\n===", "<script>alert('x')</script>", "    indented code"]
ALLOWED_TAGS = {"div", "p", "span", "strong", "mark", "em"}
TABLE_TAGS = {"table", "thead", "tbody", "tr", "th", "td"}


class _Page(HTMLParser):
    """Tags and visible text of an HTML fragment."""

    def __init__(self, fragment: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []
        self.feed(fragment)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)

    @property
    def visible(self) -> str:
        return "".join(self.text)


@pytest.fixture
def service(tmp_path: Path) -> ShiftRecService:
    return build_service(tmp_path, SchemaLLM())


@pytest.fixture
def forecasting(tmp_path: Path) -> ForecastingService:
    return build_service(tmp_path, SchemaLLM(), service_class=ForecastingService)


@pytest.mark.parametrize("value", HOSTILE)
def test_html_text_is_inert_and_reads_back_unchanged(value: str):
    escaped = text_html(value)
    assert not set("<>{}$`") & set(escaped)
    page = _Page(f"<div>{escaped}</div>")
    assert page.tags == ["div"] and page.visible == value


@pytest.mark.parametrize("value", HOSTILE)
def test_markdown_text_renders_as_the_literal_string(value: str):
    rendered = MarkdownIt("commonmark").render(text_markdown(value))
    page = _Page(rendered)
    assert set(page.tags) <= {"p"}  # no links, emphasis, code, headings, lists or raw HTML
    assert page.visible.rstrip("\n") == value


def test_a_card_shows_title_categories_reason_and_the_users_own_evidence_in_order(service):
    record = service.recommend("ana", count=3)
    seen = service.memory.seen_items("ana")
    for item in record.items:
        page = _Page(card_html(item))
        assert set(page.tags) <= ALLOWED_TAGS
        chips = [ref.text for ref in item.explanation.evidence]
        assert chips and {ref.item_id for ref in item.explanation.evidence} <= seen
        expected = (f"{item.rank}. {item.title}" + " · ".join(item.categories) + item.explanation.reason
                    + "".join(chips))
        assert page.visible.startswith(expected)
        assert DEGRADED_NOTE not in page.visible


def test_a_hostile_title_is_shown_as_text_on_the_card_and_in_the_chat(service):
    record = service.recommend("ana", count=1)
    item = record.items[0].model_copy(update={"title": HOSTILE[0], "categories": [HOSTILE[3]]})
    page = _Page(card_html(item))
    assert "img" not in page.tags and "script" not in page.tags
    assert f"1. {HOSTILE[0]}{HOSTILE[3]}" in page.visible
    hostile_record = record.model_copy(update={"items": [item]})
    chat = _Page(MarkdownIt("commonmark").render(list_message(hostile_record)))
    assert set(chat.tags) <= {"p", "strong"} and HOSTILE[0] in chat.visible


def test_pending_and_degraded_cards_say_so(tmp_path: Path):
    service = build_service(tmp_path, SchemaLLM(fail=True))
    stream = list(service.recommend_stream("ana", count=2))
    pending = _Page(card_html(stream[0].record.items[0])).visible
    assert PENDING_REASON in pending
    finished = stream[-1].record.items[0]
    assert finished.explanation.degraded
    assert DEGRADED_NOTE in _Page(card_html(finished)).visible
    answer = service.why("ana", stream[-1].record.id, finished.item_id)
    assert why_text(answer).startswith(answer.text) and DEGRADED_NOTE in why_text(answer)


def test_without_a_forecast_the_profile_says_there_is_none(service):
    result = service.profile("ana")
    page = _Page(profile_html(result))
    assert result.profile.profile in page.visible and f"Predicted shift: {NO_FORECAST}" in page.visible
    assert "confidence" not in page.visible and "without the language model" not in page.visible


def test_the_profile_shows_the_forecast_its_expected_shares_and_track_record(forecasting):
    result = forecasting.profile("ana")
    html = profile_html(result)
    page = _Page(html)
    assert set(page.tags) <= ALLOWED_TAGS | TABLE_TAGS
    assert f"Predicted shift: {result.forecast.text}" in page.visible  # probabilities and horizon
    assert "InterestShare nowExpected in your next 3 movies" in page.visible
    assert "Sci-Fi20%50%Comedy80%40%Drama0%5%" in page.visible and page.tags.count("mark") == 3  # claimed
    track_record = page.visible.index("No earlier forecast has reached its horizon yet.")
    assert track_record > page.visible.index("Drama0%5%")  # below the table
    assert page.visible.endswith("Profile written by schema-fake; forecast computed from your history.")
    assert not NODE_ID.search(html)


def test_the_track_record_line_counts_the_claims_that_came_true(forecasting):
    forecasting.profile("ana")
    forecasting.ingest_events([event("ana", f"sf{day}", day) for day in range(20, 23)])
    visible = _Page(profile_html(forecasting.profile("ana"))).visible
    assert "Earlier forecasts: 2 of 3 claims came true (stated 52% on average)." in visible


def test_a_profile_asked_in_the_chat_shows_the_forecast_in_the_panel(forecasting):
    handlers = UIHandlers(forecasting)
    session = next(handlers.sign_in("ana")).session_id
    screens = list(handlers.chat("what is my taste?", [], "ana", session, None))
    panel = next(screen.profile for screen in screens if screen.profile is not None)
    forecast = forecasting.forecast("ana")
    assert forecast.text in _Page(panel).visible and not NODE_ID.search(panel)
    assert not NODE_ID.search(" ".join(m["content"] for m in screens[-1].history))


def test_a_degraded_profile_is_flagged(tmp_path: Path):
    service = build_service(tmp_path, SchemaLLM(fail=True))
    assert "without the language model" in _Page(profile_html(service.profile("ana"))).visible


def test_the_trajectory_has_one_line_per_strongest_topic_with_its_points(service):
    long_term = service.memory.digest("ana").long_term
    frame = trajectory_frame(long_term)
    topics = [node for node in long_term if node.level == "topic" and node.trajectory]
    assert list(frame.columns) == ["week", "strength", "interest"]
    assert set(frame["interest"]) == {node.label for node in topics} and len(topics) >= 2
    strongest = max(topics, key=lambda node: node.strength)
    only = trajectory_frame(long_term, topics=1)
    assert set(only["interest"]) == {strongest.label}
    assert list(only["strength"]) == [round(point.strength, 4) for point in strongest.trajectory]
    assert list(only["week"].dt.to_pydatetime()) == [p.start.replace(tzinfo=None) for p in strongest.trajectory]
    assert trajectory_frame([]).empty


def test_sign_in_starts_a_session_then_shows_the_trajectory_and_profile(service):
    first, second = UIHandlers(service).sign_in("ana")
    assert first.session_id.startswith("ui-") and first.clear_cards and "ana" in first.history[0]["content"]
    assert not first.trajectory.empty
    assert service.profile("ana").profile.profile in _Page(second.profile).visible
    unknown_first, unknown_second = UIHandlers(service).sign_in("zed")
    assert unknown_first.trajectory.empty
    assert "No history yet for zed" in _Page(unknown_second.profile).visible


def test_chat_streams_text_then_the_list_then_each_reason(service):
    handlers = UIHandlers(service)
    session = next(handlers.sign_in("ana")).session_id
    screens = list(handlers.chat("recommend something", [], "ana", session, None))
    assert screens[0].history[-1] == {"role": "user", "content": text_markdown("recommend something")}
    with_records = [screen.record for screen in screens if screen.record is not None]
    assert all(item.explanation is None for item in with_records[0].items)
    explained = [sum(item.explanation is not None for item in record.items) for record in with_records]
    assert explained == list(range(len(with_records[0].items) + 1))  # one more reason per step
    final = with_records[-1]
    assert [item.item_id for item in final.items] == [item.item_id for item in with_records[0].items]
    last_chat = [screen.history for screen in screens if screen.history is not None][-1]
    assert last_chat[-1]["content"] == list_message(final) and PENDING_REASON not in last_chat[-1]["content"]
    assert [message["role"] for message in last_chat] == ["user", "assistant", "assistant"]  # intro, list
    assert screens[-1].trajectory is not None and screens[-1].history is None  # refreshed once the turn is done


def test_why_shows_the_answer_stored_with_the_record(service):
    handlers = UIHandlers(service)
    record = service.recommend("ana", count=3)
    screen = handlers.why(1, record, "ana")
    assert screen.why == (1, why_text(service.why("ana", record.id, record.items[1].item_id)))
    unsaved = record.model_copy(update={"id": "rec-not-stored"})
    assert "still being written" in handlers.why(0, unsaved, "ana").why[1]


def test_thumbs_down_writes_feedback_and_refreshes_the_list_without_that_item(service):
    handlers = UIHandlers(service)
    record = service.recommend("ana", count=4)
    rejected = record.items[2]
    screens = list(handlers.thumb(2, False, record, "ana", []))
    assert rejected.item_id in service.memory.disliked_items("ana")
    assert f"fewer picks like {rejected.title}" in screens[0].history[0]["content"].replace("\\", "")
    final = screens[-1].record
    assert len(final.items) == 4 and rejected.item_id not in {item.item_id for item in final.items}
    assert final.id != record.id and all(item.explanation for item in final.items)


def test_after_a_thumbs_click_the_chat_talks_about_the_refreshed_list(service):
    handlers = UIHandlers(service)
    record = service.recommend("ana", count=3)
    final = list(handlers.thumb(0, False, record, "ana", [], "ui-thumbs"))[-1].record
    answer = next(e for e in service.chat("ui-thumbs", "ana", "why the second one?") if e.kind == "why")
    assert answer.why.record_id == final.id and answer.why.item_id == final.items[1].item_id


def test_thumbs_up_is_written_as_a_like(service):
    record = service.recommend("ana", count=3)
    list(UIHandlers(service).thumb(0, True, record, "ana", []))
    liked = [e for e in service.export_user("ana").events if e["item"] == record.items[0].item_id]
    assert [e["action"] for e in liked] == ["like"]


def test_chat_errors_are_answered_in_the_chat(service):
    handlers = UIHandlers(service)
    screens = list(handlers.chat("x" * 3000, [], "ana", "ui-long", None))
    assert "keep it under" in screens[-1].history[-1]["content"]
    no_user = list(handlers.chat("recommend something", [], "", "", None))
    assert "Pick a user first" in no_user[-1].history[-1]["content"]


def test_build_ui_offers_the_demo_users_and_names_its_api(service):
    blocks = build_ui(service, demo_users=["ana", "bob"])
    assert isinstance(blocks, gr.Blocks)
    config = blocks.get_config_file()
    picker = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "user-picker")
    assert [choice[0] for choice in picker["props"]["choices"]] == ["ana", "bob"]
    names = {dependency.get("api_name") for dependency in config["dependencies"]}
    assert {"chat", "sign_in"} <= names

"""What the web UI shows, as pure functions of the service's objects (no Gradio here).

Every string that comes from the catalog, the user or the LLM is escaped before it is
placed in HTML or Markdown, so an item titled ``<img src=x onerror=...>`` shows as text.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd

from agent.explain.guards import without_node_ids
from agent.explain.records import Explanation, RecommendationRecord, RecommendedItem
from agent.explain.why import WhyAnswer
from agent.forecast.shown import NO_FORECAST, NODES_TABULATED, claim_level
from agent.forecast.track_record import TrackRecord
from agent.forecast.views import ForecastView
from agent.profiler import ProfileResult
from memory.digest_models import InterestNode

TRAJECTORY_COLUMNS = ["week", "strength", "interest"]
TRAJECTORY_TOPICS = 5  # lines on the plot: the user's strongest topics
PENDING_REASON = "Writing the reason…"
DEGRADED_NOTE = "template reason: the language model was unavailable, too busy, or its sentence was rejected"
# Gradio's HTML component runs its value through JS template and Handlebars syntax,
# and its Markdown through LaTeX and Markdown: neutralise those characters too.
_HTML_EXTRA = {"{": "&#123;", "}": "&#125;", "$": "&#36;", "`": "&#96;", "\\": "&#92;"}
_MARKDOWN_PUNCTUATION = set("*_[]()#+-.!|~:=^")


def text_html(value: object) -> str:
    """Any value as inert HTML text."""
    escaped = html.escape(str(value), quote=True)
    return "".join(_HTML_EXTRA.get(char, char) for char in escaped)


def text_markdown(value: object) -> str:
    """Any value as literal Markdown text (no markup, links, HTML, code blocks or maths)."""
    return "\n".join(_markdown_line(line) for line in str(value).split("\n"))


def _markdown_line(line: str) -> str:
    body = line.lstrip(" \t")
    indent = "&#32;" * (len(line) - len(body))  # an entity is no indentation: no code block
    return indent + "".join(
        "\\" + char if char in _MARKDOWN_PUNCTUATION else _HTML_EXTRA.get(char, html.escape(char, quote=True))
        for char in body
    )


def evidence_chips(explanation: Explanation | None) -> str:
    """One chip per cited past event of the user ("rated Heat 5/5 on 1997-12-04")."""
    if explanation is None or not explanation.evidence:
        return ""
    chips = "".join(f'<span class="sr-chip">{text_html(ref.text)}</span>' for ref in explanation.evidence)
    return f'<div class="sr-chips" aria-label="from your history">{chips}</div>'


def card_html(item: RecommendedItem) -> str:
    """A recommendation card: title, categories, the reason (or that it is pending), evidence, flags."""
    explanation = item.explanation
    categories = " · ".join(text_html(category) for category in item.categories) or "uncategorised"
    if explanation is None:
        reason = f'<p class="sr-reason sr-pending">{text_html(PENDING_REASON)}</p>'
    else:
        reason = f'<p class="sr-reason">{text_html(explanation.reason)}</p>'
    notes = []
    if explanation is not None and explanation.interest_label:
        notes.append(f"serves your interest in {text_html(explanation.interest_label)}")
    if explanation is not None:
        notes.append(f'<span class="sr-made-by">{text_html(explanation.made_by)}</span>')
    if explanation is not None and explanation.degraded:
        notes.append(f'<span class="sr-degraded" title="{text_html(explanation.degraded_reason or "")}">'
                     f"⚠ {text_html(DEGRADED_NOTE)}</span>")
    meta = f'<div class="sr-meta">{" · ".join(notes)}</div>' if notes else ""
    return (
        f'<div class="sr-card" data-item="{text_html(item.item_id)}">'
        f'<div class="sr-title">{item.rank}. {text_html(item.title)}</div>'
        f'<div class="sr-categories">{categories}</div>{reason}{evidence_chips(explanation)}{meta}</div>'
    )


def list_message(record: RecommendationRecord) -> str:
    """The chat's version of a list: one numbered line per item, its reason once written."""
    if not record.items:
        return "No recommendations fit right now."
    lines = []
    for item in record.items:
        reason = item.explanation.reason if item.explanation else PENDING_REASON
        lines.append(f"{item.rank}\\. **{text_markdown(item.title)}**: {text_markdown(reason)}")
    if record.degraded:
        lines.append(f"_{text_markdown('Some of this was served without the language model (degraded).')}_")
    return "\n".join(lines)


def why_text(answer: WhyAnswer) -> str:
    """The stored answer as plain text, how it was made, flagged when the LLM's phrasing was not used."""
    flag = f"\n({DEGRADED_NOTE})" if answer.degraded else ""
    return f"{answer.text}\n({answer.made_by}){flag}"


def profile_html(result: ProfileResult) -> str:
    """The textual profile, then the forecast: its sentence (probabilities and horizon), the expected shares
    of the top nodes at the claims' level, and how earlier forecasts did."""
    degraded = (f'<p class="sr-degraded">⚠ estimated from trends without the language model: '
                f"{text_html(result.degraded_reason or 'unavailable')}</p>") if result.degraded else ""
    text = without_node_ids(result.profile.profile, result.labels)
    made = f'<p class="sr-made-by">Profile {text_html(result.made_by)}; forecast computed from your history.</p>'
    return (f'<div class="sr-profile"><p class="sr-profile-text">{text_html(text)}</p>'
            f"{forecast_html(result.forecast, result.track_record)}{edits_html(result.edits)}{made}{degraded}</div>")


def edits_html(edits: list[str]) -> str:
    """What the person changed in their memory ("Action fades: you said that phase is over")."""
    if not edits:
        return ""
    items = "".join(f"<li>{text_html(edit)}</li>" for edit in edits)
    return f'<div class="sr-edits"><strong>What you changed:</strong><ul>{items}</ul></div>'



def forecast_html(forecast: ForecastView | None, record: TrackRecord | None) -> str:
    """The forecast block of the profile panel, or the line saying there is no forecast yet."""
    if forecast is None:
        return f'<div class="sr-shift"><strong>Predicted shift:</strong> {text_html(NO_FORECAST)}</div>'
    track = f'<div class="sr-track">{text_html(record.text)}</div>' if record is not None else ""
    return (f'<div class="sr-shift"><strong>Predicted shift:</strong> {text_html(forecast.text)}'
            f"{shares_table(forecast)}{track}</div>")


def shares_table(forecast: ForecastView, rows: int = NODES_TABULATED) -> str:
    """The top nodes at the claims' level: share of the last window, share expected in the horizon
    (a node the claims name is highlighted)."""
    level = claim_level(forecast)
    if level is None or not level.nodes:
        return ""
    claimed = {claim.id for claim in forecast.claims}
    body = "".join(f"<tr><td>{_marked(text_html(node.label), node.id in claimed)}</td><td>{node.share_now:.0%}</td>"
                   f"<td>{node.share_expected:.0%}</td></tr>" for node in level.nodes[:rows])
    return (f'<table class="sr-forecast"><thead><tr><th>Interest</th><th>Share now</th>'
            f"<th>Expected {text_html(forecast.horizon_text)}</th></tr></thead><tbody>{body}</tbody></table>")


def _marked(html_text: str, marked: bool) -> str:
    return f"<mark>{html_text}</mark>" if marked else html_text


def notice_html(text: str) -> str:
    """A one-line message in the profile panel (loading, no history yet)."""
    return f'<div class="sr-profile"><p class="sr-notice">{text_html(text)}</p></div>'


def trajectory_frame(long_term: Sequence[InterestNode], topics: int = TRAJECTORY_TOPICS) -> pd.DataFrame:
    """Strength over time of the user's strongest topics, long format for a line plot."""
    chosen = sorted((node for node in long_term if node.level == "topic" and node.trajectory),
                    key=lambda node: node.strength, reverse=True)[:topics]
    rows = [(point.start.replace(tzinfo=None), round(point.strength, 4), node.label)
            for node in chosen for point in node.trajectory]
    frame = pd.DataFrame(rows, columns=TRAJECTORY_COLUMNS)
    frame["week"] = pd.to_datetime(frame["week"])
    frame["strength"] = frame["strength"].astype(float)
    frame["interest"] = frame["interest"].astype(str)
    return frame


def chat_message(role: str, text: str) -> dict[str, str]:
    """A message in Gradio's messages format, its text escaped."""
    return {"role": role, "content": text_markdown(text)}


CARD_CSS = """
.sr-card { border: 1px solid #d0d7de; border-radius: 8px; padding: 10px 12px; background: #fff; color: #1f2328; }
.sr-title { font-weight: 600; font-size: 1.05em; }
.sr-categories { color: #57606a; font-size: 0.85em; margin-bottom: 4px; }
.sr-reason { margin: 6px 0; }
.sr-made-by { color: #57606a; font-style: italic; }
.sr-pending { color: #8c959f; font-style: italic; }
.sr-chips { display: flex; flex-wrap: wrap; gap: 4px; margin: 4px 0; }
.sr-chip { background: #ddf4ff; color: #0a3069; border-radius: 12px; padding: 2px 8px; font-size: 0.8em; }
.sr-meta { color: #57606a; font-size: 0.8em; }
.sr-degraded { color: #9a6700; }
"""

PROFILE_CSS = """
.sr-profile { padding: 6px 2px; }
.sr-shift { background: #fff8c5; border-left: 4px solid #d4a72c; padding: 6px 10px; border-radius: 4px;
            color: #1f2328; }
.sr-shift mark { background: #ffd33d; padding: 0 3px; border-radius: 3px; }
.sr-forecast { border-collapse: collapse; margin: 6px 0 2px; font-size: 0.85em; }
.sr-forecast th, .sr-forecast td { padding: 1px 8px; text-align: left; }
.sr-forecast td + td, .sr-forecast th + th { text-align: right; }
.sr-track { font-size: 0.85em; color: #57606a; margin-top: 2px; }
.sr-degraded { color: #9a6700; font-size: 0.85em; }
.sr-notice { color: #57606a; font-style: italic; }
"""

"""The summary the LLM reads: deterministic text within a token budget, plus the digest.

Lines carry a priority; the most useful ones (who, the predicted shift, the strongest
interests, what is rising and fading, the latest session) go in first and the rest
follow while the budget lasts, then everything is printed in reading order. Every
interest is written with its node id in brackets and every item with its event id, so
a later step can cite them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from memory.digest_models import (
    InterestNode,
    MemoryDigest,
    RecentItem,
    SessionDigest,
    TrendingNode,
)
from memory.tokens import count_tokens, truncate_to_tokens

# sections, in reading order
HEADER, SHIFT, LONG_TERM, SHORT_TERM, RISING, FADING, SESSIONS = range(7)
HEADINGS = {
    LONG_TERM: "Long-term interests (strength, share of interest, trend):",
    SHORT_TERM: "Short-term interests (share of recent activity):",
    SESSIONS: "Recent sessions (latest first; items latest first):",
}


class MemorySummary(BaseModel):
    text: str
    tokens: int = Field(description="Tokens of `text` (cl100k), never above the budget.")
    token_budget: int
    digest: MemoryDigest


@dataclass(frozen=True)
class _Line:
    priority: int
    section: int
    order: int
    text: str


def render_summary(digest: MemoryDigest, token_budget: int) -> MemorySummary:
    header, *lines = _lines(digest)
    if count_tokens(header.text) >= token_budget:  # the header always leads, cut if it must be
        text = truncate_to_tokens(header.text, token_budget)
        return MemorySummary(text=text, tokens=count_tokens(text), token_budget=token_budget, digest=digest)
    chosen: list[_Line] = [header]
    used = count_tokens(header.text)
    open_sections: set[int] = {HEADER}
    for line in sorted(lines, key=lambda line: (line.priority, line.section, line.order)):
        cost = count_tokens(line.text) + 1
        if line.section in HEADINGS and line.section not in open_sections:
            cost += count_tokens(HEADINGS[line.section]) + 1
        if used + cost > token_budget:
            continue
        chosen.append(line)
        open_sections.add(line.section)
        used += cost
    text = _join(chosen)
    while count_tokens(text) > token_budget and len(chosen) > 1:  # rare: joined text counts a little differently
        chosen.remove(max(chosen, key=lambda line: (line.priority, line.section, line.order)))
        text = _join(chosen)
    if count_tokens(text) > token_budget:
        text = truncate_to_tokens(text, token_budget)
    return MemorySummary(text=text, tokens=count_tokens(text), token_budget=token_budget, digest=digest)


def _join(chosen: list[_Line]) -> str:
    out: list[str] = []
    section = None
    for line in sorted(chosen, key=lambda line: (line.section, line.order)):
        if line.section != section and line.section in HEADINGS:
            out.append(HEADINGS[line.section])
        section = line.section
        out.append(line.text)
    return "\n".join(out)


def _lines(digest: MemoryDigest) -> list[_Line]:
    lines = [_Line(0, HEADER, 0, _header(digest)), _Line(1, SHIFT, 0, _shift(digest))]
    if digest.shift.to_node is not None:
        lines.append(_Line(6, SHIFT, 1, f"Why: {digest.shift.rationale}"))
    order = 0
    for rank, topic in enumerate(digest.long_term):
        lines.append(_Line(2 if rank < 3 else 6, LONG_TERM, order, "- " + _interest(topic)))
        order += 1
        for child in topic.descendants():  # every level of a path, indented by its depth
            lines.append(_Line(5 + 2 * child.depth if rank < 3 else 7 + 2 * child.depth, LONG_TERM, order,
                               "  " * child.depth + "- " + _interest(child)))
            order += 1
    if digest.rising:
        lines.append(_Line(3, RISING, 0, "Rising: " + "; ".join(_trending(node) for node in digest.rising)))
    if digest.fading:
        lines.append(_Line(3, FADING, 0, "Fading: " + "; ".join(_trending(node) for node in digest.fading)))
    for rank, interest in enumerate(digest.short_term):
        text = f"- [{interest.id}] {interest.label}: {interest.share:.0%}"
        lines.append(_Line(4 if rank < 3 else 8, SHORT_TERM, rank, text))
    for rank, session in enumerate(digest.sessions):
        lines.append(_Line(5 if rank == 0 else 9 + rank, SESSIONS, rank, _session(session)))
    return lines


def _header(digest: MemoryDigest) -> str:
    return (
        f"Interest memory of user {digest.user}: {digest.events} events "
        f"from {digest.first_seen:%Y-%m-%d} to {digest.last_seen:%Y-%m-%d}, as of {digest.as_of:%Y-%m-%d %H:%M} UTC."
    )


def _shift(digest: MemoryDigest) -> str:
    shift = digest.shift
    if shift.to_node is None:
        return f"Predicted next shift (trend baseline): none. {shift.rationale}"
    source = f"from [{shift.from_node}] {shift.from_label} " if shift.from_node else ""
    detail = f" (subtopic [{shift.to_subtopic}])" if shift.to_subtopic else ""
    return (
        f"Predicted next shift (trend baseline): {source}to [{shift.to_node}] {shift.to_label}{detail}, "
        f"confidence {shift.confidence:.2f}."
    )


def _interest(node: InterestNode) -> str:
    return (
        f"[{node.id}] {node.label}: strength {node.strength:.2f}, {node.share:.0%}, trend {_signed(node.trend)}, "
        f"{node.events} events since {node.first_seen:%Y-%m-%d}"
    )


def _trending(node: TrendingNode) -> str:
    return f"[{node.id}] {node.label} {_signed(node.trend)}"


def _signed(value: float) -> str:
    """+0.43 / -0.12 / 0.00 (never '-0.00')."""
    rounded = round(value, 2)
    return f"{rounded:+.2f}" if rounded else "0.00"


def _session(session: SessionDigest) -> str:
    items = "; ".join(_item(item) for item in session.items)
    end = f"{session.end:%H:%M}" if session.end.date() == session.start.date() else f"{session.end:%Y-%m-%d %H:%M}"
    count = f"{session.events} event{'' if session.events == 1 else 's'}"
    return f"- [{session.id}] {session.start:%Y-%m-%d %H:%M} to {end}, {count}: {items}"


def _item(item: RecentItem) -> str:
    what = f"rated {item.value:g}" if item.action == "rate" and item.value is not None else item.action
    return f"[{item.event_id}] {item.title} ({what})"

"""Held-out cases from the current log: each sampled user cut before their newest events, read
back into a fresh interest memory that holds nothing after the cut (so no role, LLM or stand-in,
reads what it is judged on)."""

from __future__ import annotations

import random
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from memory.models import Event
from memory.service import InterestMemory
from memory.state_rows import window_event_from_metadata

MIN_BEFORE = 5  # events a user needs before the cut to be a case
NEXT_EVENTS = 10  # the next window each case is judged on (at most a third of the user's events)


@dataclass(frozen=True)
class HeldOutUser:
    user: str
    before: list[Event]
    after: list[Event]


def held_out_users(memory: InterestMemory, count: int, seed: int) -> list[HeldOutUser]:
    """``count`` users (seeded sample of those with enough events), each cut before their newest events."""
    per_user = Counter(user for user, *_ in memory.event_log())
    eligible = sorted(user for user, n in per_user.items() if n >= MIN_BEFORE + 3)
    chosen = random.Random(seed).sample(eligible, min(count, len(eligible)))
    return [_cut(user, _events(memory, user)) for user in chosen]


def _events(memory: InterestMemory, user: str) -> list[Event]:
    rows = [window_event_from_metadata(row.metadata) for row in memory.store.user_events(user)]
    rows.sort(key=lambda e: (e.ts, e.event_id))
    return [Event(id=e.event_id, user=user, item=e.item, action=e.action, value=e.value, timestamp=e.ts)
            for e in rows]


def _cut(user: str, events: list[Event]) -> HeldOutUser:
    held = max(1, min(NEXT_EVENTS, len(events) // 3))
    return HeldOutUser(user, events[:-held], events[-held:])


@contextmanager
def memory_at_cut(memory: InterestMemory, users: list[HeldOutUser], extra_items: set[str] = frozenset()
                  ) -> Iterator[InterestMemory]:
    """A temporary embedded memory with the catalog items the cases need and only the events before each cut."""
    needed = {e.item for case in users for e in [*case.before, *case.after]} | set(extra_items)
    with tempfile.TemporaryDirectory(prefix="shiftrec-calibrate-") as folder:
        config = memory.settings.model_copy(update={"chroma_path": Path(folder), "chroma_url": None})
        fresh = InterestMemory.open(config, memory.embedder)
        try:
            fresh.add_items(list(memory.get_items(sorted(needed)).values()))
            fresh.ingest([e for case in users for e in case.before], progress=False)
            yield fresh
        finally:
            fresh.close()


def node_shares(memory: InterestMemory, events: list[Event]) -> dict[str, float]:
    """Node id -> share of ``events`` whose item sits under it (any level of the tree)."""
    entries = memory.catalog.entries({e.item for e in events})
    counts: dict[str, float] = defaultdict(float)
    for event in events:
        entry = entries.get(event.item)
        for node in {node for chain in (entry.pairs if entry else ()) for node in chain}:
            counts[node] += 1.0
    return {node: n / max(len(events), 1) for node, n in counts.items()}


def top_topics(memory: InterestMemory, events: list[Event], k: int = 3) -> list[str]:
    """Labels of the ``k`` top-level topics most of ``events`` sit under."""
    topics = memory.catalog.topics()
    shares = {node: share for node, share in node_shares(memory, events).items()
              if node in topics and topics[node].parent is None}
    ranked = sorted(shares, key=lambda node: (-shares[node], node))[:k]
    return [memory.catalog.label(node) for node in ranked]

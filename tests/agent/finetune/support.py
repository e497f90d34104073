"""A small catalog with a two-level tree and users whose interests move, for the shift-adapter tests.

Every event's item has its own title ("Title u3 e17"), so a summary that names an item after the
cut is caught by its title."""

from __future__ import annotations

from agent.finetune.replay import context_from_items
from agent.finetune.shift_task import ShiftTask
from agent.forecast.cases import Cut, event_cuts, user_logs
from agent.forecast.horizon import DAY_S, Horizon
from agent.forecast.population import LevelIndex
from memory.domain import GENERIC_WORDS
from memory.history_view import item_nodes
from memory.models import Item
from memory.settings import MemorySettings
from memory.taxonomy import full_paths, path_chain

START = 1_700_000_000.0
TOPICS = ("Books", "Music", "Games")
EVENTS = 40
HORIZON = Horizon(unit="events", size=5)


def catalog_and_rows(users: int = 6) -> tuple[dict[str, Item], list[tuple[str, str, float]]]:
    """User u moves from topic u % 3 to topic (u + 1) % 3 halfway through; one item per event."""
    items, rows = {}, []
    for u in range(users):
        for e in range(EVENTS):
            topic = TOPICS[(u + (e >= EVENTS // 2)) % len(TOPICS)]
            item_id = f"u{u}e{e}"
            items[item_id] = Item(id=item_id, title=f"Title u{u} e{e}", categories=[f"{topic} > Shelf{e % 2}"])
            rows.append((f"u{u}", item_id, START + (u * 0.01 + e) * DAY_S))
    return items, rows


def shift_task(users: int = 6) -> tuple[ShiftTask, list[Cut]]:
    items, rows = catalog_and_rows(users)
    nodes_of = {i: item_nodes(path_chain(p) for p in full_paths(item)) for i, item in items.items()}
    logs = user_logs(rows, nodes_of)
    every = sorted({node for nodes in nodes_of.values() for node in nodes})
    context = context_from_items(items, MemorySettings(), 1500)  # room for the sessions: items are named
    cuts = [cut for back in (1, 2, 3) for cut in event_cuts(logs, back, HORIZON, 10)]
    from agent.finetune.shift_task import split_cuts

    train, held = split_cuts(cuts, HORIZON)
    return ShiftTask(logs, LevelIndex.of(every, 0), context, HORIZON, GENERIC_WORDS, train, held), cuts

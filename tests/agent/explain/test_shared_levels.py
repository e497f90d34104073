"""A reason names the deepest level a recommended item shares with the cited one, and says "bought"
for purchases: "Because you bought Eggs - X-Large: both are Eggs", not "both are Grocery"."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest

from agent.explain.explainer import Explainer, OutputAudit, linked_reason, template_explanation
from agent.explain.records import EvidenceRef
from memory.models import Item
from memory.service import InterestMemory
from tests.memory_support import BagOfWordsEmbedder, memory_settings, movie_catalog


def _ref(item: str, title: str, action: str) -> EvidenceRef:
    return EvidenceRef(event_id=f"e-{item}", item_id=item, title=title, action=action, value=None,
                       timestamp=datetime(2026, 1, 1, tzinfo=timezone.utc))


@pytest.fixture
def explainer(tmp_path):
    memory = InterestMemory.open(memory_settings(tmp_path), BagOfWordsEmbedder())
    memory.add_items([
        Item(id="eggs-l", title="Eggs Large", categories=["Grocery > Eggs > Large Eggs"]),
        Item(id="eggs-xl", title="Eggs X-Large", categories=["Grocery > Eggs > Large Eggs"]),
        Item(id="milk", title="Milk", categories=["Grocery > Fluid Milk > White Milk"]),
        *movie_catalog(),
    ])
    with ThreadPoolExecutor(1) as workers:
        yield Explainer(memory, None, 2, OutputAudit(), workers)
    memory.close()


def test_the_deepest_shared_path_level_is_named(explainer: Explainer):
    entries = explainer._memory.catalog.entries(["eggs-l", "com1", "cross"])
    assert explainer.shared_topics(entries["eggs-l"], _ref("eggs-xl", "Eggs X-Large", "purchase")) == ["Large Eggs"]
    assert explainer.shared_topics(entries["eggs-l"], _ref("milk", "Milk", "purchase")) == ["Grocery"]
    # flat genres share the genre, never a k-means cluster's name
    assert explainer.shared_topics(entries["cross"], _ref("com1", "Comedy 1", "like")) == ["Comedy"]


def test_purchases_read_bought_and_everything_else_liked():
    bought, liked = _ref("eggs-xl", "Eggs X-Large", "purchase"), _ref("com1", "Comedy 1", "rate")
    assert linked_reason([bought], "both are Eggs") == "Because you bought Eggs X-Large: both are Eggs."
    assert linked_reason([bought, liked], "both are fun").startswith("Because you liked Eggs X-Large and Comedy 1")
    assert template_explanation([bought], [], None).reason == "Because you bought Eggs X-Large."

"""Category trees of any depth: every level of a path is an interest node with strength, trend and
trajectory, survives a reopen, and the digest and the summary can name it."""

from __future__ import annotations

import pytest

from memory.models import Item
from memory.service import InterestMemory
from tests.memory_support import BagOfWordsEmbedder, event, memory_settings

SHELF = {
    "Grocery > Frozen Meals > Premium Entrees": ["frozen lasagna entree", "frozen salmon entree", "frozen curry entree"],
    "Grocery > Frozen Meals > Pizza": ["frozen pepperoni pizza", "frozen veggie pizza", "frozen cheese pizza"],
    "Grocery > Baking > Flour": ["bread flour sack", "cake flour box", "rye flour bag"],
}


def _catalog() -> list[Item]:
    return [Item(id=f"{path.split(' > ')[-1][:4].lower()}{n}", title=title, categories=[path])
            for path, titles in SHELF.items() for n, title in enumerate(titles)]


@pytest.fixture
def memory(tmp_path):
    opened = InterestMemory.open(memory_settings(tmp_path), BagOfWordsEmbedder())
    opened.add_items(_catalog())
    # months of baking, then a recent run of premium entrees
    history = [event("hh", f"flou{n % 3}", day, "purchase") for n, day in enumerate(range(0, 60, 3))]
    history += [event("hh", f"pizz{n % 3}", 61 + n, "purchase") for n in range(3)]
    history += [event("hh", f"prem{n % 3}", 64 + n * 0.5, "purchase") for n in range(8)]
    opened.ingest(history, progress=False)
    yield opened
    opened.close()


def _walk(nodes):
    for node in nodes:
        yield node
        yield from _walk(node.children)


def test_the_third_level_is_a_node_with_its_own_numbers(memory: InterestMemory):
    digest = memory.digest("hh")
    nodes = {node.id: node for node in _walk(digest.long_term)}
    entrees = nodes["t:grocery/frozen-meals/premium-entrees"]
    assert (entrees.label, entrees.depth, entrees.parent) == ("Premium Entrees", 2, "t:grocery/frozen-meals")
    assert entrees.events == 8 and entrees.strength > 0 and entrees.trajectory
    frozen = nodes["t:grocery/frozen-meals"]
    assert entrees in frozen.children and frozen.depth == 1 and frozen.events == 11
    third = [node for node in nodes.values() if node.depth == 2]
    assert sum(node.share for node in third) == pytest.approx(1.0), "shares are per level"
    assert entrees.trend > 0 and nodes["t:grocery/baking/flour"].trend < 0
    assert "t:grocery/frozen-meals/premium-entrees" in {node.id for node in digest.rising}


def test_deep_nodes_survive_a_reopen_and_reach_the_summary(memory: InterestMemory, tmp_path):
    before = {node.id: node.strength for node in _walk(memory.digest("hh").long_term)}
    memory.close()
    reopened = InterestMemory.open(memory_settings(tmp_path), BagOfWordsEmbedder())
    try:
        after = {node.id: node.strength for node in _walk(reopened.digest("hh").long_term)}
        assert after == pytest.approx(before) and "t:grocery/baking/flour" in after
        text = reopened.summary("hh").text
        assert "Premium Entrees" in text and "[t:grocery/frozen-meals/premium-entrees]" in text
    finally:
        reopened.close()


def test_path_chain_names_a_path_the_way_the_catalog_places_its_items(memory: InterestMemory):
    from memory.taxonomy import full_paths, path_chain

    items = memory.get_items(sorted(memory.seen_items("hh")))
    entries = memory.catalog.entries(items)
    assert entries and all(entries[i].pairs == tuple(path_chain(p) for p in full_paths(item))
                           for i, item in items.items())

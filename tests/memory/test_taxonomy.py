"""The catalog's topic tree: paths, k-means subtopics, deterministic ids and names."""

from __future__ import annotations

import random

from memory.models import Item
from memory.taxonomy import TaxonomyBuilder, slug
from tests.memory_support import BagOfWordsEmbedder


def build(items: list[Item], existing=None, per_topic: int = 4, min_items: int = 3):
    vectors = dict(zip((item.id for item in items), BagOfWordsEmbedder().embed([item.title for item in items])))
    builder = TaxonomyBuilder(existing or {}, per_topic, min_items, seed=0)
    pairs, created = builder.assign(items, vectors)
    return builder, pairs, created


def comedies() -> list[Item]:
    themes = ["wedding bride", "office boss", "zombie undead"]
    return [Item(id=f"c{i:02d}", title=f"Comedy {themes[i % 3]} {i}", categories=["Comedy"]) for i in range(18)]


def test_slugs_are_enum_safe_and_stable():
    assert slug("Sci-Fi") == "sci-fi"
    assert slug("Children's") == "childrens"
    assert slug("  Film Noir ") == "film-noir"
    assert slug("文学") == slug("文学") and slug("文学").startswith("x")


def test_every_level_of_a_category_path_is_a_node():
    items = [
        Item(id="a", title="Dragons", categories=["Books > Fantasy > Epic"]),
        Item(id="b", title="Rome", categories=["Books > History"]),
        Item(id="c", title="Atlas", categories=["Books"]),
        Item(id="d", title="Blank"),
        Item(id="e", title="Elves", categories=["Books > Fantasy > Epic > Elvish", "Books > Fantasy > Urban"]),
    ]
    builder, pairs, created = build(items)
    assert pairs["a"] == (("t:books", "t:books/fantasy", "t:books/fantasy/epic"),)
    assert pairs["e"] == (("t:books", "t:books/fantasy", "t:books/fantasy/epic", "t:books/fantasy/epic/elvish"),
                          ("t:books", "t:books/fantasy", "t:books/fantasy/urban"))
    epic = builder.nodes["t:books/fantasy/epic"]
    assert (epic.label, epic.parent, epic.depth, epic.items) == ("Epic", "t:books/fantasy", 2, 2)
    assert set(epic.examples) == {"Dragons", "Elves"} and epic.vector.shape == (64,)
    assert builder.nodes["t:books/fantasy/epic/elvish"].parent == "t:books/fantasy/epic"
    assert {node.id for node in created} >= {"t:books/fantasy/epic", "t:books/fantasy/urban"}
    later, more, new = build([Item(id="f", title="Wyrm", categories=["Books > Fantasy > Epic"])], builder.nodes)
    assert more["f"] == (("t:books", "t:books/fantasy", "t:books/fantasy/epic"),) and new == [], "known nodes reused"
    assert pairs["b"] == (("t:books", "t:books/history"),)
    assert pairs["c"] == (("t:books", "t:books/general"),)
    assert pairs["d"] == (("t:uncategorized", "t:uncategorized/s1"),)
    assert builder.nodes["t:books/fantasy"].label == "Fantasy" and builder.nodes["t:books"].mode == "path"


def test_flat_topics_get_kmeans_subtopics_named_by_distinctive_terms():
    builder, pairs, created = build(comedies(), per_topic=3)
    subtopics = [node for node in created if node.parent == "t:comedy"]
    assert [node.id for node in subtopics] == ["t:comedy/s1", "t:comedy/s2", "t:comedy/s3"]
    groups: dict[str, set[str]] = {}
    for item in comedies():
        groups.setdefault(pairs[item.id][0][1], set()).add(item.title.split()[1])
    assert sorted(len(themes) for themes in groups.values()) == [1, 1, 1], "each cluster holds one theme"
    labels = {node.label for node in subtopics}
    assert labels == {"Comedy: bride, wedding", "Comedy: boss, office", "Comedy: undead, zombie"}
    assert all(len(node.examples) == 3 for node in subtopics)


def test_subtopics_do_not_depend_on_input_order():
    _, pairs, created = build(comedies(), per_topic=3)
    shuffled = comedies()
    random.Random(3).shuffle(shuffled)
    _, pairs_again, created_again = build(shuffled, per_topic=3)
    assert pairs == pairs_again
    assert [(node.id, node.label, node.examples) for node in created] == [
        (node.id, node.label, node.examples) for node in created_again
    ]


def test_small_topics_get_fewer_clusters():
    words = ["dust", "sheriff", "saloon", "canyon", "horse", "train", "gold"]
    items = [Item(id=f"w{i}", title=f"Western {word}", categories=["Western"]) for i, word in enumerate(words)]
    builder, _, _ = build(items, per_topic=4, min_items=3)
    assert [node.id for node in builder.children("t:western")] == ["t:western/s1", "t:western/s2"]


def test_later_items_join_existing_nodes_or_create_a_new_branch():
    builder, _, _ = build(comedies() + [Item(id="b1", title="Dragons", categories=["Books > Fantasy"])], per_topic=3)
    later = [
        Item(id="new-c", title="Comedy office boss party", categories=["Comedy"]),
        Item(id="new-b", title="Poems", categories=["Books > Poetry"]),
    ]
    vectors = dict(zip(["new-c", "new-b"], BagOfWordsEmbedder().embed([item.title for item in later])))
    pairs, created = builder.assign(later, vectors)
    office = next(node.id for node in builder.children("t:comedy") if "office" in node.label)
    assert pairs["new-c"] == (("t:comedy", office),)
    assert pairs["new-b"] == (("t:books", "t:books/poetry"),)
    assert [node.id for node in created] == ["t:books/poetry"]

"""The catalog's topic -> subtopic tree, fixed when items are added so each event costs O(1).

Topics are the first level of an item's category paths; every further level is a node
below it ("Books > Fantasy > Epic" gives topic Books, its child Books > Fantasy and that
node's child Books > Fantasy > Epic). Where a topic is flat (MovieLens genres), its
subtopics are k-means clusters of the item vectors inside it, with a fixed seed, numbered
by size, and named after their most distinctive terms and most central titles. Node ids
are short slugs safe for JSON-schema enums: ``t:sci-fi``, ``t:sci-fi/s2``, ``t:books/fantasy/epic``;
an item's place is a chain of ids from its topic down (one chain per category path).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Literal

import numpy as np

from memory.embeddings import unit
from memory.models import Item

UNCATEGORIZED = "Uncategorized"
GENERAL = "general"
_WORD = re.compile(r"[a-z]{3,}")
# common title words that name nothing (sklearn's full list costs seconds to import)
_STOP_WORDS = frozenset(
    "the and for with from into over under about after before again all are but not you your our his her "
    "its their this that these those who what when where why how one two three part vol volume edition "
    "les der die das des una los las del iii came come comes get gets got goes went".split()
)
_EXAMPLES = 3
_TERMS = 2

Mode = Literal["path", "cluster"]
Chain = tuple[str, ...]  # node ids from the topic down: (topic, subtopic, deeper levels...)


@dataclass(frozen=True)
class TopicNode:
    """One node of the catalog tree; ``vector`` is the unit centroid of its items."""

    id: str
    label: str
    parent: str | None
    vector: np.ndarray
    mode: Mode = "cluster"
    examples: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    items: int = 0

    @property
    def level(self) -> Literal["topic", "subtopic"]:
        return "topic" if self.parent is None else "subtopic"

    @property
    def depth(self) -> int:
        """0 for a topic, 1 for its children, 2 below them..."""
        return node_depth(self.id)


def node_depth(node_id: str) -> int:
    return node_id.count("/")


def slug(text: str) -> str:
    """'Sci-Fi' -> 'sci-fi', "Children's" -> 'childrens'; non-latin text falls back to a hash."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower().replace("'", "")).strip("-")
    if cleaned:
        return cleaned
    return "x" + format(sum(ord(char) * 31**i for i, char in enumerate(text)) % 16**8, "08x")


def path_chain(path: tuple[str, ...]) -> Chain:
    """The node ids of one category path, topic first: ('Books', 'Fantasy') -> ('t:books', 't:books/fantasy')."""
    ids = [f"t:{slug(path[0])}"]
    for name in path[1:]:
        ids.append(TaxonomyBuilder._path_subtopic_id(ids[-1], name))
    return tuple(ids)


def category_paths(item: Item) -> list[tuple[str, str | None]]:
    """(topic name, second-level name or None) for each of the item's categories."""
    return [(path[0], path[1] if len(path) > 1 else None) for path in full_paths(item)]


def full_paths(item: Item) -> list[tuple[str, ...]]:
    """Every category path of the item, all levels; uncategorized items get one."""
    return [path for path in item.category_paths if path] or [(UNCATEGORIZED,)]


class TaxonomyBuilder:
    """Assigns items to (topic, subtopic) pairs, creating nodes for topics seen the first time."""

    def __init__(self, existing: dict[str, TopicNode], subtopics_per_topic: int, min_items: int, seed: int):
        self.nodes = dict(existing)
        self.subtopics_per_topic = subtopics_per_topic
        self.min_items = min_items
        self.seed = seed
        self._clustered: dict[tuple[str, str], str] = {}  # (topic, item) -> subtopic, from k-means

    def assign(
        self, items: list[Item], vectors: dict[str, np.ndarray]
    ) -> tuple[dict[str, tuple[Chain, ...]], list[TopicNode]]:
        """Chains for every item, and the nodes created on the way (to store)."""
        by_topic: dict[str, list[tuple[Item, str | None]]] = defaultdict(list)
        deeper: dict[tuple[str, str], list[tuple[str, ...]]] = defaultdict(list)  # (topic, item) -> levels 3+
        names: dict[str, set[str]] = defaultdict(set)
        for item in sorted(items, key=lambda item: item.id):
            for path in full_paths(item):
                topic_id = f"t:{slug(path[0])}"
                by_topic[topic_id].append((item, path[1] if len(path) > 1 else None))
                deeper[(topic_id, item.id)].append(path[2:])
                names[topic_id].add(path[0])
        chains: dict[str, list[Chain]] = defaultdict(list)
        created: list[TopicNode] = []
        for topic_id in sorted(by_topic):
            members = by_topic[topic_id]
            if topic_id not in self.nodes:
                created.extend(self._create_topic(topic_id, min(names[topic_id]), members, vectors))
            tails = {item.id: list(deeper[(topic_id, item.id)]) for item, _ in members}
            for item, sub_id in self._place(topic_id, members, vectors, created):
                below = self._deeper(sub_id, tails[item.id].pop(0), created)
                chains[item.id].append((topic_id, sub_id, *below))
        created = self._with_centroids(created, chains, items, vectors)
        return {item_id: tuple(dict.fromkeys(found)) for item_id, found in chains.items()}, created

    def _deeper(self, parent: str, levels: tuple[str, ...], created: list[TopicNode]) -> list[str]:
        """Node ids of a path's third and further levels under ``parent``, creating the new ones."""
        ids = []
        for name in levels:
            node_id = f"{parent}/{slug(name)}"
            if node_id not in self.nodes:
                node = TopicNode(node_id, name, parent, np.zeros(0, dtype=np.float32), "path")
                self.nodes[node_id] = node
                created.append(node)
            ids.append(node_id)
            parent = node_id
        return ids

    def _with_centroids(self, created: list[TopicNode], chains: dict[str, list[Chain]], items: list[Item],
                        vectors: dict[str, np.ndarray]) -> list[TopicNode]:
        """Deep nodes made this call get their items' centroid, count and central titles."""
        deep = {node.id for node in created if node.depth >= 2}
        members: dict[str, list[Item]] = defaultdict(list)
        for item in sorted(items, key=lambda item: item.id):
            for node_id in dict.fromkeys(node for chain in chains.get(item.id, ()) for node in chain[2:]):
                if node_id in deep:
                    members[node_id].append(item)
        result = []
        for node in created:
            if node.id in deep:
                group = members[node.id]
                matrix = np.stack([vectors[item.id] for item in group])
                node = TopicNode(node.id, node.label, node.parent, unit(matrix.mean(axis=0)), "path",
                                 _central_titles(group, matrix), (), len(group))
                self.nodes[node.id] = node
            result.append(node)
        return result

    def children(self, topic_id: str) -> list[TopicNode]:
        return sorted((node for node in self.nodes.values() if node.parent == topic_id), key=lambda node: node.id)

    def _create_topic(
        self, topic_id: str, label: str, members: list[tuple[Item, str | None]], vectors: dict[str, np.ndarray]
    ) -> list[TopicNode]:
        unique = list({item.id: item for item, _ in members}.values())
        matrix = np.stack([vectors[item.id] for item in unique])
        mode: Mode = "path" if any(second for _, second in members) else "cluster"
        topic = TopicNode(
            topic_id, label, None, unit(matrix.mean(axis=0)), mode, _central_titles(unique, matrix), (), len(unique)
        )
        self.nodes[topic_id] = topic
        if mode == "path":
            groups = self._path_groups(topic_id, members)
        else:
            groups = self._cluster_groups(topic_id, unique, matrix)
        created = [topic]
        own = _own_words(label)
        in_topic = Counter(term for item in unique for term in _terms(item, own))  # once per topic, not per group
        for sub_id, (sub_label, group) in groups.items():
            group_matrix = np.stack([vectors[item.id] for item in group])
            centroid = unit(group_matrix.mean(axis=0))
            terms = _distinctive_terms(group, in_topic, len(unique), own)
            if mode == "cluster":
                sub_label = (
                    f"{label}: {', '.join(terms)}" if terms else f"{label}: {_central_titles(group, group_matrix)[0]}"
                )
            node = TopicNode(
                sub_id, sub_label, topic_id, centroid, mode, _central_titles(group, group_matrix), terms, len(group)
            )
            self.nodes[sub_id] = node
            created.append(node)
            if mode == "cluster":
                self._clustered.update(((topic_id, item.id), sub_id) for item in group)
        return created

    def _path_groups(self, topic_id: str, members: list[tuple[Item, str | None]]) -> dict[str, tuple[str, list[Item]]]:
        groups: dict[str, tuple[str, list[Item]]] = {}
        for item, second in members:
            name = second or GENERAL
            _, group = groups.setdefault(self._path_subtopic_id(topic_id, name), (name, []))
            if item not in group:
                group.append(item)
        return dict(sorted(groups.items()))

    def _cluster_groups(
        self, topic_id: str, items: list[Item], matrix: np.ndarray
    ) -> dict[str, tuple[str, list[Item]]]:
        distinct = len(np.unique(matrix.round(6), axis=0))
        clusters = max(1, min(self.subtopics_per_topic, len(items) // self.min_items, distinct))
        if clusters == 1:
            labels = np.zeros(len(items), dtype=int)
        else:
            from sklearn.cluster import (
                KMeans,  # imported here: only catalog ingest needs it (2 s to import)
            )

            labels = KMeans(n_clusters=clusters, n_init=2, random_state=self.seed).fit_predict(
                matrix.astype(np.float64)
            )
        members: dict[int, list[Item]] = defaultdict(list)
        for item, label in zip(items, labels):
            members[int(label)].append(item)
        ordered = sorted(members.values(), key=lambda group: (-len(group), group[0].id))
        return {f"{topic_id}/s{rank}": ("", group) for rank, group in enumerate(ordered, start=1)}

    def _place(
        self,
        topic_id: str,
        members: list[tuple[Item, str | None]],
        vectors: dict[str, np.ndarray],
        created: list[TopicNode],
    ) -> list[tuple[Item, str]]:
        topic = self.nodes[topic_id]
        children = self.children(topic_id)
        placed = []
        for item, second in members:
            if topic.mode == "path":
                sub_id = self._path_subtopic_id(topic_id, second or GENERAL)
                if sub_id not in self.nodes:  # a new branch under a known topic
                    node = TopicNode(
                        sub_id, second or GENERAL, topic_id, vectors[item.id], "path", (item.title,), (), 1
                    )
                    self.nodes[sub_id] = node
                    created.append(node)
                    children = self.children(topic_id)
            elif (topic_id, item.id) in self._clustered:
                sub_id = self._clustered[(topic_id, item.id)]
            else:  # a new item in a known flat topic joins the nearest existing cluster
                sims = np.stack([child.vector for child in children]) @ vectors[item.id]
                sub_id = children[int(np.argmax(sims))].id
            placed.append((item, sub_id))
        return placed

    @staticmethod
    def _path_subtopic_id(topic_id: str, name: str) -> str:
        return f"{topic_id}/{slug(name)}"


def _central_titles(items: list[Item], matrix: np.ndarray) -> tuple[str, ...]:
    """Titles of the items closest to the group's centroid (ties broken by item id)."""
    sims = matrix @ unit(matrix.mean(axis=0))
    order = sorted(range(len(items)), key=lambda index: (-round(float(sims[index]), 6), items[index].id))
    return tuple(items[index].title for index in order[:_EXAMPLES])


def _terms(item: Item, own_words: set[str]) -> set[str]:
    words = {word for word in _WORD.findall(item.title.lower()) if word not in _STOP_WORDS}
    categories = {name.lower() for name, _ in category_paths(item)}
    return (words | categories) - own_words


def _own_words(topic_label: str) -> set[str]:
    return set(_WORD.findall(topic_label.lower())) | {topic_label.lower()}


def _distinctive_terms(group: list[Item], in_topic: Counter, topic_size: int, own: set[str]) -> tuple[str, ...]:
    """Terms much more frequent in the group than in its whole topic (other genres, title words)."""
    in_group = Counter(term for item in group for term in _terms(item, own))
    scored = [
        (in_group[term] / len(group) - in_topic[term] / topic_size, term)
        for term in in_group
        if in_group[term] >= 2
    ]
    best = sorted((score, term) for score, term in scored if score > 0)
    best.sort(key=lambda pair: (-round(pair[0], 9), pair[1]))
    return tuple(term for _, term in best[:_TERMS])

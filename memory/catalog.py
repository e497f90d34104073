"""The item catalog in Chroma: vectors computed once, tree places fixed at ingest.

Each item row keeps its vector, so nothing is embedded twice; re-adding an unchanged item
costs one lookup. The node chains (topic, subtopic, deeper levels) of every item are decided here, when the
item arrives, so that an event later costs a dictionary lookup, not a clustering.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel
from tqdm import tqdm

from memory.embeddings import Embedder
from memory.models import Item
from memory.rows import Row
from memory.settings import MemorySettings
from memory.store import ChromaStore
from memory.taxonomy import Chain, TaxonomyBuilder, TopicNode

_EMBED_CHUNK = 256


@dataclass(frozen=True)
class CatalogEntry:
    """What an event needs from its item: title, vector and its node chains (topic first, then each
    deeper level of the path; one chain per category path). Stored under the name "pairs"."""

    id: str
    title: str
    vector: np.ndarray
    pairs: tuple[Chain, ...]


class CatalogReport(BaseModel):
    """What one add_items call did."""

    added: int
    updated: int
    unchanged: int
    topics_created: list[str]
    seconds: float


class ItemMatch(BaseModel):
    """A catalog item near a query vector; similarity is cosine, higher is more similar."""

    item_id: str
    title: str
    similarity: float


class Catalog:
    """Items, their vectors and their place in the topic tree."""

    def __init__(self, store: ChromaStore, embedder: Embedder, settings: MemorySettings, cache_size: int = 200_000):
        self._store = store
        self._embedder = embedder
        self._settings = settings
        self._cache: OrderedDict[str, CatalogEntry] = OrderedDict()
        self._cache_size = cache_size
        self._topics: dict[str, TopicNode] | None = None

    # ---------------------------------------------------------------- writing
    def add_items(self, items: Sequence[Item], progress: bool = False) -> CatalogReport:
        """Embed and place new or changed items; unchanged ones are skipped (idempotent)."""
        started = time.perf_counter()
        _refuse_duplicate_ids(items)
        stored = self._store.get_items([item.id for item in items], vectors=False)
        fresh = [item for item in items if stored.get(item.id, _NO_ROW).metadata.get("content") != _content_hash(item)]
        vectors = self._embed(fresh, progress)
        builder = TaxonomyBuilder(
            self.topics(),
            self._settings.subtopics_per_topic,
            self._settings.min_items_per_subtopic,
            self._settings.cluster_seed,
        )
        pairs, created = builder.assign(list(fresh), vectors)
        self._store.upsert_topics([_topic_row(node) for node in created])
        self._store.upsert_items([_item_row(item, vectors[item.id], pairs[item.id]) for item in fresh])
        self._topics = builder.nodes
        for item in fresh:
            self._cache.pop(item.id, None)
        updated = sum(1 for item in fresh if item.id in stored)
        return CatalogReport(
            added=len(fresh) - updated,
            updated=updated,
            unchanged=len(items) - len(fresh),
            topics_created=sorted(node.id for node in created),
            seconds=round(time.perf_counter() - started, 3),
        )

    def _embed(self, items: Sequence[Item], progress: bool) -> dict[str, np.ndarray]:
        vectors: dict[str, np.ndarray] = {}
        chunks = range(0, len(items), _EMBED_CHUNK)
        with self._embedder.bulk() if len(chunks) > 1 else contextlib.nullcontext():
            for start in tqdm(chunks, desc="embedding items", unit="chunk", disable=not progress or len(chunks) < 2):
                chunk = items[start : start + _EMBED_CHUNK]
                matrix = self._embedder.embed([item.embedding_text() for item in chunk])
                vectors.update(zip((item.id for item in chunk), matrix))
        return vectors

    # ---------------------------------------------------------------- reading
    def topics(self) -> dict[str, TopicNode]:
        """Every node of the catalog tree, by id (loaded once)."""
        if self._topics is None:
            self._topics = {row.id: _topic_from_row(row) for row in self._store.all_topics()}
        return self._topics

    def label(self, node_id: str) -> str:
        node = self.topics().get(node_id)
        return node.label if node else node_id

    def entries(self, ids: Iterable[str]) -> dict[str, CatalogEntry]:
        """Entries for the known ids among ``ids`` (unknown ones are simply absent)."""
        wanted = list(dict.fromkeys(ids))
        missing = [item_id for item_id in wanted if item_id not in self._cache]
        if missing:
            for row in self._store.get_items(missing, vectors=True).values():
                self._remember(_entry_from_row(row))
        found = {}
        for item_id in wanted:
            entry = self._cache.get(item_id)
            if entry is not None:
                self._cache.move_to_end(item_id)
                found[item_id] = entry
        return found

    def vector(self, item_id: str) -> np.ndarray | None:
        """The item's vector (None when unknown); a dictionary hit for cached items."""
        entry = self._cache.get(item_id)
        if entry is None:
            entry = self.entries([item_id]).get(item_id)
        return entry.vector if entry is not None else None

    def get_items(self, ids: Sequence[str]) -> dict[str, Item]:
        """Items by id, as stored; unknown ids are absent from the result."""
        return {row.id: _item_from_row(row) for row in self._store.get_items(ids, vectors=False).values()}

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return {item_id: entry.vector for item_id, entry in self.entries(ids).items()}

    def nearest(
        self, vector: np.ndarray, k: int, exclude: Iterable[str] = (), within: str | None = None
    ) -> list[ItemMatch]:
        """The k items most similar to ``vector``, skipping ``exclude``; ``within`` limits to one node."""
        return self.nearest_many([vector], k, exclude, within)[0]

    def nearest_many(
        self, vectors: Sequence[np.ndarray], k: int, exclude: Iterable[str] = (), within: str | None = None
    ) -> list[list[ItemMatch]]:
        """:meth:`nearest` for several vectors in one store query."""
        excluded = set(exclude)
        count = self._store.item_count()
        # over-fetch for the excluded, but only so far: asking a Chroma server for 30 + 636 neighbours per
        # vector (a heavy user's seen items) took 0.37 s of a 0.45 s recommendation; a few may come back short
        wanted = k + min(len(excluded), OVERFETCH * k)
        found = self._store.nearest_items_many(vectors, min(wanted, count), {within: True} if within else None)
        return [
            [
                ItemMatch(item_id=hit.id, title=str(hit.metadata.get("title", hit.id)), similarity=round(hit.similarity, 6))
                for hit in hits
                if hit.id not in excluded
            ][:k]
            for hits in found
        ]

    def _remember(self, entry: CatalogEntry) -> None:
        self._cache[entry.id] = entry
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


OVERFETCH = 3  # at most 3 k extra neighbours are fetched to make up for excluded ones

_NO_ROW = Row("", np.zeros(0, dtype=np.float32))


def _refuse_duplicate_ids(items: Sequence[Item]) -> None:
    seen: dict[str, int] = {}
    for position, item in enumerate(items):
        if item.id in seen:
            raise ValueError(
                f"item id {item.id!r} appears twice (positions {seen[item.id]} and {position}): ids must be unique"
            )
        seen[item.id] = position


def _content_hash(item: Item) -> str:
    content = json.dumps([item.title, item.text, item.categories, item.metadata], sort_keys=True)
    return hashlib.sha1(content.encode()).hexdigest()


def _item_row(item: Item, vector: np.ndarray, pairs: tuple[Chain, ...]) -> Row:
    flags = {node: True for pair in pairs for node in pair}  # lets Chroma filter items by node
    metadata = {
        "title": item.title,
        "categories": json.dumps(item.categories),
        "meta": json.dumps(item.metadata, sort_keys=True),
        "pairs": json.dumps([list(pair) for pair in pairs]),
        "content": _content_hash(item),
        **flags,
    }
    return Row(item.id, vector, metadata, item.text)


def _entry_from_row(row: Row) -> CatalogEntry:
    pairs = tuple(tuple(chain) for chain in json.loads(str(row.metadata["pairs"])))
    return CatalogEntry(row.id, str(row.metadata["title"]), row.vector, pairs)


def _item_from_row(row: Row) -> Item:
    return Item(
        id=row.id,
        title=str(row.metadata["title"]),
        text=row.document or "",
        categories=json.loads(str(row.metadata["categories"])),
        metadata=json.loads(str(row.metadata.get("meta", "{}"))),
    )


def _topic_row(node: TopicNode) -> Row:
    metadata = {
        "label": node.label,
        "parent": node.parent or "",
        "mode": node.mode,
        "examples": json.dumps(list(node.examples)),
        "terms": json.dumps(list(node.terms)),
        "items": node.items,
    }
    return Row(node.id, node.vector, metadata)


def _topic_from_row(row: Row) -> TopicNode:
    meta = row.metadata
    return TopicNode(
        id=row.id,
        label=str(meta["label"]),
        parent=str(meta["parent"]) or None,
        vector=row.vector,
        mode="path" if meta.get("mode") == "path" else "cluster",
        examples=tuple(json.loads(str(meta["examples"]))),
        terms=tuple(json.loads(str(meta["terms"]))),
        items=int(meta.get("items", 0)),
    )

"""Every Chroma call ShiftRec makes; only this module and its read retries (``memory/store_retries.py``)
import chromadb.

Scores: searches return ``similarity``, the cosine similarity of query and stored vector,
in [-1, 1]; **higher is more similar** (Chroma's cosine distance is ``1 - similarity``).

Collections (all vectors precomputed by our own embedder; Chroma never embeds):

- ``catalog_items``: one row per item; metadata holds title, categories and topic ids.
- ``catalog_topics``: one row per node of the catalog's topic tree; vector = centroid.
- ``memory_events``: one row per (user, event); vector = the item's vector.
- ``memory_state``: a user's derived rows (``kind`` = interest | session | profile).
- ``recommendation_records``: one row per recommendation served; document = the record's
  JSON, vector = the mean of its items' vectors, metadata = user and time.

Every per-user query, search and delete goes through :meth:`ChromaStore._user_filter`, so
none can run without the user filter. The only other per-user reads are gets by row ids,
which embed a hash of the user (``event:<user key>:<seq>``, ``profile:<user key>``); the
callers check the ``user`` in the metadata of what comes back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
import chromadb.errors
import numpy as np
from chromadb.config import Settings as ChromaSettings

from memory.edits import NOT_BEHAVIOUR
from memory.rows import Hit, Metadata, Row, chunks, result_rows
from memory.sqlite_wal import use_write_ahead_log
from memory.store_retries import RetryingReads

CATALOG_ITEMS = "catalog_items"
CATALOG_TOPICS = "catalog_topics"
EVENTS = "memory_events"
STATE = "memory_state"
RECORDS = "recommendation_records"
ALL_COLLECTIONS = (CATALOG_ITEMS, CATALOG_TOPICS, EVENTS, STATE, RECORDS)
PER_USER_COLLECTIONS = (EVENTS, STATE, RECORDS)
# Chroma persists its vector index every `sync_threshold` records; until then each new write re-reads
# the writes since the last persist. Its default (1,000) lets a single add creep from ~5 to ~20 ms;
# persisting costs time in proportion to the collection (~0.8 s at 1M rows here), paid by one write
# in `sync_threshold`. 300 keeps both small (measured, 100K rows: mean 8 ms, p99 15 ms per single add).
_FREQUENT_SYNC = {"sync_threshold": 300, "batch_size": 100}
# Derived per-user rows are always read by user, never searched across users: a sparse graph is enough.
_SPARSE_GRAPH = {"ef_construction": 32, "max_neighbors": 8}
_GRAPH_BY_COLLECTION: dict[str, dict[str, int]] = {
    EVENTS: _FREQUENT_SYNC,
    STATE: {**_SPARSE_GRAPH, **_FREQUENT_SYNC},
    RECORDS: {**_SPARSE_GRAPH, **_FREQUENT_SYNC},
    CATALOG_TOPICS: _SPARSE_GRAPH,
}
_MAX_IDS_PER_GET = 5000
_BEHAVIOUR = {"action": {"$nin": list(NOT_BEHAVIOUR)}}  # the log's behaviour events: no edits, no blanks


class StoreMismatchError(RuntimeError):
    """The store on disk was built with another embedder than the one configured."""


class ChromaStore:
    """Typed access to the five collections, embedded or over HTTP."""

    def __init__(self, client: Any, dimension: int, embedder_name: str, shared: bool = False):
        self._client = client
        self.shared = shared  # a server several processes may write to (checkpoints take a lock)
        self.dimension = dimension
        self.embedder_name = embedder_name
        self._max_batch = int(client.get_max_batch_size())
        self._collections = {name: self._open_collection(name) for name in ALL_COLLECTIONS}

    @classmethod
    def embedded(cls, path: Path, dimension: int, embedder_name: str) -> ChromaStore:
        """A PersistentClient on ``path``, its SQLite switched to write-ahead logging first."""
        use_write_ahead_log(path)
        client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
        return cls(client, dimension, embedder_name)

    @classmethod
    def server(cls, url: str, dimension: int, embedder_name: str) -> ChromaStore:
        """An HttpClient on a running ``chroma run`` server, e.g. ``http://127.0.0.1:8001``."""
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"chroma_url {url!r} is not an http(s) URL like http://127.0.0.1:8001")
        port = parsed.port or (443 if parsed.scheme == "https" else 8000)
        try:
            client = chromadb.HttpClient(
                host=parsed.hostname,
                port=port,
                ssl=parsed.scheme == "https",
                settings=ChromaSettings(anonymized_telemetry=False),
            )
            client.heartbeat()
        except Exception as error:  # chromadb raises several transport types; all mean the same here
            raise ConnectionError(
                f"cannot reach the Chroma server at {url}: {error}. Start it with "
                f"`chroma run --host {parsed.hostname} --port {port} --path DIR` or unset SHIFTREC_CHROMA_URL."
            ) from error
        return cls(client, dimension, embedder_name, shared=True)

    def ping(self) -> bool:
        """Whether Chroma answers right now (health checks; never raises)."""
        try:
            self._client.heartbeat()
        except Exception:  # any transport or server error means "not ready"
            return False
        return True

    # ---------------------------------------------------------------- catalog
    def upsert_items(self, rows: Sequence[Row]) -> None:
        self._write(CATALOG_ITEMS, rows, upsert=True)

    def get_items(self, ids: Sequence[str], vectors: bool = True) -> dict[str, Row]:
        return self._get(CATALOG_ITEMS, ids, vectors=vectors, documents=True)

    def all_item_titles(self, page_size: int = 5000) -> list[tuple[str, str]]:
        """(id, title) of every catalog item (finding the movie a chat message names)."""
        collection, titles, offset = self._collections[CATALOG_ITEMS], [], 0
        while True:
            page = collection.get(include=["metadatas"], limit=page_size, offset=offset)
            if not page["ids"]:
                return titles
            titles += [(row_id, str((meta or {}).get("title", row_id))) for row_id, meta in zip(page["ids"], page["metadatas"])]
            offset += len(page["ids"])

    def item_count(self) -> int:
        return self._collections[CATALOG_ITEMS].count()

    def event_count(self) -> int:
        """Behaviour events stored, all users (edits and forgotten events' blanks left out)."""
        collection = self._collections[EVENTS]
        others = collection.get(where={"action": {"$in": list(NOT_BEHAVIOUR)}}, include=[])["ids"]
        return collection.count() - len(others)

    def nearest_items_many(self, vectors: Sequence[np.ndarray], n: int, where: Metadata | None = None) -> list[list[Hit]]:
        return self._query_many(CATALOG_ITEMS, vectors, n, where)

    def upsert_topics(self, rows: Sequence[Row]) -> None:
        self._write(CATALOG_TOPICS, rows, upsert=True)

    def all_topics(self) -> list[Row]:
        result = self._collections[CATALOG_TOPICS].get(include=["embeddings", "metadatas"])
        return list(result_rows(result, vectors=True))

    # ---------------------------------------------------------------- events
    def get_events(self, ids: Sequence[str], vectors: bool = False) -> dict[str, Row]:
        """Event rows by id (ids name a user and a sequence number: see memory.state_rows)."""
        return self._get(EVENTS, ids, vectors=vectors, documents=False)

    def add_events(self, rows: Sequence[Row]) -> None:
        self._write(EVENTS, rows, upsert=False)

    def blank_events(self, rows: Sequence[Row]) -> None:
        """Overwrite log rows in place (a forgotten event's blank keeps only its user and position)."""
        self._write(EVENTS, rows, upsert=True)

    def delete_events(self, ids: Sequence[str]) -> None:
        for chunk in chunks(list(ids), self._max_batch):
            self._collections[EVENTS].delete(ids=chunk)

    def events_logged_since(self, at: float, limit: int = 20_000) -> list[Metadata]:
        """Behaviour events logged (wall clock) after ``at``, oldest first: how a process follows what others
        write (every event row carries ``at``)."""
        where = {"$and": [{"at": {"$gt": at}}, _BEHAVIOUR]}
        found = self._collections[EVENTS].get(where=where, include=["metadatas"], limit=limit)["metadatas"] or []
        return sorted((dict(metadata or {}) for metadata in found), key=lambda metadata: float(metadata["at"]))

    def user_events(self, user: str, vectors: bool = False) -> list[Row]:
        """The user's behaviour events (their edits left out: see :meth:`user_log`)."""
        include = ["metadatas", "embeddings"] if vectors else ["metadatas"]
        where = {"$and": [self._user_filter(user), _BEHAVIOUR]}
        result = self._collections[EVENTS].get(where=where, include=include)
        return list(result_rows(result, vectors=vectors))

    def user_log(self, user: str, vectors: bool = False) -> list[Row]:
        """Every entry of the user's log: behaviour events and memory edits."""
        include = ["metadatas", "embeddings"] if vectors else ["metadatas"]
        result = self._collections[EVENTS].get(where=self._user_filter(user), include=include)
        return list(result_rows(result, vectors=vectors))

    def user_item_events(self, user: str, items: Sequence[str]) -> list[Row]:
        """The user's events on these items (what forgetting an item deletes)."""
        if not items:
            return []
        where = {"$and": [self._user_filter(user), {"item": {"$in": sorted(set(items))}}]}
        return list(result_rows(self._collections[EVENTS].get(where=where, include=["metadatas"]), vectors=False))

    def users_events(self, users: Sequence[str]) -> list[Row]:
        """Every log row (events and edits) of these users, metadata only (loading a user's memory)."""
        rows: list[Row] = []
        for chunk in chunks(sorted(set(users)), 100):
            result = self._collections[EVENTS].get(where=self._user_filter(*chunk), include=["metadatas"])
            rows.extend(result_rows(result, vectors=False))
        return rows

    def all_event_metadata(self, page_size: int = 5000) -> Iterator[list[Metadata]]:
        """Every behaviour event's metadata, a page at a time (fitting the behaviour models at start-up)."""
        collection = self._collections[EVENTS]
        offset = 0
        while True:
            page = collection.get(where=_BEHAVIOUR, include=["metadatas"], limit=page_size,
                                  offset=offset)["metadatas"] or []
            if not page:
                return
            yield [dict(metadata or {}) for metadata in page]
            offset += len(page)

    # ---------------------------------------------------------------- recommendation records
    def add_record(self, row: Row) -> None:
        """Store (or replace, when the explanations arrive) one recommendation record."""
        self._write(RECORDS, [row], upsert=True)

    def delete_records(self, ids: Sequence[str]) -> None:
        for chunk in chunks(list(ids), self._max_batch):
            self._collections[RECORDS].delete(ids=chunk)

    def user_record(self, user: str, record_id: str) -> Row | None:
        """The record, only if it belongs to ``user`` (a record id alone never reveals another's)."""
        row = self._get(RECORDS, [record_id], vectors=False, documents=True).get(record_id)
        return row if row is not None and row.metadata.get("user") == user else None

    def user_records(self, user: str, limit: int | None = 20) -> list[Row]:
        """The user's latest records, newest first (``limit`` None: all of them)."""
        result = self._collections[RECORDS].get(where=self._user_filter(user), include=["metadatas", "documents"])
        rows = sorted(result_rows(result, vectors=False), key=lambda row: -float(row.metadata.get("created", 0)))
        return rows[:limit]

    # ---------------------------------------------------------------- a user's documents (sessions, caches)
    def put_document(self, user: str, row_id: str, kind: str, document: str) -> None:
        """Store (or replace) one of the user's documents of ``kind`` (chat sessions, cached profiles)."""
        vector = np.full(self.dimension, self.dimension**-0.5, dtype=np.float32)
        self._write(RECORDS, [Row(row_id, vector, {"user": user, "kind": kind}, document)], upsert=True)

    def user_document(self, user: str, row_id: str) -> Row | None:
        """The document, only if it belongs to ``user``."""
        row = self._get(RECORDS, [row_id], vectors=False, documents=True).get(row_id)
        return row if row is not None and row.metadata.get("user") == user else None

    def document(self, row_id: str) -> Row | None:
        """A document by id whatever its user (the caller checks the owner it holds, e.g. a chat session)."""
        return self._get(RECORDS, [row_id], vectors=False, documents=True).get(row_id)

    def user_documents(self, user: str, kind: str) -> list[Row]:
        where = {"$and": [self._user_filter(user), {"kind": kind}]}
        return list(result_rows(self._collections[RECORDS].get(where=where, include=["metadatas", "documents"]), False))

    # ---------------------------------------------------------------- a lock per user, for checkpoints
    def try_lock(self, row_id: str, user: str, owner: str, ttl_s: float) -> bool:
        """Take the lock ``row_id`` for ``owner`` unless another holds it unexpired. Chroma's add keeps an
        existing id, so of several processes adding at once exactly one row stands: its owner holds the lock."""
        collection = self._collections[STATE]
        vector = np.full((1, self.dimension), self.dimension**-0.5, dtype=np.float32)
        for _ in range(2):
            collection.add(ids=[row_id], embeddings=vector, metadatas=[{
                "user": user, "kind": "lock", "owner": owner, "expires": time.time() + ttl_s}])
            found = collection.get(ids=[row_id], include=["metadatas"])["metadatas"]
            holder = dict(found[0] or {}) if found else {}
            if holder.get("owner") == owner:
                return True
            if float(holder.get("expires", 0.0)) >= time.time():
                return False
            collection.delete(ids=[row_id])  # expired (its holder died): take it over
        return False

    def unlock(self, row_id: str, owner: str) -> None:
        found = self._collections[STATE].get(ids=[row_id], include=["metadatas"])["metadatas"]
        if found and (found[0] or {}).get("owner") == owner:
            self._collections[STATE].delete(ids=[row_id])

    # ---------------------------------------------------------------- derived state
    def upsert_state(self, rows: Sequence[Row]) -> None:
        self._write(STATE, rows, upsert=True)

    def delete_state(self, ids: Sequence[str]) -> None:
        for chunk in chunks(list(ids), self._max_batch):
            self._collections[STATE].delete(ids=chunk)

    def get_state(self, ids: Sequence[str]) -> dict[str, Row]:
        return self._get(STATE, ids, vectors=False, documents=False)

    def state_ids_of(self, user: str) -> list[str]:
        return list(self._collections[STATE].get(where=self._user_filter(user), include=[])["ids"])

    def users_state(self, users: Sequence[str]) -> list[Row]:
        """Every state row of these users, with vectors (loading a user's memory)."""
        rows: list[Row] = []
        for chunk in chunks(sorted(set(users)), 500):
            result = self._collections[STATE].get(where=self._user_filter(*chunk), include=["metadatas", "embeddings"])
            rows.extend(result_rows(result, vectors=True))
        return rows

    # ---------------------------------------------------------------- privacy
    def delete_user(self, user: str) -> dict[str, int]:
        """Remove every row of ``user`` from every per-user collection; returns counts removed."""
        removed = {}
        for name in PER_USER_COLLECTIONS:
            collection = self._collections[name]
            ids = collection.get(where=self._user_filter(user), include=[])["ids"]
            for chunk in chunks(ids, self._max_batch):
                collection.delete(ids=chunk)
            removed[name] = len(ids)
        return removed

    def count_user_rows(self, user: str) -> dict[str, int]:
        return {
            name: len(self._collections[name].get(where=self._user_filter(user), include=[])["ids"])
            for name in PER_USER_COLLECTIONS
        }

    # ---------------------------------------------------------------- benchmark ceiling
    def create_scratch_collection(self, name: str) -> None:
        """A collection configured exactly like ``memory_events`` (for the raw-add ceiling)."""
        self._collections[name] = self._open_collection(name, like=EVENTS)

    def raw_add(self, name: str, ids: list[str], vectors: np.ndarray, metadatas: list[Metadata]) -> None:
        """Chroma's plain add, nothing else: the ceiling the bulk ingest is measured against."""
        self._collections[name].add(ids=ids, embeddings=vectors, metadatas=metadatas)

    def drop_collections(self) -> None:
        """Delete every ShiftRec collection and start empty (tests, and wiping a deployment)."""
        for name in list(self._collections):
            self._client.delete_collection(name)
        self._collections = {name: self._open_collection(name) for name in ALL_COLLECTIONS}

    def drop_collection(self, name: str) -> None:
        self._client.delete_collection(name)
        self._collections.pop(name, None)

    # ---------------------------------------------------------------- internals
    @staticmethod
    def _user_filter(*users: str) -> dict[str, Any]:
        if not users or not all(users):
            raise ValueError("a per-user query needs at least one non-empty user id")
        return {"user": users[0]} if len(users) == 1 else {"user": {"$in": list(users)}}

    def _open_collection(self, name: str, like: str | None = None) -> Any:
        expected = {"dimension": self.dimension, "embedder": self.embedder_name}
        try:
            collection = self._client.get_collection(name, embedding_function=None)
        except Exception:  # not found: chromadb's error type differs between client kinds
            graph = _GRAPH_BY_COLLECTION.get(like or name, {})
            return RetryingReads(self._client.create_collection(
                name,
                embedding_function=None,
                metadata=expected,
                configuration={"hnsw": {"space": "cosine", **graph}},
            ))
        found = {key: (collection.metadata or {}).get(key) for key in expected}
        if found != expected:
            raise StoreMismatchError(
                f"collection {name!r} was built with {found['embedder']} ({found['dimension']}-d vectors) but "
                f"{self.embedder_name} ({self.dimension}-d) is configured: use a new data_dir or the same embedder."
            )
        return RetryingReads(collection)

    def _write(self, name: str, rows: Sequence[Row], upsert: bool) -> None:
        collection = self._collections[name]
        for chunk in chunks(list(rows), self._max_batch):
            arguments: dict[str, Any] = {
                "ids": [row.id for row in chunk],
                "embeddings": np.stack([row.vector for row in chunk]).astype(np.float32),
                "metadatas": [row.metadata for row in chunk],
            }
            if any(row.document is not None for row in chunk):
                arguments["documents"] = [row.document or "" for row in chunk]
            (collection.upsert if upsert else collection.add)(**arguments)

    def _get(self, name: str, ids: Sequence[str], vectors: bool, documents: bool) -> dict[str, Row]:
        include = ["metadatas"] + (["embeddings"] if vectors else []) + (["documents"] if documents else [])
        found: dict[str, Row] = {}
        for chunk in chunks(list(dict.fromkeys(ids)), _MAX_IDS_PER_GET):
            result = self._collections[name].get(ids=chunk, include=include)
            found.update((row.id, row) for row in result_rows(result, vectors=vectors))
        return found

    def _query_many(
        self, name: str, vectors: Sequence[np.ndarray], n: int, where: dict[str, Any] | None
    ) -> list[list[Hit]]:
        """One Chroma query for several vectors: one round trip instead of one each."""
        if n <= 0 or not vectors:
            return [[] for _ in vectors]
        result = self._collections[name].query(
            query_embeddings=np.stack([np.asarray(v, dtype=np.float32) for v in vectors]),
            n_results=n,
            where=where,
            include=["metadatas", "distances"],
        )
        return [
            [Hit(id=row_id, similarity=1.0 - float(distance), metadata=metadata or {})
             for row_id, distance, metadata in zip(ids, distances, metadatas)]
            for ids, distances, metadatas in zip(result["ids"], result["distances"], result["metadatas"])
        ]

"""`InterestMemory`: the one object the agent and the API use for memory and catalog.

It owns the Chroma store, the catalog and the cache of users' memories (see
:mod:`memory.user_cache`: each event is stored at once, derived rows are checkpointed).
Every method is safe to call from several threads (one lock: Chroma's embedded client
serialises writes anyway). Call :meth:`close` (or use ``with``) to write pending
checkpoints; without it nothing is lost, the next load folds the logged events in.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from itertools import islice
from types import MappingProxyType
from typing import get_args

import numpy as np
from tqdm import tqdm

from memory.catalog import Catalog, CatalogReport, ItemMatch
from memory.digest import SESSIONS_SHOWN, DigestBuilder
from memory.digest_models import MemoryDigest, utc
from memory.editing import MemoryEditor
from memory.edits import edits_in
from memory.embeddings import Embedder, MiniLMEmbedder, unit
from memory.history_view import HistoryView, history_view
from memory.ingest import BatchWriter, IngestReport, retried
from memory.interests import MemoryMath, UserMemory, WindowEvent, recency
from memory.models import Event, Item
from memory.rows import Row, nearest_rows
from memory.service_models import (
    EMPTY_VERSION,
    DeletionReport,
    HistoryMatch,
    InterestKind,
    InterestVector,
    RecordResult,
    UnknownUserError,
    UserExport,
)
from memory.snapshot import UserSnapshot
from memory.state_rows import exported_event, window_event_from_metadata
from memory.store import EVENTS, RECORDS, STATE, ChromaStore
from memory.summary import MemorySummary, render_summary
from memory.user_cache import UserCache

INTEREST_KINDS: tuple[InterestKind, ...] = get_args(InterestKind)
from memory.settings import MemoryConfig


class InterestMemory:
    def __init__(self, settings: MemoryConfig, store: ChromaStore, embedder: Embedder):
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.catalog = Catalog(store, embedder, settings.memory)
        math_ = MemoryMath.from_settings(settings.memory)
        self._users = UserCache(store, self.catalog, math_, settings.memory.user_cache_size)
        self._writer = BatchWriter(store, self.catalog, self._users, settings.memory, math_)
        self._digests = DigestBuilder(math_, settings.memory.trend_threshold, settings.memory.trajectory_points)
        self._lock = threading.RLock()
        self.editor = MemoryEditor(store, self.catalog, self._users, self._writer, self._lock)  # the person's edits

    @classmethod
    def open(cls, settings: MemoryConfig, embedder: Embedder | None = None) -> InterestMemory:
        """Embedded Chroma under ``settings.chroma_path``, or the server at ``settings.chroma_url``."""
        embedder = embedder or MiniLMEmbedder(
            threads=settings.torch_threads, bulk_threads=settings.bulk_threads, precision=settings.embed_precision
        )
        if settings.chroma_url:
            store = ChromaStore.server(settings.chroma_url, embedder.dimension, embedder.name)
        else:
            store = ChromaStore.embedded(settings.chroma_path, embedder.dimension, embedder.name)
        return cls(settings, store, embedder)

    # ---------------------------------------------------------------- catalog
    def add_items(self, items: Sequence[Item], progress: bool = False) -> CatalogReport:
        with self._lock:
            return self.catalog.add_items(items, progress)

    def get_items(self, ids: Sequence[str]) -> dict[str, Item]:
        return self.catalog.get_items(ids)

    def item_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        with self._lock:
            return self.catalog.vectors(ids)

    def nearest_items(
        self, vector: np.ndarray, k: int = 10, exclude: Iterable[str] = (), within: str | None = None
    ) -> list[ItemMatch]:
        return self.catalog.nearest(vector, k, exclude, within)

    def nearest_items_many(
        self, vectors: Sequence[np.ndarray], k: int = 10, exclude: Iterable[str] = ()
    ) -> list[list[ItemMatch]]:
        """:meth:`nearest_items` for several vectors at once (one store query)."""
        return self.catalog.nearest_many(vectors, k, exclude)

    # ---------------------------------------------------------------- writing
    def record(self, event: Event) -> RecordResult:
        """The online path: one event, stored and applied at once (re-sending its id changes nothing)."""
        with self._lock:
            result = retried(lambda: self._writer.write(
                [event], checkpoint_every=self.settings.memory.state_checkpoint_events, verify=True))
            version = result.versions.get(event.user) or self.memory_version(event.user)
            return RecordResult(applied=result.applied == 1, version=version)

    def ingest(self, events: Iterable[Event], batch_size: int | None = None, progress: bool = True) -> IngestReport:
        """The bulk path: batches of ``batch_size`` events, each all or nothing."""
        size = batch_size or self.settings.memory.ingest_batch_size
        started = time.perf_counter()
        received = applied = batches = 0
        users: set[str] = set()
        iterator = iter(events)
        total = len(events) if isinstance(events, Sequence) else None
        with tqdm(total=total, desc="ingesting events", unit="ev", disable=not progress) as bar, self._lock:
            while batch := list(islice(iterator, size)):
                result = retried(lambda: self._writer.write(batch, first_position=received, verify=True))
                received += len(batch)
                applied += result.applied
                batches += 1
                users.update(result.versions)
                bar.update(len(batch))
        seconds = time.perf_counter() - started
        return IngestReport(
            received=received,
            applied=applied,
            duplicates=received - applied,
            batches=batches,
            users=len(users),
            seconds=round(seconds, 3),
            events_per_s=round(received / seconds, 1) if seconds > 0 else 0.0,
        )

    def flush(self) -> None:
        """Write every pending checkpoint of derived rows (the events themselves are always stored)."""
        with self._lock:
            self._writer.checkpoint(self._users.unsaved())

    def close(self) -> None:
        self.flush()

    def __enter__(self) -> InterestMemory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def drop_cached(self, users: Iterable[str]) -> None:
        """Forget the in-process state of these users (it stays in Chroma); the next use reloads it."""
        with self._lock:
            self._users.evict(users)

    def rebuild_user(self, user: str) -> None:
        """Recompute a user's derived rows from the stored events (repair after a failed undo)."""
        with self._lock:
            self._writer.rebuild(user)

    # ---------------------------------------------------------------- reading
    def memory_version(self, user: str) -> str:
        """Changes whenever the user's memory changes; the same set of events gives the same version."""
        with self._lock:
            memory = self._users.load([user]).get(user)
            return memory.version if memory else EMPTY_VERSION

    def digest(self, user: str, as_of: datetime | None = None) -> MemoryDigest:
        """The structured view of the user's memory at ``as_of`` (default: their latest event)."""
        with self._lock:
            memory = self._memory(user)
            moment = _epoch(as_of, memory)
            titles, pairs_of = self._context(memory)
            return self._digests.build(memory, moment, self._labels(), titles, pairs_of)

    def history_view(self, user: str, as_of: float | None = None) -> HistoryView:
        """What a forecast made at ``as_of`` (never before the user's latest event) may read about the user."""
        with self._lock:
            memory = self._memory(user)
            return history_view(memory, self._context(memory)[1], max(memory.last, as_of or memory.last))

    def summary(self, user: str, token_budget: int | None = None, as_of: datetime | None = None) -> MemorySummary:
        """Deterministic text within ``token_budget`` tokens (cl100k), plus the digest it was written from."""
        budget = token_budget or self.settings.memory.summary_token_budget
        return render_summary(self.digest(user, as_of), budget)

    def interest_vectors(self, user: str, kind: InterestKind = "long_term", k: int = 5) -> list[InterestVector]:
        """Vectors to search candidates from: the user's strongest, current or rising interests."""
        if kind not in INTEREST_KINDS:
            raise ValueError(f"unknown interest kind {kind!r}: use long_term, short_term or rising")
        with self._lock:
            return self._interests(self._memory(user), (kind,), k)[kind]

    def snapshot(self, user: str, per_kind: int = 3) -> UserSnapshot:
        """The user as one request sees it, read once (see :mod:`memory.snapshot`): ``per_kind`` interest
        vectors of each kind and every event with its vector (the evidence); an unknown user's is empty."""
        with self._lock:
            memory = self._users.load([user]).get(user)
            if memory is None:
                return UserSnapshot(user=user)
            interests = self._interests(memory, INTEREST_KINDS, per_kind)
            history = tuple(row for row in self._events_with_vectors(user)
                            if not memory.edits.excluded(str(row.metadata["event_id"])))
            return UserSnapshot(
                user=user, version=memory.version, recent=tuple(memory.window), seen=frozenset(memory.seen),
                disliked=frozenset(memory.disliked), history=history, edits=memory.edits,
                interests=MappingProxyType({kind: tuple(found) for kind, found in interests.items()}),
            )

    def _interests(
        self, memory: UserMemory, kinds: Sequence[InterestKind], k: int
    ) -> dict[InterestKind, list[InterestVector]]:
        """The top ``k`` interest vectors of each kind, from one pass over the user's values."""
        _, pairs_of = self._context(memory)
        values = self._digests.values(memory, memory.last, pairs_of)
        labels = self._labels()
        found: dict[InterestKind, list[InterestVector]] = {}
        for kind in kinds:
            if kind == "long_term":
                ranked = [n for n in _by_value(values.topics) if values.topics[n] > 0][:k]
                found[kind] = [
                    InterestVector(n, labels.get(n, n), kind, values.share[n], self._topic_vector(memory, n))
                    for n in ranked
                ]
                continue
            if kind == "short_term":
                ranked = [n for n in _by_value(values.short) if values.short[n] > 0][:k]
                weights = values.short_share
            else:
                trends = {n: values.trend(n) for n in values.strength}
                threshold = self.settings.memory.trend_threshold
                ranked = [n for n in _by_value(trends) if trends[n] > threshold and values.short.get(n, 0) > 0][:k]
                weights = trends
            found[kind] = [
                InterestVector(n, labels.get(n, n), kind, weights[n], self._recent_vector(memory, n, pairs_of))
                for n in ranked
            ]
        return found

    def search_history(self, user: str, query: str | np.ndarray, k: int = 10) -> list[HistoryMatch]:
        """The user's own events most similar in meaning to ``query`` (text or vector)."""
        vector = self.embedder.embed([query])[0] if isinstance(query, str) else np.asarray(query, dtype=np.float32)
        return self.search_history_many(user, [vector], k)[0]

    def search_history_many(self, user: str, vectors: Sequence[np.ndarray], k: int = 10) -> list[list[HistoryMatch]]:
        """:meth:`search_history` for several query vectors: the user's events are read once."""
        with self._lock:
            rows = self._events_with_vectors(user)
        return self._history_matches(rows, vectors, k)

    def history_matches(
        self, snapshot: UserSnapshot, vectors: Sequence[np.ndarray], k: int = 10
    ) -> list[list[HistoryMatch]]:
        """:meth:`search_history_many` over the events a snapshot already holds (no read of the user)."""
        return self._history_matches(snapshot.history, vectors, k)

    def _history_matches(self, rows: Sequence[Row], vectors: Sequence[np.ndarray], k: int) -> list[list[HistoryMatch]]:
        found = nearest_rows(rows, vectors, k)
        entries = self.catalog.entries(str(row.metadata["item"]) for hits in found for row, _ in hits)
        titles = {item_id: entry.title for item_id, entry in entries.items()}
        return [[_history_match(row.metadata, similarity, titles) for row, similarity in hits] for hits in found]

    def recent_events(self, user: str) -> list[WindowEvent]:
        """The user's latest events (the short-term window), oldest first; [] for an unknown user."""
        with self._lock:
            memory = self._users.load([user]).get(user)
            return list(memory.window) if memory is not None else []

    def disliked_items(self, user: str) -> set[str]:
        """Items whose latest signal from the user was negative (never to be recommended again)."""
        with self._lock:
            memory = self._users.load([user]).get(user)
            return set(memory.disliked) if memory is not None else set()

    def event_log(self) -> Iterator[tuple[str, str, float, float]]:
        """(user, item, time, weight) of every stored event, in storage order: fits the behaviour models."""
        for page in self.store.all_event_metadata():
            for metadata in page:
                yield str(metadata["user"]), str(metadata["item"]), float(metadata["ts"]), float(metadata["weight"])

    def event_count(self) -> int:
        """Events stored, all users together (what a retraining schedule counts)."""
        return self.store.event_count()

    def known_events(self, user: str, event_ids: Iterable[str]) -> set[str]:
        """Which of ``event_ids`` the user's memory already holds (re-sent events change nothing)."""
        with self._lock:
            memory = self._users.load([user]).get(user)
            return set(event_ids) & memory.event_ids if memory is not None else set()

    def seen_items(self, user: str) -> set[str]:
        """Every item the user interacted with (any action)."""
        with self._lock:
            memory = self._users.load([user]).get(user)
            return set(memory.seen) if memory is not None else set()

    # ---------------------------------------------------------------- privacy
    def export_user(self, user: str) -> UserExport:
        """All of the user's events, interest nodes with full trajectories, and the digest, as JSON-ready data."""
        with self._lock:
            memory = self._memory(user)
            titles, pairs_of = self._context(memory)
            values = self._digests.values(memory, memory.last, pairs_of)
            labels = self._labels()
            points = 1 + int((memory.last - memory.first) // self.settings.memory.trajectory_bucket_s) + 1
            nodes = [
                self._digests.node(memory, values, n, memory.last, labels, points=points)
                for n in sorted(values.strength)
            ]
            events = sorted(
                (exported_event(row.metadata) for row in self.store.user_events(user)),
                key=lambda e: (e["timestamp"], e["event_id"]),
            )
            return UserExport(
                user=user,
                exported_at=datetime.now(timezone.utc),
                version=memory.version,
                events=events,
                interests=nodes,
                digest=self._digests.build(memory, memory.last, labels, titles, pairs_of),
                records=[json.loads(row.document) for row in self.store.user_records(user, limit=None) if row.document],
                edits=[edit.model_dump(mode="json") for edit in edits_in(self.store.user_log(user))],
            )

    def delete_user(self, user: str) -> DeletionReport:
        """Remove the user from every level and collection; afterwards no query finds them."""
        with self._lock:
            removed = self.store.delete_user(user)
            self._users.evict([user])
            return DeletionReport(
                user=user,
                events_removed=removed[EVENTS],
                state_rows_removed=removed[STATE],
                records_removed=removed[RECORDS],
            )

    # ---------------------------------------------------------------- internals
    def _memory(self, user: str) -> UserMemory:
        memory = self._users.load([user]).get(user)
        if memory is None:
            raise UnknownUserError(user)
        return memory

    def _context(self, memory: UserMemory) -> tuple[dict[str, str], dict[str, tuple]]:
        items = {event.item for event in memory.window}
        items.update(event.item for session in memory.sessions[-SESSIONS_SHOWN:] for event in session.recent)
        entries = self.catalog.entries(items)
        return {i: e.title for i, e in entries.items()}, {i: e.pairs for i, e in entries.items()}

    def _events_with_vectors(self, user: str) -> list[Row]:
        """The user's events, each with its item's vector from the catalog's cache (an event row's vector is
        its item's): fetching 600 event vectors from a Chroma server as JSON cost 0.3 s of a request."""
        rows = self.store.user_events(user)
        vectors = self.catalog.vectors(sorted({str(row.metadata["item"]) for row in rows}))
        return [Row(row.id, vectors[str(row.metadata["item"])], row.metadata) for row in rows
                if str(row.metadata["item"]) in vectors]

    def _labels(self) -> dict[str, str]:
        return {node_id: node.label for node_id, node in self.catalog.topics().items()}

    def _topic_vector(self, memory: UserMemory, node: str) -> np.ndarray:
        vector = memory.topics[node].vector
        return unit(vector) if np.any(vector) else self.catalog.topics()[node].vector

    def _recent_vector(self, memory: UserMemory, node: str, pairs_of: dict[str, tuple]) -> np.ndarray:
        """Recency-weighted mean of the liked window items in ``node`` (the node's centroid when none)."""
        total = np.zeros(memory.dimension)
        vectors = self.catalog.vectors([event.item for event in memory.window])
        for rank, event in enumerate(reversed(memory.window)):
            if event.weight > 0 and any(node in pair for pair in pairs_of.get(event.item, ())):
                total += event.weight * recency(event, rank, memory.last, self._writer.math) * vectors[event.item]
        if np.any(total):
            return unit(total)
        return self.catalog.topics()[node].vector


def _epoch(as_of: datetime | None, memory: UserMemory) -> float:
    """The moment to read the memory at: the user's latest event unless a later time is given."""
    if as_of is None:
        return memory.last
    if as_of.tzinfo is None:
        raise ValueError("as_of needs a time zone (e.g. datetime.now(timezone.utc))")
    if as_of.timestamp() < memory.last:
        raise ValueError(f"as_of {as_of.isoformat()} is before the user's latest event "
                         f"({utc(memory.last).isoformat()}): it cannot be rewound")
    return as_of.timestamp()


def _by_value(values: dict[str, float]) -> list[str]:
    return sorted(values, key=lambda node: (-round(values[node], 9), node))


def _history_match(metadata: dict, similarity: float, titles: dict[str, str]) -> HistoryMatch:
    event = window_event_from_metadata(metadata)
    return HistoryMatch(
        event_id=event.event_id, item_id=event.item, title=titles.get(event.item, event.item),
        action=event.action, value=event.value, timestamp=utc(event.ts), similarity=round(similarity, 6),
    )

"""How a user's memory becomes Chroma rows and back, exactly (floats survive a JSON round trip).

Rows of ``memory_state`` (all carry ``user`` and ``kind`` in their metadata):

- ``interest``: one per (user, topic); vector = the user's positive-weighted mean item
  vector in that topic (its length kept in ``vnorm`` so the running sum reloads exactly);
  the topic's numbers and those of its subtopics in metadata, trajectories as JSON;
- ``session``: one per session; vector = mean item vector; latest items as JSON;
- ``profile``: one per user; vector = the short-term interest vector; counters, version
  and the window size (the window itself is read back from ``memory_events``: rewriting it
  per event would cost 20 KB).

Metadata is kept small on purpose: Chroma indexes every metadata string, so each
kilobyte rewritten costs time on every event.

Rows of ``memory_events``: one per event, id ``event:<user key>:<seq>`` where ``seq`` is
the event's position in the user's arrival order; vector = the item's vector. The events
are the log and are written at once; the state rows are a checkpoint covering the first
``events`` of them, so a reader folds in the events with a higher ``seq``
(see :mod:`memory.user_cache`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable

import numpy as np

from memory.digest_models import utc
from memory.edits import EditState, edits_in, is_behaviour
from memory.embeddings import unit
from memory.interests import (
    MemoryMath,
    NodeStats,
    Session,
    TopicStats,
    UserMemory,
    WindowEvent,
    note_signal,
    recency,
)
from memory.rows import Metadata, Row

VectorLookup = Callable[[str], np.ndarray]


def user_key(user: str) -> str:
    return hashlib.sha1(user.encode()).hexdigest()[:16]


def event_row_id(user: str, seq: int) -> str:
    """The user's ``seq``-th logged event: found by id (fast), unlike a metadata filter (slow at scale)."""
    return f"event:{user_key(user)}:{seq}"


def profile_row_id(user: str) -> str:
    return f"profile:{user_key(user)}"


def lock_row_id(user: str) -> str:
    """The row that says which process is writing the user's checkpoint."""
    return f"lock:{user_key(user)}"


def event_row(user: str, event: WindowEvent, vector: np.ndarray, seq: int) -> Row:
    """``seq`` numbers a user's events in arrival order: the log position checkpoints refer to; ``at`` is when
    it was logged (wall clock), which other processes follow the log by."""
    metadata: Metadata = {
        "user": user,
        "seq": seq,
        "at": time.time(),
        "event_id": event.event_id,
        "item": event.item,
        "action": event.action,
        "weight": event.weight,
        "ts": event.ts,
    }
    if event.value is not None:
        metadata["value"] = event.value
    return Row(event_row_id(user, seq), vector, metadata)


def window_event_from_metadata(metadata: Metadata) -> WindowEvent:
    value = metadata.get("value")
    return WindowEvent(
        float(metadata["ts"]),
        str(metadata["event_id"]),
        str(metadata["item"]),
        str(metadata["action"]),
        None if value is None else float(value),
        float(metadata["weight"]),
    )


def changed_rows(
    memory: UserMemory, math_: MemoryMath, item_vector: VectorLookup, topic_vector: VectorLookup
) -> tuple[list[Row], list[str]]:
    """Rows to upsert and row ids to delete for what changed since the last save."""
    key = user_key(memory.user)
    rows = [_interest_row(memory, key, topic, topic_vector) for topic in sorted(memory.changed_topics)]
    sessions = list(memory.changed_sessions.values())
    rows += [_session_row(memory.user, key, session) for session in sessions]
    rows.append(_profile_row(memory, math_, item_vector))
    current = {session.key for session in sessions}
    deletions = [f"session:{key}:{old}" for old in sorted(memory.removed_sessions - current)]
    return rows, deletions


def all_rows(memory: UserMemory, math_: MemoryMath, item_vector: VectorLookup, topic_vector: VectorLookup) -> list[Row]:
    """Every state row of the user (after a rebuild)."""
    memory.changed_topics.update(memory.topics)
    memory.changed_sessions.update((id(session), session) for session in memory.sessions)
    rows, _ = changed_rows(memory, math_, item_vector, topic_vector)
    return rows


def memory_from_rows(user: str, rows: Iterable[Row], logged: list[Row], dimension: int) -> UserMemory | None:
    """The user's memory as of its checkpoint, or None when there is no checkpoint (profile row).

    ``logged`` are the user's event rows (metadata only): they give the short-term window,
    the event ids and the seen items of the checkpoint.
    """
    by_kind: dict[str, list[Row]] = {"interest": [], "session": [], "profile": []}
    for row in rows:
        if row.metadata.get("user") == user:
            by_kind.setdefault(str(row.metadata["kind"]), []).append(row)  # a write lock's row is no state
    if not by_kind["profile"]:
        return None
    meta = by_kind["profile"][0].metadata
    log_seq = int(meta["seq"])
    within = [row for row in logged if int(row.metadata["seq"]) <= log_seq]
    edits = EditState.of(edits_in(within))
    covered = [window_event_from_metadata(row.metadata) for row in within if is_behaviour(row.metadata)]
    shaping = [event for event in covered if not edits.excluded(event.event_id)]
    size = int(meta["window_size"])
    memory = UserMemory(
        user=user,
        ref=float(meta["ref"]),
        dimension=dimension,
        edits=edits,
        window=sorted(shaping)[-size:] if size else [],
        event_ids={event.event_id for event in covered},
        seen={event.item for event in covered},
        disliked=_disliked(covered),
        events=int(meta["events"]),
        saved_events=int(meta["events"]),
        log_seq=log_seq,
        event_hash=int(str(meta["hash"]), 16),
        first=float(meta["first"]),
        last=float(meta["last"]),
    )
    for row in by_kind["interest"]:
        memory.topics[str(row.metadata["node"])] = _topic_from(row)
        for sub_id, packed in json.loads(str(row.metadata["subs"])).items():
            memory.subtopics[sub_id] = _stats_from(*packed)
    memory.sessions = sorted((_session_from(row) for row in by_kind["session"]), key=lambda session: session.start)
    return memory


def _disliked(events: list[WindowEvent]) -> set[str]:
    disliked: set[str] = set()
    for event in sorted(events):
        note_signal(disliked, event)
    return disliked


def short_term_vector(memory: UserMemory, math_: MemoryMath, item_vector: VectorLookup) -> np.ndarray:
    """Recency-weighted mean of the liked items in the window (plain mean when none is liked)."""
    if not memory.window:
        return np.full(memory.dimension, memory.dimension**-0.5, dtype=np.float32)
    newest_first = memory.window[::-1]
    vectors = np.stack([item_vector(event.item) for event in newest_first])
    weights = np.array(
        [max(event.weight, 0.0) * recency(event, rank, memory.last, math_) for rank, event in enumerate(newest_first)]
    )
    liked = weights @ vectors
    return unit(liked) if np.any(liked) else unit(vectors.sum(axis=0))


def _pack(stats: NodeStats) -> list:
    return [stats.mass, stats.first, stats.last, stats.events, stats.negative, _buckets_json(stats)]


def _buckets_json(stats: NodeStats) -> dict[str, float]:
    return {str(bucket): value for bucket, value in sorted(stats.buckets.items())}


def _stats_from(mass: float, first: float, last: float, events: int, negative: int, buckets: dict) -> NodeStats:
    return NodeStats(mass, first, last, events, negative, {int(k): v for k, v in buckets.items()})


def _interest_row(memory: UserMemory, key: str, topic: str, topic_vector: VectorLookup) -> Row:
    stats = memory.topics[topic]
    prefix = topic + "/"
    subs = {node: _pack(sub) for node, sub in sorted(memory.subtopics.items()) if node.startswith(prefix)}
    norm = float(np.linalg.norm(stats.vector))
    metadata: Metadata = {
        "user": memory.user,
        "kind": "interest",
        "node": topic,
        "mass": stats.mass,
        "first": stats.first,
        "last": stats.last,
        "events": stats.events,
        "negative": stats.negative,
        "trajectory": json.dumps(_buckets_json(stats)),
        "subs": json.dumps(subs),
        "vnorm": norm,
    }
    vector = unit(stats.vector) if norm > 0 else topic_vector(topic)
    return Row(f"interest:{key}:{topic}", vector, metadata)


def _topic_from(row: Row) -> TopicStats:
    meta = row.metadata
    return TopicStats(
        mass=float(meta["mass"]),
        first=float(meta["first"]),
        last=float(meta["last"]),
        events=int(meta["events"]),
        negative=int(meta["negative"]),
        buckets={int(k): v for k, v in json.loads(str(meta["trajectory"])).items()},
        vector=row.vector.astype(np.float64) * float(meta["vnorm"]),
    )


def _session_row(user: str, key: str, session: Session) -> Row:
    norm = float(np.linalg.norm(session.vector))
    metadata: Metadata = {
        "user": user,
        "kind": "session",
        "start": session.start,
        "end": session.end,
        "events": session.events,
        "weight": session.weight,
        "vnorm": norm,
        "recent": json.dumps([list(event) for event in session.recent]),
    }
    vector = unit(session.vector) if norm > 0 else np.full(len(session.vector), len(session.vector) ** -0.5)
    return Row(f"session:{key}:{session.key}", vector.astype(np.float32), metadata)


def _session_from(row: Row) -> Session:
    meta = row.metadata
    return Session(
        start=float(meta["start"]),
        end=float(meta["end"]),
        events=int(meta["events"]),
        weight=float(meta["weight"]),
        vector=row.vector.astype(np.float64) * float(meta["vnorm"]),
        recent=[WindowEvent(*event) for event in json.loads(str(meta["recent"]))],
    )


def _profile_row(memory: UserMemory, math_: MemoryMath, item_vector: VectorLookup) -> Row:
    metadata: Metadata = {
        "user": memory.user,
        "kind": "profile",
        "ref": memory.ref,
        "events": memory.events,
        "seq": memory.log_seq,
        "hash": f"{memory.event_hash:016x}",
        "version": memory.version,
        "first": memory.first,
        "last": memory.last,
        "window_size": len(memory.window),
    }
    return Row(profile_row_id(memory.user), short_term_vector(memory, math_, item_vector), metadata)


def exported_event(metadata: Metadata) -> dict:
    """An event row as the export shows it."""
    event = window_event_from_metadata(metadata)
    return {
        "event_id": event.event_id,
        "item": event.item,
        "action": event.action,
        "value": event.value,
        "weight": event.weight,
        "timestamp": utc(event.ts).isoformat(),
    }

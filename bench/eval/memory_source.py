"""The interest-memory sources (``memory_long`` / ``memory_short`` / ``memory_shift``) on a protocol's split.

A real :class:`memory.service.InterestMemory` on a temporary embedded Chroma, MiniLM
embeddings, holding only the chosen users' TRAINING events. Validation cases read it as
ingested; before the test cases each user's validation event is recorded through the
online path (as the product would see it), so the test history equals train + validation.

A source's score for an item is the product's: the highest cosine between the item's
vector and the user's interest vectors of that kind (``agent.pipeline.candidates.VECTORS_PER_KIND``
of them). Here it is computed exactly over the catalog vectors from the memory, so any
candidate list can be scored (the product asks Chroma for the nearest 30 instead).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from agent.pipeline.candidates import MEMORY_SOURCES, VECTORS_PER_KIND
from bench.eval.cost import measure
from bench.eval.protocols import ProtocolData
from memory.embeddings import MiniLMEmbedder
from memory.models import Event
from memory.service import InterestMemory
from serving.settings import load_settings

SOURCES = tuple(MEMORY_SOURCES.values())


class EvalMemory:
    """Temporary interest memory for ``users`` of one protocol (call :meth:`close` to remove it)."""

    def __init__(
        self, data: ProtocolData, users: Sequence[str], echo: Callable[[str], None] = print, embedder=None
    ):
        self.data = data
        self.users = list(users)
        self._echo = echo
        self._folder = tempfile.TemporaryDirectory(prefix="shiftrec-eval-")
        settings = load_settings(data_dir=Path(self._folder.name), chroma_url=None)
        self.settings = settings
        self.memory = InterestMemory.open(settings.memory_config, embedder or MiniLMEmbedder(threads=1))
        self.costs: dict[str, dict] = {}
        self._ratings = self._rating_lookup()
        self._position = {user: i for i, user in enumerate(data.split.train.users)}
        self._vectors: np.ndarray | None = None

    def _rating_lookup(self) -> dict[tuple[str, str], float]:
        movielens = self.data.movielens
        wanted = {movielens.user_index[user] for user in self.users}
        r = movielens.ratings
        rows = np.flatnonzero(np.isin(r.user, list(wanted)))
        return {
            (movielens.user_ids[u], movielens.items[i].id): float(v)
            for u, i, v in zip(r.user[rows].tolist(), r.item[rows].tolist(), r.rating[rows].tolist())
        }

    def _event(self, user: str, item_index: int, ts: float) -> Event:
        item = self.data.sequences.item_ids[item_index]
        return Event(
            id=f"ev-{user}-{item}", user=user, item=item, action="rate", value=self._ratings[(user, item)],
            timestamp=datetime.fromtimestamp(float(ts), tz=timezone.utc),
        )

    def build(self) -> None:
        """Embed the whole catalog, then ingest the users' training events (timed)."""
        with measure("memory_catalog") as cost:
            report = self.memory.add_items(list(self.data.movielens.items))
        self.costs["catalog_embed"] = {**cost.as_dict(), "items": report.added}
        train = self.data.split.train
        events = [
            self._event(user, int(item), ts)
            for user in self.users
            for item, ts in zip(train.items[self._position[user]], train.times[self._position[user]], strict=True)
        ]
        with measure("memory_ingest") as cost:
            report = self.memory.ingest(events, progress=False)
        self.costs["ingest"] = {**cost.as_dict(), "events": report.received,
                                "events_per_s": report.events_per_s, "users": len(self.users)}
        self._echo(f"memory: {len(self.users)} users, {report.received} training events in {report.seconds:.0f} s "
                   f"({report.events_per_s:.0f} ev/s)")

    def record_validation(self) -> None:
        """Each user's validation event through the online path (before the test cases are read)."""
        validation, test = self.data.split.validation, self.data.split.test
        val_row = {user: row for row, user in enumerate(validation.users)}
        test_row = {user: row for row, user in enumerate(test.users)}
        with measure("memory_record_validation") as cost:
            for user in self.users:
                # the validation item is the test case's newest history item, with its own time
                when = float(test.history_times[test_row[user]][-1])
                self.memory.record(self._event(user, int(validation.targets[val_row[user]]), when))
        self.costs["record_validation"] = {**cost.as_dict(), "users": len(self.users)}

    def vocabulary_vectors(self) -> np.ndarray:
        """(items, 384) unit vectors of the protocol's vocabulary, in vocabulary order."""
        if self._vectors is None:
            ids = list(self.data.sequences.item_ids)
            found = self.memory.item_vectors(ids)
            self._vectors = np.stack([found[item] for item in ids]).astype(np.float32)
        return self._vectors

    def source_scores(self, user: str) -> dict[str, np.ndarray]:
        """Per memory source present for the user, a score for every vocabulary item."""
        matrix = self.vocabulary_vectors()
        out = {}
        for kind, source in MEMORY_SOURCES.items():
            interests = self.memory.interest_vectors(user, kind, VECTORS_PER_KIND)
            if interests:
                stacked = np.stack([np.asarray(i.vector, dtype=np.float32) for i in interests])
                out[source] = (stacked @ matrix.T).max(axis=0)
        return out

    def close(self) -> None:
        try:
            self.memory.close()
        finally:
            self._folder.cleanup()

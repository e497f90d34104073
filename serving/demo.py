"""Demo data for the embedded default, as `SHIFTREC_DEMO` chooses: MovieLens-100K (what `make run`
serves), the grocery subsample (memory/grocery.py), or none (only what you add).

A marker file records a completed load; a second start finds it (and the users in
memory) and skips the work. Loading is idempotent anyway: re-sent event ids change nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone

from pydantic import BaseModel

from memory.grocery import NOTICE, load_grocery
from memory.models import Event, Item
from memory.movielens import load_movielens
from memory.service import EMPTY_VERSION, InterestMemory
from serving.settings import Settings


class DemoReport(BaseModel):
    dataset: str
    items: int
    events: int
    users: int
    skipped: bool
    loaded_at: datetime
    notice: str | None = None  # what the data is, where it must be said (the grocery data is simulated)

    def describe(self) -> str:
        if self.dataset == "none":
            return "no demo data (SHIFTREC_DEMO=none): add your catalog and events with POST /items and /events"
        state = "already loaded" if self.skipped else "loaded"
        return f"demo data {state}: {self.dataset}, {self.users} users" + (f" ({self.notice})" if self.notice else "")


def ensure_demo_data(memory: InterestMemory, settings: Settings) -> DemoReport:
    """Load the chosen demo into memory unless a previous run already did; nothing for ``none``."""
    now = datetime.now(timezone.utc)
    if settings.demo == "none":
        return DemoReport(dataset="none", items=0, events=0, users=0, skipped=True, loaded_at=now)
    if settings.demo == "grocery":
        grocery = load_grocery()
        items, events, users, notice = grocery.items, grocery.events, grocery.households, NOTICE
    else:
        movielens = load_movielens(settings.demo)
        items, events, users, notice = movielens.items, movielens.events, movielens.user_ids, None
    marker = settings.data_dir / f"demo-{settings.demo}.json"
    if marker.exists():
        report = DemoReport.model_validate_json(marker.read_text())
        if memory.memory_version(users[-1]) != EMPTY_VERSION:
            return report.model_copy(update={"skipped": True})
    report = _load(memory, settings.demo, items, events(), len(users), notice)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(report.model_dump(mode="json"), indent=2))
    return report


def _load(memory: InterestMemory, dataset: str, items: Iterable[Item], events: Iterable[Event], users: int,
          notice: str | None) -> DemoReport:
    catalog = list(items)
    memory.add_items(catalog, progress=True)
    ingest = memory.ingest(events, progress=True)
    return DemoReport(dataset=dataset, items=len(catalog), events=ingest.received, users=users, skipped=False,
                      loaded_at=datetime.now(timezone.utc), notice=notice)

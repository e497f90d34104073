"""Demo data for the embedded default: MovieLens-100K loaded into the interest memory once.

A marker file records a completed load; a second start finds it (and the users in
memory) and skips the work. Loading is idempotent anyway: re-sent event ids change nothing.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from pydantic import BaseModel

from memory.movielens import load_movielens
from memory.service import EMPTY_VERSION, InterestMemory
from serving.settings import Settings

DEMO_DATASET = "ml-100k"


class DemoReport(BaseModel):
    dataset: str
    items: int
    events: int
    users: int
    skipped: bool
    loaded_at: datetime


def ensure_demo_data(memory: InterestMemory, settings: Settings, dataset: str = DEMO_DATASET) -> DemoReport:
    """Load ``dataset`` into memory unless a previous run already did."""
    marker = settings.data_dir / f"demo-{dataset}.json"
    data = load_movielens(dataset)
    if marker.exists():
        report = DemoReport.model_validate_json(marker.read_text())
        if memory.memory_version(data.user_ids[-1]) != EMPTY_VERSION:
            return report.model_copy(update={"skipped": True})
    memory.add_items(list(data.items), progress=True)
    ingest = memory.ingest(data.events(), progress=True)
    report = DemoReport(
        dataset=dataset,
        items=len(data.items),
        events=ingest.received,
        users=len(data.user_ids),
        skipped=False,
        loaded_at=datetime.now(timezone.utc),
    )
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(report.model_dump(mode="json"), indent=2))
    return report

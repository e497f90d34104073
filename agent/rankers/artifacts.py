"""Versioned behaviour-model artifacts: what `shiftrec train` writes and a running service loads.

Each version is a folder ``<root>/<version>/`` holding ``meta.json`` (what it learned from,
the fusion weights tuned with it), ``sequential.pt`` (SASRec) and the interest-shift forecast
(``forecast.npz`` + ``forecast.json``). A version is written under
a temporary name and renamed into place, then ``CURRENT`` is replaced atomically: a reader
sees the old version or the new one, never half of one. The newest few versions are kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, Field

from agent.forecast.model_file import ForecastModel
from agent.rankers.sequential import SequentialModel

CURRENT = "CURRENT"
SEQUENTIAL_FILE = "sequential.pt"
KEEP_VERSIONS = 3


class ArtifactMeta(BaseModel):
    """What one training run produced and from which log."""

    version: str = Field(description="Sortable: UTC training time and a hash of the log it learned from.")
    trained_at: datetime
    log_fingerprint: str
    events: int
    users: int
    items: int
    sequential: bool = Field(description="Whether SASRec was trained (too small a log trains none).")
    seconds: float
    weights: dict[str, float] | None = Field(default=None, description="Fusion weights tuned with these models.")
    weights_summary: str | None = None
    forecast: bool = Field(default=False, description="Whether the interest-shift forecast was fitted.")
    forecast_horizon: str | None = Field(default=None, description="Its horizon, e.g. '30d' or '10e'.")


def log_fingerprint(rows: list[tuple[str, str, float, float]]) -> str:
    """A short hash of the log's size and content: two trainings on the same log share it."""
    digest = hashlib.sha1(str(len(rows)).encode())
    for user, item, timestamp, _ in rows:
        digest.update(f"{user}\x1f{item}\x1f{timestamp:.3f}\x1e".encode())
    return digest.hexdigest()[:10]


def new_version(fingerprint: str, now: datetime | None = None) -> str:
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{moment:%Y%m%dT%H%M%S%fZ}-{fingerprint}"


class ArtifactStore:
    """The artifact folder: publish a version, read the current one."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def current(self) -> ArtifactMeta | None:
        """The version ``CURRENT`` names (None before the first training or if it is unreadable)."""
        try:
            version = (self.root / CURRENT).read_text().strip()
            return ArtifactMeta.model_validate_json((self.root / version / "meta.json").read_text())
        except (OSError, ValueError):
            return None

    def sequential(self, meta: ArtifactMeta) -> SequentialModel | None:
        """The SASRec of ``meta``'s version (None where it trained none)."""
        return SequentialModel.load(self.root / meta.version / SEQUENTIAL_FILE) if meta.sequential else None

    def forecast(self, meta: ArtifactMeta) -> ForecastModel | None:
        """The forecast of ``meta``'s version (None where none was fitted)."""
        return ForecastModel.load(self.root / meta.version, meta.version) if meta.forecast else None

    def publish(self, meta: ArtifactMeta, sequential: SequentialModel | None,
                forecast: ForecastModel | None = None) -> Path:
        """Write the version completely under a temporary name, move it into place, then point CURRENT at it."""
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".staging-{meta.version}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        if sequential is not None:
            sequential.save(staging / SEQUENTIAL_FILE)
        if forecast is not None:
            forecast.save(staging)
        (staging / "meta.json").write_text(json.dumps(meta.model_dump(mode="json"), indent=2))
        final = self.root / meta.version
        os.replace(staging, final)
        pointer = self.root / f".{CURRENT}.tmp"
        pointer.write_text(meta.version + "\n")
        os.replace(pointer, self.root / CURRENT)
        self._prune(keep=meta.version)
        return final

    def versions(self) -> list[str]:
        return sorted(path.name for path in self.root.glob("*") if path.is_dir() and not path.name.startswith("."))

    def _prune(self, keep: str) -> None:
        for version in self.versions()[:-KEEP_VERSIONS]:
            if version != keep:
                shutil.rmtree(self.root / version, ignore_errors=True)

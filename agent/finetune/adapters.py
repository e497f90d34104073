"""LoRA adapters on disk: ``<artifacts>/adapters/<role>/<version>/`` (PEFT files, ``manifest.json``,
``loss.png``) with a ``CURRENT`` pointer per role, written like the behaviour models (staged, then
renamed into place). An adapter is served only for the base model and the log it was trained on:
anything else is refused with what to run instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

CURRENT = "CURRENT"
KEEP_VERSIONS = 2
MANIFEST = "manifest.json"


class AdapterRefused(ValueError):
    """The adapter on disk does not fit the configured model or the current log."""


class AdapterManifest(BaseModel):
    role: str
    version: str = Field(description="Sortable: training time and the fingerprint of the log it learned from.")
    served_name: str = Field(description="The model name requests use to reach this adapter through vLLM.")
    base_model: str = Field(description="The configured model id it adapts.")
    base_weights: str = Field(description="A hash of the base model's config and weights file sizes.")
    log_fingerprint: str
    prompt: str
    level_depth: int
    horizon: str
    smoothing: float = Field(description="Blend with everyone's mix, chosen on held-out cuts.")
    examples: int
    distinct_examples: int
    epochs: float
    steps: int
    train_s: float
    device: str
    examples_per_minute: float
    final_loss: float | None
    losses: list[float]
    held_out: dict = Field(default_factory=dict, description="Cross-entropy on the held-out cuts: lora, base, "
                                                              "standin, cases.")
    trained_at: datetime


def base_weights_id(model_dir: Path) -> str:
    """Changes when the base model's files do (a different model or conversion)."""
    digest = hashlib.sha1((model_dir / "config.json").read_bytes())
    for path in sorted(model_dir.glob("*.safetensors")):
        digest.update(f"{path.name}:{path.stat().st_size}".encode())
    return digest.hexdigest()[:12]


def served_name(role: str) -> str:
    return f"shiftrec-{role}-lora"


class AdapterStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def publish(self, staging: Path, manifest: AdapterManifest) -> Path:
        """Move a fully written adapter folder into place, then point the role's CURRENT at it."""
        role_dir = self.root / manifest.role
        role_dir.mkdir(parents=True, exist_ok=True)
        (staging / MANIFEST).write_text(json.dumps(manifest.model_dump(mode="json"), indent=2))
        final = role_dir / manifest.version
        shutil.rmtree(final, ignore_errors=True)
        os.replace(staging, final)
        pointer = role_dir / f".{CURRENT}.tmp"
        pointer.write_text(manifest.version + "\n")
        os.replace(pointer, role_dir / CURRENT)
        for old in sorted(p for p in role_dir.iterdir() if p.is_dir() and not p.name.startswith("."))[:-KEEP_VERSIONS]:
            if old.name != manifest.version:
                shutil.rmtree(old, ignore_errors=True)
        return final

    def staging(self, role: str, version: str) -> Path:
        folder = self.root / role / f".staging-{version}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder

    def current(self, role: str) -> tuple[Path, AdapterManifest] | None:
        try:
            version = (self.root / role / CURRENT).read_text().strip()
            folder = self.root / role / version
            return folder, AdapterManifest.model_validate_json((folder / MANIFEST).read_text())
        except (OSError, ValueError):
            return None

    def usable(self, role: str, base_model: str, base_weights: str, log_fingerprint: str | None
               ) -> tuple[Path, AdapterManifest]:
        """The role's current adapter if it fits; AdapterRefused says why not and what to run."""
        found = self.current(role)
        if found is None:
            raise AdapterRefused(f"no {role} adapter under {self.root}: train one with `shiftrec train --llm {role}`")
        folder, manifest = found
        if manifest.base_model != base_model or manifest.base_weights != base_weights:
            raise AdapterRefused(
                f"the {role} adapter {manifest.version} adapts {manifest.base_model} ({manifest.base_weights}), "
                f"not the configured {base_model} ({base_weights}): retrain it with `shiftrec train --llm {role}`")
        if log_fingerprint is not None and manifest.log_fingerprint != log_fingerprint:
            raise AdapterRefused(
                f"the {role} adapter {manifest.version} learned from log {manifest.log_fingerprint}, but the "
                f"behaviour models serve log {log_fingerprint}: retrain with `shiftrec train --llm {role}`")
        return folder, manifest

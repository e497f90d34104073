"""The role card: what ``shiftrec calibrate`` measured for one model, prompt set and catalog.

Keyed by all three, so a new model, a changed prompt or a changed catalog has no card until it is
measured again (and stand-ins serve meanwhile)."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

from agent.roles.names import ROLES
from prompts.loader import available_prompts


class RoleResult(BaseModel):
    metric: str
    llm: float | None = Field(description="The LLM's mean on the cases (None: it could not be measured).")
    standin: float | None
    cases: int
    p_value: float = Field(description="One-sided paired sign-flip test: LLM better than the stand-in.")
    earned: bool
    lower_is_better: bool = False
    llm_failed_checks: int = Field(default=0, description="Cases where the LLM's output could not be shown: it "
                                   "failed a check, or no valid answer came (counted in llm_errors too).")
    llm_errors: int = Field(default=0, description="Cases where the LLM request timed out or stayed invalid.")
    note: str | None = None


class RoleCard(BaseModel):
    model: str
    key: str
    prompts: dict[str, list[int]]
    catalog_version: str
    created_at: datetime
    seed: int
    cases_per_role: int
    seconds: float
    roles: dict[str, RoleResult]

    def earned(self) -> list[str]:
        return sorted(role for role, result in self.roles.items() if result.earned)

    def table(self) -> str:
        """The card as a markdown table: both numbers, the paired p-value and the verdict per role."""
        lines = [f"Role card of {self.model} ({self.cases_per_role} cases per role, seed {self.seed}, "
                 f"{self.seconds:.0f} s)", "", "| role | metric | LLM | stand-in | cases | p | earned |",
                 "|---|---|---|---|---|---|---|"]
        for role, r in self.roles.items():
            better = " (lower is better)" if r.lower_is_better else ""
            lines.append(f"| {role} | {r.metric}{better} | {r.llm} | {r.standin} | {r.cases} | {r.p_value} | "
                         f"{'yes' if r.earned else 'no'} |")
        return "\n".join(lines)


def role_prompts() -> dict[str, list[int]]:
    """The versions of every prompt a role uses (a new version is a new prompt: it earns its role anew)."""
    names = sorted({name for info in ROLES.values() for name in info.prompts})
    available = available_prompts()
    return {name: available.get(name, []) for name in names}


def catalog_version(item_count: int, topic_ids: list[str]) -> str:
    digest = hashlib.sha256(json.dumps([item_count, sorted(topic_ids)]).encode()).hexdigest()
    return digest[:12]


def measured_model(model_id: str, shift_adapter=None) -> str:
    """What a card measures: the model, and the served adapter version (a retrained adapter earns anew)."""
    if shift_adapter is None:
        return model_id
    return f"{model_id}+{shift_adapter.manifest.served_name}@{shift_adapter.manifest.version}"


def card_key(model_id: str, catalog: str) -> str:
    payload = json.dumps({"model": model_id, "prompts": role_prompts(), "catalog": catalog}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def card_path(folder: Path, key: str) -> Path:
    return folder / f"card-{key}.json"


def load_card(folder: Path, key: str) -> RoleCard | None:
    """The card for ``key``, or None (a damaged file counts as none: calibration writes it again)."""
    path = card_path(folder, key)
    try:
        return RoleCard.model_validate_json(path.read_text())
    except (OSError, ValueError):
        return None


def save_card(folder: Path, card: RoleCard) -> Path:
    """Written whole (temporary file, then rename): a reader never sees half a card."""
    folder.mkdir(parents=True, exist_ok=True)
    path = card_path(folder, card.key)
    temporary = path.with_suffix(f".tmp{os.getpid()}")
    temporary.write_text(card.model_dump_json(indent=2))
    temporary.replace(path)
    return path

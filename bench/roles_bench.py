"""`shiftrec bench roles`: the configured model's role card on the demo log, written as a result.

The same measurement as `shiftrec calibrate` (and it writes the card the service reads), with the
machine's load recorded beside it: bench/results/llm_roles.json and llm_roles.md."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from agent.roles.calibrate import calibrate
from agent.service import ShiftRecService


def run_roles_bench(service: ShiftRecService, results_dir: Path, cases: int, seed: int = 0) -> dict[str, Any]:
    load_before = os.getloadavg()
    card = calibrate(service, cases, seed)
    result = {
        "model": card.model,
        "measured_at": card.created_at.isoformat(timespec="seconds"),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "cpus": os.cpu_count(),
        "card_key": card.key,
        "cases_per_role": card.cases_per_role,
        "seed": card.seed,
        "seconds": card.seconds,
        "earned": card.earned(),
        "roles": {role: r.model_dump() for role, r in card.roles.items()},
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "llm_roles.json").write_text(json.dumps(result, indent=2) + "\n")
    notes = [f"{role}: {r.note}" for role, r in card.roles.items() if r.note]
    (results_dir / "llm_roles.md").write_text(
        f"# LLM roles\n\n{card.table()}\n\nMeasured {result['measured_at']}; load average before "
        f"{result['load_average_before']}, after {result['load_average_after']}; {result['cpus']} cores. "
        "A role is earned only where the LLM beats its stand-in on the same held-out cases with one-sided "
        "paired p < 0.05 (a tie keeps the stand-in).\n\n" + "\n".join(f"- {note}" for note in notes) + "\n")
    return result

"""`shiftrec bench eval shift`, the forecast part: both datasets, every method, written to
bench/results/shift.json, shift.md and shift_reliability.png (the shipped forecast's stated
probabilities against how often they came true)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from bench.eval.cost import machine_load
from bench.eval.forecast_metrics import score_method
from bench.eval.shift_data import ShiftDataset, grocery, movielens
from bench.eval.shift_forecast import evaluate_level

METHODS = ("persistence", "long_run", "recent", "trend", "seasonal", "llm", "llm_lora", "shiftrec")
LORA_NOT_RUN = {"measured": False, "why": "the LoRA adapter is measured by `shiftrec bench finetune`"}
LLM_SMOOTHING = 0.5  # the LLM's named interests, blended half and half with everyone's mix (fixed, stated)


def run_forecast_eval(households: int, seed: int, echo: Callable[[str], None],
                      llm_rankings: dict[str, list[str]] | None = None, ranker=None, llm_households: int = 0,
                      llm_degraded: int | None = None) -> dict:
    """Every dataset and level. ``llm_rankings``: ML-1M user -> the LLM profile's topics, best first (from the
    eval.json shift run); ``ranker`` and ``llm_households``: the LLM profiles grocery households at their cut."""
    result = {"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "seed": seed,
              "load_average": {"before": machine_load()}}
    for data, levels in ((grocery(households, seed), ("category", "department", "type")), (movielens(), ("topic",))):
        by_level = {name: evaluate_level(data, name, echo, seed, keep_cases=name == data.main_level) for name in levels}
        rankings, llm_cost = None, None
        if data.name == "ml-1m" and llm_rankings:
            rankings = {(cut.user, cut.as_of): llm_rankings[cut.user]
                        for _, cut, _ in by_level["topic"]["test_cases"] if cut.user in llm_rankings}
        elif data.name == "grocery" and ranker is not None and llm_households:
            rankings, llm_cost = _grocery_llm(data, by_level["category"], households, seed, ranker, llm_households,
                                              echo)
        result[data.name] = _dataset(data, by_level, rankings)
        if llm_cost:
            result[data.name]["llm"]["cost"] = llm_cost
            result[data.name]["llm"]["degraded_profiles"] = llm_cost["degraded"]
        elif rankings and llm_degraded is not None:
            result[data.name]["llm"]["degraded_profiles"] = llm_degraded
    result["load_average"]["after"] = machine_load()
    return result


def _grocery_llm(data: ShiftDataset, main: dict, households: int, seed: int, ranker, size: int, echo):
    """The LLM on a seeded subsample of the latest test cut's households."""
    from bench.eval.protocols import seeded_subsample
    from bench.eval.shift_llm import grocery_llm_rankings

    latest = max(cut.as_of for _, cut, _ in main["test_cases"])
    users = sorted({cut.user for _, cut, _ in main["test_cases"] if cut.as_of == latest})
    chosen = [(user, latest) for user in seeded_subsample(users, size, seed + 1)]
    return grocery_llm_rankings(households, seed, chosen, ranker, echo)


def _dataset(data: ShiftDataset, by_level: dict, llm_rankings) -> dict:
    main = by_level[data.main_level]
    out = {method: main["methods"].get(method) for method in METHODS}
    out["llm"] = _llm(data, main, llm_rankings)
    out["llm_lora"] = LORA_NOT_RUN
    out["level"], out["horizon"] = data.main_level, data.horizon.key
    out["selection"] = data.selection
    out["levels"] = {name: level["methods"] for name, level in by_level.items()}
    out["details"] = {name: {k: v for k, v in level.items() if k not in ("methods", "test_cases", "baselines")}
                      for name, level in by_level.items()}
    return out


def _llm(data: ShiftDataset, main: dict, rankings: dict[tuple[str, float], list[str]] | None) -> dict | None:
    """The LLM profile's predicted topics as a distribution (1/rank weights, blended with everyone's mix),
    scored on its subsample beside the shipped forecast on the same cases."""
    if not rankings:
        return {"measured": False, "why": "no LLM predictions in this run (run with --shift-llm-users > 0)"}
    level = data.levels[data.main_level]
    position = level.position
    cases = [(case, cut, p) for case, cut, p in main["test_cases"] if (cut.user, cut.as_of) in rankings]
    if not cases:
        return {"measured": False, "why": "none of the LLM's users is among the test cases"}
    llm, order, ours, truths, recents = [], [], [], [], []
    for case, cut, p in cases:
        named = np.zeros(len(level))
        for rank, node in enumerate(dict.fromkeys(rankings[(cut.user, cut.as_of)])):
            if node in position:
                named[position[node]] += 1.0 / (rank + 1)
        mix = named / named.sum() if named.any() else case.population.long_run
        llm.append((1 - LLM_SMOOTHING) * mix + LLM_SMOOTHING * case.population.long_run)
        order.append(np.where(named > 0, named, -np.inf))  # only what it named, in its own order
        ours.append(p)
        truths.append(case.truth)
        recents.append(case.user.recent)
    scored = score_method(llm, truths, recents, order)
    scored["shiftrec_on_these_cases"] = score_method(ours, truths, recents)
    scored["predictions"] = {f"{cut.user}@{int(cut.as_of)}": rankings[(cut.user, cut.as_of)] for _, cut, _ in cases}
    scored["note"] = (f"seeded subsample of {len(cases)} test cases (the LLM profile is slow on the CPU); the "
                      f"interests it names at this level weigh 1/rank, blended {LLM_SMOOTHING:g} with everyone's mix "
                      "(cross-entropy, Brier); hit@3 takes only what it named, in its order. A profile "
                      "whose LLM output failed validation is the deterministic fallback (counted in "
                      "degraded_profiles)")
    return scored


def write(result: dict, folder: Path) -> None:
    """Written whole; the adapter's rows (`bench finetune`) from an earlier file are kept."""
    folder.mkdir(parents=True, exist_ok=True)
    _keep_lora(result, folder / "shift.json")
    (folder / "shift.json").write_text(json.dumps(result, indent=2, default=_plain))
    (folder / "shift.md").write_text(markdown(result))
    _plot(result, folder / "shift_reliability.png")


def _keep_lora(result: dict, path: Path) -> None:
    try:
        earlier = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    for name in ("grocery", "ml-1m"):
        lora = (earlier.get(name) or {}).get("llm_lora")
        if name in result and lora and "xent" in lora:
            result[name]["llm_lora"] = lora


def _plain(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(type(value))


def markdown(result: dict) -> str:
    lines = [f"# Interest-shift forecast ({result['measured_at']}, load {result['load_average']})", ""]
    for name in ("grocery", "ml-1m"):
        data = result[name]
        lines += [f"## {name}: {data['level']} level, horizon {data['horizon']} (d: days, e: the user's next events)",
                  "",
                  "| method | xent | brier | hit@3 | shift hit@3 | cases |", "|---|---|---|---|---|---|"]
        for method in METHODS:
            row = data.get(method) or {}
            if "xent" in row:
                lines.append(f"| {method} | {row['xent']:.3f} | {row['brier']:.4f} | {row['hit@3']:.3f} | "
                             f"{_number(row['shift_hit@3'])} | {row['cases']} |")
            else:
                lines.append(f"| {method} | not measured: {row.get('why', '')} | | | | |")
        lines += ["", f"Expected calibration error of the shipped forecast's stated probabilities: "
                      f"{data['shiftrec']['ece']}", ""]
        for level, methods in data["levels"].items():
            best = min((m for m in methods if m != "shiftrec"), key=lambda m: methods[m]["xent"])
            lines.append(f"- {level}: shiftrec xent {methods['shiftrec']['xent']:.3f} (best baseline {best} "
                         f"{methods[best]['xent']:.3f}), shift hit@3 {_number(methods['shiftrec']['shift_hit@3'])}, "
                         f"ece {methods['shiftrec']['ece']}")
        lines.append("")
    return "\n".join(lines) + "\n"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(9, 4))
    for axis, name in zip(axes, ("grocery", "ml-1m"), strict=True):
        bins = result[name]["details"][result[name]["level"]]["reliability"]["bins"]
        axis.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        axis.scatter([b["stated"] for b in bins], [b["observed"] for b in bins],
                     s=[max(8, min(200, b["claims"] / 10)) for b in bins])
        axis.set(title=f"{name}: ece {result[name]['shiftrec']['ece']}", xlabel="stated probability",
                 ylabel="came true", xlim=(0, 1), ylim=(0, 1))
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)

"""`shiftrec bench finetune`: a shift LoRA adapter trained per dataset, served by the embedded vLLM and
measured beside the base model (same prompt) and every forecast method on the same test cases.

Per dataset (`bench eval shift`'s cuts): the adapter trains on a seeded sample of the training cuts'
examples, its blend weight (and the base model's) is chosen on the validation cut, and a seeded
sample of the test cases is answered through vLLM (the adapter by its served name, the base model by
its own) four at a time. Writes bench/results/llm_finetune.json, adds `llm_lora` to shift.json and
its row to shift.md, and keeps each adapter's loss curve as finetune_loss_<grocery|movies>.png.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from agent.finetune.adapters import AdapterStore
from agent.finetune.letter_forecast import level_distribution, score_options
from agent.finetune.lora_training import LoraConfig
from agent.finetune.replay import context_from_items
from agent.finetune.shift_adapter import LOSS_PLOT, train_shift_adapter
from agent.finetune.shift_task import ShiftTask, sample
from agent.llm.vllm_client import VllmLLM
from bench.eval.cost import machine_load
from bench.eval.forecast_metrics import score_method
from bench.eval.shift_data import ShiftDataset, grocery, movielens
from bench.eval.shift_forecast import evaluate_level
from bench.eval.shift_report import markdown
from memory.grocery import GROCERY_WORDS
from memory.movielens import MOVIELENS_WORDS
from memory.settings import MemorySettings
from serving.llm_server import EmbeddedLLMServer
from serving.settings import Settings

CONCURRENT = 4
SHARE_BINS = 10
WORDS = {"grocery": GROCERY_WORDS, "ml-1m": MOVIELENS_WORDS}
PLOT_NAMES = {"grocery": "grocery", "ml-1m": "movies"}  # a plot, not the dataset: no data name in the file


def share_ece(predictions: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> float:
    """Calibration of a predicted mix: every (case, node) share binned by what was predicted, the gap
    between the mean predicted and the mean observed share, weighted by the bin's size."""
    p, q = np.concatenate(predictions), np.concatenate(truths)
    bins = np.minimum((p * SHARE_BINS).astype(int), SHARE_BINS - 1)
    gaps = [abs(p[bins == b].mean() - q[bins == b].mean()) * (bins == b).sum() for b in np.unique(bins)]
    return round(float(np.sum(gaps) / len(p)), 4)


def _scored(predictions: list[np.ndarray], cases: list, ranks: list[np.ndarray] | None = None) -> dict:
    truths, recents = [c.truth for c in cases], [c.user.recent for c in cases]
    return {**score_method(predictions, truths, recents, ranks), "ece": share_ece(predictions, truths)}


def _served(llm: VllmLLM, examples: list) -> tuple[list[np.ndarray], float]:
    """Option probabilities through vLLM, CONCURRENT requests at a time; seconds per forecast."""
    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENT) as pool:
        chunks = list(pool.map(lambda e: score_options(llm.label_logprobs, [e])[0], examples))
    return chunks, (time.perf_counter() - started) / max(len(examples), 1)


def run_dataset(data: ShiftDataset, settings: Settings, work: Path, config: LoraConfig, examples: int,
                validation: int, test: int, echo: Callable[[str], None]) -> tuple[dict, dict, Path]:
    """(llm_finetune entry, llm_lora entry for shift.json, the loss plot) for one dataset."""
    level = data.levels[data.main_level]
    main = evaluate_level(data, data.main_level, echo, config.seed, keep_cases=True)
    context = context_from_items(data.items, MemorySettings(), settings.agent.adapter_summary_tokens,
                                 max_depth=level.depth)
    task = ShiftTask(data.logs, level, context, data.horizon, WORDS[data.name], data.train, data.validation)
    store = AdapterStore(work / data.name)
    folder, manifest = train_shift_adapter(task, settings.model_dir, settings.llm.model, store, data.name, config,
                                           examples, validation, echo=echo)
    chosen = {(cut.user, cut.as_of) for cut in sample([cut for _, cut, _ in main["test_cases"]], test, config.seed + 2)}
    kept = [(case, cut, p) for case, cut, p in main["test_cases"] if (cut.user, cut.as_of) in chosen]
    test_examples = {(e.user, e.as_of): e for e in task.examples([cut for _, cut, _ in kept])}
    kept = [(case, cut, p) for case, cut, p in kept if (cut.user, cut.as_of) in test_examples]
    ordered = [test_examples[(cut.user, cut.as_of)] for _, cut, _ in kept]
    with EmbeddedLLMServer(settings, adapters={manifest.served_name: folder}) as server:
        startup_s = server.startup_s
        timeout, context = 120.0, settings.llm.context_tokens
        lora_llm = VllmLLM(server.base_url, manifest.served_name, timeout_s=timeout, context_tokens=context)
        base_llm = VllmLLM(server.base_url, settings.llm.model, timeout_s=timeout, context_tokens=context)
        lora_options, lora_s = _served(lora_llm, ordered)
        base_options, base_s = _served(base_llm, ordered)
    cases = [case for case, _, _ in kept]
    smoothing = manifest.held_out["smoothing"]
    lora = [level_distribution(e, o, smoothing["lora"]) for e, o in zip(ordered, lora_options, strict=True)]
    base = [level_distribution(e, o, smoothing["base"]) for e, o in zip(ordered, base_options, strict=True)]
    same_cases = {name: _scored([f(c) for c in cases], cases) for name, f in main["baselines"].items()}
    same_cases["shiftrec"] = _scored([p for _, _, p in kept], cases)
    same_cases["llm_base"] = _scored(base, cases)
    lora_scored = _scored(lora, cases)
    cost = {"device": manifest.device, "train_s": manifest.train_s, "examples": manifest.examples,
            "epochs": manifest.epochs, "examples_per_minute": manifest.examples_per_minute,
            "vllm_startup_with_lora_s": round(startup_s or 0.0, 1),
            "s_per_forecast_lora": round(lora_s, 3), "s_per_forecast_base": round(base_s, 3),
            "concurrent_requests": CONCURRENT}
    entry = {**lora_scored, "same_cases": same_cases, "cost": cost, "smoothing": smoothing,
             "coverage": round(float(np.mean([e.covered for e in ordered])), 4),
             "note": (f"seeded sample of {len(cases)} test cases answered through vLLM by the adapter "
                      f"{manifest.served_name} ({manifest.version}); ece here is the share calibration of the "
                      "predicted mix (every method's is in same_cases), not the claim ece of the shiftrec row")}
    finetune = {"examples": manifest.examples, "distinct_examples": manifest.distinct_examples,
                "epochs": manifest.epochs, "steps": manifest.steps, "train_s": manifest.train_s,
                "device": manifest.device, "examples_per_minute": manifest.examples_per_minute,
                "final_loss": manifest.final_loss, "first_loss": manifest.losses[0] if manifest.losses else None,
                "uniform_loss_over_options": round(float(np.log(20)), 4),
                "metric": "cross-entropy of the next window's mix (nats, lower is better), test cases",
                "test_cases": len(cases), "base": same_cases["llm_base"]["xent"], "lora": lora_scored["xent"],
                "standin": same_cases["shiftrec"]["xent"],
                "baselines": {name: same_cases[name]["xent"] for name in main["baselines"]},
                "validation": manifest.held_out, "cost": cost, "adapter_version": manifest.version}
    return finetune, entry, folder / LOSS_PLOT


def run_finetune_bench(settings: Settings, results_dir: Path, config: LoraConfig, households: int, examples: int,
                       validation: int, test: int, echo: Callable[[str], None]) -> dict:
    load_before = machine_load()
    work = settings.data_dir / "bench-adapters"
    shutil.rmtree(work, ignore_errors=True)
    roles, shift = {}, json.loads((results_dir / "shift.json").read_text())
    for data in (grocery(households, config.seed), movielens()):
        finetune, entry, plot = run_dataset(data, settings, work, config, examples, validation, test, echo)
        roles[data.name] = finetune
        shift[data.name]["llm_lora"] = entry
        shutil.copy(plot, results_dir / f"finetune_loss_{PLOT_NAMES[data.name]}.png")
    result = {"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "seed": config.seed,
              "cpus": os.cpu_count(), "load_average": {"before": load_before, "after": machine_load()},
              "model": settings.llm.model, "config": {k: v for k, v in vars(config).items()},
              "roles": {"shift": roles}}
    (results_dir / "llm_finetune.json").write_text(json.dumps(result, indent=2, default=_plain) + "\n")
    (results_dir / "llm_finetune.md").write_text(finetune_markdown(result))
    (results_dir / "shift.json").write_text(json.dumps(shift, indent=2, default=_plain))
    (results_dir / "shift.md").write_text(markdown(shift))
    return result


def _plain(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(type(value))


def finetune_markdown(result: dict) -> str:
    lines = [f"# LoRA shift adapter ({result['measured_at']}, {result['cpus']} cores, load "
             f"{result['load_average']})", "",
             "| dataset | examples | train s | device | final loss | lora xent | base xent | learned forecast "
             "| best non-learning baseline | test cases |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in result["roles"]["shift"].items():
        best = min(r["baselines"], key=r["baselines"].get)
        lines.append(f"| {name} | {r['examples']} | {r['train_s']:.0f} | {r['device']} | {r['final_loss']} | "
                     f"{r['lora']:.3f} | {r['base']:.3f} | {r['standin']:.3f} | {best} {r['baselines'][best]:.3f} | "
                     f"{r['test_cases']} |")
    lines += ["", "Cross-entropy of the next window's mix in nats (lower is better), on the same seeded test "
              "cases for every column; blend weights chosen on the validation cut."]
    return "\n".join(lines) + "\n"

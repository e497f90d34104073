"""Train, judge and publish a shift adapter: LoRA on the training cuts' examples, then the held-out
cuts scored three ways on the same examples (the adapter, the base model with the same prompt, the
learned forecast fitted on the training cuts only), each blend weight chosen on those cuts; the
adapter, its manifest and its loss curve are published as one version (staged, then renamed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from agent.finetune.adapters import AdapterManifest, AdapterStore, base_weights_id, served_name
from agent.finetune.examples import SHIFT_PROMPT, SHIFT_PROMPT_VERSION
from agent.finetune.letter_forecast import choose_smoothing, cross_entropies
from agent.finetune.lora_training import LoraConfig, plot_losses, train_lora
from agent.finetune.shift_task import ShiftTask, mean, sample

log = logging.getLogger(__name__)
ROLE = "shift"
LOSS_PLOT = "loss.png"


def train_shift_adapter(task: ShiftTask, model_dir: Path, base_model: str, store: AdapterStore,
                        log_fingerprint: str, config: LoraConfig, examples: int | None, held: int | None,
                        progress: bool = True, echo: Callable[[str], None] = log.info
                        ) -> tuple[Path, AdapterManifest]:
    """Build ``examples`` training and ``held`` held-out examples (seeded samples), train, judge, publish."""
    started = time.perf_counter()
    train = task.examples(sample(task.train_cuts, examples, config.seed))
    held_out = task.examples(sample(task.held_cuts, held, config.seed + 1))
    if not train or not held_out:
        raise ValueError(f"{len(train)} training and {len(held_out)} held-out examples: the log needs users with "
                         "history before and after at least two cuts")
    echo(f"shift adapter: {len(train)} training examples, {len(held_out)} held-out, built in "
         f"{time.perf_counter() - started:.0f} s")
    version = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{log_fingerprint[:8]}"
    staging = store.staging(ROLE, version)
    report = train_lora(model_dir, train, staging, config, held_out, progress, echo)
    smoothing, lora_by_weight = choose_smoothing(held_out, report.held_lora)
    base_smoothing, _ = choose_smoothing(held_out, report.held_base)
    lora = cross_entropies(held_out, report.held_lora, smoothing)
    base = cross_entropies(held_out, report.held_base, base_smoothing)
    standin = task.standin_cross_entropy(held_out, config.seed)
    judged = {"metric": "cross-entropy of the next window's mix (nats, lower is better)", "cases": len(held_out),
              "lora": mean(lora), "base": mean(base), "standin": mean(standin),
              "smoothing": {"lora": smoothing, "base": base_smoothing, "lora_by_weight": lora_by_weight},
              "coverage": mean([e.covered for e in held_out]),
              "note": "held-out cuts (after every training cut of the same user); blend weights chosen on them"}
    plot_losses(report, staging / LOSS_PLOT, f"LoRA {ROLE} adapter (tree depth {task.level.depth})")
    manifest = AdapterManifest(
        role=ROLE, version=version, served_name=served_name(ROLE), base_model=base_model,
        base_weights=base_weights_id(model_dir), log_fingerprint=log_fingerprint,
        prompt=f"{SHIFT_PROMPT}/v{SHIFT_PROMPT_VERSION}", level_depth=task.level.depth, horizon=task.horizon.key,
        smoothing=smoothing, examples=report.examples, distinct_examples=report.distinct_examples,
        epochs=report.epochs_run, steps=report.steps, train_s=report.train_s, device=report.device,
        examples_per_minute=report.examples_per_minute, final_loss=report.final_loss, losses=report.losses,
        held_out=judged, trained_at=datetime.now(timezone.utc))
    folder = store.publish(staging, manifest)
    echo(f"shift adapter {version}: held-out cross-entropy lora {judged['lora']} base {judged['base']} "
         f"learned forecast {judged['standin']} ({len(held_out)} cases); published to {folder}")
    return folder, manifest

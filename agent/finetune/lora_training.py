"""Fit a LoRA adapter of the embedded model on shift examples, within a time budget.

The loss is the cross-entropy between the next window's mix over the options and the
model's first-answer-token distribution over the option letters: exactly what serving reads
(one forward pass, letter logprobs). Only the top ``layers`` transformer blocks carry LoRA, so
the backward pass stops there: on two CPU cores that is what makes a few hundred examples
fit in minutes. The adapter is written in PEFT's format, which vLLM serves with ``--enable-lora``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agent.finetune.examples import LETTERS, ShiftExample

log = logging.getLogger(__name__)
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class LoraConfig:
    rank: int = 8
    alpha: int = 16
    layers: int = 8  # the top blocks that carry LoRA
    learning_rate: float = 5e-4
    epochs: int = 1
    accumulate: int = 4  # examples per optimiser step
    budget_s: float = 600.0
    max_examples: int | None = None  # per epoch
    seed: int = 0
    threads: int = 2
    device: str = "cpu"  # or "cuda" when one is configured and present


@dataclass
class TrainReport:
    examples: int = 0  # example passes (all epochs)
    distinct_examples: int = 0
    epochs_run: float = 0.0
    steps: int = 0
    train_s: float = 0.0
    device: str = "cpu"
    losses: list[float] = field(default_factory=list)  # mean loss of each optimiser step
    stopped_by_budget: bool = False
    held_lora: list[np.ndarray] = field(default_factory=list)  # option probabilities on the held-out examples
    held_base: list[np.ndarray] = field(default_factory=list)  # the same, adapter switched off

    @property
    def final_loss(self) -> float | None:
        tail = self.losses[-max(1, len(self.losses) // 10):]
        return round(float(np.mean(tail)), 4) if tail else None

    @property
    def examples_per_minute(self) -> float:
        return round(self.examples / self.train_s * 60, 1) if self.train_s else 0.0


def letter_ids(tokenizer) -> list[int]:
    """Each option letter as the single token that starts the answer."""
    ids = []
    for letter in LETTERS:
        tokens = tokenizer.encode(letter, add_special_tokens=False)
        if len(tokens) != 1:
            raise ValueError(f"option letter {letter!r} is {len(tokens)} tokens for this tokenizer; it must be one")
        ids.append(tokens[0])
    return ids


def prompt_ids(tokenizer, example: ShiftExample):
    messages = [{"role": m.role, "content": m.content} for m in example.messages]
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                         return_dict=True)["input_ids"]


def soft_target(example: ShiftExample) -> np.ndarray:
    """The next window's mix over the options, renormalised (the options name all the model may answer)."""
    return example.target / example.target.sum()


def train_lora(model_dir: Path, examples: Sequence[ShiftExample], out_dir: Path, config: LoraConfig,
               held_out: Sequence[ShiftExample] = (), progress: bool = True,
               echo: Callable[[str], None] = log.info) -> TrainReport:
    """Train, save the adapter to ``out_dir``, then score ``held_out`` with and without it (in-process)."""
    import torch
    from peft import LoraConfig as PeftLora
    from peft import get_peft_model
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    usable = [example for example in examples if example.covered > 0]
    if not usable:
        raise ValueError("no example has its next window among its options: nothing to learn from")
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    device = config.device if config.device == "cpu" or torch.cuda.is_available() else "cpu"
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).to(device)
    blocks = model.config.num_hidden_layers
    model = get_peft_model(model, PeftLora(
        r=config.rank, lora_alpha=config.alpha, lora_dropout=0.0, target_modules=list(TARGET_MODULES),
        layers_to_transform=list(range(max(0, blocks - config.layers), blocks)), task_type="CAUSAL_LM"))
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)
    letters = torch.tensor(letter_ids(tokenizer), device=device)
    rng = np.random.default_rng(config.seed)
    per_epoch = min(len(usable), config.max_examples or len(usable))
    report = TrainReport(device=device)
    started = time.perf_counter()
    bar = tqdm(total=per_epoch * config.epochs, desc="LoRA shift", unit="ex", disable=not progress)
    pending: list[float] = []
    seen: set[int] = set()
    model.train()
    for epoch in range(config.epochs):
        for index in rng.permutation(len(usable))[:per_epoch].tolist():
            if time.perf_counter() - started > config.budget_s:
                report.stopped_by_budget = True
                break
            example = usable[index]
            ids = prompt_ids(tokenizer, example).to(device)
            logits = model(input_ids=ids, logits_to_keep=1).logits[0, -1].float()
            options = letters[: len(example.options)]
            target = torch.tensor(soft_target(example), dtype=torch.float32, device=device)
            loss = -(target * torch.log_softmax(logits, dim=-1)[options]).sum()
            (loss / config.accumulate).backward()
            pending.append(float(loss.detach()))
            seen.add(index)
            report.examples += 1
            if len(pending) == config.accumulate:
                _step(optimiser, report, pending)
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(report.losses[-10:]) if report.losses else float(loss):.3f}",
                            per_min=f"{report.examples / max(time.perf_counter() - started, 1e-9) * 60:.0f}")
        report.epochs_run = round(epoch + (report.examples - epoch * per_epoch) / per_epoch, 3)
        if report.stopped_by_budget:
            break
    if pending:
        _step(optimiser, report, pending)
    bar.close()
    report.train_s = round(time.perf_counter() - started, 1)
    report.distinct_examples = len(seen)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    if held_out:
        model.eval()
        report.held_lora = _options_in_process(model, tokenizer, letters, held_out, device, progress, "held-out, LoRA")
        with model.disable_adapter():
            report.held_base = _options_in_process(model, tokenizer, letters, held_out, device, progress,
                                                   "held-out, base")
    echo(f"LoRA: {report.examples} examples ({report.examples_per_minute}/min on {device}), {report.steps} steps, "
         f"final loss {report.final_loss}, {report.train_s:.0f} s")
    return report


def _options_in_process(model, tokenizer, letters, examples: Sequence[ShiftExample], device: str, progress: bool,
                        label: str) -> list[np.ndarray]:
    """The option letters' first-token probabilities, renormalised over the options (what serving reads)."""
    import torch
    from tqdm import tqdm

    out = []
    with torch.no_grad():
        for example in tqdm(examples, desc=label, unit="ex", disable=not progress):
            logits = model(input_ids=prompt_ids(tokenizer, example).to(device), logits_to_keep=1).logits[0, -1]
            out.append(torch.softmax(logits.float()[letters[: len(example.options)]], dim=-1).cpu().numpy())
    return out


def _step(optimiser, report: TrainReport, pending: list[float]) -> None:
    optimiser.step()
    optimiser.zero_grad()
    report.losses.append(round(float(np.mean(pending)), 5))
    report.steps += 1
    pending.clear()


def plot_losses(report: TrainReport, path: Path, title: str) -> None:
    """The loss of each optimiser step and its running mean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.5))
    losses = np.array(report.losses)
    axis.plot(losses, color="#bbbbbb", linewidth=1, label="step")
    if len(losses) >= 5:
        window = max(5, len(losses) // 10)
        axis.plot(np.arange(window - 1, len(losses)), np.convolve(losses, np.ones(window) / window, "valid"),
                  color="#1f77b4", label=f"mean of {window}")
    axis.set(title=title, xlabel=f"optimiser step ({report.examples} examples, {report.device})",
             ylabel="cross-entropy over the options")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)

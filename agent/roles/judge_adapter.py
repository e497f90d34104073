"""The shift adapter's role on held-out cuts of the current log: the adapter's forecast against the
learned forecast fitted on the earlier cuts only (the stand-in) and the base model asked the same
prompt, cross-entropy of each case's next window (lower is better). Without a served adapter the
role cannot be measured and stays with the stand-in."""

from __future__ import annotations

import numpy as np

from agent.finetune.letter_forecast import choose_smoothing, cross_entropies, score_options
from agent.finetune.live_task import task_from_memory
from agent.finetune.shift_task import sample
from agent.llm.interface import LLM, LLMError
from agent.roles.measure import RoleMeasure, Tick, concurrently

FAILED_XENT = 30.0  # an unanswered case costs more than any answer (a zero probability costs ~28 nats)


def measure_shift_adapter(service, cases: int, seed: int, tick: Tick) -> RoleMeasure:
    measure = RoleMeasure()
    adapter = service.shift_adapter
    if adapter is None or service.llm is None:
        measure.note = "no LoRA shift adapter is served: train one with `shiftrec train --llm shift`"
        for _ in range(cases):
            tick()
        return measure
    settings = service.settings.agent
    task = task_from_memory(service.memory, list(service.memory.event_log()), service.horizon,
                            service.settings.words, settings.adapter_summary_tokens)
    held = task.examples(sample(task.held_cuts, cases, seed))
    lora, lora_failed = _options(adapter.llm, held)
    base, _ = _options(service.llm, held)
    lora_xent = cross_entropies(held, lora, adapter.manifest.smoothing)
    base_weight, _ = choose_smoothing(held, base)
    base_xent = cross_entropies(held, base, base_weight)
    standin = task.standin_cross_entropy(held, seed)
    for index, (ours, theirs) in enumerate(zip(lora_xent, standin, strict=True)):
        measure.add(FAILED_XENT if index in lora_failed else ours, theirs)
        tick()
    for _ in range(cases - len(held)):
        tick()
    measure.failed_checks = measure.llm_errors = len(lora_failed)
    measure.note = (f"adapter {adapter.manifest.version} on {len(held)} held-out cuts (each user's latest window, "
                    f"never trained on); the base model with the same prompt: {np.mean(base_xent):.4f} "
                    f"(its blend chosen on these cases, which flatters it)" if held else
                    "no held-out cut with a next window at the adapter's level")
    return measure


def _options(llm: LLM, examples) -> tuple[list[np.ndarray], set[int]]:
    """Option probabilities per example (uniform where the request failed) and which ones failed."""
    failed: set[int] = set()

    def one(pair):
        index, example = pair
        try:
            return score_options(llm.label_logprobs, [example])[0]
        except LLMError:
            failed.add(index)
            return np.full(len(example.options), 1.0 / len(example.options))
    return list(concurrently(one, enumerate(examples))), failed

"""`shiftrec train --llm ROLE`: a LoRA adapter of the embedded model for one role, trained on the log
the behaviour models learned from (they are retrained first when the log has moved on), published
beside them, and swapped into a running embedded vLLM when one answers."""

from __future__ import annotations

from collections.abc import Callable

from serving.settings import Settings

TRAINABLE = ("shift",)


def train_llm_role(settings: Settings, memory, rows: list, role: str, minutes: float, examples: int,
                   held: int, device: str, echo: Callable[[str], None]) -> str:
    """Train and publish; returns what happened to the running server (a sentence)."""
    from agent.finetune.adapters import AdapterStore
    from agent.finetune.live_task import task_from_memory
    from agent.finetune.lora_training import LoraConfig
    from agent.finetune.shift_adapter import train_shift_adapter
    from agent.rankers.artifacts import log_fingerprint
    from serving.adapters import load_into_running
    from serving.llm_server import llm_base_url
    from serving.model_convert import ensure_model

    if role not in TRAINABLE:
        raise ValueError(f"no adapter is trained for the {role!r} role; trainable roles: {', '.join(TRAINABLE)}")
    words = settings.domain_words
    task = task_from_memory(memory, rows, settings.agent.horizon(words.repeats), words,
                            settings.agent.adapter_summary_tokens)
    config = LoraConfig(budget_s=minutes * 60, device=device)
    folder, manifest = train_shift_adapter(task, ensure_model(settings), settings.llm.model,
                                           AdapterStore(settings.adapters_dir), log_fingerprint(rows), config,
                                           examples, held, echo=echo)
    return load_into_running(llm_base_url(settings), manifest.served_name, folder, settings.llm.api_key)

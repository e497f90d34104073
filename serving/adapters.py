"""Which LoRA adapters the embedded vLLM serves, and swapping one in while it runs.

At start the current adapter of each LLM role is served when it fits the configured model
and the log the behaviour models learned from (agent.finetune.adapters); a refused one is
logged with what to run. After `shiftrec train --llm ROLE` a running server started with
LoRA on loads the new adapter through vLLM's runtime endpoint (no restart).
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx

from agent.finetune.adapters import AdapterManifest, AdapterRefused, AdapterStore, base_weights_id
from serving.settings import Settings

log = logging.getLogger(__name__)
LORA_ROLES = ("shift",)
MAX_LORA_RANK = 8


def usable_adapter(settings: Settings, role: str) -> tuple[Path, AdapterManifest]:
    """The role's adapter if it fits the configured base model and the current behaviour models' log."""
    from agent.rankers.artifacts import ArtifactStore  # torch: only when an adapter is on disk

    meta = ArtifactStore(settings.artifacts_dir).current()
    config = settings.model_dir / "config.json"
    weights = base_weights_id(settings.model_dir) if config.is_file() else "no-model"
    return AdapterStore(settings.adapters_dir).usable(role, settings.llm.model, weights,
                                                      meta.log_fingerprint if meta else None)


def served_adapters(settings: Settings) -> dict[str, Path]:
    """Served name -> folder of every role's usable adapter (refusals are logged, never fatal)."""
    served = {}
    for role in LORA_ROLES:
        if AdapterStore(settings.adapters_dir).current(role) is None:
            continue
        try:
            folder, manifest = usable_adapter(settings, role)
        except AdapterRefused as refused:
            log.warning("not serving the %s adapter: %s", role, refused)
            continue
        served[manifest.served_name] = folder
    return served


def lora_flags(adapters: dict[str, Path]) -> list[str]:
    if not adapters:
        return []
    return ["--enable-lora", "--max-lora-rank", str(MAX_LORA_RANK), "--max-loras", str(max(1, len(adapters))),
            "--lora-modules", *(f"{name}={folder}" for name, folder in sorted(adapters.items()))]


def load_into_running(base_url: str, name: str, folder: Path, api_key: str = "EMPTY") -> str:
    """Ask a running vLLM to serve ``folder`` as ``name`` (replacing an older one); a sentence saying what happened."""
    headers = {"Authorization": f"Bearer {api_key}"}
    root = base_url.rstrip("/")
    try:
        with httpx.Client(timeout=60.0, headers=headers) as client:
            client.post(f"{root}/unload_lora_adapter", json={"lora_name": name})
            reply = client.post(f"{root}/load_lora_adapter", json={"lora_name": name, "lora_path": str(folder)})
    except httpx.HTTPError:
        return f"no LLM server answers at {root}: the adapter is served from the next `shiftrec serve`"
    if reply.status_code == 200:
        return f"the LLM server at {root} now serves {name} from {folder}"
    return (f"the LLM server at {root} did not load it ({reply.status_code}: it was started without LoRA): "
            "restart `shiftrec serve` to serve it")


def shift_adapter_for(settings: Settings, llm, memory):
    """The served shift adapter for the service (None without an LLM, an adapter, or when it is refused)."""
    if llm is None or not hasattr(llm, "for_model") or AdapterStore(settings.adapters_dir).current("shift") is None:
        return None
    from agent.finetune.served_shift import AdapterShift

    try:
        _, manifest = usable_adapter(settings, "shift")
    except AdapterRefused as refused:
        log.warning("no shift adapter: %s", refused)
        return None
    budget = settings.agent.adapter_summary_tokens
    words = settings.domain_words
    return AdapterShift(llm.for_model(manifest.served_name), manifest, lambda user: memory.summary(user, budget).text,
                        lambda: {node: topic.label for node, topic in memory.catalog.topics().items()},
                        settings.agent.horizon(words.repeats), words)

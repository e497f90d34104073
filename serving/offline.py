"""Process-wide set-up for an offline machine, applied once at each entry point."""

from __future__ import annotations

import os

from serving.settings import Settings

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def apply_offline_env(settings: Settings) -> None:
    """No hub look-ups, no telemetry, and torch on few threads so vLLM keeps its cores."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    import torch

    torch.set_num_threads(settings.torch_threads)

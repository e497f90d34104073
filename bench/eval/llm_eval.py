"""The embedded LLM as a ranker: the product's one-pass label-logprob preference, labels shuffled.

``agent.llm.preference.llm_preference`` labels candidates A, B, C ... in the order given; the
135M model picks "A" almost always (ENVIRONMENT.md), so every request here shuffles the
candidates with a seeded generator first and the label that won is counted, to measure
that bias. The profile line is the deterministic digest profile (``agent.profiler.
baseline_profile``), as the product serves it whenever the LLM profile is not cached;
the recent titles are the user's five newest liked items, newest first, as in the product.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from agent.llm.preference import LABELS, llm_preference
from agent.llm.vllm_client import VllmLLM
from agent.profiler import baseline_profile
from memory.models import Item
from memory.movielens import MOVIELENS_WORDS
from serving.settings import load_settings

RECENT_TITLES = 5
WORKERS = 4


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class EmbeddedRanker:
    """Starts the embedded vLLM (its own port and log folder) and scores candidate lists with it."""

    def __init__(self, stack: ExitStack, echo: Callable[[str], None] = print):
        from serving.llm_server import EmbeddedLLMServer, llm_base_url
        from serving.offline import apply_offline_env

        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="shiftrec-eval-llm-"))
        base = load_settings()
        settings = load_settings(
            data_dir=Path(folder), cache_dir=base.cache_dir,
            server=base.server.model_copy(update={"port": free_port()}),
        )
        apply_offline_env(settings)
        started = time.perf_counter()
        self.server = stack.enter_context(EmbeddedLLMServer(settings))
        self.startup_s = time.perf_counter() - started
        echo(f"embedded vLLM ready in {self.startup_s:.0f} s ({settings.server.resolved_dtype})")
        self.llm = VllmLLM(llm_base_url(settings), settings.llm.model, api_key=settings.llm.api_key,
                           timeout_s=120.0, context_tokens=settings.llm.context_tokens)
        self.model_id = settings.llm.model
        self.winning_labels: Counter[str] = Counter()
        self.requests = 0
        self.failures = 0
        self.seconds = 0.0

    def preferences(
        self, requests: Sequence[tuple[str, Sequence[str], Sequence[Item], int]], seed: int
    ) -> list[dict[str, float] | None]:
        """For each (profile, recent titles, candidates, key): item id -> logprob; None when the call failed."""
        def one(request):
            profile, recent, items, key = request
            order = np.random.default_rng([seed, key]).permutation(len(items))
            shuffled = [items[i] for i in order]
            try:
                scores = llm_preference(self.llm, profile, recent, shuffled, MOVIELENS_WORDS)
            except Exception:  # a failed request is counted and the user keeps the fusion order
                return None, None
            best = max(range(len(shuffled)), key=lambda i: scores[shuffled[i].id])
            return scores, LABELS[best]

        started = time.perf_counter()
        with ThreadPoolExecutor(WORKERS) as pool:
            results = list(pool.map(one, requests))
        self.seconds += time.perf_counter() - started
        out = []
        for scores, label in results:
            self.requests += 1
            if scores is None:
                self.failures += 1
            else:
                self.winning_labels[label] += 1
            out.append(scores)
        return out

    def bias(self) -> dict:
        answered = max(self.requests - self.failures, 1)
        top = self.winning_labels.most_common(1)
        return {
            "requests": self.requests, "failures": self.failures,
            "seconds_per_request": round(self.seconds / max(self.requests, 1), 3),
            "winning_label_counts": dict(sorted(self.winning_labels.items())),
            "top_label": top[0][0] if top else None,
            "top_label_share": round(top[0][1] / answered, 4) if top else None,
            "uniform_share": round(1 / 20, 4),
        }


def prompt_inputs(memory, user: str) -> tuple[str, list[str]]:
    """The profile line and newest liked titles the product puts in the rank prompt."""
    digest = memory.digest(user)
    profile = baseline_profile(digest).profile
    recent = [event.item for event in memory.recent_events(user) if event.weight > 0][-RECENT_TITLES:]
    found = memory.get_items(recent)
    return profile, [found[item].title for item in reversed(recent) if item in found]

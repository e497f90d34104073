"""The LLM's shift prediction on grocery households: each chosen household's purchases before its
cut go into a fresh interest memory, the embedded LLM writes its profile from the summary, and the
interests it names (the predicted shift's target first) become a ranking of category nodes."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.eval.cost import measure


def profile_rankings(profile_result, depth: int) -> list[str]:
    """The profile's named interests (shift target first) cut to ``depth`` (deeper ids give their ancestor)."""
    p = profile_result.profile
    named = [p.shift.to_interest, *p.short_term, *p.long_term]
    cut = ["/".join(node.split("/")[: depth + 1]) for node in named if node and node.count("/") >= depth]
    return list(dict.fromkeys(cut))


def grocery_llm_rankings(households: int, seed: int, chosen: Sequence[tuple[str, float]], ranker,
                         echo: Callable[[str], None], depth: int = 1) -> tuple[dict[tuple[str, float], list[str]],
                                                                               dict]:
    """(household, cut time) -> the LLM profile's category ranking, each household read up to its cut only."""
    from agent.profiler import Profiler
    from memory.embeddings import MiniLMEmbedder
    from memory.grocery import load_grocery
    from memory.service import InterestMemory
    from serving.settings import load_settings

    data = load_grocery(households=households, min_buyers=1, seed=seed)
    cut_of = dict(chosen)
    events = [e for e in data.events() if e.user in cut_of and e.timestamp.timestamp() < cut_of[e.user]]
    bought = {e.item for e in events}
    with tempfile.TemporaryDirectory(prefix="shiftrec-shift-llm-") as folder:
        settings = load_settings(data_dir=Path(folder), chroma_url=None)
        with InterestMemory.open(settings.memory_config, MiniLMEmbedder(threads=1)) as memory:
            memory.add_items([item for item in data.items if item.id in bought])
            memory.ingest(events, progress=False)
            profiler = Profiler(memory, ranker.llm)
            with measure("shift_llm_grocery") as cost, ThreadPoolExecutor(4) as pool:
                profiles = list(pool.map(profiler.profile, [user for user, _ in chosen]))
    echo(f"grocery LLM profiles: {len(profiles)} households in {cost.seconds:.0f} s")
    rankings = {(user, t): profile_rankings(result, depth) for (user, t), result in zip(chosen, profiles, strict=True)}
    return rankings, {**cost.as_dict(), "households": len(chosen), "degraded": sum(p.degraded for p in profiles),
                      "seconds_per_profile": round(cost.seconds / max(len(chosen), 1), 2)}


"""vLLM benchmark: start-up, first token, decode speed, concurrency, structured-output validity, memory.

Starts the embedded server as configured, measures through its OpenAI-compatible API (plain
requests for the speed parts, the real ``rerank`` prompt for validity) and writes
``llm.json`` and ``llm.md``. The machine's 2 cores are often shared: the load average at the
start is recorded with the numbers.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openai
import psutil
from tqdm import tqdm

from agent.llm.interface import LLMError
from agent.llm.prompting import run_prompt
from agent.llm.vllm_client import VllmLLM
from serving.llm_server import EmbeddedLLMServer
from serving.model_convert import ensure_model
from serving.settings import Settings

TTFT_REQUESTS = 10
DECODE_TOKENS = 256
DECODE_RUNS = 3  # single streams back to back; the median is reported (one stream varied 38-56 tok/s here)
CONCURRENT_REQUESTS = 8
STRUCTURED_CALLS = 50
STRUCTURED_CONCURRENCY = 8
REQUEST_TIMEOUT_S = 600.0
TARGETS = {
    "structured_valid_rate": 1.0,
    "decode_tok_s_single": 50.0,
    "tok_s_concurrent_8": 150.0,
    "startup_s": 30.0,  # with --enforce-eager
}

# an invented catalog (no MovieLens rows): id, title, categories
CATALOG = [
    ("m01", "Orbit of Ash", ["Sci-Fi", "Drama"]), ("m02", "The Quiet Harbour", ["Drama"]),
    ("m03", "Laugh Track", ["Comedy"]), ("m04", "Neon Circuit", ["Sci-Fi", "Action"]),
    ("m05", "Cellar Door", ["Horror"]), ("m06", "Paper Kingdoms", ["Fantasy", "Adventure"]),
    ("m07", "Ten Minutes Late", ["Comedy", "Romance"]), ("m08", "Glass Meridian", ["Thriller"]),
    ("m09", "Salt and Iron", ["History", "Drama"]), ("m10", "The Last Relay", ["Sci-Fi"]),
    ("m11", "Hollow Pines", ["Horror", "Mystery"]), ("m12", "Dragon's Ledger", ["Fantasy"]),
    ("m13", "Night Shift Diner", ["Comedy"]), ("m14", "Red Canyon Run", ["Action", "Western"]),
    ("m15", "Small Hours", ["Romance", "Drama"]), ("m16", "Cipher Lake", ["Mystery", "Thriller"]),
    ("m17", "Starboard Home", ["Sci-Fi", "Family"]), ("m18", "The Tin Orchestra", ["Animation", "Family"]),
    ("m19", "Burning Archive", ["History", "Thriller"]), ("m20", "Wild Appetite", ["Documentary"]),
    ("m21", "Moth Season", ["Horror"]), ("m22", "Second Sunrise", ["Sci-Fi", "Romance"]),
    ("m23", "Crooked Crowns", ["Fantasy", "Comedy"]), ("m24", "Deep Survey", ["Documentary", "Sci-Fi"]),
]  # fmt: skip
ACTIONS = ["rated {} 5/5", "rated {} 4/5", "watched {} twice", "liked {}", "rated {} 2/5", "skipped {}"]


@dataclass(frozen=True)
class RerankCase:
    """Variables for the ``rerank`` prompt and the ids the answer may name."""

    variables: dict[str, Any]
    choices: dict[str, list[str]]


def rerank_cases(count: int, seed: int = 0) -> list[RerankCase]:
    """``count`` varied rerank requests: different histories, candidate sets, interests and top_k."""
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        shuffled = rng.sample(CATALOG, len(CATALOG))
        seen, candidates = shuffled[: rng.randint(3, 6)], shuffled[6 : 6 + rng.randint(4, 10)]
        events = [
            {"id": f"e{rng.randint(100, 999)}-{n}", "text": rng.choice(ACTIONS).format(title)}
            for n, (_, title, _) in enumerate(seen)
        ]
        categories = sorted({c for _, _, cats in seen + candidates for c in cats})
        labels = rng.sample(categories, min(len(categories), rng.randint(2, 4)))
        interests = [{"id": f"t:{label.lower()}", "label": label} for label in labels]
        summary = (
            f"Long-term: {labels[0]} (rising), {labels[1]} (fading). "
            f"Recent session: {', '.join(title for _, title, _ in seen[:3])}."
        )
        variables = {
            "summary": summary,
            "top_k": min(rng.randint(3, 5), len(candidates)),
            "candidates": [{"id": i, "title": t, "categories": c} for i, t, c in candidates],
            "events": events,
            "interests": interests,
        }
        choices = {
            "candidates": [i for i, _, _ in candidates],
            "events": [e["id"] for e in events],
            "interests": [i["id"] for i in interests],
        }
        cases.append(RerankCase(variables, choices))
    return cases


def run_llm_bench(
    settings: Settings,
    results_dir: Path,
    *,
    ttft_requests: int = TTFT_REQUESTS,
    structured_calls: int = STRUCTURED_CALLS,
    comparisons: dict[str, Path] | None = None,
) -> dict[str, Any]:
    """Start the embedded vLLM, measure it, write ``llm.json`` and ``llm.md``; returns the numbers."""
    load_at_start = os.getloadavg()
    model_dir = ensure_model(settings)
    with EmbeddedLLMServer(settings, model_dir=model_dir) as server:
        print(f"vLLM up in {server.startup_s:.1f} s (enforce_eager={settings.server.enforce_eager})")
        client = openai.OpenAI(base_url=server.base_url, api_key=settings.llm.api_key, timeout=REQUEST_TIMEOUT_S)
        model = settings.llm.model
        ttft = [_first_token_s(client, model) for _ in tqdm(range(ttft_requests), desc="first token")]
        decode_runs = [_single_stream_decode(client, model) for _ in range(DECODE_RUNS)]
        concurrent = _concurrent_throughput(client, model)
        llm = VllmLLM(server.base_url, model, timeout_s=REQUEST_TIMEOUT_S, context_tokens=settings.llm.context_tokens)
        structured = _structured_validity(llm, rerank_cases(structured_calls, seed=1))
        rss_gb = _tree_rss_gb(server.pid)
        startup_s = server.startup_s
    results = {
        "model": model,
        "model_dir": str(model_dir),
        "enforce_eager": settings.server.enforce_eager,
        "dtype": settings.server.resolved_dtype,
        "kv_cache_gb": settings.server.kv_cache_gb,
        "startup_s": round(startup_s, 2),
        "ttft_s": round(statistics.median(ttft), 3),
        "ttft_requests": ttft_requests,
        "decode_tok_s_single": round(statistics.median(decode_runs), 1),
        "decode_tok_s_runs": [round(run, 1) for run in decode_runs],
        "decode_tokens": DECODE_TOKENS,
        "tok_s_concurrent_8": round(concurrent, 1),
        **structured,
        "rss_gb": round(rss_gb, 2),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_avg_at_start": [round(x, 2) for x in load_at_start],
        "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "mem_total_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "machine": f"{platform.machine()} {platform.system()} {platform.release()}, Python {platform.python_version()}",
        "single_process": settings.server.single_process,
        "notes": "CPU vLLM in its own venv; load average shows other work sharing the cores during the run.",
    }
    for name, path in (comparisons or {}).items():
        results[f"comparison_{name}"] = json.loads(path.read_text(encoding="utf-8"))
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "llm.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (results_dir / "llm.md").write_text(_markdown(results), encoding="utf-8")
    print(_markdown(results))
    return results


def _first_token_s(client: openai.OpenAI, model: str) -> float:
    started = time.perf_counter()
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Say hello."}], max_tokens=8, stream=True
    )
    first = None
    for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - started
    if first is None:
        raise RuntimeError("the server streamed no content for a short request")
    return first


def _single_stream_decode(client: openai.OpenAI, model: str) -> float:
    """Tokens per second after the first token, one stream of DECODE_TOKENS tokens."""
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Tell a long story about a lighthouse."}],
        max_tokens=DECODE_TOKENS,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"ignore_eos": True},
    )
    first = last = None
    tokens = 0
    for chunk in tqdm(stream, desc="single-stream decode", total=DECODE_TOKENS + 2):
        if chunk.choices and chunk.choices[0].delta.content:
            last = time.perf_counter()
            first = first or last
        if chunk.usage:
            tokens = chunk.usage.completion_tokens
    if first is None or last is None or tokens < 2:
        raise RuntimeError("the decode stream produced fewer than 2 tokens")
    return (tokens - 1) / (last - first)


def _concurrent_throughput(client: openai.OpenAI, model: str) -> float:
    """Total generated tokens per second of wall time with CONCURRENT_REQUESTS requests in flight."""

    def one(index: int) -> int:
        reply = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": f"Tell story number {index} about a lighthouse."}],
            max_tokens=DECODE_TOKENS,
            extra_body={"ignore_eos": True},
        )
        return reply.usage.completion_tokens

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENT_REQUESTS) as pool:
        counts = list(tqdm(pool.map(one, range(CONCURRENT_REQUESTS)), total=CONCURRENT_REQUESTS, desc="8 concurrent"))
    return sum(counts) / (time.perf_counter() - started)


def _structured_validity(llm: VllmLLM, cases: list[RerankCase]) -> dict[str, Any]:
    """Run the real rerank prompt; count answers valid on the first attempt and after the one retry."""

    def one(case: RerankCase) -> tuple[int | None, float, int, int]:
        """(attempts or None when invalid after the retry, latency, completion tokens, duplicated items)."""
        started = time.perf_counter()
        try:
            result = run_prompt(llm, "rerank", case.variables, choices=case.choices)
        except LLMError:
            return None, time.perf_counter() - started, 0, 0
        ids = [item.item_id for item in result.value.items]
        generation = result.generation
        return generation.attempts, generation.latency_s, generation.completion_tokens, len(ids) - len(set(ids))

    started = time.perf_counter()
    with ThreadPoolExecutor(STRUCTURED_CONCURRENCY) as pool:
        outcomes = list(tqdm(pool.map(one, cases), total=len(cases), desc="rerank (structured)"))
    wall_s = time.perf_counter() - started
    attempts = [a for a, _, _, _ in outcomes]
    return {
        "structured_calls": len(cases),
        "structured_concurrency": STRUCTURED_CONCURRENCY,
        "structured_valid_rate": sum(a == 1 for a in attempts) / len(cases),
        "structured_valid_rate_after_retry": sum(a is not None for a in attempts) / len(cases),
        "structured_mean_latency_s": round(statistics.mean(latency for _, latency, _, _ in outcomes), 2),
        "structured_mean_completion_tokens": round(statistics.mean(t for _, _, t, _ in outcomes), 1),
        "structured_answers_with_duplicate_items": sum(d > 0 for _, _, _, d in outcomes),
        "structured_wall_s": round(wall_s, 1),
    }


def _tree_rss_gb(pid: int | None) -> float:
    """Resident memory of the server process and all its children (engine core, workers)."""
    if pid is None:
        return 0.0
    root = psutil.Process(pid)
    processes = [root, *root.children(recursive=True)]
    return sum(p.memory_info().rss for p in processes if p.is_running()) / 2**30


def _markdown(results: dict[str, Any]) -> str:
    """The table; every ``comparison_<name>`` run stored beside the results gets its own column."""
    rows = [
        ("start-up (s)", "startup_s", "≤ 30 (eager)" if results["enforce_eager"] else "-"),
        ("first token, median (s)", "ttft_s", "-"),
        (f"decode, single stream, median of {DECODE_RUNS} (tok/s)", "decode_tok_s_single", "≥ 50"),
        ("decode, each stream (tok/s)", "decode_tok_s_runs", "-"),
        ("8 concurrent, total (tok/s)", "tok_s_concurrent_8", "≥ 150"),
        ("rerank valid, first attempt", "structured_valid_rate", "1.0"),
        ("rerank valid, after retry", "structured_valid_rate_after_retry", "1.0"),
        ("rerank mean latency (s)", "structured_mean_latency_s", "-"),
        ("server RSS with children (GB)", "rss_gb", "-"),
    ]
    others = {key.removeprefix("comparison_"): run for key, run in results.items() if key.startswith("comparison_")}
    header = " | ".join(["this run", *others])
    lines = [
        f"# vLLM CPU benchmark: {results['model']} ({results['dtype']}, enforce_eager={results['enforce_eager']})",
        "",
        f"{results['timestamp']}; load average at start {results['load_avg_at_start']} on "
        f"{results['cpu_count']} cores; rerank: {results['structured_calls']} calls, "
        f"{results['structured_concurrency']} in flight.",
        *(f"Comparison `{name}`: {run.get('timestamp', '?')}, load average at start "
          f"{run.get('load_avg_at_start', '?')}." for name, run in others.items()),
        "",
        f"| measure | {header} | target |",
        "|---|" + "---|" * (len(others) + 2),
        *(f"| {label} | " + " | ".join(str(run.get(key, "-")) for run in [results, *others.values()])
          + f" | {target} |" for label, key, target in rows),
    ]
    if results.get("notes"):
        lines += ["", results["notes"]]
    return "\n".join(lines) + "\n"

"""`shiftrec bench memory`: how fast the interest memory ingests, updates and summarises.

Measured in one run, on a fresh store in a temporary folder:

- bulk ingest of MovieLens-1M (events/s), interleaved batch by batch with Chroma's raw
  ``add`` of the very same event rows into an identically configured collection (the
  ceiling: no interest levels, no duplicate check), so machine load hits both alike;
- single-event update latency (the online path) and summary latency for users with
  about 2,000 events;
- growth: update and summary latency for users with 10 ... 10,000 events.

Writes ``memory.json``, ``memory.md`` and ``memory_growth.png`` under ``results_dir``.
"""

from __future__ import annotations

import json
import os
import platform
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from itertools import islice
from pathlib import Path

import numpy as np
from tqdm import tqdm

from memory.embeddings import Embedder
from memory.ingest import event_weight
from memory.interests import WindowEvent
from memory.models import Event
from memory.movielens import MovieLens, load_movielens
from memory.service import InterestMemory
from memory.state_rows import event_row
from serving.settings import Settings

RAW_COLLECTION = "bench_raw_add"
GROWTH_SIZES = (10, 100, 1_000, 10_000)
TARGETS = {"ingest_vs_raw_min": 0.8, "update_p95_ms_max": 20.0, "summary_p95_ms_2000_max": 50.0}


def run_memory_bench(
    settings: Settings,
    results_dir: Path,
    dataset: str = "ml-1m",
    events_limit: int | None = None,
    growth_sizes: Sequence[int] = GROWTH_SIZES,
    samples: int = 200,
    embedder: Embedder | None = None,
) -> dict:
    """Run every measurement, write the results files, and return the JSON as a dict."""
    results_dir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    data = load_movielens(dataset)
    with tempfile.TemporaryDirectory(prefix="shiftrec-bench-") as folder:
        bench_settings = settings.model_copy(update={"data_dir": Path(folder), "chroma_url": None})
        memory = InterestMemory.open(bench_settings.memory_config, embedder)
        catalog = memory.add_items(list(data.items), progress=True)
        ingest = _bulk_vs_raw(memory, data, events_limit)
        rng = random.Random(0)
        update = _update_latency(memory, data, rng, samples)
        heavy = _users_near(data, ingest["events"], 2_000, limit=8)
        summary = _summary_latency(memory, heavy, samples)
        growth = _growth(memory, data, growth_sizes, rng, max(samples // 4, 20))
    result = {
        "dataset": dataset,
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "processor": platform.machine()},
        "load_average_before": [round(value, 2) for value in load_before],
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
        "catalog_items": len(data.items),
        "catalog_embed_s": catalog.seconds,
        "state_checkpoint_events": settings.memory.state_checkpoint_events,
        **ingest,
        **update,
        "summary_users": heavy,
        "summary_user_events": _event_counts(data, heavy),
        **summary,
        "growth": growth,
        "targets": TARGETS,
    }
    result["targets_met"] = {
        "ingest_vs_raw": result["ingest_vs_raw"] >= TARGETS["ingest_vs_raw_min"],
        "update_p95": result["update_p95_ms"] <= TARGETS["update_p95_ms_max"],
        "summary_p95_2000": result["summary_p95_ms_2000"] <= TARGETS["summary_p95_ms_2000_max"],
    }
    (results_dir / "memory.json").write_text(json.dumps(result, indent=2) + "\n")
    _plot(growth, results_dir / "memory_growth.png")
    (results_dir / "memory.md").write_text(_markdown(result))
    return result


def _bulk_vs_raw(memory: InterestMemory, data: MovieLens, limit: int | None) -> dict:
    """Batch by batch: the raw add of a batch's rows, then our ingest of the batch (order alternating)."""
    batch_size = memory.settings.memory.ingest_batch_size
    total = min(limit or len(data.ratings), len(data.ratings))
    vectors = memory.item_vectors([item.id for item in data.items])
    memory.store.create_scratch_collection(RAW_COLLECTION)
    events = islice(data.events(), total)
    raw_s = ingest_s = 0.0
    count = 0
    logged: dict[str, int] = {}  # per-user log position, as the ingest numbers them
    with tqdm(total=total, desc="ingest vs raw add", unit="ev") as bar:
        while batch := list(islice(events, batch_size)):
            rows = []
            for event in batch:
                logged[event.user] = logged.get(event.user, 0) + 1
                rows.append(_raw_row(memory, event, vectors[event.item], logged[event.user]))
            ids = [row.id for row in rows]  # the very rows the ingest writes: ids, vectors, metadata
            raw_add = (
                memory.store.raw_add,
                RAW_COLLECTION,
                ids,
                np.stack([row.vector for row in rows]),
                [row.metadata for row in rows],
            )
            ours = (memory.ingest, batch, None, False)
            first, second = (raw_add, ours) if (count // batch_size) % 2 == 0 else (ours, raw_add)
            spent = {id(first): _timed(*first), id(second): _timed(*second)}
            raw_s += spent[id(raw_add)]
            ingest_s += spent[id(ours)]
            count += len(batch)
            bar.update(len(batch))
    memory.store.drop_collection(RAW_COLLECTION)
    return {
        "events": count,
        "batch_size": batch_size,
        "ingest_events_per_s": round(count / ingest_s, 1),
        "raw_add_rows_per_s": round(count / raw_s, 1),
        "ingest_vs_raw": round(raw_s / ingest_s, 3),
        "ingest_s": round(ingest_s, 1),
        "raw_add_s": round(raw_s, 1),
    }


def _raw_row(memory: InterestMemory, event: Event, vector: np.ndarray, seq: int):
    weight = event_weight(event, memory.settings.memory)
    window_event = WindowEvent(event.epoch, event.id, event.item, event.action, event.value, weight)
    return event_row(event.user, window_event, vector, seq)


def _update_latency(memory: InterestMemory, data: MovieLens, rng: random.Random, samples: int) -> dict:
    """One new event at a time for users already in memory (warm), and the first touch of a user (cold)."""
    users = rng.sample(list(data.user_ids), min(samples, len(data.user_ids)))
    items = [item.id for item in data.items]
    cold, warm = [], []
    for position, user in enumerate(users):
        first, second = (_new_event(user, rng.choice(items), f"{kind}-{position}") for kind in ("cold", "warm"))
        memory.drop_cached([user])  # cold: the user's state must be read from Chroma
        cold.append(_timed(memory.record, first))
        warm.append(_timed(memory.record, second))
    return {
        "update_p50_ms": _ms(warm, 50),
        "update_p95_ms": _ms(warm, 95),
        "update_p99_ms": _ms(warm, 99),
        "update_mean_ms": round(1000 * float(np.mean(warm)), 2),
        "update_cold_p50_ms": _ms(cold, 50),
        "update_cold_p95_ms": _ms(cold, 95),
        "update_samples": len(warm),
    }


def _new_event(user: str, item: str, tag: str) -> Event:
    return Event(
        id=f"bench-{tag}", user=user, item=item, action="like", timestamp=datetime(2003, 3, 1, tzinfo=timezone.utc)
    )


def _summary_latency(memory: InterestMemory, users: list[str], samples: int) -> dict:
    budget = memory.settings.memory.summary_token_budget
    for user in users:
        memory.summary(user, budget)  # warm the cache: the cost of a first read is the update's cold number
    times = [_timed(memory.summary, users[position % len(users)], budget) for position in range(samples)]
    return {
        "summary_p50_ms_2000": _ms(times, 50),
        "summary_p95_ms_2000": _ms(times, 95),
        "summary_p99_ms_2000": _ms(times, 99),
        "summary_token_budget": budget,
    }


def _growth(
    memory: InterestMemory, data: MovieLens, sizes: Sequence[int], rng: random.Random, samples: int
) -> list[dict]:
    """Synthetic users with n events over the same year: update and summary latency by history length."""
    items = [item.id for item in data.items]
    popularity = np.bincount(data.ratings.item, minlength=len(items)).astype(float) + 1.0
    picker = np.random.default_rng(0)
    end = datetime(2003, 2, 28, tzinfo=timezone.utc)
    rows = []
    for size in sizes:
        user = f"growth-{size}"
        chosen = picker.choice(len(items), size=size, p=popularity / popularity.sum())
        offsets = np.sort(picker.uniform(0, 365 * 86400, size=size))
        events = [
            Event(
                id=f"g{size}-{k}",
                user=user,
                item=items[code],
                action="rate",
                value=float(picker.integers(1, 6)),
                timestamp=end - timedelta(seconds=365 * 86400 - float(offset)),
            )
            for k, (code, offset) in enumerate(zip(chosen, offsets))
        ]
        memory.ingest(events, progress=False)
        memory.summary(user)
        new_events = [_new_event(user, rng.choice(items), f"growth-{size}-{k}") for k in range(samples)]
        update = [_timed(memory.record, new_event) for new_event in new_events]
        summary = [_timed(memory.summary, user) for _ in range(samples)]
        rows.append(
            {
                "history_events": size,
                "update_p50_ms": _ms(update, 50),
                "update_p95_ms": _ms(update, 95),
                "summary_p50_ms": _ms(summary, 50),
                "summary_p95_ms": _ms(summary, 95),
            }
        )
    return rows


def _users_near(data: MovieLens, ingested: int, events: int, limit: int) -> list[str]:
    """Users (among the ingested rows) whose history length is closest to ``events``."""
    counts = np.bincount(data.ratings.user[:ingested])
    order = np.argsort(np.abs(counts - events), kind="stable")[:limit]
    return [data.user_ids[code] for code in order]


def _event_counts(data: MovieLens, users: list[str]) -> list[int]:
    counts = np.bincount(data.ratings.user)
    return [int(counts[data.user_index[user]]) for user in users]


def _timed(action: Callable[..., object], *args: object) -> float:
    started = time.perf_counter()
    action(*args)
    return time.perf_counter() - started


def _ms(seconds: list[float], percentile: int) -> float:
    return round(float(np.percentile(np.array(seconds) * 1000.0, percentile)), 2)


def _plot(growth: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [row["history_events"] for row in growth]
    figure, axis = plt.subplots(figsize=(6.4, 4.0))
    for key, label in (
        ("update_p50_ms", "update p50"),
        ("update_p95_ms", "update p95"),
        ("summary_p50_ms", "summary p50"),
        ("summary_p95_ms", "summary p95"),
    ):
        axis.plot(sizes, [row[key] for row in growth], marker="o", label=label)
    axis.set_xscale("log")
    axis.set_ylim(bottom=0)  # from zero, so a flat cost looks flat
    axis.set_xlabel("events in the user's history")
    axis.set_ylabel("milliseconds")
    axis.set_title("Interest memory: cost per call vs history length")
    axis.grid(True, alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _markdown(result: dict) -> str:
    met = {key: "(met)" if value else "(missed)" for key, value in result["targets_met"].items()}
    update = " / ".join(str(result[f"update_{p}_ms"]) for p in ("p50", "p95", "p99"))
    summary = " / ".join(str(result[f"summary_{p}_ms_2000"]) for p in ("p50", "p95", "p99"))
    measures = [
        (
            f"bulk ingest, {result['dataset']} ({result['events']:,} events)",
            f"{result['ingest_events_per_s']:,.0f} events/s",
            "",
        ),
        ("Chroma raw add of the same rows, same run", f"{result['raw_add_rows_per_s']:,.0f} rows/s", ""),
        ("ingest / raw add", f"{result['ingest_vs_raw']:.2f}", f">= 0.8 {met['ingest_vs_raw']}"),
        (
            "single-event update p50 / p95 / p99 (mean)",
            f"{update} ms ({result['update_mean_ms']} ms)",
            f"p95 <= 20 ms {met['update_p95']}",
        ),
        (
            "first update of a user not in cache p50 / p95",
            f"{result['update_cold_p50_ms']} / {result['update_cold_p95_ms']} ms",
            "",
        ),
        (
            "summary p50 / p95 / p99, users with ~2,000 events",
            f"{summary} ms",
            f"p95 <= 50 ms {met['summary_p95_2000']}",
        ),
        (f"catalog embedding ({result['catalog_items']:,} items, MiniLM)", f"{result['catalog_embed_s']} s", ""),
    ]
    lines = [
        "# Interest memory benchmark",
        "",
        f"Measured {result['measured_at']} on {result['machine']['cpus']} CPUs; load average "
        f"{result['load_average_before'][0]} before and {result['load_average_after'][0]} after "
        "(other work shared the machine). Fresh embedded Chroma store in a temporary folder.",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        *(f"| {name} | {value} | {target} |" for name, value, target in measures),
        "",
        "Raw add = `collection.add` of exactly the rows the ingest stores (same ids, vectors, metadata) into a "
        "collection configured like `memory_events`, batch by batch in the same run, alternating which goes first. "
        f"An online update stores its event at once and writes the derived rows every "
        f"{result['state_checkpoint_events']} events of a user (those calls are in the p99, not the p95).",
        "",
        "## Growth with history length",
        "",
        "| events in history | update p50 ms | update p95 ms | summary p50 ms | summary p95 ms |",
        "|---|---|---|---|---|",
    ]
    for row in result["growth"]:
        lines.append(
            f"| {row['history_events']:,} | {row['update_p50_ms']} | {row['update_p95_ms']} | "
            f"{row['summary_p50_ms']} | {row['summary_p95_ms']} |"
        )
    lines += ["", "![growth](memory_growth.png)", ""]
    return "\n".join(lines)

"""The behaviour-log rankers every protocol compares: popularity, item-kNN and SASRec.

Each is a ``score(histories, times) -> (users, items)`` function over one vocabulary, fitted
on the protocol's training split only. SASRec is trained once per protocol with the
product's MovieLens configuration (``agent.rankers.sequential_training.MOVIELENS_CONFIGS``, early
stopping on validation NDCG@10) and cached with its measured training cost, so that the
protocol sub-commands and ``all`` reuse one model per split.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from agent.rankers.cooccurrence import ItemKNN
from agent.rankers.sequences import LeaveOneOutSplit
from agent.rankers.sequential import SequentialModel
from agent.rankers.sequential_training import MOVIELENS_CONFIGS, train_sequential
from bench.eval.cost import machine_load, measure

Scorer = Callable[[Sequence[np.ndarray], Sequence[np.ndarray]], np.ndarray]


def popularity_scorer(split: LeaveOneOutSplit) -> Scorer:
    counts = np.log1p(split.train.item_counts().astype(np.float64))  # the product's popularity source

    def score(histories: Sequence[np.ndarray], times: Sequence[np.ndarray] | None = None) -> np.ndarray:
        return np.tile(counts, (len(histories), 1))

    return score


def itemknn_scorer(split: LeaveOneOutSplit) -> tuple[Scorer, dict]:
    with measure("itemknn_fit") as cost:
        model = ItemKNN(split.train.item_ids).fit(split.train)
        model.similarity()
    return model.score_indices, cost.as_dict()


def split_fingerprint(split: LeaveOneOutSplit) -> str:
    digest = hashlib.sha1()
    digest.update(json.dumps([str(i) for i in split.train.item_ids]).encode())
    for items in split.train.items:
        digest.update(np.asarray(items, dtype=np.int64).tobytes())
    digest.update(np.asarray(split.test.targets).tobytes())
    return digest.hexdigest()[:16]


def sequential_model(
    protocol: str, dataset: str, split: LeaveOneOutSplit, cache_dir: Path, echo: Callable[[str], None] = print,
    retrain: bool = False,
) -> tuple[SequentialModel, dict]:
    """The protocol's SASRec (trained now, or loaded from the cache with the cost measured when it was trained)."""
    config = MOVIELENS_CONFIGS[dataset]
    key = f"{protocol}-{split_fingerprint(split)}-{hashlib.sha1(config.model_dump_json().encode()).hexdigest()[:8]}"
    path, meta_path = cache_dir / f"sasrec-{key}.pt", cache_dir / f"sasrec-{key}.json"
    if path.exists() and meta_path.exists() and not retrain:
        meta = json.loads(meta_path.read_text())
        echo(f"{protocol}: SASRec loaded from {path} (trained {meta['trained_at']}, {meta['seconds']:.0f} s)")
        return SequentialModel.load(path, expected_item_ids=split.train.item_ids), {**meta, "cached": True}
    epochs: list[dict] = []

    def on_epoch(report) -> None:
        epochs.append({"epoch": report.epoch, "loss": round(report.train_loss, 4), "seconds": round(report.seconds, 1),
                       "validation_ndcg@10": round((report.validation or {}).get("ndcg@10", float("nan")), 4),
                       "best_so_far": report.is_best})
        echo(f"{protocol} SASRec epoch {report.epoch}: loss {report.train_loss:.4f} "
             f"val ndcg@10 {epochs[-1]['validation_ndcg@10']} ({report.seconds:.0f} s){' *' if report.is_best else ''}")

    load_before = machine_load()
    with measure("sasrec_train") as cost:
        model = train_sequential(split.train, config, progress=False, validation=split.validation, on_epoch=on_epoch)
    best = [e for e in epochs if e["best_so_far"]][-1]  # the kept epoch (rounded scores can tie)
    meta = {
        **cost.as_dict(), "config": json.loads(config.model_dump_json()), "epochs": epochs,
        "best_epoch": best["epoch"], "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average_before": load_before, "load_average_after": machine_load(), "torch_threads": config.threads,
    }
    cache_dir.mkdir(parents=True, exist_ok=True)
    model.save(path)
    meta_path.write_text(json.dumps(meta, indent=2))
    return model, {**meta, "cached": False}

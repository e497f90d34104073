"""Top-k ranking metrics, shared by every ranker's evaluation so the numbers compare.

Two levels: per-list metrics (a ranked list and a set of relevant items; what a person
would compute by hand) and the leave-one-out form used for benchmarks (one held-out item
per user, its rank among all candidates), which is vectorised because it runs over
thousands of users and thousands of items.

Ties are counted against the target (pessimistic rank): a ranker that gives every item
the same score must not look perfect.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Sequence

import numpy as np

from agent.rankers.sequences import EvaluationCases


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def hit_rate_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """1.0 when any relevant item is in the first k, else 0.0."""
    _check_k(k)
    return float(any(item in relevant for item in ranked[:k]))


def ndcg_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """Binary-relevance NDCG: DCG of the first k divided by the best DCG possible."""
    _check_k(k)
    if not relevant:
        return 0.0
    dcg = sum(1.0 / np.log2(position + 2) for position, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1.0 / np.log2(position + 2) for position in range(min(k, len(relevant))))
    return float(dcg / ideal)


def average_precision_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """Mean of precision@i over the positions i <= k that hold a relevant item,
    divided by min(k, |relevant|) so that a perfect list scores 1."""
    _check_k(k)
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for position, item in enumerate(ranked[:k]):
        if item in relevant:
            hits += 1
            total += hits / (position + 1)
    return total / min(k, len(relevant))


def mean_metrics_at_k(
    rankings: Iterable[Sequence[Hashable]], relevants: Iterable[Collection[Hashable]], k: int
) -> dict[str, float]:
    """NDCG@k, HR@k and MAP@k averaged over users (one ranked list and one relevant set each)."""
    ndcg, hit, ap = [], [], []
    for ranked, relevant in zip(rankings, relevants, strict=True):
        ndcg.append(ndcg_at_k(ranked, relevant, k))
        hit.append(hit_rate_at_k(ranked, relevant, k))
        ap.append(average_precision_at_k(ranked, relevant, k))
    if not ndcg:
        raise ValueError("no users to evaluate")
    return {f"ndcg@{k}": float(np.mean(ndcg)), f"hr@{k}": float(np.mean(hit)), f"map@{k}": float(np.mean(ap))}


def target_ranks(
    scores: np.ndarray, targets: np.ndarray, excluded: Sequence[Collection[int]] | None = None
) -> np.ndarray:
    """0-based rank of each row's target column among the columns that are not excluded.

    ``scores`` is (users, items); ``targets`` holds one column index per row; ``excluded``
    holds, per row, the columns that must not compete (the user's history). Full ranking
    passes every item as a column; sampled evaluation passes the target plus its negatives.
    """
    scores = np.array(scores, dtype=np.float64, copy=True)
    targets = np.asarray(targets, dtype=np.int64)
    if scores.ndim != 2 or targets.shape != (scores.shape[0],):
        raise ValueError(f"scores must be (users, items) and targets (users,), got {scores.shape} and {targets.shape}")
    if excluded is not None:
        if len(excluded) != scores.shape[0]:
            raise ValueError(f"excluded has {len(excluded)} rows, scores has {scores.shape[0]}")
        for row, columns in enumerate(excluded):
            if targets[row] in columns:
                raise ValueError(f"row {row}: the target {targets[row]} is also excluded; the split leaks")
            scores[row, list(columns)] = -np.inf
    target_scores = scores[np.arange(len(targets)), targets]
    others_at_least_as_good = (scores >= target_scores[:, None]).sum(axis=1) - 1
    return others_at_least_as_good


def metrics_from_ranks(ranks: np.ndarray, k: int) -> dict[str, float]:
    """NDCG@k, HR@k and MAP@k for one relevant item per user, given its 0-based rank.

    With a single relevant item, AP@k equals the reciprocal rank cut at k.
    """
    _check_k(k)
    ranks = np.asarray(ranks)
    if ranks.size == 0:
        raise ValueError("no users to evaluate")
    inside = ranks < k
    return {
        f"ndcg@{k}": float(np.mean(np.where(inside, 1.0 / np.log2(ranks + 2.0), 0.0))),
        f"hr@{k}": float(np.mean(inside)),
        f"map@{k}": float(np.mean(np.where(inside, 1.0 / (ranks + 1.0), 0.0))),
    }


def sample_negatives(
    rng: np.random.Generator, num_items: int, forbidden: Collection[int], count: int
) -> np.ndarray:
    """``count`` distinct item indices drawn uniformly from those not in ``forbidden``
    (the user's history and target), for sampled-candidate evaluation."""
    allowed = np.setdiff1d(np.arange(num_items), np.fromiter(forbidden, dtype=np.int64), assume_unique=False)
    if len(allowed) < count:
        raise ValueError(f"only {len(allowed)} items can be negatives, {count} were asked for")
    return rng.choice(allowed, size=count, replace=False)


def evaluate_full_ranking(
    score_histories: Callable[[Sequence[np.ndarray], Sequence[np.ndarray]], np.ndarray],
    cases: EvaluationCases,
    k: int = 10,
    batch_size: int = 256,
) -> dict[str, float]:
    """Leave-one-out full ranking: each target competes with every item outside the history.

    ``score_histories(histories, history_times)`` returns (users, items) scores. A target
    that also appears in its own history (a repeat) still competes rather than being hidden.
    """
    ranks = []
    for start in range(0, len(cases), batch_size):
        histories = cases.histories[start : start + batch_size]
        targets = cases.targets[start : start + batch_size]
        scores = score_histories(histories, cases.history_times[start : start + batch_size])
        excluded = [set(history.tolist()) - {int(target)} for history, target in zip(histories, targets, strict=True)]
        ranks.append(target_ranks(scores, targets, excluded))
    return metrics_from_ranks(np.concatenate(ranks), k)

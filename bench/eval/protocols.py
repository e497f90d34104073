"""The three ranking protocols: how each builds its split and candidates, and how a rank becomes a metric.

- P1 (Hou et al. 2023): ML-1M, all ratings, leave-one-out by time; the target plus 19 items
  drawn uniformly (seeded) from those the user never touched, at any time.
- P2 (RecBole's ML-1M benchmark): ratings >= 3, iterative 10-core filter, leave-one-out,
  every item outside the user's history competes.
- P3 (LlamaRec): ML-100K, all ratings, leave-one-out, full ranking in which the top 20
  retrieved are reranked (a target outside the 20 is a miss).

Ranks are 0-based and pessimistic: an item tied with the target counts as ahead of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agent.rankers.ranking_metrics import metrics_from_ranks
from agent.rankers.sequences import (
    EvaluationCases,
    LeaveOneOutSplit,
    UserSequences,
    build_user_sequences,
    leave_one_out,
)

NEGATIVES = 19
RERANK_DEPTH = 20
P1_KS = (1, 5, 10)
P2_KS = (10,)
P3_KS = (5, 10)
MISS_RANK = 10**9  # a target a model never put in its list


@dataclass(frozen=True)
class ProtocolSpec:
    name: str
    dataset: str
    kind: str  # "sampled" | "full" | "rerank"
    ks: tuple[int, ...]
    description: str


PROTOCOLS = {
    "p1": ProtocolSpec("p1", "ml-1m", "sampled", P1_KS,
                       "ML-1M, all ratings, leave-one-out by time (ties: file order), target + 19 negatives drawn "
                       "uniformly from items the user never rated (seeded), NDCG/HR@1/5/10, MAP@10"),
    "p2": ProtocolSpec("p2", "ml-1m", "full", P2_KS,
                       "ML-1M, ratings >= 3, iterative 10-core (users and items), leave-one-out, rank every item "
                       "outside the user's history; NDCG@10, Hit@10, MAP@10"),
    "p3": ProtocolSpec("p3", "ml-100k", "rerank", P3_KS,
                       "ML-100K, all ratings, leave-one-out, full ranking; the top 20 retrieved are reranked and "
                       "a target outside them is a miss; NDCG@5/10, Recall@5/10"),
}


def k_core(users: np.ndarray, items: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the rows left after repeatedly dropping users and items with fewer than k rows."""
    keep = np.ones(len(users), dtype=bool)
    while True:
        _, user_codes = np.unique(users[keep], return_inverse=True)
        _, item_codes = np.unique(items[keep], return_inverse=True)
        ok = (np.bincount(user_codes)[user_codes] >= k) & (np.bincount(item_codes)[item_codes] >= k)
        if ok.all():
            return keep
        rows = np.flatnonzero(keep)
        keep[rows[~ok]] = False


def filtered_sequences(
    users: np.ndarray, items: np.ndarray, ratings: np.ndarray, times: np.ndarray, min_rating: float, core: int
) -> UserSequences:
    """Sequences of the rows rated at least ``min_rating`` that survive the ``core``-core filter."""
    rated = ratings >= min_rating
    users, items, times = users[rated], items[rated], times[rated]
    keep = k_core(users, items, core)
    return build_user_sequences(users[keep], items[keep], times[keep])


def sampled_candidates(
    sequences: UserSequences, cases: EvaluationCases, seed: int, negatives: int = NEGATIVES
) -> np.ndarray:
    """(users, 1 + negatives) item indices: the target first, then negatives the user never touched.

    "Never touched" means absent from the user's whole sequence (train, validation and test),
    so no negative is a hidden positive. One generator, seeded, walks the users in order.
    """
    rng = np.random.default_rng(seed)
    position = {user: index for index, user in enumerate(sequences.users)}
    rows = np.empty((len(cases), 1 + negatives), dtype=np.int64)
    all_items = np.arange(sequences.num_items)
    for row, (user, target) in enumerate(zip(cases.users, cases.targets, strict=True)):
        touched = sequences.items[position[user]]
        allowed = np.setdiff1d(all_items, touched, assume_unique=False)
        if len(allowed) < negatives:
            raise ValueError(f"user {user!r} leaves only {len(allowed)} untouched items; {negatives} needed")
        rows[row, 0] = target
        rows[row, 1:] = rng.choice(allowed, size=negatives, replace=False)
    return rows


def candidate_ranks(scores: np.ndarray) -> np.ndarray:
    """0-based pessimistic rank of column 0 (the target) within each row of candidate scores."""
    scores = np.asarray(scores, dtype=np.float64)
    return (scores >= scores[:, :1]).sum(axis=1) - 1


def full_ranks(scores: np.ndarray, histories: Sequence[np.ndarray], targets: np.ndarray) -> np.ndarray:
    """0-based pessimistic rank of each target among the items outside its history."""
    scores = np.array(scores, dtype=np.float64, copy=True)
    for row, history in enumerate(histories):
        hidden = history[history != targets[row]]
        scores[row, hidden] = -np.inf
    target_scores = scores[np.arange(len(targets)), targets]
    return (scores >= target_scores[:, None]).sum(axis=1) - 1


def top_unseen(scores: np.ndarray, history: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best item indices outside ``history`` (stable order on ties) and their scores."""
    masked = np.asarray(scores, dtype=np.float64).copy()
    masked[history] = -np.inf
    top = np.argpartition(-masked, min(k, len(masked) - 1))[: k + len(history)]
    top = top[np.isfinite(masked[top])]
    order = top[np.lexsort((top, -masked[top]))][:k]
    return order, masked[order]


def metrics(ranks: np.ndarray, ks: Sequence[int], recall_names: bool = False) -> dict[str, float]:
    """NDCG/HR/MAP at every k, rounded; P3 also names HR "recall" (one relevant item: the same)."""
    ranks = np.asarray(ranks)
    out: dict[str, float] = {}
    for k in ks:
        for name, value in metrics_from_ranks(ranks, k).items():
            out[name] = round(value, 4)
            if recall_names and name.startswith("hr@"):
                out[f"recall@{k}"] = round(value, 4)
    out["users"] = int(len(ranks))
    return out


def protocol_metrics(protocol: str, ranks: np.ndarray) -> dict[str, float]:
    spec = PROTOCOLS[protocol]
    result = metrics(ranks, spec.ks, recall_names=protocol == "p3")
    if protocol == "p1" and "map@10" not in result:
        result["map@10"] = metrics(ranks, (10,))["map@10"]
    return result


def seeded_subsample(users: Sequence, size: int | None, seed: int) -> list:
    """A stable, seeded subset of ``users`` (all of them when ``size`` is None or large enough), in input order."""
    users = list(users)
    if size is None or size >= len(users):
        return users
    chosen = set(np.random.default_rng(seed).choice(len(users), size=size, replace=False).tolist())
    return [user for index, user in enumerate(users) if index in chosen]



@dataclass(frozen=True)
class ProtocolData:
    """A protocol's data: the MovieLens set, its sequences (item ids = catalog ids) and the split."""

    spec: ProtocolSpec
    movielens: object
    sequences: UserSequences
    split: LeaveOneOutSplit

    def catalog_positions(self) -> np.ndarray:
        """Position in ``movielens.items`` of every vocabulary item."""
        index = self.movielens.item_index
        return np.array([index[item] for item in self.sequences.item_ids], dtype=np.int64)


def load_protocol(protocol: str) -> ProtocolData:
    from dataclasses import replace

    from agent.rankers.sequences import movielens_sequences
    from memory.movielens import load_movielens

    spec = PROTOCOLS[protocol]
    data = load_movielens(spec.dataset)
    if protocol == "p2":
        r = data.ratings
        coded = filtered_sequences(r.user, r.item, r.rating, r.timestamp, min_rating=3.0, core=10)
        sequences = replace(
            coded,
            item_ids=tuple(data.items[code].id for code in coded.item_ids),
            users=tuple(data.user_ids[code] for code in coded.users),
        )
    else:
        sequences = movielens_sequences(data)
    return ProtocolData(spec, data, sequences, leave_one_out(sequences))

"""P4: next-basket recommendation on the grocery log, every model on the same households and baskets.

- Data: ``memory.grocery.load_grocery(households, seed)``, the demo's seeded subsample (products
  at least 3 of the sampled households bought). A basket is one transaction (``basket_id``).
- Split per household by time: its last basket is the test case, the one before is the
  validation case, everything before trains. Households with fewer than 3 baskets are not
  evaluated, but their last two baskets are held out of training all the same, so no
  household's last baskets ever train. For validation every model is fitted on the training
  part only; for test they are refitted on training + validation (SASRec a fixed 6 epochs both
  times, see P4_SEQUENTIAL). The cut is per household, as in next-basket benchmarks: another
  household's training baskets may be later in the calendar.
- A case's "now" is its basket's time: the clock of the request, which a request knows, not its contents.
- Metrics over the basket's distinct items: Recall@10 (hits / basket size), NDCG@10, Hit@10;
  ``new_*`` judge the same list on the basket's items the household never bought before (cases with
  at least one); ``*_unseen_list`` judge a second list with the household's items excluded.
- shiftrec: the service's pipeline on behaviour sources scored from the log (no Chroma, no
  embeddings, so no memory sources and no MMR / topic cap, which need item vectors): each source
  proposes its ``candidates_per_source`` best items with seen items allowed (the grocery default),
  ``agent.pipeline.fusion.fuse`` orders the union, the ``pool_size`` best keep distinct titles
  (``agent.pipeline.shortlist.distinct_titles``), the first 10 are the list. The weights are the
  grid point with the best validation NDCG@10.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from agent.pipeline.fusion import fuse, zscores
from agent.pipeline.shortlist import RankedCandidate, distinct_titles
from agent.rankers.behaviour import top_items
from agent.rankers.cooccurrence import ItemKNN
from agent.rankers.ranking_metrics import ndcg_at_k
from agent.rankers.repeat import RepeatConfig, RepeatScorer
from agent.rankers.sequences import UserSequences, build_user_sequences
from agent.rankers.sequential import SequentialConfig
from agent.rankers.sequential_training import train_sequential
from agent.settings import AgentSettings
from bench.domains_file import merge_domains
from bench.eval.cost import measure
from bench.eval.fusion_eval import grid
from memory.catalog import CatalogEntry

K = 10
MIN_BASKETS = 3
MODELS = ("pop", "repeat", "itemknn", "sequential", "shiftrec")
SOURCE_OF = {"pop": "popularity", "repeat": "repeat", "itemknn": "itemknn", "sequential": "sequential"}
# sampled softmax: the 1,000-household vocabulary (~22k products) made the full one ~5x slower per epoch.
# A fixed epoch budget, no early stopping: the next-item check SASRec stops on judges one item of a basket
# with the household's own items excluded, which does not fit baskets full of repeats; it stopped at epoch 1
# (sequential NDCG@10 0.034, fusion validation NDCG@10 0.1892) where 6 epochs give 0.070 and 0.1895.
P4_SEQUENTIAL = SequentialConfig(max_len=50, epochs=6, negatives=256)
FUSION_GRID: dict[str, tuple[float, ...]] = {
    "repeat": (0.0, 1.0, 2.0, 4.0, 8.0),  # 8 and popularity 2: the first run chose the old edges (4, 1)
    "itemknn": (0.0, 0.25, 0.5, 1.0),
    "sequential": (0.0, 0.25, 0.5, 1.0),
    "popularity": (0.0, 0.1, 0.3, 0.5, 1.0, 2.0),
}


@dataclass(frozen=True)
class BasketCase:
    """One basket to predict: the household's history before it (indices, epoch seconds) and its items."""

    user: str
    history: np.ndarray
    times: np.ndarray
    now: float
    target: frozenset[int]

    @property
    def new(self) -> frozenset[int]:
        """The basket's items the household never bought before."""
        return self.target - set(self.history.tolist())


@dataclass(frozen=True)
class BasketSplit:
    item_ids: tuple[str, ...]
    train: UserSequences  # every household without its last two baskets
    train_validation: UserSequences  # without its last basket
    validation: list[BasketCase]
    test: list[BasketCase]


def basket_split(purchases: pd.DataFrame, item_ids: Sequence[str] | None = None) -> BasketSplit:
    """Per household, baskets ordered by time: the last is test, the one before validation (see the module doc).

    ``purchases`` has columns household, product, basket, ts (memory.grocery's layout); a basket's
    time is its latest line's, ties between baskets broken by basket id."""
    rows = purchases.sort_values(["household", "ts", "basket"], kind="stable").reset_index(drop=True)
    ids = tuple(sorted(rows["product"].unique())) if item_ids is None else tuple(item_ids)
    index = pd.Index(ids).get_indexer(rows["product"])
    if (index < 0).any():
        raise ValueError("a purchased product is missing from item_ids")
    baskets = rows.groupby(["household", "basket"], sort=False)["ts"].max().reset_index()
    baskets = baskets.sort_values(["household", "ts", "basket"], ascending=[True, False, False], kind="stable")
    baskets["from_newest"] = baskets.groupby("household").cumcount() + 1  # 1 = test, 2 = validation
    from_newest = rows[["household", "basket"]].merge(baskets, how="left", on=["household", "basket"])[
        "from_newest"].to_numpy()
    users, times = rows["household"].to_numpy(), rows["ts"].to_numpy().astype(np.float64)
    vocabulary = range(len(ids))
    train = build_user_sequences(users[from_newest > 2], index[from_newest > 2], times[from_newest > 2], vocabulary)
    train_val = build_user_sequences(users[from_newest > 1], index[from_newest > 1], times[from_newest > 1],
                                     vocabulary)
    count = baskets.groupby("household").size()
    evaluated = set(count.index[count >= MIN_BASKETS])
    before = {1: _by_user(train_val), 2: _by_user(train)}  # each held-out basket's history
    parts: dict[int, list[BasketCase]] = {1: [], 2: []}
    held = pd.DataFrame({"user": users, "item": index, "ts": times, "n": from_newest})
    for (user, position), group in held[held["n"] <= 2].groupby(["user", "n"], sort=True):
        if user in evaluated:
            history, history_times = before[position][user]
            parts[position].append(BasketCase(str(user), history, history_times, float(group["ts"].max()),
                                              frozenset(group["item"].tolist())))
    return BasketSplit(ids, _named(train, ids), _named(train_val, ids), parts[2], parts[1])


def _by_user(sequences: UserSequences) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {user: (items, times) for user, items, times in zip(sequences.users, sequences.items, sequences.times,
                                                                strict=True)}


def _named(sequences: UserSequences, ids: tuple[str, ...]) -> UserSequences:
    return UserSequences(ids, sequences.users, sequences.items, sequences.times)
# ---------------------------------------------------------------------------------------------- models


@dataclass
class FittedSources:
    """Every behaviour source fitted on one part, scoring full-vocabulary arrays per case."""

    popularity: np.ndarray
    repeat: RepeatScorer
    itemknn: ItemKNN
    sequential: object  # SequentialModel
    costs: dict

    def scores(self, cases: Sequence[BasketCase]) -> list[dict[str, np.ndarray]]:
        knn = self.itemknn.score_indices([case.history for case in cases])
        sequential = self.sequential.score_indices([case.history for case in cases])
        return [{"popularity": self.popularity, "repeat": self.repeat.score_indices(case.history, case.times, case.now),
                 "itemknn": knn[row], "sequential": sequential[row].astype(np.float64)}
                for row, case in enumerate(cases)]


def fit_sources(train: UserSequences, config: SequentialConfig, repeat: RepeatConfig,
                echo: Callable[[str], None]) -> FittedSources:
    """Popularity, repeat cycles, item-kNN and SASRec (``config.epochs`` epochs) on ``train`` only."""
    costs = {}
    with measure("pop") as cost:
        popularity = np.log1p(train.item_counts().astype(np.float64))
    costs["pop"] = cost.as_dict()
    with measure("repeat") as cost:
        repeat_scorer = RepeatScorer(train.item_ids, repeat).fit(train)
    costs["repeat"] = cost.as_dict()
    with measure("itemknn") as cost:
        knn = ItemKNN(train.item_ids).fit(train)
        knn.similarity()
    costs["itemknn"] = cost.as_dict()
    epochs = []
    with measure("sequential") as cost:
        model = train_sequential(train, config, progress=False, on_epoch=epochs.append)
    costs["sequential"] = {**cost.as_dict(), "epochs_run": len(epochs)}
    echo(f"p4: sources fitted on {len(train)} households ({costs['sequential']['seconds']:.0f} s SASRec, "
         f"{len(epochs)} epochs)")
    return FittedSources(popularity, repeat_scorer, knn, model, costs)


# ---------------------------------------------------------------------------------------------- lists and metrics


def ranked_list(scores: np.ndarray, excluded: np.ndarray | None = None, k: int = K) -> list[int]:
    """The k best finite-scored indices (ties by index), ``excluded`` left out."""
    masked = np.asarray(scores, dtype=np.float64).copy()
    if excluded is not None and len(excluded):
        masked[excluded] = -np.inf
    order = np.argsort(-masked, kind="stable")[:k]
    return [int(i) for i in order if np.isfinite(masked[i])]


def basket_metrics(lists: Sequence[Sequence[int]], cases: Sequence[BasketCase], k: int = K) -> dict[str, float]:
    """Recall, NDCG and hit at k over all basket items and over the items new to the household."""
    out: dict[str, float] = {}
    for prefix, targets_of in (("", lambda c: c.target), ("new_", lambda c: c.new)):
        recall, ndcg, hit = [], [], []
        for ranked, case in zip(lists, cases, strict=True):
            targets = targets_of(case)
            if not targets:
                continue
            hits = len(set(ranked[:k]) & targets)
            recall.append(hits / len(targets))
            ndcg.append(ndcg_at_k(ranked, targets, k))
            hit.append(float(hits > 0))
        out |= {f"{prefix}recall@{k}": round(float(np.mean(recall)), 4) if recall else 0.0,
                f"{prefix}ndcg@{k}": round(float(np.mean(ndcg)), 4) if ndcg else 0.0,
                f"{prefix}hit@{k}": round(float(np.mean(hit)), 4) if hit else 0.0,
                f"{prefix}cases": len(recall)}
    return out


def proposals(scores: Mapping[str, np.ndarray], ids: Sequence[str], per_source: int, excluded: set[str]
              ) -> dict[str, dict[str, float]]:
    """What CandidateGenerator puts in CandidateSet.per_source: each source's best items (empty ones dropped)."""
    out = {source: top_items(ids, values, per_source, excluded) for source, values in scores.items()}
    return {source: chosen for source, chosen in out.items() if chosen}


def shipped_list(per_source: Mapping[str, Mapping[str, float]], weights: Mapping[str, float],
                 entries: Mapping[str, CatalogEntry], pool_size: int, k: int = K) -> list[str]:
    """The service's order: fuse, the ``pool_size`` best, distinct titles, the first k."""
    pool = [RankedCandidate(item, score, {}, None) for item, score in fuse(per_source, weights)[:pool_size]]
    return [c.item_id for c in distinct_titles(pool, entries)][:k]


@dataclass
class FusionTable:
    """Per case, the candidate union (sorted by id, so stable sorts break ties as ``fuse`` does) and the
    z-scores fuse uses (a source's floor where it did not propose an item), for a fast weight grid."""

    sources: tuple[str, ...]
    items: list[list[str]]
    z: list[np.ndarray]  # (sources, candidates)

    @classmethod
    def build(cls, rows: Sequence[Mapping[str, Mapping[str, float]]], sources: Sequence[str]) -> FusionTable:
        items, zs = [], []
        for per_source in rows:
            union = sorted({item for scores in per_source.values() for item in scores})
            z = np.zeros((len(sources), len(union)))
            for s, source in enumerate(sources):
                if per_source.get(source):
                    standard = zscores(per_source[source])
                    floor = min(standard.values())
                    z[s] = [standard.get(item, floor) for item in union]
            items.append(union)
            zs.append(z)
        return cls(tuple(sources), items, zs)

    def lists(self, weights: Mapping[str, float], entries: Mapping[str, CatalogEntry], pool_size: int,
              k: int = K) -> list[list[str]]:
        weighted = [(s, weights[source]) for s, source in enumerate(self.sources) if weights.get(source, 0.0)]
        out = []
        for union, z in zip(self.items, self.z, strict=True):
            fused = np.zeros(len(union))
            for s, weight in weighted:  # summed in fuse's order, so equal scores stay equal
                fused += weight * z[s]
            order = np.argsort(-fused, kind="stable")[:pool_size]
            pool = [RankedCandidate(union[i], 0.0, {}, None) for i in order]
            out.append([c.item_id for c in distinct_titles(pool, entries)][:k])
        return out


# ---------------------------------------------------------------------------------------------- the run


def run_p4(households: int, seed: int, echo: Callable[[str], None] = print,
           sequential: SequentialConfig = P4_SEQUENTIAL, repeat: RepeatConfig | None = None) -> dict:
    """Every model on the same validation and test baskets; weights from validation only."""
    from memory.grocery import DEMO_MIN_BUYERS, NOTICE, load_grocery

    started = time.perf_counter()
    grocery = load_grocery(households=households, seed=seed)
    split = basket_split(grocery.purchases, [item.id for item in grocery.items])
    titles = {item.id: item.title for item in grocery.items}
    entries = {i: CatalogEntry(i, titles[i], np.zeros(0), ()) for i in split.item_ids}
    agent, repeat = AgentSettings(), repeat or RepeatConfig()
    echo(f"p4: {len(grocery.households)} households, {len(split.item_ids)} items, {len(split.test)} test baskets")
    fitted = fit_sources(split.train, sequential, repeat, echo)
    validation = _part(fitted, split.validation, split.item_ids, agent.candidates_per_source)
    weights, grid_top = _choose(validation, split.validation, entries, agent.pool_size)
    echo(f"p4: validated weights {weights} (validation ndcg@10 {grid_top[0]['ndcg@10']})")
    fitted_test = fit_sources(split.train_validation, sequential, repeat, echo)
    test = _part(fitted_test, split.test, split.item_ids, agent.candidates_per_source)
    models = {}
    for model in MODELS:
        lists, unseen = test.lists(model, weights, entries, agent.pool_size)
        models[model] = {**basket_metrics(lists, split.test),
                         **{f"{name}_unseen_list": value for name, value in basket_metrics(unseen, split.test).items()
                            if name.startswith("new_") and not name.endswith("cases")}}
        fits = list(SOURCE_OF) if model == "shiftrec" else [model]  # the test fit's costs (train + validation)
        models[model]["train_seconds"] = round(sum(fitted_test.costs[m]["seconds"] for m in fits), 2)
        models[model]["peak_rss_mb"] = max(fitted_test.costs[m]["peak_rss_mb"] for m in fits)
    models["shiftrec"]["validation_ndcg@10"] = grid_top[0]["ndcg@10"]
    return {"models": models, "details": {
        "description": __doc__.strip().splitlines()[0], "notice": NOTICE,
        "households": len(grocery.households), "households_drawn": households, "seed": seed,
        "min_buyers": DEMO_MIN_BUYERS, "items": len(split.item_ids), "purchase_lines": len(grocery.purchases),
        "validation_cases": len(split.validation), "test_cases": len(split.test),
        "test_cases_with_new_items": models["pop"]["new_cases"],
        "mean_test_basket_items": round(float(np.mean([len(c.target) for c in split.test])), 2),
        "weights": weights, "fusion_grid_top5": grid_top[:5], "sequential_config": sequential.model_dump(),
        "repeat_config": repeat.model_dump(), "candidates_per_source": agent.candidates_per_source,
        "pool_size": agent.pool_size, "costs_validation_fit": fitted.costs, "costs_test_fit": fitted_test.costs,
        "left_out": "memory sources (interest vectors), MMR and the topic cap: they need the Chroma catalog's "
                    "embeddings; the list keeps the service's fusion, pool and distinct-title rule",
        "seconds": round(time.perf_counter() - started, 1),
    }}


@dataclass
class PartLists:
    """One part's full-vocabulary scores and the shipped pipeline's proposals (seen allowed, and not)."""

    ids: tuple[str, ...]
    scores: list[dict[str, np.ndarray]]
    cases: Sequence[BasketCase]
    allowed: FusionTable
    unseen: FusionTable

    def lists(self, model: str, weights: Mapping[str, float], entries: Mapping[str, CatalogEntry],
              pool_size: int) -> tuple[list[list[int]], list[list[int]]]:
        """(the model's list, its list with the household's items excluded), as vocabulary indices."""
        if model == "shiftrec":
            index = {item: i for i, item in enumerate(self.ids)}
            return tuple([[index[item] for item in ranked] for ranked in table.lists(weights, entries, pool_size)]
                         for table in (self.allowed, self.unseen))
        source = SOURCE_OF[model]
        return ([ranked_list(s[source]) for s in self.scores],
                [ranked_list(s[source], case.history) for s, case in zip(self.scores, self.cases, strict=True)])


def _part(fitted: FittedSources, cases: Sequence[BasketCase], ids: tuple[str, ...], per_source: int) -> PartLists:
    scores = fitted.scores(cases)
    sources = tuple(scores[0]) if scores else ()
    allowed = [proposals(s, ids, per_source, set()) for s in scores]
    unseen = [proposals(s, ids, per_source, {ids[i] for i in case.history.tolist()})
              for s, case in zip(scores, cases, strict=True)]
    return PartLists(ids, scores, cases, FusionTable.build(allowed, sources), FusionTable.build(unseen, sources))


def _choose(part: PartLists, cases: Sequence[BasketCase], entries: Mapping[str, CatalogEntry], pool_size: int
            ) -> tuple[dict[str, float], list[dict]]:
    """The grid point with the best validation NDCG@10 (first in grid order on ties)."""
    results = []
    for weights in grid(FUSION_GRID):
        index = {item: i for i, item in enumerate(part.ids)}
        lists = [[index[item] for item in ranked] for ranked in part.allowed.lists(weights, entries, pool_size)]
        results.append((weights, basket_metrics(lists, cases)))
    best = max(results, key=lambda pair: pair[1][f"ndcg@{K}"])[0]
    ranked = sorted(results, key=lambda pair: -pair[1][f"ndcg@{K}"])
    return best, [{"weights": w, f"ndcg@{K}": m[f"ndcg@{K}"], f"recall@{K}": m[f"recall@{K}"]} for w, m in ranked]


def write_p4(section: dict, results: Path) -> None:
    """Merge ``p4`` (one object per model, the keys tools read) and ``p4_details`` into domains.json (other
    keys belong to other runs) and write domains_p4.md."""
    merge_domains(results, {"p4": section["models"], "p4_details": section["details"]})
    (results / "domains_p4.md").write_text(p4_markdown(section))


def p4_markdown(section: dict) -> str:
    d, models = section["details"], section["models"]
    lines = [
        "## P4: groceries, next basket", "",
        f"{d['households']} households ({d['households_drawn']} drawn, seed {d['seed']}), {d['items']} products "
        f"bought by at least {d['min_buyers']} of them, {d['purchase_lines']} purchase lines; "
        f"{d['test_cases']} test baskets (mean {d['mean_test_basket_items']} items; {d['test_cases_with_new_items']} "
        f"hold items new to the household). {d['notice']}", "",
        "Each household's last basket is the test, the one before chooses the fusion weights, earlier ones train "
        "(refitted on train + validation for the test). `new_*` judge the same list on the basket's new items; "
        "`unseen list` judges a second list with the household's items excluded. shiftrec: the service's fusion "
        f"of the behaviour sources, seen items allowed, distinct titles; weights {d['weights']} (validation).", "",
        "| model | Recall@10 | NDCG@10 | Hit@10 | new Recall@10 | new NDCG@10 | new Recall@10, unseen list "
        "| train s | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in MODELS:
        m = models[name]
        lines.append(f"| {name} | {m['recall@10']:.4f} | {m['ndcg@10']:.4f} | {m['hit@10']:.4f} | "
                     f"{m['new_recall@10']:.4f} | {m['new_ndcg@10']:.4f} | {m['new_recall@10_unseen_list']:.4f} | "
                     f"{m['train_seconds']:.1f} | {m['peak_rss_mb']:.0f} |")
    lines += ["", f"Left out: {d['left_out']}. Whole run {d['seconds']:.0f} s.", ""]
    return "\n".join(lines)

"""One ranking protocol (P1, P2 or P3) end to end: every model on the same split and candidates.

Populations: ``all`` (every evaluated user), ``memory`` (the seeded subsample whose
interest memory is built; ML-100K: everyone) and ``llm`` (a seeded subsample of that, where
the embedded LLM runs). Every model is reported on each population it ran on, so the
LLM variants compare with the others on identical users.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agent.pipeline.candidates import CandidateSet
from agent.pipeline.shortlist import RankedCandidate, diversify, fused_pool, with_source
from agent.rankers.ranking_metrics import metrics_from_ranks
from agent.rankers.weight_tuning import (
    TUNED_SOURCES,
    TuningCase,
    WeightChoice,
    choose_weights,
    held_out_ndcg,
    sample_rows,
)
from bench.eval.baselines import itemknn_scorer, popularity_scorer, sequential_model
from bench.eval.cost import machine_load, measure
from bench.eval.fusion_eval import (
    MEMORY_GRID,
    WEIGHT_GRID,
    CandidateTable,
    fused_pools,
    fused_ranks,
    retrieval_table,
    sampled_table,
    select_weights,
)
from bench.eval.llm_eval import EmbeddedRanker, prompt_inputs
from bench.eval.memory_source import SOURCES as MEMORY_SOURCE_NAMES
from bench.eval.memory_source import EvalMemory
from bench.eval.protocols import (
    MISS_RANK,
    PROTOCOLS,
    RERANK_DEPTH,
    candidate_ranks,
    full_ranks,
    load_protocol,
    protocol_metrics,
    sampled_candidates,
    seeded_subsample,
)
from serving.settings import AgentSettings

LLM_WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0)
BEHAVIOUR_GRID = {key: WEIGHT_GRID[key] for key in ("sequential", "itemknn", "popularity")}
BATCH = 256
RANKED_LIST = 10  # the deepest cut any protocol's metrics read


@dataclass
class EvalOptions:
    cache_dir: Path
    memory_users: int | None = 1000  # ML-1M protocols; ML-100K always uses every user
    llm_users: int = 150
    seed: int = 0
    echo: Callable[[str], None] = print


@dataclass
class PartScores:
    single: dict[str, np.ndarray] = field(default_factory=dict)  # source -> ranks over all users
    table: CandidateTable | None = None
    seconds: float = 0.0


def _concat(tables: list[CandidateTable]) -> CandidateTable:
    width = max(t.items.shape[1] for t in tables)

    def pad(array: np.ndarray, value) -> np.ndarray:
        extra = width - array.shape[-1]
        if not extra:
            return array
        shape = (*array.shape[:-1], extra)
        return np.concatenate([array, np.full(shape, value, dtype=array.dtype)], axis=-1)

    return CandidateTable(
        [u for t in tables for u in t.users], tables[0].sources,
        np.concatenate([pad(t.items, -1) for t in tables]), np.concatenate([pad(t.raw, np.nan) for t in tables]),
        np.concatenate([pad(t.z, 0.0) for t in tables]), np.concatenate([t.target_pos for t in tables]),
    )


class RankingRun:
    def __init__(self, protocol: str, options: EvalOptions, ranker: EmbeddedRanker | None):
        self.protocol = protocol
        self.spec = PROTOCOLS[protocol]
        self.options = options
        self.ranker = ranker
        self.echo = options.echo
        self.agent = AgentSettings()
        self.costs: dict[str, dict] = {}
        self.results: dict[str, dict[str, dict]] = {}
        self.details: dict = {}
        self.keep_memory = False  # honesty reads the memory after the run

    # ------------------------------------------------------------------ set-up
    def prepare(self) -> None:
        o, echo = self.options, self.echo
        with measure("load") as cost:
            self.data = load_protocol(self.protocol)
        self.costs["load_split"] = cost.as_dict()
        split = self.data.split
        self.users = list(split.test.users)
        size = o.memory_users if self.spec.dataset == "ml-1m" else None
        self.memory_users = seeded_subsample(self.users, size, o.seed)
        self.llm_users = seeded_subsample(self.memory_users, o.llm_users, o.seed + 1) if self.ranker else []
        echo(f"{self.protocol}: {len(self.users)} users, {split.train.num_items} items; memory subsample "
             f"{len(self.memory_users)}, LLM subsample {len(self.llm_users)}")
        self.memory = EvalMemory(self.data, self.memory_users, echo)
        self.memory.build()
        self.costs.update({f"memory_{k}": v for k, v in self.memory.costs.items()})
        self.pop = popularity_scorer(split)
        self.knn, self.costs["itemknn_fit"] = itemknn_scorer(split)
        self.seq, self.costs["sasrec_train"] = sequential_model(
            self.protocol, self.spec.dataset, split, o.cache_dir / "models", echo)
        self.candidates = {}
        if self.spec.kind == "sampled":
            for offset, part in enumerate(("validation", "test")):
                self.candidates[part] = sampled_candidates(self.data.sequences, getattr(split, part), o.seed + offset)
        self.ids = self.data.sequences.item_ids
        self.entries = self.memory.memory.catalog.entries(list(self.ids))
        self.vectors = {item: entry.vector for item, entry in self.entries.items()}

    # ------------------------------------------------------------------ scoring
    def score_part(self, part: str) -> PartScores:
        cases = getattr(self.data.split, part)
        in_memory = set(self.memory_users)
        out = PartScores(single={"popularity": [], "itemknn": [], "sequential": []})
        tables = []
        with measure(f"{part}_scoring") as cost:
            for start in range(0, len(cases), BATCH):
                end = min(len(cases), start + BATCH)
                hist, times = cases.histories[start:end], cases.history_times[start:end]
                users, targets = list(cases.users[start:end]), cases.targets[start:end]
                full = {"sequential": self.seq.score_indices(hist), "itemknn": self.knn(hist, times),
                        "popularity": self.pop(hist, times)}
                mem = {i: self.memory.source_scores(u) for i, u in enumerate(users) if u in in_memory}
                if self.spec.kind == "sampled":
                    cand = self.candidates[part][start:end]
                    gathered = {s: np.take_along_axis(v, cand, axis=1) for s, v in full.items()}
                    for s, ranks in out.single.items():
                        ranks.append(candidate_ranks(gathered[s]))
                    for source in MEMORY_SOURCE_NAMES:
                        block = np.full(cand.shape, np.nan)
                        for i, scores in mem.items():
                            if source in scores:
                                block[i] = scores[source][cand[i]]
                        gathered[source] = block
                    tables.append(sampled_table(users, cand, gathered))
                else:
                    for s, ranks in out.single.items():
                        ranks.append(full_ranks(full[s], hist, targets))

                    def provider(i: int, full=full, mem=mem) -> dict[str, np.ndarray]:
                        return {**{s: v[i] for s, v in full.items()}, **mem.get(i, {})}

                    tables.append(retrieval_table(users, hist, targets, provider, self.agent.candidates_per_source))
        out.single = {s: np.concatenate(r) for s, r in out.single.items()}
        out.table = _concat(tables)
        out.seconds = cost.seconds
        self.costs[f"{part}_scoring"] = {**cost.as_dict(), "users": len(cases), "memory_users": len(in_memory),
                                         "ms_per_user": round(1000 * cost.seconds / len(cases), 2)}
        return out

    # ------------------------------------------------------------------ models
    def _record(self, model: str, population: str, ranks: np.ndarray) -> None:
        if self.spec.kind == "rerank":
            ranks = np.where(ranks < RERANK_DEPTH, ranks, MISS_RANK)
        self.results.setdefault(model, {})[population] = protocol_metrics(self.protocol, ranks)

    def _rows(self, users: list) -> np.ndarray:
        index = {u: i for i, u in enumerate(self.users)}
        return np.array([index[u] for u in users], dtype=np.int64)

    def _populations(self) -> dict[str, list]:
        pops = {"all": self.users, "memory": self.memory_users}
        if self.llm_users:
            pops["llm"] = self.llm_users
        return pops

    def product_order(
        self, table: CandidateTable, row: int, weights: dict[str, float], mmr: bool, length: int = RANKED_LIST
    ) -> list[int]:
        """The product's ranking stage for one user: fused_pool (pool_size) then, when shipped, a ``length``-item
        list by MMR and the topic cap (whose size scales with the list), the rest of the pool after it."""
        per_source = {s: {self.ids[i]: v for i, v in d.items()} for s, d in table.per_source(row).items()}
        candidates = CandidateSet(user=str(table.users[row]), history=["-"], per_source=per_source)
        pool = fused_pool(candidates, weights, None, self.entries, {}, self.agent.pool_size)
        if mmr:  # the product's list is what the metrics read (10 items); the rest of the pool follows
            listed = diversify(pool, self.vectors, self.entries, self.agent, min(length, len(pool)))
            chosen = {c.item_id for c in listed}
            pool = listed + [c for c in pool if c.item_id not in chosen]
        index = {item: i for i, item in enumerate(self.ids)}
        return [index[c.item_id] for c in pool]

    def shipped_weights(self, validation: CandidateTable, targets: np.ndarray) -> WeightChoice:
        """What the product would serve on this protocol's log: its start-up tuning, run on the
        validation cases of ``tuning_users`` users sampled the product's way (agent/rankers/weight_tuning.py)."""
        cases = []
        for row in sample_rows(len(validation.users), self.agent.tuning_users):
            proposals = {s: {self.ids[i]: v for i, v in scores.items()}
                         for s, scores in validation.per_source(int(row)).items() if s in TUNED_SOURCES}
            cases.append(TuningCase(proposals, self.ids[int(targets[row])]))
        if not self.agent.tune_source_weights:
            score = held_out_ndcg(cases, self.agent.source_weights)
            return WeightChoice(dict(self.agent.source_weights), score, score, len(cases), tuned=False)
        return choose_weights(cases, self.agent.source_weights)

    def _order_ranks(self, orders: list[list[int]], targets: np.ndarray) -> np.ndarray:
        ranks = np.full(len(orders), MISS_RANK, dtype=np.int64)
        for row, order in enumerate(orders):
            if int(targets[row]) in order:
                ranks[row] = order.index(int(targets[row]))
        return ranks

    def run(self) -> dict:
        o = self.options
        load_before = machine_load()
        self.prepare()
        split = self.data.split
        validation = self.score_part("validation")
        # weights from validation only
        val_mem = validation.table.subset(self.memory_users)
        w_fusion, s_fusion, top_fusion = select_weights(val_mem, WEIGHT_GRID)
        w_memory, s_memory, _ = select_weights(val_mem, MEMORY_GRID)
        w_behaviour, s_behaviour, _ = select_weights(validation.table, BEHAVIOUR_GRID)
        self.echo(f"{self.protocol}: validated fusion weights {w_fusion} (val ndcg@10 {s_fusion:.4f})")
        shipped = self.shipped_weights(validation.table, split.validation.targets)
        self.echo(f"{self.protocol}: the product's {shipped.summary()}")
        llm_val = self._llm_scores(validation.table, w_fusion, split.validation) if self.llm_users else None
        self.memory.record_validation()
        test = self.score_part("test")
        targets = split.test.targets
        for source, model in (("popularity", "pop"), ("itemknn", "itemknn"), ("sequential", "sequential")):
            for population, users in self._populations().items():
                self._record(model, population, test.single[source][self._rows(users)])
        for population, users in self._populations().items():
            rows = self._rows(users)
            self._record("fusion_behaviour", population, fused_ranks(test.table.subset(users), w_behaviour))
            if population == "all" and len(users) != len(self.memory_users):
                continue
            sub = test.table.subset(users)
            self._record("memory", population, fused_ranks(sub, w_memory))
            self._record("fusion", population, fused_ranks(sub, w_fusion))
            with measure("product_order") as cost:
                defaults = self._product_ranks(sub, shipped.weights, targets[rows], mmr=True)
            self.costs.setdefault("shiftrec_rank_stage", {**cost.as_dict(), "users": len(users)})
            self._record("shiftrec", population, defaults)
            self._record("shiftrec_validated", population,
                         self._product_ranks(sub, w_fusion, targets[rows], mmr=True))
        llm_summary = None
        if self.llm_users:
            llm_test = self._llm_scores(test.table, w_fusion, split.test)
            llm_summary = self._llm_models(validation.table, llm_val, test.table, llm_test, w_fusion)
        self.details = {
            "description": self.spec.description,
            "dataset": self.spec.dataset,
            "users": {name: len(users) for name, users in self._populations().items()},
            "items": split.train.num_items,
            "seed": o.seed,
            "weights": {"fusion": w_fusion, "memory": w_memory, "fusion_behaviour": w_behaviour,
                        "shiftrec_configured": dict(self.agent.source_weights), "shiftrec": shipped.weights},
            "shiftrec_ranking": {"pool_size": self.agent.pool_size, "mmr_lambda": self.agent.mmr_lambda,
                                 "max_topic_share": self.agent.max_topic_share,
                                 "list_length": RANKED_LIST},
            "shiftrec_tuning": {"held_out_cases": shipped.cases, "ndcg@10": round(shipped.ndcg, 4),
                                "configured_ndcg@10": round(shipped.configured_ndcg, 4)},
            "validation_ndcg@10": {"fusion": round(s_fusion, 4), "memory": round(s_memory, 4),
                                   "fusion_behaviour": round(s_behaviour, 4),
                                   "sequential": round(metrics_from_ranks(validation.single["sequential"], 10)["ndcg@10"], 4),
                                   "itemknn": round(metrics_from_ranks(validation.single["itemknn"], 10)["ndcg@10"], 4)},
            "fusion_grid_top10": [{"weights": w, "val_ndcg@10": round(s, 4)} for w, s in top_fusion],
            "llm": llm_summary,
            "costs": self.costs,
            "load_average": {"before": load_before, "after": machine_load()},
        }
        self.test_table = test.table
        if not self.keep_memory:
            self.memory.close()
        return {"models": self.results, "details": self.details}

    def _product_ranks(self, table: CandidateTable, weights: dict, targets: np.ndarray, mmr: bool) -> np.ndarray:
        orders = [self.product_order(table, row, weights, mmr) for row in range(len(table.users))]
        return self._order_ranks(orders, targets)

    # ------------------------------------------------------------------ LLM
    def _llm_scores(self, table: CandidateTable, weights: dict, cases) -> dict:
        """Per LLM user: the fused top-20 pool and the LLM's logprob for each pool item."""
        sub = table.subset(self.llm_users)
        pools = fused_pools(sub, weights, RERANK_DEPTH)
        items = self.data.movielens.items
        positions = self.data.catalog_positions()
        requests = []
        for row, user in enumerate(self.llm_users):
            profile, recent = prompt_inputs(self.memory.memory, user)
            requests.append((profile, recent, [items[positions[i]] for i in pools[row]], row))
        scores = self.ranker.preferences(requests, seed=self.options.seed + (0 if cases is self.data.split.validation else 7))
        case_row = {u: i for i, u in enumerate(cases.users)}
        return {"table": sub, "pools": pools, "scores": scores,
                "targets": np.array([cases.targets[case_row[u]] for u in self.llm_users])}

    def _rerank(self, llm: dict, weights: dict, llm_weight: float | None) -> np.ndarray:
        """Ranks after re-fusing each pool with the LLM source (product ``with_source``); None weight = LLM alone."""
        table, ranks = llm["table"], np.full(len(self.llm_users), MISS_RANK, dtype=np.int64)
        for row in range(len(self.llm_users)):
            pool_items = [int(i) for i in llm["pools"][row]]
            target = int(llm["targets"][row])
            scores = llm["scores"][row]
            if target not in pool_items:
                continue
            if scores is None:  # failed request: the fusion order stands
                ranks[row] = pool_items.index(target)
                continue
            by_index = {i: scores[self.ids[i]] for i in pool_items}
            if llm_weight is None:
                ranks[row] = sum(v >= by_index[target] for i, v in by_index.items()) - 1
                continue
            per_source = table.per_source(row)
            pool = [RankedCandidate(self.ids[i], 0.0, {s: d[i] for s, d in per_source.items() if i in d}, None)
                    for i in pool_items]
            order = with_source(pool, "llm", {self.ids[i]: v for i, v in by_index.items()},
                                {**weights, "llm": llm_weight})
            ranks[row] = [c.item_id for c in order].index(self.ids[target])
        return ranks

    def _llm_models(self, val_table, llm_val: dict, test_table, llm_test: dict, weights: dict) -> dict:
        curve = {}
        for w in LLM_WEIGHTS:
            curve[w] = metrics_from_ranks(self._rerank(llm_val, weights, w), 10)["ndcg@10"]
        best_w = max(LLM_WEIGHTS, key=lambda w: (curve[w], -w))
        self._record("fusion_llm", "llm", self._rerank(llm_test, weights, best_w))
        self._record("llm_only", "llm", self._rerank(llm_test, weights, None))
        self._record("fusion_llm_w0", "llm", self._rerank(llm_test, weights, 0.0))
        with_llm = self._rerank(llm_test, weights, best_w)
        without = self._rerank(llm_test, weights, 0.0)
        return {
            "validated_llm_weight": best_w,
            "validation_ndcg@10_by_llm_weight": {str(w): round(v, 4) for w, v in curve.items()},
            "test_users_better_with_llm": int((with_llm < without).sum()),
            "test_users_worse_with_llm": int((with_llm > without).sum()),
            "position_bias": self.ranker.bias(),
            "note": "fusion_llm_w0 = the same 20-item pool re-fused by with_source with LLM weight 0 "
                    "(the comparator of fusion_llm); llm_only = the pool ordered by the LLM logprob alone",
        }

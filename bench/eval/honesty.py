"""Explanation honesty on P3 (ML-100K): the lists the product ships, explained, then audited.

- evidence-valid: every cited event is one of the user's stored events, and relates to
  the item (shares a topic with it, or its item's vector is within cosine NEAR of the item's);
- counterfactual: the cited events are removed from the user's history (behaviour models
  and a fresh copy of the user's memory without them), the product's ranking stage runs
  again, and we count how often the item's position falls (or it leaves the list);
- repair: ``agent.explain.explainer.OutputAudit`` counts LLM outputs that needed repair;
- diversity: intra-list diversity and catalog coverage of the final top-5 lists, with the
  product's MMR (``shiftrec``) and without it (validated fusion order).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import numpy as np

from agent.explain.explainer import Explainer, OutputAudit, Pick
from agent.pipeline.diversity import intra_list_diversity
from bench.eval.cost import measure
from bench.eval.fusion_eval import fused_pools, retrieval_table
from bench.eval.protocols import seeded_subsample
from memory.models import Event
from memory.movielens import MOVIELENS_WORDS

NEAR = 0.5
LIST_LENGTH = 5


def _relates(entries, vectors, item_id: str, cited_item: str) -> tuple[bool, bool]:
    a, b = entries.get(item_id), entries.get(cited_item)
    same_topic = bool(a and b and {chain[0] for chain in a.pairs} & {chain[0] for chain in b.pairs})
    near = bool(item_id in vectors and cited_item in vectors and float(vectors[item_id] @ vectors[cited_item]) >= NEAR)
    return same_topic, near


def run_honesty(run, test_table, ranker, users_count: int, seed: int, echo: Callable[[str], None]) -> dict:
    """``run`` is a finished P3 RankingRun whose memory is still open (test state)."""
    memory = run.memory.memory
    ids, entries, vectors = run.ids, run.entries, run.vectors
    defaults = run.details["weights"]["shiftrec"]
    fusion_weights = run.details["weights"]["fusion"]
    # diversity and coverage over every user's final list
    shiftrec_lists = [
        [ids[i] for i in run.product_order(test_table, row, defaults, mmr=True, length=LIST_LENGTH)[:LIST_LENGTH]]
        for row in range(len(test_table.users))
    ]
    fusion_lists = [[ids[i] for i in pool] for pool in fused_pools(test_table, fusion_weights, LIST_LENGTH)]
    result = {"lists": {
        name: {"intra_list_diversity": round(float(np.mean([intra_list_diversity(l, vectors) for l in lists])), 4),
               "catalog_coverage": round(len({i for l in lists for i in l}) / len(ids), 4), "users": len(lists)}
        for name, lists in (("shiftrec", shiftrec_lists), ("fusion", fusion_lists))
    }}
    users = seeded_subsample(list(test_table.users), users_count, seed + 3)
    row_of = {u: r for r, u in enumerate(test_table.users)}
    jobs = [(u, item) for u in users for item in shiftrec_lists[row_of[u]]]
    audit = OutputAudit()
    workers = ThreadPoolExecutor(8, thread_name_prefix="eval-explain")
    explainers = {"template": Explainer(memory, None, run.agent.evidence_options, OutputAudit(), workers,
                                        domain=MOVIELENS_WORDS)}
    if ranker is not None:
        explainers["llm"] = Explainer(memory, ranker.llm, run.agent.evidence_options, audit, workers,
                                      words=run.agent.explanation_words, domain=MOVIELENS_WORDS)
    items = memory.get_items(list({item for _, item in jobs}))

    def explain_list(user: str) -> list:
        """The product's explain_all over the user's shipped list, back in list order."""
        chosen = shiftrec_lists[row_of[user]]
        picks = [Pick(items[item], entries[item], None) for item in chosen]
        written = dict(explainer.explain_all(memory.snapshot(user), picks))
        return [written[position] for position in range(len(picks))]

    for name, explainer in explainers.items():
        with measure(f"explain_{name}") as cost, ThreadPoolExecutor(2) as pool:
            explanations = [e for per_user in pool.map(explain_list, users) for e in per_user]
        result[name] = _audit_explanations(run, test_table, jobs, explanations, shiftrec_lists, row_of, echo)
        result[name]["seconds_per_explanation"] = round(cost.seconds / max(len(jobs), 1), 3)
        result[name]["degraded_share"] = round(float(np.mean([e.degraded for e in explanations])), 4)
    workers.shutdown(wait=False)
    snapshot = audit.snapshot()
    outputs = max(snapshot["outputs"], 1)
    result["audit"] = {**snapshot, "repair_rate": round(snapshot["repaired"] / outputs, 4)}
    result["users"] = len(users)
    result["explained_items"] = len(jobs)
    return result


def _audit_explanations(run, table, jobs, explanations, lists, row_of, echo) -> dict:
    memory = run.memory.memory
    stored = {}
    valid, exists, topic, near, cited_total, with_evidence = [], [], [], [], 0, 0
    drops, counterfactuals = [], 0
    for (user, item), explanation in zip(jobs, explanations, strict=True):
        if user not in stored:
            stored[user] = {str(row.metadata["event_id"]): str(row.metadata["item"])
                            for row in memory.store.user_events(user)}
        if not explanation.evidence:
            continue
        with_evidence += 1
        ok_all = True
        for ref in explanation.evidence:
            cited_total += 1
            is_stored = stored[user].get(ref.event_id) == ref.item_id  # the event exists and is about that item
            same_topic, is_near = _relates(run.entries, run.vectors, item, ref.item_id)
            exists.append(is_stored)
            topic.append(same_topic)
            near.append(is_near)
            ok_all &= is_stored and (same_topic or is_near)
        valid.append(ok_all)
        before = lists[row_of[user]].index(item)
        after = _rank_without(run, user, item, {ref.item_id for ref in explanation.evidence}, counterfactuals)
        counterfactuals += 1
        drops.append(after > before)
    return {
        "explanations": len(jobs), "with_evidence": with_evidence, "cited_events": cited_total,
        "evidence_valid_rate": round(float(np.mean(valid)), 4) if valid else None,
        "cited_event_exists_rate": round(float(np.mean(exists)), 4) if exists else None,
        "cited_same_topic_rate": round(float(np.mean(topic)), 4) if topic else None,
        "cited_near_rate": round(float(np.mean(near)), 4) if near else None,
        "counterfactual_drop_rate": round(float(np.mean(drops)), 4) if drops else None,
        "counterfactual_cases": len(drops),
    }


def _rank_without(run, user: str, item: str, removed: set[str], serial: int) -> int:
    """The item's position in the product's list once the cited events are gone (pool size when it left)."""
    split = run.data.split
    row = list(split.test.users).index(user)
    history, times = split.test.histories[row], split.test.history_times[row]
    keep = np.array([run.ids[i] not in removed for i in history], dtype=bool)
    history, times = history[keep], times[keep]
    shadow = f"cf{serial}-{user}"
    ratings = run.memory._ratings
    events = [Event(id=f"{shadow}-{run.ids[i]}", user=shadow, item=run.ids[i], action="rate",
                    value=ratings[(user, run.ids[i])], timestamp=datetime.fromtimestamp(float(t), tz=timezone.utc))
              for i, t in zip(history.tolist(), times.tolist(), strict=True)]
    memory = run.memory.memory
    memory.ingest(events, progress=False)
    full = {"sequential": run.seq.score_indices([history])[0], "itemknn": run.knn([history], [times])[0],
            "popularity": run.pop([history], [times])[0], **run.memory.source_scores(shadow)}
    table = retrieval_table([shadow], [history], np.array([-1]), lambda _: full, run.agent.candidates_per_source)
    order = [run.ids[i] for i in run.product_order(table, 0, run.details["weights"]["shiftrec"], mmr=True)]
    memory.delete_user(shadow)
    return order.index(item) if item in order else len(order)

"""Interest-shift prediction: cut each kept user's history at time t and predict the topics of the next k.

Topics are the memory's topic nodes (``t:<genre>``, from the item categories, the same
function the memory uses). Truth: the next k = 10 interactions' topic counts (every
genre of an item counts once). A method returns topics ranked; it scores
- hit@3: the next window's dominant topic is among its first three,
- NDCG@3: graded by each topic's share of the next window,
overall and on *shift cases*: the next window's dominant topic differs from that of the
k interactions just before t.

Baselines: persistence (the history's dominant topics), recent window (the last k before
t), trend extrapolation (2 x recent share - long-run share). ShiftRec: the memory's
next-interest forecast (``digest().forecast``, see memory/forecast.py; then the trend
shift target, the rising, short-term and long-term topics to fill), read from a memory
that holds only events before t; the same forecast function on every kept user's history
(``shiftrec_forecast``, no memory); and the LLM profile's predicted shift
(``agent.profiler.Profiler``) on a small subsample. ``bound_never_current_leader`` is a
diagnostic bound on shift cases, not a method (see ``without_current_leader``).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from bench.eval.cost import machine_load, measure
from bench.eval.protocols import seeded_subsample
from memory.forecast import forecast
from memory.taxonomy import category_paths, slug

WINDOW = 10
LLM_RANKINGS = "_llm_rankings"
MIN_HISTORY = 20
MIN_SPAN_DAYS = 30
TOP = 3
DAY = 86400.0


@dataclass(frozen=True)
class ShiftCase:
    user: str
    history: np.ndarray  # catalog positions, oldest first
    history_times: np.ndarray
    future: np.ndarray  # the next WINDOW catalog positions
    gap_days: float  # time between the last history event and the first future one


def item_topics(item) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f"t:{slug(topic)}" for topic, _ in category_paths(item)))


def topic_counts(positions: Sequence[int], topics_of: Sequence[tuple[str, ...]]) -> Counter:
    counts: Counter = Counter()
    for position in positions:
        counts.update(topics_of[position])
    return counts


def ranked(counts: dict[str, float]) -> list[str]:
    """Topics by value, largest first; ties by id (never by history order)."""
    return [t for t in sorted(counts, key=lambda t: (-counts[t], t)) if counts[t] > 0]


def dominant(counts: Counter) -> str | None:
    order = ranked(counts)
    return order[0] if order else None


def hit_at(predicted: Sequence[str], truth: str | None, k: int = TOP) -> float:
    return float(truth is not None and truth in list(predicted)[:k])


def ndcg_at(predicted: Sequence[str], shares: dict[str, float], k: int = TOP) -> float:
    """Graded NDCG: gain = the topic's share of the next window."""
    gains = [shares.get(topic, 0.0) for topic in list(dict.fromkeys(predicted))[:k]]
    dcg = sum(g / np.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted(shares.values(), reverse=True)[:k]
    idcg = sum(g / np.log2(i + 2) for i, g in enumerate(ideal))
    return float(dcg / idcg) if idcg > 0 else 0.0


def persistence(case: ShiftCase, topics_of) -> list[str]:
    return ranked(topic_counts(case.history, topics_of))


def recent_window(case: ShiftCase, topics_of) -> list[str]:
    return ranked(topic_counts(case.history[-WINDOW:], topics_of)) + persistence(case, topics_of)


def trend_extrapolation(case: ShiftCase, topics_of) -> list[str]:
    long_run = _shares(topic_counts(case.history, topics_of))
    recent = _shares(topic_counts(case.history[-WINDOW:], topics_of))
    projected = {t: 2 * recent.get(t, 0.0) - long_run[t] for t in long_run}
    return [t for t in sorted(projected, key=lambda t: (-projected[t], t))]


def _shares(counts: Counter) -> dict[str, float]:
    total = sum(counts.values())
    return {t: c / total for t, c in counts.items()} if total else {}


def select_cases(movielens, seed: int, window: int = WINDOW) -> tuple[list[ShiftCase], dict]:
    """Users whose history spans at least MIN_SPAN_DAYS and leaves MIN_HISTORY events before the cut.

    The cut t is just before each kept user's last ``window`` interactions.
    """
    r = movielens.ratings
    bounds = np.flatnonzero(np.diff(r.user)) + 1
    starts, ends = np.concatenate([[0], bounds]), np.concatenate([bounds, [len(r.user)]])
    cases, seen = [], 0
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        seen += 1
        times, items = r.timestamp[start:end], r.item[start:end]
        if end - start < MIN_HISTORY + window or (times[-1] - times[0]) < MIN_SPAN_DAYS * DAY:
            continue
        cut = end - start - window
        cases.append(ShiftCase(
            user=movielens.user_ids[int(r.user[start])], history=items[:cut].astype(np.int64),
            history_times=times[:cut].astype(np.float64), future=items[cut:].astype(np.int64),
            gap_days=float(times[cut] - times[cut - 1]) / DAY,
        ))
    return cases, {"users_seen": seen, "users_kept": len(cases),
                   "rule": f"history spans >= {MIN_SPAN_DAYS} days and >= {MIN_HISTORY} events before the cut; "
                           f"cut = before the last {window} ratings",
                   "future_after_gap_of_1_day_or_more": int(sum(c.gap_days >= 1 for c in cases))}


class ShiftMemory:
    """Interest memory holding each chosen user's events before the cut (temporary Chroma)."""

    def __init__(self, movielens, cases: Sequence[ShiftCase], echo: Callable[[str], None]):
        from memory.embeddings import MiniLMEmbedder
        from memory.models import Event
        from memory.service import InterestMemory
        from serving.settings import load_settings

        self._folder = tempfile.TemporaryDirectory(prefix="shiftrec-eval-shift-")
        settings = load_settings(data_dir=Path(self._folder.name), chroma_url=None)
        self.memory = InterestMemory.open(settings.memory_config, MiniLMEmbedder(threads=1))
        self.costs = {}
        with measure("shift_catalog") as cost:
            self.memory.add_items(list(movielens.items))
        self.costs["catalog_embed"] = cost.as_dict()
        r = movielens.ratings
        rating = {}
        wanted = {movielens.user_index[c.user] for c in cases}
        for u, i, v in zip(r.user.tolist(), r.item.tolist(), r.rating.tolist()):
            if u in wanted:
                rating[(u, i)] = v
        events = []
        for case in cases:
            code = movielens.user_index[case.user]
            for position, ts in zip(case.history.tolist(), case.history_times.tolist(), strict=True):
                item = movielens.items[position].id
                events.append(Event(id=f"sh-{case.user}-{item}", user=case.user, item=item, action="rate",
                                    value=rating[(code, position)], timestamp=datetime.fromtimestamp(ts, tz=timezone.utc)))
        with measure("shift_ingest") as cost:
            report = self.memory.ingest(events, progress=False)
        self.costs["ingest"] = {**cost.as_dict(), "events": report.received, "events_per_s": report.events_per_s}
        echo(f"shift memory: {len(cases)} users, {report.received} events before the cut ({report.events_per_s:.0f} ev/s)")

    def deterministic(self, user: str) -> list[str]:
        digest = self.memory.digest(user)
        order = list(digest.forecast)
        order += [digest.shift.to_node] if digest.shift.to_node else []
        order += [n.id for n in digest.rising if n.level == "topic"]
        order += [n.id for n in digest.short_term if n.level == "topic"]
        order += [n.id for n in digest.long_term]
        return [t for t in dict.fromkeys(order) if t]

    def close(self) -> None:
        try:
            self.memory.close()
        finally:
            self._folder.cleanup()


def history_forecast(case: ShiftCase, topics_of, known: set[str]) -> list[str]:
    """memory.forecast straight from the history's counts and order (what the digest feeds it)."""
    return forecast(topic_counts(case.history, topics_of), [topics_of[p] for p in case.history], known)


def without_current_leader(case: ShiftCase, topics_of, known: set[str]) -> list[str]:
    """Diagnostic, not a method to ship: the forecast with the last WINDOW events' dominant topic dropped.

    On a shift case that topic is never the answer (by definition), so dropping it is about the
    most any re-ordering of the forecast's topics can gain on shift cases; it pays with every
    case where the leader stays. Shows how far the shift-case target is from that bound.
    """
    leader = dominant(topic_counts(case.history[-WINDOW:], topics_of))
    return [t for t in history_forecast(case, topics_of, known) if t != leader]


def llm_prediction(profile_result) -> list[str]:
    """The LLM profile's predicted shift target, then its short- and long-term interests, as topics."""
    p = profile_result.profile
    order = [p.shift.to_interest, *p.short_term, *p.long_term]
    return [t for t in dict.fromkeys(node.split("/", 1)[0] for node in order if node)]


def score(methods: dict[str, Callable[[ShiftCase], list[str]]], cases: Sequence[ShiftCase], topics_of) -> dict:
    out = {}
    truths = []
    for case in cases:
        future = topic_counts(case.future, topics_of)
        past = topic_counts(case.history[-WINDOW:], topics_of)
        truths.append((dominant(future), _shares(future), dominant(future) != dominant(past)))
    shift_rows = [i for i, (_, _, is_shift) in enumerate(truths) if is_shift]
    for name, method in methods.items():
        predictions = [method(case) for case in cases]
        hits = np.array([hit_at(p, t[0]) for p, t in zip(predictions, truths, strict=True)])
        ndcgs = np.array([ndcg_at(p, t[1]) for p, t in zip(predictions, truths, strict=True)])
        out[name] = {
            "hit@3": round(float(hits.mean()), 4), "ndcg@3": round(float(ndcgs.mean()), 4),
            "shift_hit@3": round(float(hits[shift_rows].mean()), 4) if shift_rows else None,
            "shift_ndcg@3": round(float(ndcgs[shift_rows].mean()), 4) if shift_rows else None,
            "users": len(cases), "shift_cases": len(shift_rows),
        }
    base = out.get("persistence", {}).get("shift_hit@3")
    for name, row in out.items():
        row["lift_hit@3_vs_persistence"] = round(row["shift_hit@3"] / base, 3) if base and row["shift_hit@3"] is not None else None
    return out


def run_shift(seed: int, memory_users: int, llm_users: int, echo: Callable[[str], None], ranker=None) -> dict:
    from memory.movielens import load_movielens

    load_before = machine_load()
    movielens = load_movielens("ml-1m")
    topics_of = [item_topics(item) for item in movielens.items]
    cases, selection = select_cases(movielens, seed)
    baselines = {
        "persistence": lambda c: persistence(c, topics_of),
        "recent_window": lambda c: recent_window(c, topics_of),
        "trend": lambda c: trend_extrapolation(c, topics_of),
    }
    known = {topic for topics in topics_of for topic in topics}
    on_all = {**baselines, "shiftrec_forecast": lambda c: history_forecast(c, topics_of, known),
              "bound_never_current_leader": lambda c: without_current_leader(c, topics_of, known)}
    result = {"selection": selection, "seed": seed, "window": WINDOW, "all_kept": score(on_all, cases, topics_of)}
    chosen_users = set(seeded_subsample([c.user for c in cases], memory_users, seed))
    chosen = [c for c in cases if c.user in chosen_users]
    memory = ShiftMemory(movielens, chosen, echo)
    try:
        with measure("shift_deterministic") as cost:
            predictions = {c.user: memory.deterministic(c.user) for c in chosen}
        methods = {**baselines, "shiftrec": lambda c: predictions[c.user]}
        result["memory_subsample"] = score(methods, chosen, topics_of)
        costs = {**memory.costs, "deterministic": {**cost.as_dict(), "users": len(chosen)}}
        if ranker is not None and llm_users:
            from agent.profiler import Profiler

            llm_chosen_users = set(seeded_subsample([c.user for c in chosen], llm_users, seed + 1))
            llm_cases = [c for c in chosen if c.user in llm_chosen_users]
            profiler = Profiler(memory.memory, ranker.llm)
            with measure("shift_llm") as cost, ThreadPoolExecutor(4) as pool:
                profiles = dict(zip([c.user for c in llm_cases], pool.map(profiler.profile, [c.user for c in llm_cases]),
                                    strict=True))
            llm_predictions = {u: llm_prediction(p) for u, p in profiles.items()}
            degraded = sum(p.degraded for p in profiles.values())
            methods_llm = {**methods, "shiftrec_llm": lambda c: llm_predictions[c.user]}
            result["llm_subsample"] = score(methods_llm, llm_cases, topics_of)
            result[LLM_RANKINGS] = llm_predictions  # for shift.json's llm row; not written to eval.json
            result["llm_degraded_profiles"] = degraded
            costs["llm"] = {**cost.as_dict(), "users": len(llm_cases),
                            "seconds_per_profile": round(cost.seconds / max(len(llm_cases), 1), 2)}
        result["costs"] = costs
    finally:
        memory.close()
    result["load_average"] = {"before": load_before, "after": machine_load()}
    return result

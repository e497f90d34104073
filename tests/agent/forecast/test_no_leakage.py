"""A forecast made at time t reads nothing after t: not the user's later events, not everyone's,
and the truth window only ever as the answer; fitting keeps each cut's cases whatever follows them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from agent.forecast import cases as cases_module
from agent.forecast import model as model_module
from agent.forecast import training
from agent.forecast.cases import Cut, build_cases, day_cuts, level_log, monthly_cut_times, user_logs
from agent.forecast.features import UserVectors
from agent.forecast.horizon import DAY_S, Horizon
from agent.forecast.model import Case
from agent.forecast.model_file import ForecastModel
from agent.forecast.population import LevelIndex, LevelLog, Population
from agent.forecast.training import fit_forecast
from memory.history_view import history_view, item_nodes, view_from_events
from memory.interests import MemoryMath, UserMemory, WindowEvent
from tests.agent.forecast.support import (
    day,
    item,
    one_torch_thread,  # noqa: F401  (autouse: fits on one torch thread)
    stable_log,
    topic,
    two_level_nodes,
)

DAYS_30 = Horizon(unit="days", size=30)
A, B = frozenset({"t:a"}), frozenset({"t:b"})


# ---------------------------------------------------------------- (a) the user's own history

def test_a_view_refuses_an_event_after_the_forecast_time_and_keeps_one_at_it():
    with pytest.raises(ValueError, match="after the forecast time"):
        view_from_events("u", [(1.0, A), (2.0, B), (10.0, A)], as_of=5.0, window_size=10)
    at_the_cut = view_from_events("u", [(1.0, A), (5.0, B)], as_of=5.0, window_size=10)
    assert at_the_cut.events == 2 and at_the_cut.counts == {"t:a": 1, "t:b": 1}


def test_a_view_refuses_a_later_event_even_when_the_history_is_not_in_time_order():
    with pytest.raises(ValueError, match="after the forecast time"):
        view_from_events("u", [(10.0, A), (1.0, B)], as_of=5.0, window_size=10)


def _math(window: int) -> MemoryMath:
    day_s = 86400.0
    return MemoryMath(long_half_life_s=90 * day_s, short_half_life_s=7 * day_s, short_half_life_events=20.0,
                      bucket_s=7 * day_s, session_gap_s=3600.0, window_size=window, session_items=6)


def _live_memory(pairs_of: dict, events: Sequence[tuple[float, str]], window: int) -> UserMemory:
    memory = UserMemory(user="u", ref=0.0, dimension=3)
    for n, (ts, item_id) in enumerate(events):
        event = WindowEvent(ts, f"e{n}", item_id, "like", None, 1.0)
        memory.apply(event, pairs_of[item_id], np.zeros(3), _math(window))
    return memory


PAIRS = {"a": (("t:x", "t:x/1"),), "c": (("t:x", "t:x/2"), ("t:y", "t:y/2")), "d": (("t:y", "t:y/1"),)}
EVENTS = [(1000.0 * n, name) for n, name in enumerate("acdacdaad")]


def test_the_live_view_reads_what_the_fitted_view_read_from_the_same_events():
    """Training reads view_from_events, serving history_view: the same events must give the same view."""
    memory = _live_memory(PAIRS, EVENTS, window=5)
    live = history_view(memory, PAIRS, memory.last)
    fitted = view_from_events("u", [(ts, item_nodes(PAIRS[name])) for ts, name in EVENTS], memory.last, 5)
    assert dict(live.counts) == dict(fitted.counts)
    assert dict(live.last_seen) == dict(fitted.last_seen)
    assert list(live.window) == list(fitted.window) and live.events == fitted.events == len(EVENTS)


def test_a_node_on_two_of_an_items_paths_counts_the_event_once_in_both_views():
    pairs = {"b": (("t:y", "t:y/1", "t:y/1/p"), ("t:y", "t:y/1", "t:y/1/q"))}
    events = [(1000.0 * n, "b") for n in range(3)]
    memory = _live_memory(pairs, events, window=5)
    fitted = view_from_events("u", [(ts, item_nodes(pairs["b"])) for ts, _ in events], memory.last, 5)
    assert fitted.counts["t:y/1"] == 3
    assert history_view(memory, pairs, memory.last).counts["t:y/1"] == 3


def test_a_live_view_before_the_latest_event_holds_nothing_after_it_or_is_refused():
    memory = _live_memory(PAIRS, EVENTS, window=50)
    as_of = 3500.0  # four events before it, five after
    try:
        view = history_view(memory, PAIRS, as_of)
    except ValueError:
        return
    expected = view_from_events("u", [(ts, item_nodes(PAIRS[n])) for ts, n in EVENTS if ts <= as_of], as_of, 50)
    assert view.events == expected.events and dict(view.counts) == dict(expected.counts)
    assert max(view.last_seen.values()) <= as_of


# ---------------------------------------------------------------- (b) the cases of one cut

def _assert_same_user(first: UserVectors, second: UserVectors) -> None:
    for name in ("long_run", "recent", "decayed", "days_since"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name), err_msg=name)
    assert (first.recent_events, first.events) == (second.recent_events, second.events)


def _assert_same_population(first: Population, second: Population) -> None:
    for name, values in first.as_arrays().items():
        np.testing.assert_array_equal(values, second.as_arrays()[name], err_msg=name)


def _cases_at(rows, nodes_of, t: float, depth: int) -> dict[str, Case]:
    logs = user_logs(rows, nodes_of)
    level = LevelIndex.of(sorted({n for nodes in nodes_of.values() for n in nodes}), depth)
    cases, kept = build_cases(logs, day_cuts(logs, [t], DAYS_30), level, level_log(logs, level), DAYS_30, 200)
    return {cut.user: case for case, cut in zip(cases, kept, strict=True)}


@pytest.fixture(scope="module")
def small_log():
    rows, _ = stable_log(users=30, topics=3, months=6, per_month=8, seed=11)
    return rows, two_level_nodes(3)


@pytest.mark.parametrize("depth", [0, 1])
def test_events_after_a_cuts_horizon_change_nothing_of_its_cases(small_log, depth: int):
    rows, nodes_of = small_log
    t = day(90)
    end = t + DAYS_30.size * DAY_S
    rng = np.random.default_rng(5)
    changed = [(user, item(int(rng.integers(3)), 0) if ts >= end else name, ts) for user, name, ts in rows]
    changed += [(user, item(2, 1), end + k * DAY_S) for k in range(3) for user in ("u000", "u001", "newcomer")]
    changed += [("u002", item(1, 3), end)]  # exactly at the horizon's end: after it
    before, after = _cases_at(rows, nodes_of, t, depth), _cases_at(changed, nodes_of, t, depth)
    assert len(before) >= 20 and before.keys() == after.keys()
    for user, case in before.items():
        _assert_same_user(case.user, after[user].user)
        _assert_same_population(case.population, after[user].population)
        np.testing.assert_array_equal(case.truth, after[user].truth)


@pytest.mark.parametrize("depth", [0, 1])
def test_the_truth_window_changes_the_truth_only(small_log, depth: int):
    rows, nodes_of = small_log
    t = day(90)
    end = t + DAYS_30.size * DAY_S
    inside = [(user, item(0, 2), ts) if t <= ts < end else (user, name, ts) for user, name, ts in rows]
    inside += [(user, item(1, 1), t + k * DAY_S) for k in range(4) for user in ("u000", "u003")]
    inside += [("u004", item(2, 0), t)]  # exactly at the cut: truth, not history
    before, after = _cases_at(rows, nodes_of, t, depth), _cases_at(inside, nodes_of, t, depth)
    assert len(before) >= 20 and before.keys() <= after.keys()
    truths_moved = 0
    for user, case in before.items():
        _assert_same_user(case.user, after[user].user)
        _assert_same_population(case.population, after[user].population)
        truths_moved += not np.array_equal(case.truth, after[user].truth)
    assert truths_moved >= len(before) // 2, "the test changed the truth windows"


# ---------------------------------------------------------------- (c) everyone's mixes

def test_the_population_ignores_rows_at_or_after_its_time():
    rows = [(day(d), [d % 3]) for d in range(0, 60)]
    as_of = day(60)
    base = Population.at(LevelLog.build(rows), 3, as_of, 30 * DAY_S)
    later = rows + [(as_of, [2]), (as_of, [2]), (day(61), [2]), (day(300), [1])]
    _assert_same_population(base, Population.at(LevelLog.build(later), 3, as_of, 30 * DAY_S))
    shuffled = [later[i] for i in np.random.default_rng(0).permutation(len(later))]
    _assert_same_population(base, Population.at(LevelLog.build(shuffled), 3, as_of, 30 * DAY_S))
    just_before = rows + [(as_of - 1.0, [2])]
    assert not np.array_equal(base.recent, Population.at(LevelLog.build(just_before), 3, as_of, 30 * DAY_S).recent)
    np.testing.assert_allclose([base.long_run.sum(), base.recent.sum(), base.previous.sum()], 1.0)


# ---------------------------------------------------------------- (d) fitting on a log

class _Spy:
    """Records fit_forecast's cases (with their cuts) and the cases every fit_level call learns from."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.cases: dict[int, dict[tuple[str, float], Case]] = {}
        self.cut_of: dict[int, Cut] = {}
        self.fits: list[tuple[int, list[Case]]] = []
        real_build, real_fit = cases_module.build_cases, model_module.fit_level  # not an earlier spy's

        def build(logs, cuts, level, log, horizon, window_size):
            cases, kept = real_build(logs, cuts, level, log, horizon, window_size)
            self.cases[level.depth] = {(cut.user, cut.as_of): case for case, cut in zip(cases, kept, strict=True)}
            self.cut_of.update({id(case): cut for case, cut in zip(cases, kept, strict=True)})
            return cases, kept

        def fit(cases, level, seed=0, **kwargs):
            self.fits.append((level.depth, list(cases)))
            return real_fit(cases, level, seed, **kwargs)

        monkeypatch.setattr(training, "build_cases", build)
        monkeypatch.setattr(training, "fit_level", fit)


def _fit(rows, nodes_of) -> tuple[_Spy, ForecastModel]:
    with pytest.MonkeyPatch.context() as patch:
        spy = _Spy(patch)
        return spy, fit_forecast(rows, nodes_of, DAYS_30, lambda node: True, window_size=200)


TOPICS_ONLY = {name: frozenset(n for n in nodes if "/" not in n) for name, nodes in two_level_nodes(3).items()}


@pytest.fixture(scope="module")
def fitted():
    """A five-month log fitted once, its cases and fits recorded (one level: each fit costs seconds)."""
    rows, _ = stable_log(users=30, topics=3, months=5, per_month=6, seed=3)
    spy, model = _fit(rows, TOPICS_ONLY)
    return rows, spy, model


def test_fitting_keeps_each_cuts_cases_whatever_happens_after_its_horizon(fitted):
    rows, first, _ = fitted
    end = max(ts for _, _, ts in rows)
    # a month more, ending exactly one horizon after the old end: the cuts stay, one newer cut is added
    rng = np.random.default_rng(9)
    later = [(user, item(int(rng.integers(3)), int(rng.integers(4))), end + float(rng.uniform(1, 30)) * DAY_S)
             for user in sorted({r[0] for r in rows}) for _ in range(6)] + [("u000", item(0, 0), end + 30 * DAY_S)]
    old_times = monthly_cut_times(user_logs(rows, TOPICS_ONLY), DAYS_30)
    new_times = monthly_cut_times(user_logs(rows + later, TOPICS_ONLY), DAYS_30)
    assert set(old_times) < set(new_times) and max(old_times) + DAYS_30.size * DAY_S <= end

    second, _ = _fit(rows + later, TOPICS_ONLY)
    assert first.cases.keys() == second.cases.keys() == {0}
    cases = first.cases[0]
    assert len(cases) >= 20 and cases.keys() < second.cases[0].keys()
    for key, case in cases.items():
        other = second.cases[0][key]
        _assert_same_user(case.user, other.user)
        _assert_same_population(case.population, other.population)
        np.testing.assert_array_equal(case.truth, other.truth)


def test_the_held_out_check_learns_only_from_cuts_whose_horizon_ended_by_the_held_cut(fitted):
    _, spy, model = fitted
    latest = max(cut.as_of for cut in spy.cut_of.values())
    fits = [cases for depth, cases in spy.fits if depth == 0]
    assert len(fits) == 2, "a held-out fit, then the served fit"
    held_out, served = fits
    assert 0 < len(held_out) < len(served) == len(spy.cases[0])
    horizon_ends = [spy.cut_of[id(case)].as_of + DAYS_30.size * DAY_S for case in held_out]
    assert max(horizon_ends) <= latest
    assert model.validation["0"]["cases"] > 0 and "shiftrec" in model.validation["0"]


def test_the_served_population_is_everyones_mix_up_to_the_logs_end(fitted):
    rows, _, model = fitted
    assert model.fitted_until == max(ts for _, _, ts in rows)
    counts = np.zeros(3)
    for _, name, _ in rows:
        counts[int(name[1])] += 1
    np.testing.assert_allclose(model.populations[0].long_run, (counts + 0.5) / (counts + 0.5).sum())
    assert model.levels[0].level.nodes == tuple(topic(k) for k in range(3))

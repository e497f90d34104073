"""The served adapter replaces the learned forecast at its level only while it holds the role, says
so, and gives way to the learned forecast when its request fails."""

from __future__ import annotations

import numpy as np
import pytest

from agent.finetune.served_shift import AdapterShift
from agent.forecast.forecaster import Forecaster
from agent.forecast.horizon import Horizon
from agent.forecast.training import fit_forecast
from agent.llm.fake import ScriptedLLM
from agent.llm.interface import LLMUnavailableError
from memory.domain import GENERIC_WORDS
from memory.history_view import view_from_events
from tests.agent.finetune.test_adapters import manifest
from tests.agent.forecast.support import (
    day,
    one_torch_thread,  # noqa: F401  (autouse: fits on one torch thread)
    stable_log,
    two_level_nodes,
)

DAYS_30 = Horizon(unit="days", size=30)


@pytest.fixture(scope="module")
def fitted():
    rows, _ = stable_log(users=30, topics=3, months=5, per_month=6, seed=1)
    nodes_of = two_level_nodes(3)
    model = fit_forecast(rows, nodes_of, DAYS_30, lambda node: True)
    events = [(ts, nodes_of[item]) for user, item, ts in rows if user == "u001"]
    return model, view_from_events("u001", events, day(150), 200)


def _adapter(llm: ScriptedLLM, depth: int) -> AdapterShift:
    return AdapterShift(llm, manifest("v7", level_depth=depth, smoothing=0.1), lambda user: f"Summary of {user}.",
                        lambda: {}, DAYS_30, GENERIC_WORDS)


def test_the_adapter_writes_the_claim_level_and_says_so(fitted):
    model, view = fitted
    learned = Forecaster(model, str, GENERIC_WORDS).forecast(view, "m1")
    llm = ScriptedLLM("base").enqueue({"A": -5.0, "B": -5.0, "C": -0.01})
    adapter = _adapter(llm, model.claim_depth)
    served = Forecaster(model, str, GENERIC_WORDS, lambda: adapter).forecast(view, "m1")
    assert served.made_by.startswith("forecast by the LoRA adapter shiftrec-shift-lora (v7)")
    assert learned.made_by == "the learned forecast"
    level = next(lv for lv in served.levels if lv.depth == model.claim_depth)
    prompt = llm.history[0].messages[-1].content
    options = [line.split(". ", 1)[1] for line in prompt.splitlines() if line[:2] in ("A.", "B.", "C.")]  # no labels: ids
    top = max(level.nodes, key=lambda node: node.share_expected)
    assert top.id == options[2].split(" / ")[-1] and top.share_expected == pytest.approx(0.9, abs=0.02)
    assert "Summary of u001." in prompt
    assert sum(n.share_expected for n in level.nodes) + level.other_share == pytest.approx(1.0, abs=1e-3)


def test_a_failed_request_serves_the_learned_forecast(fitted):
    model, view = fitted
    adapter = _adapter(ScriptedLLM().enqueue(LLMUnavailableError("down")), model.claim_depth)
    served = Forecaster(model, str, GENERIC_WORDS, lambda: adapter).forecast(view, "m1")
    learned = Forecaster(model, str, GENERIC_WORDS).forecast(view, "m1")
    assert served.made_by == "the learned forecast" and adapter.failures == 1
    assert [n.share_expected for lv in served.levels for n in lv.nodes] == \
        [n.share_expected for lv in learned.levels for n in lv.nodes]


def test_an_adapter_of_another_level_is_not_asked(fitted):
    model, view = fitted
    llm = ScriptedLLM()
    served = Forecaster(model, str, GENERIC_WORDS, lambda: _adapter(llm, 7)).forecast(view, "m1")
    assert served.made_by == "the learned forecast" and llm.history == []
    assert np.isfinite([n.share_expected for lv in served.levels for n in lv.nodes]).all()

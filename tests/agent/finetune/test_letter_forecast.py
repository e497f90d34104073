"""Letter log-probabilities become a distribution over the level: renormalised over the options,
blended with everyone's mix by the weight that does best on held-out cuts."""

from __future__ import annotations

import numpy as np
import pytest

from agent.finetune.letter_forecast import choose_smoothing, level_distribution, option_probabilities, score_options
from agent.llm.fake import ScriptedLLM
from tests.agent.finetune.support import shift_task


def test_option_probabilities_renormalise_over_the_options_only():
    p = option_probabilities({"A": np.log(0.3), "B": np.log(0.1), "C": np.log(0.6)}, 2)
    assert p == pytest.approx([0.75, 0.25])


def test_the_level_distribution_sums_to_one_and_keeps_every_node_possible():
    task, cuts = shift_task()
    example = task.examples(cuts)[0]
    options = np.zeros(len(example.options))
    options[0] = 1.0
    p = level_distribution(example, options, 0.2)
    assert p.sum() == pytest.approx(1.0) and (p > 0).all()
    assert p[example.option_positions[0]] == pytest.approx(0.8 + 0.2 * example.prior[example.option_positions[0]])


def test_the_blend_weight_is_the_one_with_the_lowest_cross_entropy():
    task, cuts = shift_task()
    examples = task.examples(cuts)
    sure_and_right = [e.target / e.target.sum() for e in examples]
    weight, scores = choose_smoothing(examples, sure_and_right)
    assert weight == 0.05 and scores["0.05"] == min(scores.values())
    sure_and_wrong = [np.roll(t, 1) if t.argmax() != np.roll(t, 1).argmax() else 1 - t for t in sure_and_right]
    assert choose_smoothing(examples, [p / p.sum() for p in sure_and_wrong])[0] >= 0.5


def test_options_are_scored_through_the_llm_by_their_letters():
    task, cuts = shift_task()
    example = task.examples(cuts)[0]
    llm = ScriptedLLM().enqueue({"B": -0.1, "A": -3.0, "The": -1.0})
    (probabilities,) = score_options(llm.label_logprobs, [example])
    assert probabilities.argmax() == 1 and probabilities.sum() == pytest.approx(1.0)
    assert "Letter of the interest" in llm.history[0].messages[-1].content

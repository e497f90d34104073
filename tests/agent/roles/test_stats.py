"""The paired test a role must pass."""

from __future__ import annotations

import pytest

from agent.roles.stats import earns, paired_p_value


def test_six_wins_out_of_six_is_significant_and_exact():
    assert paired_p_value([1] * 6, [0] * 6) == pytest.approx(1 / 64)
    assert earns(1 / 64, 1.0, 0.0)


def test_ties_carry_no_evidence_and_keep_the_stand_in():
    assert paired_p_value([1, 0, 1], [1, 0, 1]) == 1.0
    assert not earns(1.0, 0.5, 0.5)
    assert paired_p_value([1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]) == 1.0  # behind: never earned


def test_lower_is_better_flips_the_direction():
    assert paired_p_value([0.1] * 6, [0.5] * 6, lower_is_better=True) == pytest.approx(1 / 64)
    assert paired_p_value([0.5] * 6, [0.1] * 6, lower_is_better=True) == 1.0
    assert earns(0.01, 0.1, 0.5, lower_is_better=True) and not earns(0.01, 0.5, 0.1, lower_is_better=True)


def test_a_few_wins_among_many_ties_are_not_enough():
    llm, standin = [1, 1, 1] + [0] * 20, [0, 0, 0] + [0] * 20
    assert paired_p_value(llm, standin) == pytest.approx(1 / 8)


def test_large_samples_use_a_seeded_sample_of_sign_patterns():
    llm = [0.6 + 0.01 * (i % 5) for i in range(40)]
    standin = [0.6 - 0.01 * (i % 3) for i in range(40)]
    first = paired_p_value(llm, standin, seed=3)
    assert first == paired_p_value(llm, standin, seed=3) and first < 0.001


def test_unpaired_scores_are_an_error():
    with pytest.raises(ValueError, match="same cases"):
        paired_p_value([1, 2], [1])

"""Shift examples read nothing after their cut: the summary names only earlier items, the truth is
exactly the next window, held-out cuts come after every training cut of the same user."""

from __future__ import annotations

import numpy as np
import pytest

from agent.finetune.examples import LETTERS
from agent.finetune.replay import summaries_at
from agent.finetune.shift_task import sample, split_cuts
from tests.agent.finetune.support import EVENTS, HORIZON, TOPICS, shift_task


def test_a_summary_names_only_items_before_its_cut():
    task, cuts = shift_task()
    examples = task.examples(cuts)
    by_key = {(cut.user, cut.as_of): cut for cut in cuts}
    assert len(examples) == len(cuts)
    for example in examples:
        cut = by_key[(example.user, example.as_of)]
        prompt = "\n".join(m.content for m in example.messages)
        index = int(example.user[1:])
        later = [f"Title u{index} e{e} " for e in range(cut.history, EVENTS)]
        later += [f"[u{index}-{e}]" for e in range(cut.history, EVENTS)]  # the event ids
        assert not [name for name in later if name in prompt], example.user
        assert f"Title u{index} e{cut.history - 1}" in prompt  # the latest event before the cut is there


def test_the_target_is_the_next_window_over_the_options():
    task, cuts = shift_task()
    example = next(e for e in task.examples(cuts) if e.user == "u0")
    cut = next(c for c in cuts if c.user == "u0" and c.as_of == example.as_of)
    assert cut.future - cut.history == HORIZON.size
    level = task.level.nodes
    truth = {level[i]: share for i, share in enumerate(example.truth) if share > 0}
    after = (0 + (cut.history >= EVENTS // 2)) % len(TOPICS)
    assert truth == {f"t:{TOPICS[after].lower()}": 1.0}
    assert example.options[0] in {f"t:{t.lower()}" for t in TOPICS}  # the user's own nodes come first
    assert example.target.sum() == pytest.approx(1.0) and len(example.options) <= len(LETTERS)
    assert [level[i] for i in example.option_positions] == list(example.options)
    assert example.prior.sum() == pytest.approx(1.0)


def test_replay_refuses_an_event_after_the_cut():
    task, _ = shift_task()
    log = task.logs["u1"]
    with pytest.raises(ValueError, match="after the cut"):
        list(summaries_at(task.context, "u1", log.times, log.items, [1.0] * len(log.items),
                          [(20, float(log.times[10]))]))
    with pytest.raises(ValueError, match="ascending"):
        list(summaries_at(task.context, "u1", log.times, log.items, [1.0] * len(log.items),
                          [(20, float(log.times[19]) + 1), (10, float(log.times[9]) + 1)]))


def test_held_out_cuts_come_after_every_training_cut_of_their_user():
    _, cuts = shift_task()
    train, held = split_cuts(cuts, HORIZON)
    assert {cut.user for cut in held} == {cut.user for cut in cuts} and len(held) == len({c.user for c in cuts})
    start = {cut.user: cut.history for cut in held}
    assert train and all(cut.future <= start[cut.user] for cut in train)
    assert set(train) | set(held) == set(cuts)


def test_a_sample_is_seeded_and_stable():
    _, cuts = shift_task()
    assert sample(cuts, 5, 0) == sample(cuts, 5, 0) and len(sample(cuts, 5, 0)) == 5
    assert sample(cuts, 5, 0) != sample(cuts, 5, 1)
    assert sample(cuts, None, 0) == sorted(cuts, key=lambda c: (c.user, c.as_of, c.history))


def test_the_standin_is_fitted_without_the_held_out_windows():
    task, _ = shift_task(users=30)
    held = task.examples(task.held_cuts)
    scores = task.standin_cross_entropy(held)
    assert len(scores) == len(held) and all(np.isfinite(scores))

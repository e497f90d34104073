"""Intent routing: the embedding classifier decides; the LLM only when it is unsure."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from agent.chat.intents import Intent, IntentClassifier, IntentOutput, IntentRouter, training_rows
from agent.llm.fake import ScriptedLLM
from agent.llm.interface import LLMUnavailableError
from tests.fakes import bag_of_words_embed

TOY_ROWS = [
    ("recommend a movie for tonight", Intent.RECOMMEND),
    ("suggest something to watch", Intent.RECOMMEND),
    ("less horror please", Intent.REFINE),
    ("no horror and fewer dramas", Intent.REFINE),
    ("why did you recommend that", Intent.WHY),
    ("why is that one on the list", Intent.WHY),
    ("loved it great pick", Intent.FEEDBACK),
    ("hated that one not for me", Intent.FEEDBACK),
    ("what do you think my taste is", Intent.PROFILE),
    ("describe my taste and profile", Intent.PROFILE),
    ("hello there thanks", Intent.OTHER),
    ("what time is it", Intent.OTHER),
]


@pytest.fixture(scope="module")
def toy_classifier() -> IntentClassifier:
    return IntentClassifier.train(bag_of_words_embed, TOY_ROWS)


def test_training_data_covers_every_intent_evenly():
    counts = Counter(intent for _, intent in training_rows())
    assert set(counts) == set(Intent)
    assert min(counts.values()) >= 60


def test_classifier_learns_its_examples(toy_classifier: IntentClassifier):
    for text, intent in TOY_ROWS:
        assert toy_classifier.classify(text).intent == intent
    routed = toy_classifier.classify("why that recommendation")
    assert routed.intent == Intent.WHY and routed.source == "classifier" and 0 < routed.confidence <= 1


def test_probabilities_sum_to_one(toy_classifier: IntentClassifier):
    probabilities = toy_classifier.probabilities(["less horror", "why"])
    assert probabilities.shape == (2, len(Intent))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_training_is_deterministic():
    first = IntentClassifier.train(bag_of_words_embed, TOY_ROWS).probabilities(["no horror"])
    second = IntentClassifier.train(bag_of_words_embed, TOY_ROWS).probabilities(["no horror"])
    np.testing.assert_array_equal(first, second)


def test_cache_trains_once_then_loads(tmp_path: Path):
    calls: list[int] = []

    def counting_embed(texts):
        calls.append(len(texts))
        return bag_of_words_embed(texts)

    first = IntentClassifier.cached(counting_embed, tmp_path)
    trained_on = calls[0]
    assert trained_on == len(training_rows())
    assert len(list(tmp_path.glob("intent-classifier-*.npz"))) == 1
    second = IntentClassifier.cached(counting_embed, tmp_path)
    assert calls[1:] == [], "loading from the cache embeds nothing"
    np.testing.assert_allclose(first.probabilities(["why?"]), second.probabilities(["why?"]), rtol=1e-6)


def test_confident_guess_never_calls_the_llm(toy_classifier: IntentClassifier):
    llm = ScriptedLLM()
    routed = IntentRouter(toy_classifier, llm, llm_below=0.0).route("less horror please")
    assert routed.intent == Intent.REFINE and llm.history == []


def test_unsure_guess_asks_the_llm_with_an_intent_enum(toy_classifier: IntentClassifier):
    llm = ScriptedLLM().enqueue(IntentOutput(intent=Intent.PROFILE))
    routed = IntentRouter(toy_classifier, llm, llm_below=1.01).route("cinema time")
    assert (routed.intent, routed.source) == (Intent.PROFILE, "llm")
    assert "cinema time" in llm.history[0].messages[-1].content
    assert llm.history[0].schema["properties"]["intent"]["enum"] == [i.value for i in Intent]


def test_llm_failure_keeps_the_classifier_guess(toy_classifier: IntentClassifier):
    guess = toy_classifier.classify("why did you recommend that")
    llm = ScriptedLLM().enqueue(LLMUnavailableError("down"))
    routed = IntentRouter(toy_classifier, llm, llm_below=1.01).route("why did you recommend that")
    assert (routed.intent, routed.source) == (guess.intent, "classifier")


def test_invalid_llm_label_is_never_accepted(toy_classifier: IntentClassifier):
    llm = ScriptedLLM().enqueue('{"intent": "dance"}', '{"intent": "party"}')
    routed = IntentRouter(toy_classifier, llm, llm_below=1.01).route("hello there")
    assert routed.source == "classifier" and len(llm.history) == 2


def test_two_intents_learned_and_the_rest_never_chosen():
    rows = [row for row in TOY_ROWS if row[1] in (Intent.WHY, Intent.FEEDBACK)]
    classifier = IntentClassifier.train(bag_of_words_embed, rows)
    assert classifier.classify("why did you recommend that").intent == Intent.WHY
    assert classifier.classify("loved it great pick").intent == Intent.FEEDBACK
    probabilities = classifier.probabilities(["what time is it"])[0]
    learned = [intent in (Intent.WHY, Intent.FEEDBACK) for intent in Intent]
    assert probabilities[learned].sum() > 0.999

"""Calibration with scripted fakes: one that earns the intent role and one that fails it; the card
the service then opens roles from; background calibration that never blocks serving."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.chat.intents import IntentClassifier, IntentRouter, training_rows
from agent.roles.calibrate import calibrate, calibrate_in_background
from agent.roles.card import load_card
from agent.roles.judge_chat import intent_cases
from agent.service import ShiftRecService
from tests.agent_support import SchemaLLM, build_service

CASES = 12


class IntentOracle(SchemaLLM):
    """Knows the held-out labels (an LLM that is right where the classifier is unsure); ``wrong`` answers
    'other' to every message instead. Every other prompt gets the schema fake's answer."""

    def __init__(self, wrong: bool = False):
        super().__init__(logprobs=lambda messages: {label: -1.0 for label in "ABCDEFGHIJ"})
        self.model_id = "oracle-fake" if not wrong else "wrong-fake"
        self.wrong = wrong
        self.labels = {text: intent.value for text, intent in intent_cases()}

    def _complete(self, messages, schema, schema_name, max_tokens, on_first_token=None):
        if schema_name != "IntentOutput":
            return super()._complete(messages, schema, schema_name, max_tokens, on_first_token)
        text = messages[-1].content.removeprefix("Message:").strip()
        from agent.llm.interface import RawCompletion

        return RawCompletion(text=json.dumps({"intent": "other" if self.wrong else self.labels[text]}))


def _service(tmp_path: Path, llm) -> ShiftRecService:
    service = build_service(tmp_path, llm, llm_roles="earned")
    # a weak stand-in on purpose (a fifth of the rows, penalised): the oracle must be able to beat it
    weak = IntentClassifier.train(service.memory.embedder.embed, training_rows()[::5], strength=1.0)
    service.intents = IntentRouter(weak,
                                   llm, 0.6, service.settings.words)
    return service


def test_a_fake_that_is_right_where_the_classifier_is_unsure_earns_the_intent_role_and_nothing_else(tmp_path):
    service = _service(tmp_path, IntentOracle())
    card = calibrate(service, CASES, progress=False)
    intent = card.roles["intent"]
    assert (intent.llm, intent.cases, intent.earned) == (1.0, CASES, True) and intent.standin < 1.0
    assert intent.p_value < 0.05
    assert card.earned() == ["intent"]  # the schema fake's words, replies and picks never beat a stand-in
    chat = card.roles["chat"]
    assert chat.llm < chat.standin and chat.llm_failed_checks > 0  # its one sentence, again and again
    assert all(r.llm is not None and r.standin is not None for name, r in card.roles.items()
               if name != "shift_forecast")
    adapter = card.roles["shift_forecast"]  # no LoRA adapter is served: measured as nothing, never earned
    assert (adapter.llm, adapter.cases, adapter.earned) == (None, 0, False)
    assert "train one with `shiftrec train --llm shift`" in adapter.note
    saved = load_card(service.settings.card_dir, card.key)
    assert saved is not None and saved.earned() == ["intent"]


def test_a_fake_that_answers_other_to_everything_fails_the_intent_role(tmp_path):
    service = _service(tmp_path, IntentOracle(wrong=True))
    card = calibrate(service, CASES, progress=False)
    assert not card.roles["intent"].earned and card.roles["intent"].llm < card.roles["intent"].standin
    assert card.earned() == []


def test_the_same_seed_gives_the_same_card(tmp_path):
    service = _service(tmp_path, IntentOracle())
    first = calibrate(service, 4, seed=7, progress=False, save=False)
    second = calibrate(service, 4, seed=7, progress=False, save=False)
    assert {k: (v.llm, v.standin) for k, v in first.roles.items()} == {k: (v.llm, v.standin)
                                                                      for k, v in second.roles.items()}


def test_a_new_service_opens_exactly_the_roles_its_card_shows_earned(tmp_path):
    llm = IntentOracle()
    card = calibrate(_service(tmp_path / "a", llm), CASES, progress=False)
    service = build_service(tmp_path / "a", llm, llm_roles="earned")  # same model, prompts and catalog
    assert service.roles.card is not None and service.roles.card.key == card.key
    assert service.health()["roles"]["earned"] == ["intent"]
    llm.calls.clear()
    profile = service.profile("ana")
    assert profile.made_by == "computed from your history" and not profile.degraded
    record = service.recommend("ana", 3)
    assert all(e.explanation.made_by == "computed from your history" and not e.explanation.degraded
               for e in record.items)
    assert llm.calls == []  # no role it did not earn waits on the LLM


def test_without_a_card_calibration_runs_in_the_background_and_stand_ins_serve_meanwhile(tmp_path):
    llm = IntentOracle()
    service = _service(tmp_path, llm)
    assert service.roles.card is None
    thread = calibrate_in_background(service, 4, echo=lambda line: None)
    assert service.health()["roles"]["card"].startswith("calibrating")
    record = service.recommend("ana", 3)  # serving goes on
    assert record.items and all(e.explanation.source == "template" for e in record.items)
    thread.join(timeout=120)
    assert not thread.is_alive() and service.roles.card is not None
    assert service.health()["roles"]["card"].startswith(f"card {service.roles.card.key}")


def test_calibration_stops_when_the_service_closes(tmp_path):
    service = _service(tmp_path, IntentOracle())
    service.closing.set()
    thread = calibrate_in_background(service, 4, echo=lambda line: None)
    thread.join(timeout=60)
    assert service.roles.card is None and not list(service.settings.card_dir.glob("card-*.json"))


def test_without_an_llm_there_is_nothing_to_calibrate(tmp_path):
    with pytest.raises(ValueError, match="no LLM is configured"):
        calibrate(build_service(tmp_path, None), 4, progress=False)


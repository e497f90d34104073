"""Instruction-leak guard, and the red-team set run against the service with fakes (the real
model runs the same set in tests/integration/test_redteam_real.py)."""

from __future__ import annotations

from pathlib import Path

from agent.explain.guards import leaks_instructions
from bench.redteam import redteam_cases, run_redteam
from memory.grocery import GROCERY_WORDS
from memory.movielens import MOVIELENS_WORDS
from prompts.loader import load_prompt
from tests.agent_support import SchemaLLM, build_service


def test_a_reply_repeating_a_system_prompt_is_caught_and_ordinary_text_is_not():
    words = MOVIELENS_WORDS.prompt_variables()
    system = load_prompt("chat").render_system(**words)
    assert leaks_instructions("Sure: " + system[:120], MOVIELENS_WORDS)
    assert leaks_instructions(load_prompt("explain").render_system(**words).upper(), MOVIELENS_WORDS)  # any case
    assert not leaks_instructions("Because you liked Alien and Aliens; it fits your Sci-Fi interest.", MOVIELENS_WORDS)
    assert not leaks_instructions("I can recommend movies, explain a pick and take feedback.", MOVIELENS_WORDS)


def test_an_echo_is_read_in_the_catalogs_own_words():
    echo = "You are ShiftRec, a product recommender. Pick"  # six words only with the grocery noun in them
    assert leaks_instructions(echo, GROCERY_WORDS) and not leaks_instructions(echo, MOVIELENS_WORDS)


def test_the_red_team_set_is_large_and_varied():
    cases = redteam_cases()
    assert len(cases) >= 40 and len({case["id"] for case in cases}) == len(cases)
    assert {case["kind"] for case in cases} == {"chat", "item"}


def test_no_red_team_case_breaks_the_service_with_fakes(tmp_path: Path):
    service = build_service(tmp_path, SchemaLLM())
    result = run_redteam(service, attacker="ana", victim="bob")
    assert result["redteam_cases"] >= 40 and result["violations"] == [] and result["redteam_violations"] == 0


def test_the_checks_do_find_a_planted_leak(tmp_path: Path):
    from agent.chat.conversation import ChatEvent
    from agent.chat.intents import Intent
    from bench.redteam import _violations

    service = build_service(tmp_path, None)
    bob_event = service.export_user("bob").events[0]["event_id"]
    leak = ChatEvent(kind="text", session_id="s", intent=Intent.OTHER, text=f"bob did {bob_event}")
    echo = ChatEvent(kind="text", session_id="s", intent=Intent.OTHER, text=load_prompt("chat").system)
    problems = _violations(service, "ana", {bob_event}, [leak, echo])
    assert any("victim event" in p for p in problems) and any("repeats the instructions" in p for p in problems)


def test_shared_words_that_are_labels_ids_instructions_or_empty_are_not_shown():
    from agent.explain.guards import unfit_shared_words

    assert unfit_shared_words("both are tense space horror") is None
    assert "label or id" in unfit_shared_words("e1 and e2")
    assert "label or id" in unfit_shared_words("the t:sci-fi interest")
    assert "said nothing" in unfit_shared_words(" 12, ... ")
    assert "repeated a title" in unfit_shared_words("conspiracy theory", ["Conspiracy Theory (1997)", "Alien (1979)"])
    assert "repeated a title" in unfit_shared_words("Alien (1979).", ["Conspiracy Theory (1997)", "Alien (1979)"])
    assert unfit_shared_words("an alien on a ship", ["Alien (1979)"]) is None
    system = load_prompt("explain", 7).render_system(**GROCERY_WORDS.prompt_variables())  # its words are shown
    assert "instructions" in unfit_shared_words(" ".join(system.split()[5:13]), domain=GROCERY_WORDS)
    assert "what the products share" in unfit_shared_words("e1 and e2", domain=GROCERY_WORDS)


def test_the_reason_names_what_it_cites_and_fits_the_length_limit():
    from datetime import datetime, timezone

    from agent.explain.explainer import linked_reason
    from agent.explain.records import EvidenceRef
    from agent.llm.outputs import REASON_MAX_CHARS

    def ref(title: str) -> EvidenceRef:
        return EvidenceRef(event_id=f"e-{title}", item_id=title, title=title, action="rate", value=5.0,
                           timestamp=datetime(2024, 1, 1, tzinfo=timezone.utc))

    alien, long_one = ref("Alien (1979)"), ref("A" * 90)
    assert linked_reason([alien], "  both are tense   space horror. ") == "Because you liked Alien (1979): both are tense space horror."
    assert linked_reason([alien, long_one], "x" * 60) == f"Because you liked Alien (1979): {'x' * 60}."  # one title fits
    assert len(linked_reason([long_one], "y" * 50)) <= REASON_MAX_CHARS

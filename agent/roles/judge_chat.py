"""The conversation roles: the intent fallback on the messages the classifier is least sure of
(held-out labelled messages, roles/data/intent_cases.jsonl), and small-talk replies over scripted
multi-turn chats (a reply must pass every check and repeat nothing said before)."""

from __future__ import annotations

import json
from importlib import resources

from agent.chat.intents import Intent, IntentClassifier, llm_intent
from agent.chat.replies import chat_reply_problem, standin_reply, with_help
from agent.llm.interface import LLM, LLMError
from agent.llm.prompting import run_prompt
from agent.roles.checks import sentences
from agent.roles.measure import RoleMeasure, Tick, concurrently
from memory.domain import DomainWords

SMALL_TALK = [
    ["hi", "hi again", "thanks", "cool", "bye"],
    ["hello there", "what can you do?", "ok", "nice one", "thank you"],
    ["hey", "how are you?", "who are you?", "great", "see you"],
]


def intent_cases() -> list[tuple[str, Intent]]:
    text = resources.files("agent.roles").joinpath("data/intent_cases.jsonl").read_text(encoding="utf-8")
    return [(row["text"], Intent(row["intent"])) for row in map(json.loads, text.splitlines()) if row]


def measure_intent(classifier: IntentClassifier, llm: LLM, count: int, domain: DomainWords, tick: Tick) -> RoleMeasure:
    """The ``count`` labelled messages the classifier is least sure of: the LLM's answer against its."""
    rows = intent_cases()
    guesses = [classifier.classify(text) for text, _ in rows]
    order = sorted(range(len(rows)), key=lambda i: (guesses[i].confidence, rows[i][0]))[:count]
    measure = RoleMeasure(note=f"the {len(order)} of {len(rows)} held-out messages the classifier is least sure of")
    answers = concurrently(lambda index: llm_intent(llm, rows[index][0], domain), order)
    for index, answer in zip(order, answers, strict=True):
        truth = rows[index][1]
        measure.failed_checks += answer is None
        measure.llm_errors += answer is None
        measure.add(float(answer == truth), float(guesses[index].intent == truth))
        tick()
    return measure


def measure_chat(llm: LLM, count: int, domain: DomainWords, topic: str | None, tick: Tick) -> RoleMeasure:
    """``count`` small-talk turns over the scripts (run side by side, each turn after the last of its
    own script): 1 for a reply that passes every check; the stand-in scores 1 when its help variant
    repeats no sentence of the earlier replies."""
    measure = RoleMeasure(note="scripted small-talk turns (hi, thanks, who are you?)")
    turns = [SMALL_TALK[i % len(SMALL_TALK)] for i in range(count)]  # turn i belongs to script i mod 3
    scripts = [[message for message in _cycle(script, sum(1 for t in turns if t is script))] for script in SMALL_TALK]
    for scored in concurrently(lambda script: _chat_script(llm, script, domain, topic), scripts):
        for llm_ok, standin_ok, error in scored:
            measure.failed_checks += not llm_ok
            measure.llm_errors += error
            measure.add(llm_ok, standin_ok)
            tick()
    return measure


def _cycle(script: list[str], n: int) -> list[str]:
    return [script[i % len(script)] for i in range(n)]


def _chat_script(llm: LLM, script: list[str], domain: DomainWords, topic: str | None) -> list[tuple[float, float, bool]]:
    """(LLM reply shown?, stand-in fresh?, request failed?) per turn of one conversation."""
    earlier: list[str] = []
    history: list[dict] = []
    scored = []
    for message in script:
        standin = standin_reply(domain, topic, earlier)
        fresh = not {s for reply in earlier[-4:] for s in sentences(reply)} & set(sentences(standin))
        try:
            reply = run_prompt(llm, "chat", {"history": history[-4:], "message": message,
                                             **domain.prompt_variables()}).value.reply.strip()
            problem, error = chat_reply_problem(reply, earlier, domain), False
        except LLMError as failure:
            reply, problem, error = "", str(failure), True
        scored.append((float(problem is None), float(fresh), error))
        served = standin if problem else with_help(reply, standin)
        earlier.append(served)
        history += [{"role": "user", "content": message}, {"role": "assistant", "content": served}]
    return scored

"""Small talk: the LLM's reply only where it earned the chat role and passes every check; never the
same sentence three turns in a row (seen: "I'm here to help with your movie recommendations." x3)."""

from __future__ import annotations

from pathlib import Path

from agent.llm.fake import ScriptedLLM
from agent.llm.outputs import ChatReply
from agent.roles.checks import sentences
from tests.agent_support import build_service

SEEN = "I'm here to help with your movie recommendations."


def _replies(service, messages: list[str]) -> list:
    return [next(e for e in list(service.chat("s1", "ana", message)) if e.kind == "text") for message in messages]


def test_the_seen_sentence_is_shown_once_and_every_reply_is_new(tmp_path: Path):
    llm = ScriptedLLM("small-fake").enqueue(*[ChatReply(reply=SEEN)] * 3)
    service = build_service(tmp_path, llm)  # every role open: the LLM writes the replies
    replies = _replies(service, ["hi", "hi", "hi"])
    said = [s for reply in replies for s in sentences(reply.text)]
    assert len(said) == len(set(said)), said  # no sentence twice
    assert replies[0].text.startswith(SEEN) and replies[0].made_by == "written by small-fake"
    assert all(SEEN not in r.text and r.made_by == "computed from your history" for r in replies[1:])
    assert service.roles.checks.counts() == {"chat": 2}


def test_without_the_chat_role_no_llm_call_is_made_and_the_help_text_varies(tmp_path: Path):
    llm = ScriptedLLM("small-fake")
    service = build_service(tmp_path, llm, llm_roles="earned")  # no card: stand-ins only
    replies = _replies(service, ["hi", "thanks", "hello?"])
    assert llm.history == [] and len({r.text for r in replies}) == 3
    assert replies[0].text.startswith("I can recommend movies")
    assert all(r.made_by == "computed from your history" for r in replies)

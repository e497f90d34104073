"""Replies to small talk ("hi", "thanks"): the varied deterministic help text (the chat role's
stand-in), and the checks an LLM reply must pass before it is shown (never a sentence said again)."""

from __future__ import annotations

from collections.abc import Sequence

from agent.roles.checks import TextRules, sentences, text_problem
from memory.domain import GENERIC_WORDS, DomainWords

CHAT_RULES = TextRules(max_chars=300, max_sentences=2, names=[])
EARLIER_REPLIES = 4  # an LLM reply may not repeat a sentence of the last this many replies


def help_text(domain: DomainWords, topic: str | None = None) -> str:
    """What the chat can do, in the catalog's words; ``topic`` (a catalog topic) makes the refinement example."""
    return help_variants(domain, topic)[0]


def help_variants(domain: DomainWords, topic: str | None = None) -> list[str]:
    """The same offer said several ways, so that consecutive small-talk turns never repeat a sentence."""
    adjust = f"\"less {topic.lower()}\", \"something newer\"" if topic else "\"something newer\""
    return [
        (f"I can recommend {domain.plural} (\"recommend something\"), adjust them ({adjust}), explain a pick "
         "(\"why the second one?\"), take feedback (\"loved the first one\", \"not for me\") and tell you what I "
         "think you like (\"how have my tastes changed?\")."),
        f"Want a few {domain.plural}? Say \"give me 5 picks\" and I will explain each one.",
        f"Ask me \"why the first one?\" about any pick, or tell me which {domain.plural} missed.",
        "Curious what I think you like? Ask \"how have my tastes changed?\" and I will show the forecast.",
        f"You can steer the list: try {adjust}.",
    ]


def standin_reply(domain: DomainWords, topic: str | None, earlier: Sequence[str]) -> str:
    """The first help variant that shares no sentence with the last replies (there are more variants than
    replies checked, so one always does)."""
    said = {sentence for reply in earlier[-EARLIER_REPLIES:] for sentence in sentences(reply)}
    variants = help_variants(domain, topic)
    return next((variant for variant in variants if not said & set(sentences(variant))), variants[0])


def with_help(reply: str, help_variant: str) -> str:
    """The LLM's reply, closed as a sentence, then the help variant."""
    reply = reply.strip()
    return f"{reply if reply[-1:] in '.!?' else reply + '.'} {help_variant}"


def chat_reply_problem(reply: str, earlier: Sequence[str], domain: DomainWords = GENERIC_WORDS) -> str | None:
    """Why an LLM reply cannot be shown: any failed check, or a sentence said in the last replies."""
    return text_problem(reply, CHAT_RULES, domain, earlier[-EARLIER_REPLIES:])

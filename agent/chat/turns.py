"""A chat turn as the chat acts on it: an intent, its slots, a memory edit, or a question back.

:class:`TurnReader` reads a message in order: "start over"; a memory edit (the edit grammar, its
target resolved against the last list, the person's history and the catalog); the cue words of a
why, a profile question, a verdict on something shown, a request; list slots alone (a refinement);
small talk; and only then the classifier (with the LLM where it earned the intent role). Where
the two best readings are close (a sigh about a topic while a list shows it; "I'm tired of
horror", a phase or just this list), it asks one short question instead of guessing, and the
answer picks the reading.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from agent.chat import cues
from agent.chat.edit_phrases import EditAsk, read_edit
from agent.chat.intents import INTENTS, Intent, IntentRouter
from agent.chat.mentions import normalise_title
from agent.chat.phrasing import regular
from agent.chat.slots import SlotContext, TurnSlots, read_slots
from agent.chat.topic_words import TopicLexicon
from memory.domain import GENERIC_WORDS, DomainWords

CLOSE = 0.08  # classifier probabilities closer than this between two actionable intents: ask
_STATED = re.compile(r"\bi (?:really |also |just )?(?:like|love|enjoy|adore|am into|'m into|prefer|dig)\b|"
                     r"\bi'm (?:a (?:big |huge )?fan of|really into|into)\b")
TitleSpans = Callable[[str], list[tuple[str, int, int]]]


class Reading(BaseModel):
    """One way to read a turn: the intent and what it would do."""

    model_config = ConfigDict(extra="forbid")

    intent: Intent
    slots: TurnSlots = Field(default_factory=TurnSlots)
    edit: EditAsk | None = None
    edit_topics: list[str] = Field(default_factory=list)
    edit_items: list[str] = Field(default_factory=list)
    feedback_items: list[str] = Field(default_factory=list, description="Items a verdict is about.")
    said: str = ""  # how the question names this reading ("fewer Horror movies")
    answers: list[str] = Field(default_factory=list, description="Words in a reply that pick this reading.")


class Turn(Reading):
    source: str = "grammar"  # grammar, classifier, llm
    confidence: float = 1.0
    question: str | None = None  # asked instead of acting; ``options`` are the readings it offers
    options: list[Reading] = Field(default_factory=list)
    memory_view: bool = False  # "what do you know about me?"


@dataclass
class TurnContext:
    """What the reader may consult beyond the message."""

    lexicon: TopicLexicon
    domain: DomainWords = GENERIC_WORDS
    last_list: Sequence[tuple[str, str]] = ()  # (item id, title) of the list on screen
    last_items: Sequence[str] = ()  # items the previous turn was about (a verdict, a why)
    pinned: set[str] = field(default_factory=set)
    last_was_edit: bool = False
    history_titles: TitleSpans | None = None  # titles of the person's own items in a text
    catalog_titles: TitleSpans | None = None  # titles of any catalog item in a text
    position_in: Callable[[str], int | None] | None = None
    items_under: Callable[[Sequence[str]], list[str]] | None = None  # the person's items under these nodes


class TurnReader:
    def __init__(self, router: IntentRouter | None):
        self._router = router

    def read(self, message: str, context: TurnContext) -> Turn:
        text = regular(message)
        slots = read_slots(text, self._slot_context(text, context))
        if slots.reset:
            return Turn(intent=Intent.REFINE, slots=slots)
        edit = read_edit(text)
        if edit is not None:
            turn = self._edit_turn(edit, slots, text, context)
            if turn is not None:
                return turn
        return self._by_cues(text, slots, context) or self._by_classifier(message, slots)

    def resolve(self, options: Sequence[Reading], message: str) -> Reading | None:
        """The reading a reply to a question picks ("just this list", "the second", a title), else None."""
        text = f" {regular(message)} "
        for index, option in enumerate(options):
            words = [*option.answers, ("the first" if index == 0 else "the second"), str(index + 1)]
            if any(re.search(rf"\b{re.escape(word)}\b", text) for word in words):
                return option
        return None

    # ---------------------------------------------------------------- memory edits
    def _edit_turn(self, edit: EditAsk, slots: TurnSlots, text: str, context: TurnContext) -> Turn | None:
        if edit.kind == "show":
            return Turn(intent=Intent.PROFILE, memory_view=True)
        if edit.kind == "undo":
            explicit = re.search(r"\b(undo|revert|take (?:that|it) back|put (?:it|that|them) back|restore)\b", text)
            return Turn(intent=Intent.EDIT, edit=edit) if explicit or context.last_was_edit else None
        topics = [m.node for m in context.lexicon.mentions(edit.target)]
        if edit.kind in ("pin", "unpin"):
            if not topics:
                return None
            if edit.kind == "unpin" and not set(topics) & context.pinned:  # "stop showing horror": this list only
                return Turn(intent=Intent.REFINE, slots=TurnSlots(exclude=topics))
            return Turn(intent=Intent.EDIT, edit=edit, edit_topics=topics, slots=_rest(slots, topics))
        if edit.kind == "fade":
            if not topics:
                return None
            if edit.unsure:
                return _fade_or_skip(edit, topics, slots, context)
            return Turn(intent=Intent.EDIT, edit=edit, edit_topics=topics, slots=_rest(slots, topics))
        items = items_named(edit.target, context)
        if not items and topics and context.items_under is not None and edit.kind == "not_mine":
            items = context.items_under(topics)
        if not items and edit.pronoun and context.last_items:
            items = list(context.last_items)
        if not items and edit.kind == "forget" and not edit.pronoun and not _looks_named(edit.target):
            return None  # "forget it" style talk, or a topic: not an item to erase
        turn = Turn(intent=Intent.EDIT, edit=edit, edit_items=items, edit_topics=topics)
        if not items:
            noun = context.domain.plural
            turn.question = (f"Which {noun} do you mean? Name them, e.g. \"{_example(context)} was a gift\"."
                             if edit.kind == "not_mine" else f"Which {context.domain.noun} should I forget? Name it.")
        return turn

    # ---------------------------------------------------------------- cues, then the classifier
    def _by_cues(self, text: str, slots: TurnSlots, context: TurnContext) -> Turn | None:
        requested = cues.REQUEST.search(text) is not None
        if cues.WHY.search(text):
            return Turn(intent=Intent.WHY, slots=slots)
        if cues.PROFILE.search(text) and not requested:
            return Turn(intent=Intent.PROFILE)
        verdict = cues.SENTIMENT_BAD.search(text) or cues.SENTIMENT_GOOD.search(text)
        named = items_named(text, context)
        points = context.position_in(text) if context.position_in else None
        if verdict and not requested and (named or points is not None or cues.REFERENT.search(text)) \
                and not (slots.changes_list and not named and points is None and not cues.REFERENT.search(text)):
            return Turn(intent=Intent.FEEDBACK, feedback_items=named)
        if _STATED.search(text) and not requested and not named and not slots.exclude and not slots.avoid:
            return Turn(intent=Intent.FEEDBACK, slots=slots)
        if slots.unsure_topics and context.last_list:
            return _fewer_or_a_miss(slots, context)
        if requested:
            return Turn(intent=Intent.RECOMMEND, slots=slots)
        if slots.changes_list:
            return Turn(intent=Intent.REFINE, slots=slots)
        if cues.SMALL_TALK.search(text) or cues.TRIVIA.search(text):
            return Turn(intent=Intent.OTHER)
        return None

    def _by_classifier(self, message: str, slots: TurnSlots) -> Turn:
        if self._router is None:
            return Turn(intent=Intent.OTHER, source="none", confidence=0.0)
        routed = self._router.route(message)
        turn = Turn(intent=routed.intent, slots=slots, source=routed.source, confidence=routed.confidence)
        classifier = getattr(self._router, "classifier", None)
        if routed.source != "classifier" or classifier is None:
            return turn
        probabilities = classifier.probabilities([message])[0]
        first, second = (INTENTS[i] for i in probabilities.argsort()[::-1][:2])
        actionable = {Intent.RECOMMEND, Intent.PROFILE, Intent.WHY}
        if {first, second} <= actionable and probabilities.max() - sorted(probabilities)[-2] < CLOSE:
            options = [Reading(intent=intent, said=_SAID[intent], answers=_ANSWERS[intent]) for intent in (first, second)]
            turn.question = f"Did you want {options[0].said}, or {options[1].said}?"
            turn.options = options
        return turn

    def _slot_context(self, text: str, context: TurnContext) -> SlotContext:
        masked = [(start, end) for _, start, end in _title_spans(text, context)]
        return SlotContext(lexicon=context.lexicon, nouns=context.domain.nouns, list_length=len(context.last_list),
                           titles_in=lambda part: _title_spans(part, context), position_in=context.position_in,
                           masked=masked)


_SAID = {Intent.RECOMMEND: "new picks", Intent.PROFILE: "what I think you like", Intent.WHY: "why I picked one"}
_ANSWERS = {Intent.RECOMMEND: ["picks", "new", "recommend", "suggest"], Intent.PROFILE: ["taste", "like", "profile"],
            Intent.WHY: ["why", "reason"]}


def _fade_or_skip(edit: EditAsk, topics: list[str], slots: TurnSlots, context: TurnContext) -> Turn:
    names = " and ".join(context.lexicon.label(node) for node in topics)
    skip = Reading(intent=Intent.REFINE, slots=TurnSlots(exclude=topics), said=f"just no {names} in these lists",
                   answers=["just", "list", "lists", "for now", "tonight", "today", "these", "skip", "this time"])
    fade = Reading(intent=Intent.EDIT, edit=edit.model_copy(update={"unsure": False}), edit_topics=topics,
                   said=f"is {names} a phase you're over (it fades from what I know about you)",
                   answers=["phase", "over it", "over", "past", "fade", "for good", "memory", "profile", "forever"])
    return Turn(intent=Intent.EDIT, edit=edit, edit_topics=topics, question=f"{skip.said[0].upper()}{skip.said[1:]}, "
                f"or {fade.said}?", options=[skip, fade])


def _fewer_or_a_miss(slots: TurnSlots, context: TurnContext) -> Turn:
    names = " and ".join(context.lexicon.label(node) for node in slots.unsure_topics)
    fewer = Reading(intent=Intent.REFINE, slots=TurnSlots(avoid=slots.unsure_topics),
                    said=f"fewer {names} {context.domain.plural}", answers=["fewer", "less", "no more", "in general"])
    miss = Reading(intent=Intent.FEEDBACK, said="was one of these a miss",
                   answers=["miss", "one of these", "one of them", "that one", "this one", "didn't like"])
    return Turn(intent=Intent.REFINE, slots=slots, question=f"{fewer.said[0].upper()}{fewer.said[1:]}, or {miss.said}?",
                options=[fewer, miss])


def _rest(slots: TurnSlots, edited: list[str]) -> TurnSlots:
    """The list slots a message carried beside an edit ("I'm over action. more documentaries?"), without the
    edited topics themselves."""
    kept = {kind: [node for node in getattr(slots, kind) if node not in edited]
            for kind in ("only", "exclude", "prefer", "avoid")}
    return slots.model_copy(update={**kept, "unsure_topics": []})


def items_named(text: str, context: TurnContext) -> list[str]:
    """Items a text names: from the list on screen first, then the person's history, then the catalog."""
    listed = [item for item, title in context.last_list if _says(text, title)]
    if listed:
        return listed
    for lookup in (context.history_titles, context.catalog_titles):
        found = lookup(text) if lookup else []
        if found:
            return list(dict.fromkeys(item for item, _, _ in found))
    return []


def title_spans(text: str, pairs: Sequence[tuple[str, str]]) -> list[tuple[str, int, int]]:
    """(item id, start, end) of each (item id, title) whose title a regular text names."""
    return [(item, m.start(), m.end()) for item, title in pairs for m in [_find(text, title)] if m is not None]


def _title_spans(text: str, context: TurnContext) -> list[tuple[str, int, int]]:
    spans = title_spans(text, context.last_list)
    if not spans and context.history_titles:
        spans = context.history_titles(text)
    return spans


def _find(text: str, title: str) -> re.Match[str] | None:
    words = normalise_title(title).split()
    if len(" ".join(words)) < 3:
        return None
    bare = words[1:] if words[:1] in (["the"], ["a"], ["an"]) and len(words) > 1 else words
    pattern = r"[\W_]+".join(re.escape(word) for word in bare)
    return re.search(rf"(?<![\w]){pattern}(?![\w])", text)


def _says(text: str, title: str) -> bool:
    return _find(text, title) is not None


def _looks_named(target: str) -> bool:
    """Words that could be a title (capitalised or quoted in the original are gone: any 2+ letter word)."""
    return bool(re.search(r"[a-z]{2,}", target)) and target not in ("it", "that", "this", "them", "everything")


def _example(context: TurnContext) -> str:
    return context.last_list[0][1] if context.last_list else f"The {context.domain.noun} I {context.domain.past}"

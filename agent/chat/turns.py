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
from agent.chat.edit_guess import guessed_edit
from agent.chat.edit_phrases import EditAsk, continued_edit, read_edit
from agent.chat.intents import INTENTS, Intent, IntentRouter
from agent.chat.mentions import normalise_title
from agent.chat.phrasing import regular
from agent.chat.slots import SlotContext, TurnSlots, read_slots
from agent.chat.topic_words import TopicLexicon
from memory.domain import GENERIC_WORDS, DomainWords

CLOSE = 0.08  # classifier probabilities closer than this between two actionable intents: ask
OVERRULE, DOUBT = 0.75, 0.10  # the classifier overrules the cue words when this sure, and they get at most this
SURE_EDIT = 0.5  # the classifier's edit reading, without the grammar's, is acted on (or asked about) from here
_STATED = re.compile(r"\bi (?:really |also |just |tend to |usually |generally )?(?:like|love|enjoy|adore|am into|'m into|"
                     r"prefer|dig)\b|\bi'm (?:a (?:big |huge )?fan of|really into|into)\b|"
                     r"\bmore of an? .{1,25} person\b|\b(?:big|huge) fan of\b")
_CHANGE_THIS_LIST = re.compile(r"^(?:ok,? |now,? |just |only |hmm,? |nah,? |forget it,? |never ?mind,? )*(?:give me|show me|make it|"
                               r"something (?:completely |totally )?different)\b|\bsurprise me\b")
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
    history_fuzzy: Callable[[str], list[str]] | None = None  # the person's items whose titles hold these words
    last_edit: EditAsk | None = None  # the edit the previous turn made ("and X too" goes on with it)


class TurnReader:
    def __init__(self, router: IntentRouter | None):
        self._router = router

    def read(self, message: str, context: TurnContext) -> Turn:
        text = regular(message)
        slots = read_slots(text, self._slot_context(text, context))
        if slots.reset:
            return Turn(intent=Intent.REFINE, slots=slots)
        edit = read_edit(text)
        going_on = continued_edit(text) if context.last_edit is not None and edit is None else None
        if going_on:  # "and Titanic too", right after an edit: the same edit, another target
            edit = context.last_edit.model_copy(update={"target": going_on, "pronoun": False, "unsure": False})
        if edit is not None:
            turn = self._edit_turn(edit, slots, text, context)
            if turn is not None:
                return turn
        turn = self._by_cues(text, slots, context)
        turn = self._second_opinion(message, text, turn, slots, context) if turn else self._by_classifier(
            message, text, slots, context)
        if turn.intent == Intent.REFINE and not context.last_list and turn.question is None:
            turn.intent = Intent.RECOMMEND  # nothing on screen to refine: a request with conditions
        return turn

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
            if not topics:  # "pin anime" in a catalog without it: the edit is refused with the topics there are
                return Turn(intent=Intent.EDIT, edit=edit) if edit.kind == "pin" else None
            explicit = re.search(r"\b(?:unpin|pinning|pinned|always)\b", text) is not None
            if edit.kind == "unpin" and not set(topics) & context.pinned and not explicit:
                return Turn(intent=Intent.REFINE, slots=TurnSlots(exclude=topics))  # "stop showing horror": a filter
            return Turn(intent=Intent.EDIT, edit=edit, edit_topics=topics, slots=_rest(slots, topics))
        if edit.kind == "fade":
            if not topics:
                return None if edit.unsure else Turn(intent=Intent.EDIT, edit=edit)
            if edit.unsure:
                return _fade_or_skip(edit, topics, slots, context)
            return Turn(intent=Intent.EDIT, edit=edit, edit_topics=topics, slots=_rest(slots, topics))
        items = _edit_items(edit, text, topics, context)
        if not items and edit.kind == "forget" and not edit.pronoun and not _looks_named(edit.target):
            return None  # "forget it" style talk: not an item to erase
        turn = Turn(intent=Intent.EDIT, edit=edit, edit_items=items, edit_topics=topics)
        if not items and (edit.pronoun or not edit.target or edit.kind == "not_mine"):
            noun = context.domain.plural
            turn.question = (f"Which {noun} do you mean? Name them, e.g. \"{_example(context)} was a gift\"."
                             if edit.kind == "not_mine" else f"Which {context.domain.noun} should I forget? Name it.")
        return turn

    # ---------------------------------------------------------------- cues, then the classifier
    def _by_cues(self, text: str, slots: TurnSlots, context: TurnContext) -> Turn | None:
        requested = cues.REQUEST.search(text) is not None
        if cues.PROFILE_FIRST.search(text):
            return Turn(intent=Intent.PROFILE)
        if cues.WHY.search(text):
            return Turn(intent=Intent.WHY)
        if cues.PROFILE.search(text) and not requested:
            return Turn(intent=Intent.PROFILE)
        if cues.CHANGE.search(text):
            return Turn(intent=Intent.REFINE, slots=slots)
        named = items_named(text, context)
        if cues.TRYING.search(text) and not requested:  # "we're trying to eat more plant based": a taste
            return Turn(intent=Intent.FEEDBACK)
        if cues.NEGATIVE_STATED.search(text) and not requested and not named:
            return Turn(intent=Intent.FEEDBACK, slots=slots)  # "not a big fan of X": a taste, acted on as a filter
        if _STATED.search(text) and not requested and not named and not slots.exclude and not slots.avoid:
            return Turn(intent=Intent.FEEDBACK)  # a taste said in words: seeded into the memory, no filter
        if cues.COMPLIMENT.search(text):
            return Turn(intent=Intent.OTHER)
        verdict = cues.SENTIMENT_BAD.search(text) or cues.SENTIMENT_GOOD.search(text)
        if verdict and not requested and (named or not slots.changes_list):
            return Turn(intent=Intent.FEEDBACK, feedback_items=named)
        if slots.unsure_topics and context.last_list:
            return _fewer_or_a_miss(slots, context)
        if requested and context.last_list and slots.changes_list and _CHANGE_THIS_LIST.search(text):
            return Turn(intent=Intent.REFINE, slots=slots)  # "just give me a couple": the list on screen, changed
        if requested:
            return Turn(intent=Intent.RECOMMEND, slots=slots)
        if slots.changes_list:
            return Turn(intent=Intent.REFINE, slots=slots)
        if cues.SMALL_TALK.search(text) or cues.TRIVIA.search(text):
            return Turn(intent=Intent.OTHER)
        return None

    def _second_opinion(self, message: str, text: str, turn: Turn, slots: TurnSlots, context: TurnContext) -> Turn:
        """The cue words' reading, unless the classifier is sure of another and gives theirs almost no chance
        ("help me fill my basket" is a request, not a call for help). A question the cues ask, or list
        slots read exactly (a count, years, "like Toy Story"), stand."""
        classifier = getattr(self._router, "classifier", None)
        if classifier is None or turn.question is not None:
            return turn
        probabilities = classifier.of(message)
        best = INTENTS[int(probabilities.argmax())]
        exact = slots.count is not None or slots.year_from is not None or slots.year_to is not None \
            or slots.like_items or slots.like_position is not None or slots.like_recent
        if best == turn.intent or probabilities.max() < OVERRULE or probabilities[INTENTS.index(turn.intent)] > DOUBT \
                or (exact and best not in (Intent.RECOMMEND, Intent.REFINE)):
            return turn
        if best == Intent.EDIT:  # over a reading the cue words had, only an edit whose target resolves
            return self._guessed_edit_turn(text, slots, context, float(probabilities.max()), ask=False) or turn
        return Turn(intent=best, slots=slots, source="classifier", confidence=float(probabilities.max()))

    def _by_classifier(self, message: str, text: str, slots: TurnSlots, context: TurnContext) -> Turn:
        if self._router is None:
            return Turn(intent=Intent.OTHER, source="none", confidence=0.0)
        routed = self._router.route(message)
        turn = Turn(intent=routed.intent, slots=slots, source=routed.source, confidence=routed.confidence)
        classifier = getattr(self._router, "classifier", None)
        if routed.source != "classifier" or classifier is None:
            return turn
        probabilities = classifier.of(message).copy()
        if turn.intent == Intent.EDIT:
            guessed = self._guessed_edit_turn(text, slots, context, turn.confidence) if turn.confidence >= SURE_EDIT \
                else None
            if guessed is not None:
                return guessed
            probabilities[INTENTS.index(Intent.EDIT)] = 0.0  # not sure enough to change the memory: the next reading
            turn.intent = INTENTS[int(probabilities.argmax())]
        first, second = (INTENTS[i] for i in probabilities.argsort()[::-1][:2])
        actionable = {Intent.RECOMMEND, Intent.PROFILE, Intent.WHY}
        if {first, second} <= actionable and probabilities.max() - sorted(probabilities)[-2] < CLOSE:
            options = [Reading(intent=intent, said=_SAID[intent], answers=_ANSWERS[intent]) for intent in (first, second)]
            turn.question = f"Did you want {options[0].said}, or {options[1].said}?"
            turn.options = options
        return turn

    def _guessed_edit_turn(self, text: str, slots: TurnSlots, context: TurnContext, confidence: float,
                           ask: bool = True) -> Turn | None:
        """An edit the classifier heard that the grammar could not parse: acted on where its kind and target
        resolve, otherwise (``ask``) one question that says how to word it; None without any edit cue word."""
        edit = guessed_edit(text)
        if edit is None:
            return None
        turn = self._edit_turn(edit, slots, text, context)
        resolved = turn is not None and turn.question is None and (
            edit.kind == "undo" or (turn.edit_items if edit.kind in ("forget", "not_mine") else turn.edit_topics))
        if turn is not None and (resolved or turn.options):
            return turn.model_copy(update={"source": "classifier", "confidence": confidence})
        if not ask:
            return None
        example, topic = _example(context), min(context.lexicon.labels().values(), default="horror")
        return Turn(intent=Intent.EDIT, source="classifier", confidence=confidence,
                    question=f"Should I change what I remember about you? Say it like \"forget {example}\", "
                             f"\"{example} was a gift\", \"I'm over my {topic} phase\" or \"pin {topic}\".")

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


def _edit_items(edit: EditAsk, text: str, topics: list[str], context: TurnContext) -> list[str]:
    """The items a forget or not-mine edit names: titles (exact, then every word of the target in one of the
    person's own titles), a topic ("the cartoons"), or what the chat just showed ("those")."""
    items = items_named(edit.target, context) if edit.target else []
    if not items and edit.target and context.history_fuzzy is not None:
        items = context.history_fuzzy(edit.target)
    if not items and topics and context.items_under is not None and edit.kind == "not_mine" \
            and _mostly_topic(edit.target, context):
        items = context.items_under(topics)
    if not items and edit.pronoun and context.last_items:
        items = list(context.last_items)
    if items and edit.kind == "forget":  # "delete Scream from my history, and Mars Attacks"
        items += [item for item in items_named(text, context) if item not in items]
    return items


def _mostly_topic(target: str, context: TurnContext) -> bool:
    """Whether the target is little more than topic names ("the cartoons", "all the horror ones")."""
    rest = target
    for mention in context.lexicon.mentions(target):
        rest = rest.replace(mention.phrase, " ")
    return len([word for word in rest.split() if word not in ("the", "all", "ones", "one", "stuff", "my")]) == 0


_STOP = frozenset("the a an my our those these that this and or of for was were it them some all stuff one ones "
                  "i me to".split())


def fuzzy_items(target: str, pairs: Sequence[tuple[str, str]], most: int = 10) -> list[str]:
    """Items whose title holds every content word of ``target``: the same word stem where any title does
    ("honeydew" is not "honey"), else a word it begins or that begins it ("canned dog food" finds "Can Dog
    Food"); none when more than ``most`` do."""
    wanted = [_stem(word) for word in re.findall(r"[a-z0-9]+", target.lower()) if word not in _STOP and len(word) >= 3]
    if not wanted:
        return []
    exact, loose = [], []
    for item, title in pairs:
        words = {_stem(word) for word in re.findall(r"[a-z0-9]+", title.lower()) if len(word) >= 3}
        if all(x in words for x in wanted):
            exact.append(item)
        elif all(any(w.startswith(x) or x.startswith(w) for w in words) for x in wanted):
            loose.append(item)
    found = exact or loose
    return found if len(found) <= most else []


def _stem(word: str) -> str:
    return re.sub(r"(?:ies|es|s|ed)$", "", word) if len(word) > 4 else word


def items_named(text: str, context: TurnContext) -> list[str]:
    """Items a text names by title: the longest titles win where two overlap ("Star Trek: First Contact" over
    "Contact"); at equal length the list on screen first, then the person's history, then the catalog."""
    spans = [(0, span) for span in title_spans(text, context.last_list)]
    for rank, lookup in ((1, context.history_titles), (2, context.catalog_titles)):
        spans += [(rank, span) for span in (lookup(text) if lookup else [])]
    chosen: list[tuple[str, int, int]] = []
    for _, (item, start, end) in sorted(spans, key=lambda pair: (pair[1][1] - pair[1][2], pair[0])):
        if not any(start < other_end and other_start < end for _, other_start, other_end in chosen):
            chosen.append((item, start, end))
    return list(dict.fromkeys(item for item, _, _ in sorted(chosen, key=lambda span: span[1])))


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

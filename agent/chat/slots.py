"""The slots of a chat turn, read by a deterministic grammar: topics to show only, exclude, prefer
or avoid (any level of the tree, in the catalog's words), years and recency, how many, "like
the third one" or "like <title>", seen or unseen, a surprise, a mood, "start over".

Each topic a message names takes the operator nearest before it in its clause ("no horror or
thrillers": both excluded; "less horror, more comedy": one each), or one right after it
("comedies only"); a topic named with no operator is what the person asks for (show only). A
clause that is only a list continues the operator of the clause before it ("no horror,
thrillers or war").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from agent.chat.cues import REQUEST
from agent.chat.phrasing import clauses, number_pattern, number_value
from agent.chat.topic_words import TopicLexicon, TopicMention
from agent.chat.years import read_years
from agent.pipeline.refinement import Refinement, Seen

Operator = str  # "only", "exclude", "prefer", "avoid"
OPERATORS: dict[Operator, tuple[str, ...]] = {
    "exclude": ("anything_but", "other than", "except for", "except", "excluding", "without any", "without",
                "no more", "none of the", "none of", "nothing with", "nothing", "no", "not", "never", "skip the",
                "skip", "drop the", "drop", "remove the", "remove", "take out the", "take out", "get rid of the",
                "get rid of", "avoid", "ban", "hold the", "minus", "lose the", "leave out the", "leave out",
                "cut out", "don't want", "do not want", "don't show me", "don't show", "do not show",
                "don't give me", "don't recommend", "not in the mood for", "enough with the", "enough of the",
                "enough", "stop showing me", "stop showing", "i hate", "i can't stand", "not into", "zero"),
    "avoid": ("not so much", "not as much", "not so many", "not too much", "not too many", "not too",
              "a bit less", "a little less", "less of the", "less of", "less", "fewer", "tone down the",
              "tone down", "cut down on", "cut back on", "lighter on", "go easy on", "easy on the",
              "easy on", "lay off the", "lay off", "too much", "too many", "not much"),
    "prefer": ("a bit more", "a bit of", "a little", "more of the", "more of", "more", "some more", "some",
               "extra", "plus", "also", "add some", "add", "throw in", "mix in", "with some", "heavy on",
               "lots of", "a lot of", "bring on", "bring back", "put back", "allow", "fine with", "ok with",
               "include", "and some", "maybe some", "maybe"),
    "only": ("nothing_but", "only show me", "only show", "only", "just", "exclusively", "strictly", "purely",
             "solely", "all"),
}
_AFTER = re.compile(r"^\s*(?:ones?\s+|movies\s+|films\s+|please\s+)?(only|exclusively|is out|are out|no more)\b")
_NEGATIVE_MOOD = re.compile(r"\b(ugh|meh|yuck|eww|boring|sick of|tired of|enough already)\b|\bagain\s*[?!.]*\s*$")
LIGHT = ("comedy", "animation", "children's", "musical", "romance")
DARK = ("horror", "thriller", "war", "crime", "film-noir")
_LIGHTER = re.compile(r"\b(lighter|light-hearted|lighthearted|happier|feel-good|feel good|cheerful|funnier|"
                      r"uplifting|fun|(?:not so|not as|less|not too) (?:violent|dark|grim|heavy|depressing|sad|bleak))\b")
_DARKER = re.compile(r"\b(darker|grittier|scarier|heavier|intense|more serious|bleaker)\b")
_SURPRISE = re.compile(r"\b(surprise me|surprise|something different|something unexpected|out of my comfort zone|"
                       r"mix it up|shake it up|random|wild ?card|off the beaten path|something else entirely|"
                       r"not my usual|something unusual|something new to me)\b")
_RESET = re.compile(r"\b(start over|start again|start afresh|start fresh|from scratch|reset(?= (?:the |my |all )?(?:filters|list|"
                    r"refinements|everything|it)\b|\s*(?:please)?\s*$)|fresh start|back to (?:normal|default)|"
                    r"clear (?:the |all |my |all the )?(?:filters|refinements|settings|changes)|no (?:more )?filters|"
                    r"forget (?:the|those|my|all|all the|about the) (?:filters|refinements|settings|changes)|"
                    r"remove (?:all )?(?:the )?filters|drop (?:all )?(?:the )?filters)\b")
_LIKE_RECENT = re.compile(r"\b(?:like|similar to|more of|in line with|based on|closer to|in the vein of) "
                          r"(?:what|the (?:stuff|things|ones)|stuff|things) "
                          r"i(?:'ve| have)? (?:been )?(?:\w+ing|\w+ed|had|seen)(?: \w+)?(?: lately| recently| these days)?"
                          r"|\blike my recent (?:ones|picks|\w+)\b|\bmy recent (?:favou?rites|stuff)\b")
_LIKE = re.compile(r"\b(?:more like|like|similar to|in the vein of|along the lines of|in the style of|"
                   r"the same as|closer to|same kind as|same vibe as)\s+(?P<rest>.+)$")
_UNSEEN = re.compile(r"\b(?:haven't|have not|never|not yet|didn't|did not)\s+(?:\w+\s+)?"
                     r"(?:seen|watched|bought|tried|read|had|heard of|ordered)\b|\bunseen\b|\bnew to me\b|"
                     r"\bnot seen\b|\bi don't own\b")
_SEEN = re.compile(r"\b(?:re-?watch|rewatch|watch again|see again|buy again|re-?buy|re-?order|order again|"
                   r"get again|have again|read again|my usual|the usual|i know and love|old favou?rites|"
                   r"(?:ones?|something|anything|stuff|things|movies|films|products|items)(?: that)? i(?:'ve| have)? "
                   r"(?:already )?(?:seen|watched|bought|had|read)(?: before| already)?)\b")


class TurnSlots(BaseModel):
    """Everything a turn asks to change about the list (node ids; item ids)."""

    model_config = ConfigDict(extra="forbid")

    only: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    prefer: list[str] = Field(default_factory=list)
    avoid: list[str] = Field(default_factory=list)
    year_from: int | None = None
    year_to: int | None = None
    recency: int = 0
    count: int | None = None
    like_position: int | None = Field(default=None, description="0-based place in the last list ('the third one').")
    like_items: list[str] = Field(default_factory=list, description="Items named after 'like' ('like Toy Story').")
    like_recent: bool = False
    seen: Seen | None = None
    surprise: bool = False
    mood: str | None = None  # "lighter" or "darker"
    reset: bool = False
    unsure_topics: list[str] = Field(default_factory=list, description="Topics named with a sigh, no operator: "
                                     "fewer of them, or was one of the list a miss?")

    @property
    def is_empty(self) -> bool:
        return self == TurnSlots()

    @property
    def changes_list(self) -> bool:
        """Slots that shape a list (everything but a bare reset)."""
        return not self.model_copy(update={"reset": False}).is_empty

    def pairs(self, labels: dict[str, str], titles: dict[str, str]) -> set[tuple[str, str]]:
        """(slot, value) pairs in words, for scoring against a labelled set."""
        found = {(kind, labels.get(node, node).lower()) for kind in ("only", "exclude", "prefer", "avoid")
                 for node in getattr(self, kind)}
        if self.year_from is not None or self.year_to is not None:
            found.add(("years", f"{self.year_from or ''}-{self.year_to or ''}"))
        scalar = {"recency": {1: "newer", -1: "older"}.get(self.recency), "count": self.count,
                  "seen": self.seen, "mood": self.mood, "like_position": self.like_position,
                  "like_recent": self.like_recent or None, "surprise": self.surprise or None,
                  "reset": self.reset or None}
        found |= {(kind, str(value).lower()) for kind, value in scalar.items() if value is not None}
        found |= {("like", titles.get(item, item).lower()) for item in self.like_items}
        return found

    def refinement(self, lexicon: TopicLexicon, last_list: list[str]) -> Refinement:
        """The slots as a refinement; a mood boosts and damps the light and dark genres the catalog has."""
        boosts = {node: 1.0 for node in self.prefer} | {node: -1.0 for node in [*self.avoid, *self.unsure_topics]}
        if self.mood:
            up, down = (LIGHT, DARK) if self.mood == "lighter" else (DARK, LIGHT)
            for label, size in [*((name, 1.0) for name in up), *((name, -1.0) for name in down)]:
                node = lexicon.node(label)
                if node is not None:
                    boosts[node] = boosts.get(node, 0.0) + size
        like = list(self.like_items)
        if self.like_position is not None and self.like_position < len(last_list):
            like.insert(0, last_list[self.like_position])
        return Refinement(
            exclude_topics=set(self.exclude), only_topics=set(self.only), topic_boosts=boosts,
            year_preference=self.recency, year_from=self.year_from, year_to=self.year_to, count=self.count,
            seen=self.seen, like_items=like[:5], like_recent=self.like_recent, surprise=self.surprise,
        )


@dataclass
class SlotContext:
    """What the grammar may look at beyond the words: the catalog's topics, the domain's nouns, the last
    list's length, and a lookup of item titles in a piece of text."""

    lexicon: TopicLexicon
    nouns: tuple[str, ...] = ("items", "item")
    list_length: int = 0
    titles_in: object = None  # Callable[[str], list[tuple[str, int, int]]]: (item id, start, end) spans
    position_in: object = None  # Callable[[str], int | None]: 'the third one' -> 2
    masked: list[tuple[int, int]] = field(default_factory=list)


def read_slots(text: str, context: SlotContext) -> TurnSlots:
    """The slots of one regular (:func:`agent.chat.phrasing.regular`) message."""
    slots = TurnSlots()
    like = _LIKE.search(text)
    masked = list(context.masked)
    if _LIKE_RECENT.search(text):
        slots.like_recent = True
        masked.append(_LIKE_RECENT.search(text).span())
    elif like is not None:
        rest = like.group("rest")
        position = context.position_in(rest) if context.position_in else None
        found = context.titles_in(rest) if context.titles_in else []
        if position is not None:
            slots.like_position = position
            masked.append(like.span())
        elif found:
            slots.like_items = [item for item, _, _ in found]
            masked += [(like.start("rest") + start, like.start("rest") + end) for _, start, end in found]
    reset = _RESET.search(text)
    if reset:  # "clear the filters" names no coffee filters
        masked.append(reset.span())
    mentions = [m for m in context.lexicon.mentions(text) if not any(a <= m.start < b for a, b in masked)]
    _topics(text, mentions, slots, REQUEST.search(text) is not None)
    slots.year_from, slots.year_to, slots.recency = read_years(text)
    slots.count = _count(text, context.nouns)
    plain = _LIKE_RECENT.sub(" ", text)  # "like the stuff I've watched lately" asks for nothing seen
    slots.seen = "seen" if _SEEN.search(plain) else "unseen" if _UNSEEN.search(plain) else None
    slots.surprise = _SURPRISE.search(text) is not None
    slots.mood = "lighter" if _LIGHTER.search(text) else "darker" if _DARKER.search(text) else None
    slots.reset = _RESET.search(text) is not None
    return slots


def _topics(text: str, mentions: list[TopicMention], slots: TurnSlots, asking: bool) -> None:
    """Operators for each mention; a bare one is asked for (show only) in a request or a clause that is
    little more than the topic ("comedies?", "how about a western"), and ignored in other talk."""
    previous: Operator | None = None
    for start, end in clauses(text):
        inside = [m for m in mentions if start <= m.start < end]
        if not inside:
            continue
        operator: Operator | None = None
        cursor = start
        leads_with_topic = not text[start:inside[0].start].strip(" ,-")
        for mention in inside:
            found = _operator_before(text[cursor:mention.start])
            operator = found or operator
            after = _AFTER.match(text[mention.end:end])
            chosen = operator or (_after_operator(after.group(1)) if after else None)
            if chosen is None and leads_with_topic and previous is not None:
                chosen = previous  # "no horror, thrillers or war": the list goes on
            if chosen is None and _NEGATIVE_MOOD.search(text):
                slots.unsure_topics.append(mention.node)
                continue
            if chosen is None and (mention.rank == 2 or not (asking or _minimal(text[start:end], mention))):
                continue  # "musicals make me cringe": a topic talked about, not asked for
            getattr(slots, chosen or "only").append(mention.node)
            cursor = mention.end
        previous = operator
    for kind in ("only", "exclude", "prefer", "avoid", "unsure_topics"):
        setattr(slots, kind, list(dict.fromkeys(getattr(slots, kind))))


_FILLER = frozenset("please pls maybe then ok okay how about what a an the some ones one movie movies film films "
                    "flicks stuff something anything thanks good nice hmm well so and or".split())


def _minimal(clause: str, mention: TopicMention) -> bool:
    """Whether a clause is little more than the topic it names (at most one word besides fillers)."""
    rest = (clause.replace(mention.phrase, " ", 1)).split()
    return sum(word.strip("?!.'") not in _FILLER for word in rest) <= 1


def _operator_before(prefix: str) -> Operator | None:
    """The operator closest to the end of ``prefix`` (at most five words before the topic)."""
    words = prefix.strip().split()[-6:]
    tail = " " + " ".join(words) + " "
    best: tuple[int, int, Operator] | None = None
    for operator, phrases in OPERATORS.items():
        for phrase in phrases:
            at = tail.rfind(f" {phrase} ")
            if at >= 0 and (best is None or (at + len(phrase), len(phrase)) > best[:2]):
                best = (at + len(phrase), len(phrase), operator)
    return best[2] if best else None


def _after_operator(word: str) -> Operator:
    return "only" if word in ("only", "exclusively") else "exclude"


_COUNT_NOUNS = ("picks", "pick", "ones", "options", "suggestions", "recommendations", "recommendation",
                "titles", "things", "choices", "ideas", "flicks", "shows", "of them", "more", "items")


def _count(text: str, nouns: tuple[str, ...]) -> int | None:
    number = number_pattern()
    heads = "|".join(re.escape(noun) for noun in sorted({*_COUNT_NOUNS, *nouns}, key=len, reverse=True))
    patterns = (
        rf"\b(?:give me|show me|recommend|suggest|list|get me|find me|need|want|just|only|another|make it|"
        rf"let's do|how about|do|cut it to|limit (?:it )?to)\s+"
        rf"(?P<n>{number})\b(?!\s*(?:s\b|th\b|st\b|nd\b|rd\b|%|'s|\d|one\b|ones\b))",
        r"\btop\s+(?P<n>20|1[0-9]|[2-9]|two|three|four|five|six|seven|eight|nine|ten)\b",
        rf"(?:^|,\s*|\s)(?P<n>{number})\s+(?:please|pls|thanks)\b",
        rf"(?<!number )(?<!#)(?<!the )\b(?P<n>{number})\s+(?:[\w'-]+\s+){{0,2}}(?:{heads})\b",
    )
    for pattern in patterns:
        match = re.search(pattern, text)
        if match:
            value = number_value(match.group("n"))
            if 1 <= value <= 20:
                return value
    return None

"""Which catalog topics a message names, at any level of the tree, in the catalog's own words.

Every named node (topics and the levels of category paths; not the numbered clusters of flat
catalogs) is known by its label, the parts of a label such as "Baked Bread/Buns/Rolls", their
singular and plural forms, spaced and hyphenated spellings, and a few spoken forms of common
genre names ("scary" for Horror). Phrases match as whole words, longest first, never
overlapping; where one phrase names several nodes the full label wins, then the shallower node,
then the one with more items.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from memory.taxonomy import TopicNode

# Spoken forms of common genre labels; used only where the catalog has a node with that label.
SPOKEN = {
    "horror": ("scary", "slasher", "slashers", "scary ones", "spooky"),
    "sci-fi": ("science fiction", "scifi", "sci fi", "space", "sf"),
    "comedy": ("comedies", "funny", "funny ones", "laughs"),
    "animation": ("animated", "cartoon", "cartoons"),
    "children's": ("kids", "kid", "children", "family", "kids movies", "kids films", "childrens"),
    "romance": ("romantic", "romcom", "romcoms", "rom-com", "rom-coms", "love stories"),
    "documentary": ("documentaries", "docs", "docos"),
    "film-noir": ("noir",),
    "musical": ("musicals",),
    "thriller": ("thrillers", "suspense"),
    "western": ("westerns", "cowboy"),
    "war": ("war movies", "war films"),
    "mystery": ("mysteries", "whodunit", "whodunits"),
    "crime": ("gangster", "heist", "heists"),
    "action": ("action movies", "action films", "action flicks"),
    "soft drinks": ("soda", "sodas", "pop", "fizzy drinks"),
    "vegetables - all others": ("veggies", "vegetables"),
    "produce": ("fresh produce", "fruit and veg"),
}
NOT_NAMES = frozenset({"unknown", "uncategorized", "general", "misc", "other", "all others", "none", "new", "one",
                       "ones", "more", "less", "some", "any", "all", "only", "just", "no", "not", "like", "pop"})
# words of category names that name no kind of thing on their own ("Fluid Milk Products": milk does)
GENERIC_WORDS = frozenset(
    "products product items item whole white only other others all premium mainstream fresh regular misc "
    "miscellaneous general assorted specialty special flavored flavoured plain natural pack packs size large "
    "small count cans bottle bottles bags boxes mixed variety value family single multi style type types kind "
    "kinds accessories supplies service services department store brand brands private national stuff things "
    "with without from and the for non need needs good goods care home free light lite time times make made best "
    "top more most real super big little easy quick ready cups cup cans can jars jar shop week".split())
_SPLIT = re.compile(r"\s*(?:/|&|,|\+|\band\b|\s-\s)\s*")
_SHARED_HEAD = re.compile(r"^((?:[a-z]+/)+[a-z]+) ([a-z][a-z ]+)$")
_WORD = re.compile(r"[^\W_]+(?:['-][^\W_]+)*")


@dataclass(frozen=True)
class TopicMention:
    node: str
    start: int  # character span in the normalised text
    end: int
    phrase: str
    rank: int = 0  # 0 the label, 1 a part of it, 2 one word of a longer name (only trusted after an operator)


def normalise(text: str) -> str:
    """Lower case, curly quotes straightened, runs of spaces collapsed (spans refer to this text)."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(text.split())


class TopicLexicon:
    """Phrase -> node for one catalog's tree."""

    def __init__(self, nodes: Mapping[str, TopicNode]):
        self.nodes = {node_id: node for node_id, node in nodes.items() if node.parent is None or node.mode == "path"}
        choices: dict[str, list[tuple[int, str]]] = {}
        for node in self.nodes.values():
            label = normalise(node.label)
            for phrase, rank in _phrases(label):
                if phrase not in NOT_NAMES and len(phrase) >= 3:
                    choices.setdefault(phrase, []).append((rank, node.id))
            for phrase in SPOKEN.get(label, ()):
                if phrase != label:
                    choices.setdefault(phrase, []).append((1, node.id))
        best = {phrase: min(found, key=lambda pair: (pair[0], self._rank(pair[1]))) for phrase, found in choices.items()}
        self._node_of = {phrase: node for phrase, (_, node) in best.items()}
        self._rank_of = {phrase: rank for phrase, (rank, _) in best.items()}
        alternatives = "|".join(re.escape(p) for p in sorted(self._node_of, key=lambda p: (-len(p), p)))
        self._pattern = re.compile(rf"(?<![\w'-])(?:{alternatives})(?![\w-])") if alternatives else None

    def _rank(self, node_id: str) -> tuple[int, int]:
        node = self.nodes[node_id]
        return node.depth, -node.items

    def mentions(self, text: str) -> list[TopicMention]:
        """Topics named in (normalised) ``text``, left to right, longest phrase first, no overlaps."""
        if self._pattern is None:
            return []
        return [TopicMention(self._node_of[m.group(0)], m.start(), m.end(), m.group(0), self._rank_of[m.group(0)])
                for m in self._pattern.finditer(text)]

    def node(self, name: str) -> str | None:
        """The node a name (a label, a spoken form, or a node id) stands for; None when the catalog has none."""
        if name in self.nodes:
            return name
        cleaned = normalise(name)
        if cleaned in self._node_of:
            return self._node_of[cleaned]
        found = self.mentions(cleaned)
        return found[0].node if len(found) == 1 and found[0].phrase == cleaned else None

    def label(self, node_id: str) -> str:
        node = self.nodes.get(node_id)
        return node.label if node else node_id

    def labels(self) -> dict[str, str]:
        return {node_id: node.label for node_id, node in self.nodes.items()}


def _phrases(label: str) -> Iterable[tuple[str, int]]:
    """The label itself (rank 0), its parts (rank 1) and the content words of several-word names (rank 2:
    "milk" for "Fluid Milk Products"), each with plural/singular and spacing variants."""
    yield from ((variant, 0) for variant in _variants(label))
    parts = [part.strip() for part in _SPLIT.split(label) if part.strip()]
    if len(parts) > 1:
        for part in parts:
            if part not in GENERIC_WORDS:  # "Cups/Cans" names no kind of thing by "cans"
                yield from ((variant, 1) for variant in _variants(part))
        if " - " in label and len(parts) == 2:  # "Popcorn - Microwave" is said "microwave popcorn"
            yield from ((variant, 1) for variant in _variants(f"{parts[1]} {parts[0]}"))
    shared = _SHARED_HEAD.match(label)
    if shared:  # "Soy/Rice Milk" is said "soy milk" and "rice milk"
        for modifier in shared.group(1).split("/"):
            yield from ((variant, 1) for variant in _variants(f"{modifier} {shared.group(2)}"))
    for part in parts:
        words = part.split()
        if len(words) > 1:
            for word in words:
                if len(word) >= 4 and word.isalpha() and word not in GENERIC_WORDS:
                    yield from ((variant, 2) for variant in _variants(word))


def _variants(phrase: str) -> set[str]:
    forms = {phrase, phrase.replace("-", " "), phrase.replace(" ", "-"), phrase.replace("'", "")}
    words = phrase.split()
    if words and _WORD.fullmatch(words[-1].replace("'", "")):
        forms |= {" ".join([*words[:-1], form]) for form in _number_forms(words[-1])}
    return {form for form in forms if form}


def _number_forms(word: str) -> set[str]:
    """'comedy' <-> 'comedies', 'drama' <-> 'dramas', 'box' <-> 'boxes' (English, regular forms only)."""
    forms = {word}
    if word.endswith("ies") and len(word) > 4:
        forms.add(word[:-3] + "y")
    elif word.endswith(("ches", "shes", "sses", "xes")):
        forms.add(word[:-2])
    elif word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        forms.add(word[:-1])
    elif word.endswith("y") and len(word) > 2 and word[-2] not in "aeiou":
        forms |= {word[:-1] + "ies", word + "s"}  # 'documentarys': a plural people type
    elif word.endswith(("ch", "sh", "ss", "x")):
        forms.add(word + "es")
    else:
        forms.add(word + "s")
    return forms

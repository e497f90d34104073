"""How people write chat messages, made regular before any rule reads them.

Chat-speak and missing apostrophes are spelled out ("wht shud i watch 2nite" -> "what should i
watch tonight", "havent" -> "haven't"), numbers written as words read as numbers, and the
multi-word operators that contain "but" are joined ("anything but", "nothing but"), so that
splitting a message into clauses at "but" keeps them whole.
"""

from __future__ import annotations

import re

from agent.chat.topic_words import normalise

SPELLED_OUT = {
    "u": "you", "y": "why", "ur": "your", "r": "are", "pls": "please", "plz": "please", "thx": "thanks", "ty": "thanks",
    "wht": "what", "wat": "what", "whats": "what's", "shud": "should", "shld": "should", "cud": "could",
    "2nite": "tonight", "tonite": "tonight", "2night": "tonight", "gimme": "give me", "lemme": "let me",
    "wanna": "want to", "gonna": "going to", "recs": "recommendations", "rec": "recommendation",
    "im": "i'm", "ive": "i've", "id": "i'd", "dont": "don't", "didnt": "didn't", "doesnt": "doesn't",
    "isnt": "isn't", "arent": "aren't", "wasnt": "wasn't", "werent": "weren't", "havent": "haven't",
    "hasnt": "hasn't", "cant": "can't", "wont": "won't", "thats": "that's", "theres": "there's",
    "smth": "something", "sth": "something", "sumthing": "something", "b4": "before", "bc": "because",
    "abt": "about", "w/o": "without", "w/": "with", "luv": "love", "prolly": "probably", "tho": "though",
    "reccomend": "recommend", "recomend": "recommend", "reccommend": "recommend", "recommed": "recommend",
    "sugest": "suggest", "suggst": "suggest", "somethin": "something", "anythin": "anything", "pls.": "please",
    "rly": "really", "srsly": "seriously", "nvm": "never mind", "idk": "i don't know",
}
NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "a couple of": 2, "a couple": 2,
    "a pair of": 2, "a few": 3, "a handful of": 5, "half a dozen": 6, "a dozen": 12, "a single": 1,
}
JOINED = {"anything but": "anything_but", "nothing but": "nothing_but", "everything but": "anything_but",
          "all but": "anything_but", "nothing except": "nothing_but", "anything except": "anything_but"}
_TOKEN = re.compile(r"[\w'/]+|[^\w\s]")
_CLAUSE_BREAK = re.compile(r"[,.;:!?()]+|\s(?:but|though|however)\s")


def regular(text: str) -> str:
    """The message, normalised (see :func:`agent.chat.topic_words.normalise`), chat-speak spelled out."""
    words = normalise(text).split(" ")
    spelled = " ".join(SPELLED_OUT.get(word.strip(".,!?"), word) if word.strip(".,!?") in SPELLED_OUT else word
                       for word in words)
    for phrase, joined in JOINED.items():
        spelled = re.sub(rf"\b{phrase}\b", joined, spelled)
    return spelled


def clauses(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the clauses of a regular text: split at punctuation and at 'but'."""
    spans, start = [], 0
    for match in _CLAUSE_BREAK.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def number_pattern() -> str:
    """A regex alternative for a count: digits 1-20 or the words above, longest first."""
    words = sorted(NUMBER_WORDS, key=len, reverse=True)
    return r"(?:20|1[0-9]|[1-9]|" + "|".join(re.escape(word) for word in words) + r")"


def number_value(text: str) -> int:
    return int(text) if text.isdigit() else NUMBER_WORDS[text]

"""A memory edit the classifier heard but the edit grammar could not parse.

People word edits in more ways than a grammar lists ("snacks don't need to be pinned anymore",
"my roommate put the cat litter on my card, it's theirs"). Where the classifier is sure a
message edits the memory, looser cue words give the kind and the whole message stands as the
target: the turn reader resolves topics and titles in it, and asks when nothing resolves.
"""

from __future__ import annotations

import re

from agent.chat.edit_phrases import EditAsk

_KIDS = re.compile(r"\b(?:kids?|children|child|son|daughter|nephews?|nieces?|grandkids|toddler|baby|little ones)\b")
_GIFT = re.compile(r"\b(?:gifts?|presents?|gifted)\b")
_KINDS: list[tuple[str, re.Pattern[str]]] = [
    ("undo", re.compile(r"\b(?:undo|revert|reverse|scratch|take (?:that|it|this) back|cancel|roll (?:it|that) back)\b")),
    ("unpin", re.compile(r"\bun-?pin|\b(?:no longer|not|don't|stop|no need)\b.{0,30}\bpin(?:ned|ning)?\b|"
                         r"\bpin(?:ned|ning)?\b.{0,25}\b(?:any ?more|no more|no longer)\b")),
    ("pin", re.compile(r"\bpin(?:ned|ning|s)?\b|\balways\b|\bevery (?:list|time|batch)\b|\bnever (?:drop|skip)\b")),
    ("forget", re.compile(r"\b(?:forget(?! (?:it|that|this|about it)\b)|delete|remove|wipe|erase|scrub|purge|clear out)\b")),
    ("not_mine", re.compile(r"\bfor (?:my|our|the|a) \w+|\b(?:gifts?|presents?|theirs|his|hers|not (?:mine|me|for me)|"
                            r"isn't mine|wasn't mine|weren't mine|on my (?:card|account)|borrowed|someone else)\b")),
    ("fade", re.compile(r"\b(?:phase|over|done|no longer|any ?more|stopped|quit|grown out|grew out|gave up|moved on|"
                        r"past|used to)\b")),
]


def guessed_edit(text: str) -> EditAsk | None:
    """The edit kind the cue words of a regular message suggest, with the message as its target; None if none."""
    for kind, pattern in _KINDS:
        if pattern.search(text):
            reason = None
            if kind == "not_mine":
                reason = "kids" if _KIDS.search(text) else "gift" if _GIFT.search(text) else "someone_else"
            return EditAsk(kind=kind, target=text.strip(" .!?"), reason=reason)
    return None

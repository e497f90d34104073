"""What a message asks to change in the memory itself, read by a deterministic grammar.

- fade: "I'm over my horror phase", "no longer into westerns", "I've grown out of anime";
  a bare "I'm tired of horror" could mean a past phase or just this list, so it is marked
  ``unsure`` (the chat asks which);
- not mine: "those were for my kids", "Toy Story was a gift", "I bought that for my mum";
- forget: "forget that I watched Heat", "delete Heat from my history";
- pin / unpin: "always show me some documentaries", "pin sci-fi", "unpin sci-fi";
- undo: "undo that", "take it back";
- show: "what do you know about me?".

It finds the kind and the words that name the target; which topics, titles or earlier items
those words mean is the turn reader's job (it knows the catalog and the conversation).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

EditAskKind = Literal["fade", "not_mine", "forget", "pin", "unpin", "undo", "show"]
_KIDS = r"(?:my |the |our )?(?:kids?|children|child|son|daughter|sons|daughters|nephews?|nieces?|grandkids|" \
        r"grandchildren|toddler|baby|little ones)"
_OTHERS = r"(?:my |a |the |our )?(?:partner|wife|husband|mom|mum|dad|parents|friends?|boss|roommate|sister|" \
          r"brother|girlfriend|boyfriend|guests?|neighbou?r|colleague|coworker|grandma|grandpa|someone else|" \
          r"somebody else|other people|a party|the office|work)"
_WHO = rf"(?P<who>{_KIDS}|{_OTHERS})"
_STRONG_FADE = [
    r"\b(?:i'm|i am|we're|we are)\s+(?:so |totally |completely |kind of |pretty much |well )?(?:over|done with|past|"
    r"through with|finished with)\s+(?:my|the|that|our)\s+(?P<t>[^.;!?]+?)\s+(?:phase|stage|kick|streak|period|days|obsession|thing)\b",
    r"\bmy\s+(?P<t>[^.;!?]+?)\s+(?:phase|stage|kick|streak|period|days|obsession)\s+(?:is|are|was|were)\s+"
    r"(?:over|done|behind me|finished)\b",
    r"(?:\b(?:i'm|i am|we're|we are)\s+)?(?:\bno longer|\bnot)\s+(?:really |that )?(?:into|interested in|a fan of|"
    r"watching|buying|reading|eating|drinking)\s+(?P<t>[^.;!?]+?)\s+(?:any ?more|these days|now)\b",
    r"\bno longer\s+(?:into|interested in|a fan of|watch|buy|read)\s+(?P<t>[^.;!?]+)",
    r"\b(?:i|we)\s+(?:don't|do not|no longer)\s+(?:really\s+)?(?:watch|buy|eat|drink|read|get)\s+(?P<t>[^.;!?,]+?)\s+"
    r"(?:any ?more|these days|now)\b",
    r"\b(?:i'm|i am|we're|we are)\s+(?:so |totally |well )?past\s+(?:my|the|that|our)\s+(?P<t>[^.;!?]+?)\s+"
    r"(?:stage|phase|years|days)\b",
    r"\b(?:i've|i have|i)\s+(?:grown|moved|got|gotten|grew)\s+(?:out of|past|over|on from)\s+(?P<t>[^.;!?]+)",
    r"\b(?:i've|i have|i)\s+(?:gone|went)\s+off\s+(?P<t>[^.;!?]+)",
    r"\b(?:i|i've|i have)\s+(?:stopped|quit|gave up|given up)\s+(?:watching|buying|reading|eating|drinking|on)?\s*"
    r"(?P<t>[^.;!?]+)",
    r"\b(?:fade|tone down|dial down)\s+(?:my\s+)?(?P<t>[^.;!?]+?)\s+(?:interest|phase|in my profile|in my memory)\b",
]
_UNSURE_FADE = [
    r"\b(?:i'm|i am|we're|we are)\s+(?:so |totally |kind of |kinda |sorta |a bit |pretty |really |honestly |just )?"
    r"(?:over|done with|tired of|sick of|bored of|bored with|fed up with)\s+(?P<t>[^.;!?]+)",
    r"\b(?:i'm|i am|we're|we are)\s+not\s+(?:really |that )?into\s+(?P<t>[^.;!?]+)",
]
_NOT_MINE = [
    rf"(?P<obj>.*?)\b(?:was|were)\s+(?:all |just |only |really |actually )?(?:for|bought for|watched with|"
    rf"watched for|picked for|got for)\s+{_WHO}",
    r"(?P<obj>.*?)\b(?:was|were)\s+(?:all |just |actually |really )?(?P<gift>(?:a )?(?:gifts?|presents?))\b",
    rf"(?P<obj>.*?)\b(?:was|were)\s+(?:all |just |actually |really )?{_WHO}'s\b",
    rf"\b(?:i\s+)?(?:bought|got|watched|picked up|ordered|rented)\s+(?P<obj>[^.;!?]+?)\s+(?:for|with)\s+{_WHO}",
    rf"\b{_WHO}\s+(?:watched|chose|picked|bought|wanted|ordered|used my account for)\s+(?P<obj>[^.;!?]+)",
    r"(?P<obj>.*?)\b(?:wasn't|weren't|was not|were not)\s+(?:me|mine|my choice|my pick)\b",
    r"\bdon't count\s+(?P<obj>[^.;!?]+)",
]
_FORGET = [
    r"\bforget\s+(?:that\s+|about\s+)?(?:i\s+|me\s+|we\s+)?(?:ever\s+)?(?:watched|saw|seen|bought|read|tried|had|rated|"
    r"liked|ordered|watching|buying)\s+(?P<obj>[^.;!?]+)",
    r"\bforget\s+(?:about\s+)?(?P<obj>[^.;!?]+)",
    r"\b(?:delete|remove|erase|wipe|scrub)\s+(?P<obj>[^.;!?]+?)\s+from\s+(?:my\s+|the\s+)?(?:\w+\s+)?(?:history|memory|"
    r"profile|record|records|account|data|list of)\b",
    r"\b(?:delete|remove|erase|wipe|scrub)\s+(?P<obj>[^.;!?]+?)\s+from\s+what you (?:know|remember|have)\b",
    r"\b(?:delete|erase|wipe|remove)\s+(?:my\s+)?(?:record|history|memory)\s+of\s+(?P<obj>[^.;!?]+)",
]
_PIN = [
    r"\balways\s+(?:show|include|give|add|recommend|suggest|put|have|keep|throw in|mix in|find)(?:\s+me)?"
    r"(?:\s+at least)?(?:\s+one|\s+an?|\s+some|\s+a few)?\s+(?P<t>[^.;!?]+)",
    r"\bpin\s+(?P<t>[^.;!?]+)",
    r"\bkeep\s+(?:some\s+|a\s+|an\s+|one\s+|at least one\s+)?(?P<t>[^.;!?]+?)\s+in\s+(?:my|the|every|each)\s+"
    r"(?:list|lists|picks|recommendations)\b",
    r"\bmake sure\s+(?:there's|there is|there are|i get|to include|you include)\s+(?:always\s+)?"
    r"(?:some\s+|a\s+|an\s+|at least one\s+)?(?P<t>[^.;!?]+)",
    r"\b(?:every|each)\s+(?:list|time)\s+(?:should\s+)?(?:have|has|include|includes)\s+(?:some\s+|a\s+|an\s+)?(?P<t>[^.;!?]+)",
    r"\bnever\s+leave\s+out\s+(?P<t>[^.;!?]+)",
]
_UNPIN = [
    r"\bunpin\s+(?P<t>[^.;!?]+)",
    r"\b(?:stop|quit|no need to keep|no need to|don't)\s+(?:always\s+)?(?:showing|show|including|include|pinning|"
    r"pin|adding|add)\s+(?:me\s+)?(?:an?\s+|some\s+)?(?P<t>[^.;!?]+?)(?:\s+every time|\s+always|\s+in every list)?"
    r"(?:,.*)?$",
]
_UNDO = re.compile(r"\b(?:undo|revert|take (?:that|it|this) back|put (?:it|that|them) back|restore (?:that|it))\b|"
                   r"^(?:please |oh |oops,? |no,? |wait,? |actually,? )*(?:scratch that(?: last (?:edit|change|one))?|cancel (?:that|the last "
                   r"(?:edit|change|one))|never ?mind|i didn't mean that|go back)\b")
_SHOW = re.compile(r"\bwhat you (?:know|remember|have stored|believe) (?:about|on|of) (?:me|us)\b|"
                   r"\bwhat (?:do|did) you (?:actually |really |even )?(?:know|remember|have|store|keep|believe|think you "
                   r"know) (?:about|on|of) (?:me|us)\b|"
                   r"\bwhat have you (?:learned|learnt|stored|saved|remembered|got|figured out) (?:about|on) me\b|"
                   r"\bwhat (?:have i told|did i tell) you\b|\bshow (?:me )?(?:my|your) (?:memory|notes|file|data)\b|"
                   r"\bwhat's in my (?:memory|file)\b|\bwhat do you believe about me\b|\b(?:show|list) (?:my )?edits\b|"
                   r"\bwhat (?:did|have) i (?:change|changed|edit|edited)\b|\bwhat do you remember\b")
_PRONOUN = re.compile(r"^\s*(?:those|these|that|this|it|them|they|both|the last (?:one|two|few)|all of (?:them|those))"
                      r"(?:\s+(?:one|ones|two|movies|films|products|items))?\s*(?:,.*)?$")
_CONTINUED = re.compile(r"^(?:oh )?(?:and|also|plus)\s+(?P<obj>[^.;!?]+?)(?:\s+(?:too|as well|also))?(?:\s+while .*)?$|"
                        r"^(?P<obj2>[^.;!?]+?)\s+(?:too|as well)(?:\s+while .*)?$")


class EditAsk(BaseModel):
    """One memory edit a message asks for, with the words naming its target."""

    model_config = ConfigDict(extra="forbid")

    kind: EditAskKind
    target: str = ""  # the words after the cue ("my horror", "Toy Story", "those")
    pronoun: bool = False  # the target is only "those", "that", "it": it names what the chat just showed
    reason: str | None = None  # not_mine: kids, gift, someone_else
    unsure: bool = False  # a fade that may only mean "not in this list"


def read_edit(text: str) -> EditAsk | None:
    """The memory edit a regular message asks for, or None."""
    if _UNDO.search(text):
        return EditAsk(kind="undo")
    for kind, patterns in (("pin", _PIN), ("unpin", _UNPIN)):
        found = _first(patterns, text)
        if found is not None:
            return EditAsk(kind=kind, target=_target(found.group("t")))
    found = _first(_NOT_MINE, text)
    if found is not None:
        return _not_mine(found)
    found = _first(_FORGET, text)
    if found is not None and not _SHOW.fullmatch(found.group("obj")):
        target = _target(found.group("obj"))
        said_what = found.re.pattern == _FORGET[0]  # "forget that I watched it" names an item; "forget it" does not
        if not _PRONOUN.match(target) or said_what:
            return EditAsk(kind="forget", target=target, pronoun=bool(_PRONOUN.match(target)))
    if _SHOW.search(text):
        return EditAsk(kind="show")
    for patterns, unsure in ((_STRONG_FADE, False), (_UNSURE_FADE, True)):
        found = _first(patterns, text)
        if found is not None:
            return EditAsk(kind="fade", target=_target(found.group("t")), unsure=unsure)
    return None


def continued_edit(text: str) -> str | None:
    """The target of a message that goes on with the edit just made ("and Titanic too"), else None."""
    found = _CONTINUED.match(text.strip())
    return _target(found.group("obj") or found.group("obj2")) if found else None


def _not_mine(found: re.Match[str]) -> EditAsk:
    groups = found.groupdict()
    who = (groups.get("who") or "").strip()
    reason = "gift" if groups.get("gift") else "kids" if re.fullmatch(_KIDS, who) else "someone_else"
    target = _target(groups.get("obj") or "")
    return EditAsk(kind="not_mine", target=target, pronoun=not target or bool(_PRONOUN.match(target)), reason=reason)


def _first(patterns: list[str], text: str) -> re.Match[str] | None:
    for pattern in patterns:
        match = re.search(pattern, text)
        if match:
            return match
    return None


def _target(words: str) -> str:
    """The target words without fillers around them ("all my horror stuff please" -> "horror stuff")."""
    words = re.sub(r"[?!.]+$", "", words.strip())
    words = re.sub(r"^(?:all\s+)?(?:of\s+)?(?:my|the|those|these|that)\s+(?=\w+\s)", "", words)
    words = re.sub(r"(?:\s+(?:please|pls|thanks|any ?more|for now|now|again|phase|stuff|kick|too|also|as well))+$",
                   "", words)
    return words.strip(" ,")

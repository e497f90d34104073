"""Whether a memory edit of the dialogue set did what it says, seen from outside the chat:

- fade: each faded topic's long-term strength is smaller in size than before the turn (a topic the person
  mostly rated low has a negative strength, which a fade brings towards zero);
- forget: the item is in no exported event any more;
- not mine: the items have left the short-term window (they shape nothing);
- pin: a fresh list holds an item of the pinned topic;
- unpin / undo: the memory's edits in force are as the set expects;
- refused (the set expects no change: a title never had, a topic the catalog lacks, undoing a
  forget): the reply says nothing changed and nothing did.
Every kind also needs the memory's edits in force to equal the set's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.chat.mentions import normalise_title
from agent.service import ShiftRecService
from memory.service_models import UnknownUserError

EDIT_SLOTS = ("fade", "pin", "unpin", "forget", "not_mine", "undo")
MEMORY_STATE = ("faded", "pinned", "not_mine", "forgotten")
REFUSED_WORDS = ("nothing was changed", "no topic", "not in your history", "cannot be undone", "nothing to undo")


@dataclass
class EditCheck:
    kind: str
    refused: bool
    topics: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    strengths: dict[str, float] = field(default_factory=dict)

    @classmethod
    def before(cls, service: ShiftRecService, user: str, turn: dict, previous_state: dict) -> EditCheck | None:
        """The check for an edit turn of the set (None for other turns), with what it compares against."""
        kinds = [kind for kind in EDIT_SLOTS if kind in turn["slots"]]
        if turn["intent"] != "edit" or not kinds or turn.get("clarify"):
            return None
        kind = kinds[0]
        refused = _memory(turn["state"]) == _memory(previous_state)
        values = turn["slots"][kind] if isinstance(turn["slots"][kind], list) else []
        check = cls(kind="refused" if refused else kind, refused=refused,  # a topic may be written as its path
                    topics=[str(v).rsplit(" > ", 1)[-1] for v in values] if kind in ("fade", "pin", "unpin") else [],
                    titles=[str(v) for v in values] if kind in ("forget", "not_mine") else [])
        check.strengths = _strengths(service, user, check.topics)
        return check

    def after(self, service: ShiftRecService, user: str, events: list, expected: dict, actual: dict) -> bool:
        if _memory(expected) != _memory(actual):
            return False
        if self.refused:
            said = " ".join((event.text or "").lower() for event in events)
            return any(words in said for words in REFUSED_WORDS)
        if self.kind == "fade":
            now = _strengths(service, user, self.topics)
            return bool(now) and all(abs(now[t]) < abs(self.strengths.get(t, float("inf"))) for t in now)
        if self.kind == "forget":
            exported = {normalise_title(t) for t in service.item_titles(
                sorted({event["item"] for event in service.export_user(user).events})).values()}
            return not any(_covers(title, exported) for title in self.titles)
        if self.kind == "not_mine":
            window = {normalise_title(t) for t in service.item_titles(
                [event.item for event in service.memory.recent_events(user)]).values()}
            return not any(_covers(title, window) for title in self.titles)
        if self.kind == "pin":
            record = service.recommend(user, explain=False)
            named = {c.split(">")[-1].strip().lower() for entry in record.items for category in entry.categories
                     for c in _levels(category)}
            return all(topic.lower() in named for topic in self.topics)
        return True


def _memory(state: dict) -> dict:
    return {key: state.get(key) for key in MEMORY_STATE if state.get(key)}


def _strengths(service: ShiftRecService, user: str, labels: list[str]) -> dict[str, float]:
    if not labels:
        return {}
    try:
        nodes = service.memory.export_user(user).interests  # every node, not only the strongest
    except UnknownUserError:
        return {}
    wanted = {label.lower() for label in labels}
    return {node.label.lower(): node.strength for node in nodes if node.label.lower() in wanted}


def _covers(title: str, names: set[str]) -> bool:
    """Whether a title the set names is among ``names`` (the set writes full catalog titles)."""
    return normalise_title(title) in names


def _levels(category: str) -> list[str]:
    parts = [part.strip() for part in category.split(">")]
    return [" > ".join(parts[: i + 1]) for i in range(len(parts))]

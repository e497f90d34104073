"""Memory edits as the API and the chat ask for them, and what an edit did, in words.

The requests are typed per kind (a discriminated union on ``kind``): topics by name (as
``GET /topics`` lists them, a path such as "Books > Fantasy", or a node id), items by id.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from memory.edits import EditKind, EditState, MemoryEdit

TopicNames = Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]],
                       Field(min_length=1, max_length=20, description="Topic names (GET /topics) or node ids.")]
ItemIds = Annotated[list[Annotated[str, Field(min_length=1, max_length=256)]],
                    Field(min_length=1, max_length=50, description="Item ids from the person's history.")]


class _Edit(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FadeEdit(_Edit):
    """'I'm over my horror phase': the topics' past counts less from now on; history stays."""

    kind: Literal["fade"] = "fade"
    topics: TopicNames


class NotMineEdit(_Edit):
    """'Those were for my kids': the items' events stay in the history but shape no interest."""

    kind: Literal["not_mine"] = "not_mine"
    items: ItemIds
    reason: Literal["kids", "gift", "someone_else"] = "someone_else"


class ForgetEdit(_Edit):
    """'Forget that I watched X': the items' events are erased for good (this cannot be undone)."""

    kind: Literal["forget"] = "forget"
    items: ItemIds


class PinEdit(_Edit):
    """'Always show me some documentaries': every list holds some of the topics."""

    kind: Literal["pin"] = "pin"
    topics: TopicNames


class UnpinEdit(_Edit):
    kind: Literal["unpin"] = "unpin"
    topics: TopicNames


class UndoEdit(_Edit):
    """The latest edit in force is taken back (a forget cannot be)."""

    kind: Literal["undo"] = "undo"


EditRequest = Annotated[FadeEdit | NotMineEdit | ForgetEdit | PinEdit | UnpinEdit | UndoEdit,
                        Field(discriminator="kind")]


def edit_request(kind: str, topics: list[str], items: list[str], reason: str) -> _Edit:
    """The typed request for a kind the chat read (its topics and items already resolved)."""
    return {"fade": lambda: FadeEdit(topics=topics), "pin": lambda: PinEdit(topics=topics),
            "unpin": lambda: UnpinEdit(topics=topics), "forget": lambda: ForgetEdit(items=items),
            "not_mine": lambda: NotMineEdit(items=items, reason=reason), "undo": UndoEdit}[kind]()


class EditOutcome(BaseModel):
    """What an edit did."""

    kind: EditKind
    edit_id: str
    text: str = Field(description="What changed, in words.")
    version: str = Field(description="The memory version after the edit.")
    events: int = Field(description="Events faded, taken out or erased (0 for pins and undo).")
    undone: str | None = Field(default=None, description="For undo: the edit taken back, in words.")


class EditView(BaseModel):
    """One edit in force, for the profile and 'what do you know about me?'."""

    id: str
    kind: EditKind
    text: str
    at: datetime


def edit_words(edit: MemoryEdit, labels: Mapping[str, str], titles: Mapping[str, str], plural: str) -> str:
    """An edit in force, in words ("Action fades: you said that phase is over")."""
    names = " and ".join(labels.get(node, node) for node in edit.nodes)
    if edit.kind == EditKind.FADE:
        return f"{names} fades: you said that phase is over"
    if edit.kind == EditKind.PIN:
        return f"{names} pinned: every list holds some"
    if edit.kind == EditKind.UNPIN:
        return f"{names} unpinned"
    if edit.kind == EditKind.FORGET:
        return f"one of your {plural} forgotten at your request ({edit.removed} events erased)"
    if edit.kind == EditKind.NOT_MINE:
        shown = list(dict.fromkeys(titles.get(event, "") for event in edit.event_ids if titles.get(event)))
        named = ", ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")
        why = {"kids": "they were for your kids", "gift": "they were gifts"}.get(edit.reason or "", "not yours")
        return f"{named or f'{len(edit.event_ids)} events'} no longer count ({why})"
    return "an edit undone"


def undone_words(edit: MemoryEdit, labels: Mapping[str, str], titles: Mapping[str, str]) -> str:
    """What taking ``edit`` back means, in words ("Action no longer fades")."""
    names = " and ".join(labels.get(node, node) for node in edit.nodes)
    if edit.kind == EditKind.FADE:
        return f"{names} no longer fades; it counts fully again"
    if edit.kind == EditKind.PIN:
        return f"{names} is no longer pinned"
    if edit.kind == EditKind.UNPIN:
        return f"{names} is pinned again"
    shown = list(dict.fromkeys(titles.get(event, "") for event in edit.event_ids if titles.get(event)))
    return f"{', '.join(shown[:3]) or 'those events'} count again in your interests"


def edit_views(state: EditState, labels: Mapping[str, str], titles: Mapping[str, str], plural: str) -> list[EditView]:
    """The edits in force (unpins are folded into their pins), oldest first."""
    return [EditView(id=edit.id, kind=edit.kind, text=edit_words(edit, labels, titles, plural),
                     at=datetime.fromtimestamp(edit.at, tz=timezone.utc))
            for edit in state.active() if edit.kind not in (EditKind.UNPIN,)
            and not (edit.kind == EditKind.PIN and not set(edit.nodes) & set(state.pinned))]

"""The person's memory over HTTP: what ShiftRec believes about them, and their edits of it.

Each edit is typed by its ``kind`` (fade, not_mine, forget, pin, unpin, undo); it is an entry of the
user's log like any event (exported, deleted with the user, isolated per user). An edit that names
nothing in the user's history, or a topic the catalog lacks, is a 422 that says so; nothing changes.
(No postponed annotations here: FastAPI must read the route signatures.)
"""

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from agent.edits import EditOutcome, EditRequest, EditView, UndoEdit
from serving.auth import UserDep

if TYPE_CHECKING:
    from agent.service import ShiftRecService


class MemoryView(BaseModel):
    """What ShiftRec holds about the user, in words, with every edit in force."""

    user: str
    text: str = Field(description="The interests, where they head, and what the user changed, in words.")
    edits: list[EditView] = Field(description="Edits in force, oldest first (undo takes back the newest).")
    pinned: list[str] = Field(description="Topics every list holds some of.")
    faded: list[str] = Field(description="Topics the user said are a past phase.")


def memory_router(service: "ShiftRecService") -> APIRouter:
    router = APIRouter(prefix="/users/{user}/memory", tags=["memory"])

    @router.get("", response_model=MemoryView, summary="What ShiftRec believes about the user, with their edits")
    def memory(user: UserDep) -> MemoryView:
        text, _ = service.describe_memory(user)
        state = service.memory.editor.state(user)
        labels = service.lexicon().labels()
        return MemoryView(user=user, text=text, edits=service.edit_views(user),
                          pinned=[labels.get(node, node) for node in state.pinned],
                          faded=[labels.get(node, node) for node in state.faded_nodes])

    @router.post("/edits", response_model=EditOutcome,
                 summary="Change what ShiftRec believes: fade a topic, not mine, forget, pin, unpin, undo")
    def edit(user: UserDep, request: Annotated[EditRequest, Body()]) -> EditOutcome:
        return service.edit_memory(user, request)

    @router.post("/undo", response_model=EditOutcome, summary="Take back the latest edit still in force")
    def undo(user: UserDep) -> EditOutcome:
        return service.edit_memory(user, UndoEdit())

    return router

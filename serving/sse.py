"""Chat over server-sent events: one message in, the turn's events streamed as they are ready.

A turn is started (its first event produced) before the response begins, so a refused
turn (another user's session, an unknown record) is an ordinary HTTP error; a failure
later in the stream arrives as an ``error`` event with the usual error body.
(No postponed annotations here: FastAPI must see the closure's dependency in the signature.)
"""

import itertools
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends
from fastapi.sse import EventSourceResponse, ServerSentEvent

from agent.chat.conversation import ChatEvent
from serving.api_models import ChatRequest, ErrorBody, ErrorResponse
from serving.auth import UserDep

if TYPE_CHECKING:
    from agent.service import ShiftRecService

logger = logging.getLogger(__name__)


def started_chat(service: "ShiftRecService", session_id: str, user: str, message: str) -> Iterator[ChatEvent]:
    """The turn's events, the first one already produced (blocking: call it from a worker thread)."""
    events = service.chat(session_id, user, message)
    first = next(events)
    return itertools.chain([first], events)


def failure_body(error: Exception) -> ErrorResponse:
    """What a stream says when it breaks after it began (the error is logged)."""
    logger.exception("chat stream failed", exc_info=error)
    message = "the reply failed part-way; it was logged. Send the message again"
    return ErrorResponse(error=ErrorBody(type="internal_error", message=message))


def chat_router(service: "ShiftRecService") -> APIRouter:
    router = APIRouter(tags=["chat"])

    def chat_turn(user: UserDep, request: ChatRequest) -> Iterator[ChatEvent]:
        return started_chat(service, request.session_id, user, request.message)

    @router.post(
        "/users/{user}/chat",
        response_class=EventSourceResponse,
        summary="Chat as the user; the reply streams as server-sent events",
        responses={200: {"description": "One event per piece of the reply: `event:` is the kind (text, "
                         "recommendations, explanation, why, profile, feedback, edit, done; error if it broke), `data:` "
                         "the ChatEvent as JSON. The last event is `done`."}},
    )
    def chat(turn: Annotated[Iterator[ChatEvent], Depends(chat_turn)]) -> Iterator[ServerSentEvent]:
        try:
            for event in turn:
                yield ServerSentEvent(event=event.kind, data=event)
        except Exception as error:  # the status is already sent: report in the stream
            yield ServerSentEvent(event="error", data=failure_body(error))

    return router

"""The recommender agent behind OpenAI's chat API, so any OpenAI client or LangChain's ChatOpenAI can talk to it.

Only the last user message is used: the agent keeps the conversation itself, per session.
The session is ``session_id`` when the request names one (an extra body field), otherwise
one per user and first user message, so a client that resends its whole history stays in
one session. The user is the one of the user key; with the admin key (or no keys, on the
local demo) it is the request's standard ``user`` field. The reply is the chat's texts
followed by the recommendations in rank order, each with its reason.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, HTTPException, status
from fastapi.sse import EventSourceResponse, format_sse_event
from pydantic import BaseModel, ConfigDict, Field

from agent.chat.conversation import MAX_MESSAGE_CHARS, ChatEvent
from agent.explain.records import RecommendationRecord
from memory.tokens import count_tokens
from serving.auth import CallerDep, Principal, check_user_access
from serving.sse import failure_body, started_chat

if TYPE_CHECKING:
    from agent.service import ShiftRecService

MODEL_ID = "shiftrec"
REPLY_KINDS = ("text", "why", "profile", "edit")  # the feedback event's text is repeated by the list's intro


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(str(part.get("text", "")) for part in self.content if part.get("type") == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI's request; sampling options are accepted and ignored (the agent decides)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(description=f"Use {MODEL_ID!r} (GET /v1/models).")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(default=None, max_length=256, description="The ShiftRec user; admin key only.")
    session_id: str | None = Field(default=None, min_length=1, max_length=128, description="ShiftRec extension.")


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class CompletionHeader(BaseModel):
    """What a completion and each of its stream chunks start with."""

    id: str
    created: int
    model: str = MODEL_ID


class ChatCompletion(CompletionHeader):
    object: Literal["chat.completion"] = "chat.completion"
    choices: list[Choice]
    usage: Usage
    session_id: str = Field(description="ShiftRec extension: send it back to stay in this conversation.")
    record_id: str | None = Field(description="ShiftRec extension: the recommendation shown, for /why.")


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None


class ChatCompletionChunk(CompletionHeader):
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    choices: list[ChunkChoice]
    usage: Usage | None = None


class Model(BaseModel):
    id: str = MODEL_ID
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "shiftrec"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


class ReplyComposer:
    """Chat events -> reply text pieces, ready to stream: each text as it comes, then the list in
    rank order, each line as soon as every line above it has its reason."""

    def __init__(self) -> None:
        self.record: RecommendationRecord | None = None
        self._reasons: dict[str, str] = {}
        self._listed = 0
        self._pieces = 0

    def add(self, event: ChatEvent) -> list[str]:
        pieces: list[str] = []
        if event.kind in REPLY_KINDS and event.text:
            pieces.append(event.text)
        elif event.kind == "recommendations" and event.record is not None:
            pieces += self._lines(final=True)  # a second list in one turn: finish the first
            self.record, self._listed = event.record, 0
            self._reasons = {item.item_id: item.explanation.reason for item in event.record.items if item.explanation}
        elif event.kind == "explanation" and event.item_id and event.explanation:
            self._reasons[event.item_id] = event.explanation.reason
        pieces += self._lines(final=event.kind == "done")
        return [self._separated(piece) for piece in pieces]

    def _lines(self, final: bool) -> list[str]:
        items = self.record.items if self.record else []
        lines = []
        while self._listed < len(items) and (final or items[self._listed].item_id in self._reasons):
            item = items[self._listed]
            reason = self._reasons.get(item.item_id)
            lines.append(f"{item.rank}. {item.title}" + (f": {reason}" if reason else ""))
            self._listed += 1
        return lines

    def _separated(self, piece: str) -> str:
        self._pieces += 1
        return piece if self._pieces == 1 else "\n" + piece


def openai_router(service: ShiftRecService) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["openai"])

    @router.get("/models", response_model=ModelList, summary="The one model: the ShiftRec agent")
    def models(caller: CallerDep) -> ModelList:
        return ModelList(data=[Model()])

    @router.post(
        "/chat/completions",
        response_model=ChatCompletion,
        summary="Chat with the recommender agent (OpenAI-compatible; stream=true for server-sent events)",
        responses={200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE chunks when stream=true"}},
    )
    def chat_completions(request: ChatCompletionRequest, caller: CallerDep):
        if request.model != MODEL_ID:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"model {request.model!r} is not served here: use "
                                f"{MODEL_ID!r} (GET /v1/models)")
        user = _user_of(request, caller)
        message = _last_user_message(request)
        session_id = request.session_id or _session_for(user, request)
        events = started_chat(service, session_id, user, message)
        completion_id, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        prompt_tokens = sum(count_tokens(m.text) for m in request.messages)
        if request.stream:
            usage = request.stream_options is not None and request.stream_options.include_usage
            chunks = _chunks(events, completion_id, created, prompt_tokens if usage else None)
            return EventSourceResponse(chunks, headers={"Cache-Control": "no-cache"})
        composer = ReplyComposer()
        text = "".join(piece for event in events for piece in composer.add(event))
        completion_tokens = count_tokens(text)
        return ChatCompletion(
            id=completion_id, created=created, choices=[Choice(message=AssistantMessage(content=text))],
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                        total_tokens=prompt_tokens + completion_tokens),
            session_id=session_id, record_id=composer.record.id if composer.record else None,
        )

    return router


def _chunks(events: Iterator[ChatEvent], completion_id: str, created: int, prompt_tokens: int | None
            ) -> Iterator[bytes]:
    """The reply as OpenAI stream chunks, then usage (when asked) and ``[DONE]``."""
    def chunk(delta: Delta, finish: bool = False) -> bytes:
        body = ChatCompletionChunk(id=completion_id, created=created,
                                   choices=[ChunkChoice(delta=delta, finish_reason="stop" if finish else None)])
        return format_sse_event(data_str=body.model_dump_json(exclude_none=True))

    composer, written = ReplyComposer(), []
    yield chunk(Delta(role="assistant", content=""))
    try:
        for event in events:
            for piece in composer.add(event):
                written.append(piece)
                yield chunk(Delta(content=piece))
    except Exception as error:  # the status is already sent: OpenAI clients raise on an error chunk
        yield format_sse_event(data_str=failure_body(error).model_dump_json())
        return
    yield chunk(Delta(), finish=True)
    if prompt_tokens is not None:
        completion_tokens = count_tokens("".join(written))
        usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                      total_tokens=prompt_tokens + completion_tokens)
        body = ChatCompletionChunk(id=completion_id, created=created, choices=[], usage=usage)
        yield format_sse_event(data_str=body.model_dump_json())
    yield format_sse_event(data_str="[DONE]")


def _user_of(request: ChatCompletionRequest, caller: Principal) -> str:
    if caller.admin:
        if not request.user:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "name the ShiftRec user in the request's "
                                "'user' field (the admin key may act as anyone), or call with a user key")
        return request.user
    assert caller.user is not None  # a non-admin principal always has its user
    if request.user:
        check_user_access(caller, request.user)
    return caller.user


def _last_user_message(request: ChatCompletionRequest) -> str:
    message = next((m.text.strip() for m in reversed(request.messages) if m.role == "user"), "")
    if not message:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "the conversation has no user message with text: add {'role': 'user', 'content': ...}")
    if len(message) > MAX_MESSAGE_CHARS:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"the last user message has {len(message)} characters; keep it under {MAX_MESSAGE_CHARS}")
    return message


def _session_for(user: str, request: ChatCompletionRequest) -> str:
    """One session per user and conversation (its first user message), stable while the history grows."""
    first = next(m.text for m in request.messages if m.role == "user")
    return "openai-" + hashlib.sha256(f"{user}\x1f{first}".encode()).hexdigest()[:24]

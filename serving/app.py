"""The HTTP API: a thin FastAPI layer over one `ShiftRecService` (no recommendation logic here).

``create_app(service, api_settings)`` builds it; ``shiftrec serve`` runs it with uvicorn, and
``serve_in_background`` runs it in a thread for tests and the serving benchmark.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Annotated

import httpx
import uvicorn
from fastapi import APIRouter, Body, FastAPI, HTTPException, Path, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.chat.conversation import SessionMismatchError
from agent.explain.records import RecommendationRecord, UnknownRecordError
from agent.explain.why import UnknownRecommendedItemError, WhyAnswer
from agent.service_models import FeedbackResult, UnknownItemError
from memory.catalog import CatalogReport
from memory.ingest import ConcurrentWriteError, IngestError, IngestReport, MemoryWriteError, rating_outside_scale
from memory.service_models import DeletionReport, UnknownUserError, UserExport
from serving.api_models import (
    ErrorBody,
    ErrorDetail,
    ErrorResponse,
    EventBatch,
    FeedbackRequest,
    ItemBatch,
    Liveness,
    ProfileView,
    Readiness,
    RecommendationRequest,
    RolesView,
    TopicList,
    UnknownTopicError,
)
from serving.auth import AdminDep, CallerDep, KeyRing, UserDep, is_loopback
from serving.openai_facade import openai_router
from serving.settings import ApiSettings
from serving.sse import chat_router

if TYPE_CHECKING:
    from agent.service import ShiftRecService

logger = logging.getLogger(__name__)
DESCRIPTION = """Profiles, predicted interest shifts, explained recommendations and chat for your own catalog.

Send `Authorization: Bearer <key>`: the admin key ingests and deletes; a user key reads and chats as its
own user only. With no keys configured (the local demo) only clients on the same machine are served.
Errors are `{"error": {"type", "message"}}`; the message says what to change."""


def create_app(service: ShiftRecService, api: ApiSettings) -> FastAPI:
    """The API over ``service``; ``api`` says who may call it and how large a request may be."""
    app = FastAPIOffline(title="ShiftRec API", version="0.1.0", description=DESCRIPTION, responses=ERROR_RESPONSES)
    app.state.keys = KeyRing(api)
    app.add_middleware(BodySizeLimit, max_bytes=api.max_body_bytes)
    app.add_middleware(ErrorsAsJson)  # added last: outside the size limit
    install_error_handlers(app)
    app.include_router(_health_router(service))
    app.include_router(_catalog_router(service, api))
    app.include_router(_users_router(service))
    app.include_router(chat_router(service))
    app.include_router(openai_router(service))
    if api.open_mode:
        logger.warning("no API keys configured: only clients on this machine are served, each with admin rights; "
                       "set SHIFTREC_API__ADMIN_KEY and SHIFTREC_API__USER_KEYS before serving other hosts")
    if api.ui:
        _mount_ui(app, service)
    return app


# ---------------------------------------------------------------- errors: one JSON shape, a message saying what to fix
STATUS_TYPES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                409: "conflict", 413: "payload_too_large", 422: "invalid_request", 503: "unavailable"}
DOMAIN_ERRORS: dict[type[Exception], tuple[int, str]] = {
    UnknownUserError: (404, "unknown_user"),
    UnknownTopicError: (422, "unknown_topic"),
    UnknownRecordError: (404, "unknown_recommendation"),
    UnknownRecommendedItemError: (404, "unknown_item"),
    UnknownItemError: (404, "unknown_item"),
    SessionMismatchError: (409, "session_conflict"),
    IngestError: (422, "invalid_batch"),
    ConcurrentWriteError: (409, "concurrent_write"),
    MemoryWriteError: (503, "storage_unavailable"),
}
ERROR_RESPONSES: dict[int | str, dict] = {code: {"model": ErrorResponse} for code in (401, 403, 404, 413, 422, 500)}
VALIDATION_PROBLEMS_LISTED = 5


def error_response(code: int, kind: str, message: str, details: list[ErrorDetail] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(type=kind, message=message, details=details or []))
    return JSONResponse(body.model_dump(mode="json"), status_code=code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        message = str(error.detail)
        if error.status_code == 404 and message == "Not Found":
            message = f"no endpoint {request.method} {request.url.path}: see /docs for the API"
        elif error.status_code == 405:
            allowed = (error.headers or {}).get("Allow", "another method")
            message = f"{request.method} is not allowed on {request.url.path}; use {allowed} (see /docs)"
        kind = STATUS_TYPES.get(error.status_code, "error")
        return error_response(error.status_code, kind, message, headers=error.headers)

    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        details = [ErrorDetail(location=_location(problem["loc"]), message=_problem(problem))
                   for problem in error.errors()]
        listed = "; ".join(f"{d.location}: {d.message}" for d in details[:VALIDATION_PROBLEMS_LISTED])
        hidden = len(details) - VALIDATION_PROBLEMS_LISTED
        more = f"; and {hidden} more" if hidden > 0 else ""
        message = f"invalid request, nothing was stored ({len(details)} problem(s)): {listed}{more}"
        return error_response(422, "invalid_request", message, details[:100])

    async def domain_error(request: Request, error: Exception) -> JSONResponse:
        code, kind = next(DOMAIN_ERRORS[cls] for cls in type(error).__mro__ if cls in DOMAIN_ERRORS)
        return error_response(code, kind, str(error))

    async def storage_down(request: Request, error: httpx.TransportError) -> JSONResponse:
        # Chroma's HTTP client is the only httpx user whose errors reach here (the LLM's are handled in agent/)
        logger.warning("memory store unreachable on %s %s: %s", request.method, request.url.path, error)
        return error_response(503, "storage_unavailable", "the memory store (Chroma) cannot be reached right now; "
                              "nothing was stored: send the request again shortly", headers={"Retry-After": "5"})

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(httpx.TransportError, storage_down)
    app.add_exception_handler(RequestValidationError, invalid_request)
    for error_class in DOMAIN_ERRORS:
        app.add_exception_handler(error_class, domain_error)


def _location(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "request"


def _problem(problem: dict) -> str:
    if problem["type"] == "json_invalid":
        return f"the body is not valid JSON ({problem.get('ctx', {}).get('error', 'parse error')})"
    if problem["type"] == "missing":
        return "a JSON body is required: see /docs for its fields" if tuple(problem["loc"]) == ("body",) else (
            "required field is missing: add it")
    return problem["msg"].removeprefix("Value error, ")


class ErrorsAsJson:
    """Any exception no handler took becomes a logged JSON 500.

    Not an `Exception` handler: Starlette runs that one outermost and re-raises after it, so the
    server drops the client's connection; answered here, the connection stays usable.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as error:
            logger.error("unhandled error on %s %s", scope["method"], scope["path"], exc_info=error)
            if started:  # a response broke part-way: nothing left to answer with
                raise
            await error_response(500, "internal_error", "the server failed on this request and logged why; "
                                 "try again, and report it if it keeps happening")(scope, receive, send)


class BodySizeLimit:
    """Refuses bodies over ``max_bytes`` with 413, by Content-Length or while reading a chunked body."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large()(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise StarletteHTTPException(413, self._message())
            return message

        await self.app(scope, counted, send)

    def _too_large(self) -> JSONResponse:
        return error_response(413, "payload_too_large", self._message())

    def _message(self) -> str:
        return (f"the request body is over {self.max_bytes} bytes (api.max_body_bytes): send smaller batches, "
                "or raise SHIFTREC_API__MAX_BODY_BYTES")


def _health_router(service: ShiftRecService) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health", response_model=Liveness, summary="The process answers (no dependency checked)")
    def health() -> Liveness:
        return Liveness(time=datetime.now(timezone.utc))

    @router.get("/ready", response_model=Readiness, summary="Chroma and the LLM; 503 when Chroma is down",
                responses={503: {"model": Readiness}})
    def ready() -> Readiness | JSONResponse:
        parts = service.health()
        state = "unavailable" if not parts["chroma"] else "degraded" if parts["llm"] is False else "ready"
        readiness = Readiness(
            status=state, chroma=bool(parts["chroma"]), llm=parts["llm"], llm_model=parts["llm_model"],
            sequential_model=bool(parts["sequential_model"]), behaviour_version=parts["behaviour_version"],
            llm_queue=service.llm_queue,
            max_llm_queue=service.settings.agent.max_llm_queue,
            roles=RolesView(**parts["roles"]),
        )
        if state == "unavailable":
            return JSONResponse(readiness.model_dump(mode="json"), status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
        return readiness

    return router


def _catalog_router(service: ShiftRecService, api: ApiSettings) -> APIRouter:
    router = APIRouter(tags=["ingest"])

    @router.post("/items", response_model=CatalogReport, summary="Add or update catalog items (admin, all or nothing)")
    def add_items(batch: ItemBatch, caller: AdminDep) -> CatalogReport:
        _refuse_large(len(batch.items), api.max_items_per_request, "items")
        return service.memory.add_items(batch.items)

    @router.post("/events", response_model=IngestReport, summary="Add behaviour events (admin, all or nothing)")
    def add_events(batch: EventBatch, caller: AdminDep) -> IngestReport:
        _refuse_large(len(batch.events), service.memory.settings.memory.ingest_batch_size, "events")
        scale = service.memory.settings.memory.rating_scale
        outside = [(i, why) for i, event in enumerate(batch.events) if (why := rating_outside_scale(event, scale))]
        if outside:  # a field error like any other: body.events[i].value, with the scale in the message
            raise RequestValidationError([{"type": "value_error", "loc": ("body", "events", i, "value"), "msg": why}
                                          for i, why in outside])
        return service.ingest_events(batch.events)

    @router.get("/topics", response_model=TopicList, summary="Topic names usable as recommendation filters")
    def topics(caller: CallerDep) -> TopicList:
        return TopicList(topics=sorted(service.topic_ids()))

    return router


def _refuse_large(count: int, limit: int, what: str) -> None:
    if count > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"{count} {what} in one request; send at most {limit} "
                            "per request (each request is stored all or nothing)")


RecordId = Annotated[str, Path(min_length=1, max_length=64)]
ItemId = Annotated[str, Path(min_length=1, max_length=256)]


def _users_router(service: ShiftRecService) -> APIRouter:
    router = APIRouter(prefix="/users/{user}", tags=["users"])

    @router.get("/profile", response_model=ProfileView, summary="Interest profile, predicted shift and trajectory")
    def profile(user: UserDep) -> ProfileView:
        return ProfileView.of(service.profile(user), service.memory.digest(user).long_term)

    @router.post("/recommendations", response_model=RecommendationRecord,
                 summary="Recommend items with reasons; the stored record's id answers /why later")
    def recommend(user: UserDep, request: Annotated[RecommendationRequest | None, Body()] = None
                  ) -> RecommendationRecord:
        request = request or RecommendationRequest()
        refinement = request.refinement(service.topic_ids())
        return service.recommend(user, request.count, refinement, request.include_seen, request.explain)

    @router.get("/recommendations/{record_id}/items/{item_id}/why", response_model=WhyAnswer,
                summary="Why an item was recommended, from the stored record")
    def why(user: UserDep, record_id: RecordId, item_id: ItemId,
            phrase: Annotated[bool, Query(description="Let the LLM phrase the stored facts.")] = False) -> WhyAnswer:
        return service.why(user, record_id, item_id, phrase)

    @router.post("/feedback", response_model=FeedbackResult, summary="Liked or not: changes the next recommendation")
    def feedback(user: UserDep, request: FeedbackRequest) -> FeedbackResult:
        return service.feedback(user, request.item_id, request.positive)

    @router.get("/export", response_model=UserExport, summary="Everything stored about the user")
    def export(user: UserDep) -> UserExport:
        return service.export_user(user)

    @router.delete("", response_model=DeletionReport, summary="Delete the user everywhere (admin)")
    def delete(user: Annotated[str, Path(min_length=1, max_length=256)], caller: AdminDep) -> DeletionReport:
        return service.delete_user(user)

    return router


def _mount_ui(app: FastAPI, service: ShiftRecService) -> None:
    """The Gradio chat at /ui, for clients on this machine only (it may act as any user)."""
    try:
        from serving.ui import build_ui
    except ImportError as error:
        if error.name != "serving.ui":
            raise
        logger.warning("serving/ui.py is not there yet: the web UI is not mounted")
        return
    import gradio

    gradio.mount_gradio_app(app, build_ui(service), path="/ui", auth_dependency=_local_client)


def _local_client(request: Request) -> str | None:
    return "local" if is_loopback(request.client.host if request.client else None) else None


# ---------------------------------------------------------------- logs: no user ids (they sit in URL paths)
USER_IN_PATH = re.compile(r"(/users/)[^/?#\s\"]+")
REDACTED_LOGGERS = ("uvicorn.access", "uvicorn.error", "serving.app", "serving.sse")


def redact_user_paths(text: str) -> str:
    """``/users/ana/profile`` -> ``/users/<user>/profile``: a log line names the route, never the person."""
    return USER_IN_PATH.sub(r"\1<user>", text)


class RedactUserIds(logging.Filter):
    """Rewrites each record's message (and traceback) with user ids taken out of URL paths."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:  # uvicorn's access formatter reads the args
            record.args = tuple(redact_user_paths(arg) if isinstance(arg, str) else arg for arg in record.args)
        else:
            record.msg, record.args = redact_user_paths(record.getMessage()), None
        if record.exc_info:
            record.exc_text = redact_user_paths(logging.Formatter().formatException(record.exc_info))
        return True


def install_log_redaction() -> None:
    """Put the filter on the access and error loggers once (idempotent: called again after uvicorn's set-up)."""
    for name in REDACTED_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(existing, RedactUserIds) for existing in target.filters):
            target.addFilter(RedactUserIds())


@contextmanager
def serve_in_background(app: FastAPI, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning",
                        start_timeout_s: float = 60.0) -> Iterator[str]:
    """Uvicorn in a thread on ``port`` (0: a free one); yields the base URL, stops the server on exit."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=5))
    install_log_redaction()  # after uvicorn configured its loggers
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="api-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            listener.close()
            raise RuntimeError("the API server did not start; see the log above")
        time.sleep(0.02)
    try:
        yield f"http://{f'[{host}]' if ':' in host else host}:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        listener.close()

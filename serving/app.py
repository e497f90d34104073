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

import uvicorn
from fastapi import APIRouter, Body, FastAPI, HTTPException, Path, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from agent.explain.records import RecommendationRecord
from agent.explain.why import WhyAnswer
from agent.service_models import FeedbackResult
from memory.catalog import CatalogReport
from memory.ingest import IngestReport, rating_outside_scale
from memory.service_models import DeletionReport, UserExport
from serving.api_models import (
    EventBatch,
    FeedbackRequest,
    ItemBatch,
    Liveness,
    ProfileView,
    Readiness,
    RecommendationRequest,
    RolesView,
    TopicList,
)
from serving.auth import AdminDep, CallerDep, KeyRing, UserDep, is_loopback
from serving.errors import ERROR_RESPONSES, BodySizeLimit, ErrorsAsJson, install_error_handlers
from serving.memory_routes import memory_router
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
    app.include_router(memory_router(service))
    app.include_router(openai_router(service))
    if api.open_mode:
        logger.warning("no API keys configured: only clients on this machine are served, each with admin rights; "
                       "set SHIFTREC_API__ADMIN_KEY and SHIFTREC_API__USER_KEYS before serving other hosts")
    if api.ui:
        _mount_ui(app, service)
    return app


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
            roles=RolesView(**parts["roles"]), events_followed=parts["events_followed"],
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

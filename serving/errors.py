"""Errors as one JSON shape whose message says what to fix: request validation, domain errors of the
agent and the memory, an unreachable store, oversized bodies, and anything unexpected (a logged 500)."""

from __future__ import annotations

import logging

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.chat.conversation import SessionMismatchError
from agent.explain.records import UnknownRecordError
from agent.explain.why import UnknownRecommendedItemError
from agent.service_models import UnknownItemError
from memory.editing import EditRefusedError, UnknownNodeError
from memory.ingest import ConcurrentWriteError, IngestError, MemoryWriteError
from memory.service_models import UnknownUserError
from memory.store_retries import StoreBusyError
from serving.api_models import ErrorBody, ErrorDetail, ErrorResponse, UnknownTopicError

logger = logging.getLogger("serving.app")

STATUS_TYPES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                409: "conflict", 413: "payload_too_large", 422: "invalid_request", 503: "unavailable"}
DOMAIN_ERRORS: dict[type[Exception], tuple[int, str]] = {
    UnknownUserError: (404, "unknown_user"),
    UnknownTopicError: (422, "unknown_topic"),
    UnknownNodeError: (422, "unknown_topic"),
    EditRefusedError: (422, "edit_refused"),
    UnknownRecordError: (404, "unknown_recommendation"),
    UnknownRecommendedItemError: (404, "unknown_item"),
    UnknownItemError: (404, "unknown_item"),
    SessionMismatchError: (409, "session_conflict"),
    IngestError: (422, "invalid_batch"),
    ConcurrentWriteError: (409, "concurrent_write"),
    MemoryWriteError: (503, "storage_unavailable"),
    StoreBusyError: (503, "storage_unavailable"),
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



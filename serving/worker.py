"""One stateless API worker: it serves from shared engines only, so any number run side by side.

Everything a request needs is in the shared store (a `chroma run` server: memory, edits, records,
chat sessions, shown forecasts, the profile cache) or in files another job wrote (trained behaviour
versions under the data folder, published by `shiftrec train`, loaded read-only). A worker never
loads demo data, never trains and never calibrates; it follows what other workers log
(agent.log_follower) and swaps in newly trained versions as they appear. Kill one and another
serves its sessions.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager

from fastapi import FastAPI

from agent.service import ShiftRecService
from serving.settings import Settings

logger = logging.getLogger(__name__)


class WorkerConfigError(ValueError):
    """A worker cannot serve with these settings; the message says what to set."""


def worker_settings(settings: Settings) -> Settings:
    """The settings as a worker runs them: no demo load, no training, no calibration (other jobs do those)."""
    if not settings.chroma_url:
        raise WorkerConfigError("an API worker needs the shared store: start `chroma run --path DIR --port 8001` "
                                "and set SHIFTREC_CHROMA_URL=http://127.0.0.1:8001 (or run `shiftrec serve "
                                "--workers N`, which starts one)")
    agent = settings.agent.model_copy(update={"train_sequential_if_missing": False, "calibrate_on_start": False,
                                              "retrain_every_events": None, "retrain_every_minutes": None})
    return settings.model_copy(update={"demo": "none", "agent": agent})


def worker_service(stack: ExitStack, settings: Settings) -> ShiftRecService:
    """The service over the shared store and the LLM's URL (none set: stand-ins serve every LLM role)."""
    from agent.llm.vllm_client import VllmLLM
    from memory.service import InterestMemory
    from serving.adapters import shift_adapter_for

    memory = stack.enter_context(InterestMemory.open(settings.memory_config))
    llm = None
    if settings.llm.url:
        llm = VllmLLM(settings.llm.url.rstrip("/"), settings.llm.model, api_key=settings.llm.api_key,
                      timeout_s=settings.llm.timeout_s, context_tokens=settings.llm.context_tokens)
    service = ShiftRecService.create(settings.agent_config, memory, llm, echo=logger.info, updates=True,
                                     shift_adapter=shift_adapter_for(settings, llm, memory) if llm else None)
    stack.callback(service.close)
    return service


def worker_app(settings: Settings) -> FastAPI:
    """The API of one worker; the service opens with the app's start and closes with its end."""
    from serving.app import create_app

    settings = worker_settings(settings)
    stack = ExitStack()
    service = worker_service(stack, settings)
    app = create_app(service, settings.api)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            stack.close()  # checkpoints written, the log follower and model polling stopped

    app.router.lifespan_context = lifespan
    return app


def app_from_env() -> FastAPI:
    """For `uvicorn --factory serving.worker:app_from_env` (what `shiftrec serve --workers N` runs)."""
    from serving.runtime import cli_settings

    return worker_app(cli_settings())

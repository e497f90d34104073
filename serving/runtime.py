"""What every entry point needs at start: the settings with the offline environment applied, the
embedded vLLM when no URL is set, and the service over the memory with the demo loaded.

The CLI and the benchmarks both start the product this way; neither imports the other.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack

import typer

from serving.offline import apply_offline_env
from serving.settings import Settings, load_settings


def cli_settings() -> Settings:
    """The settings from the environment, with the offline environment (no hub downloads) applied."""
    settings = load_settings()
    apply_offline_env(settings)
    return settings


def start_embedded_llm(stack: ExitStack, settings: Settings):
    """Start vLLM, stopped when ``stack`` closes; a start-up failure is a short message, exit 1."""
    from serving.llm_server import EmbeddedLLMServer, LLMServerError

    try:
        return stack.enter_context(EmbeddedLLMServer(settings))
    except LLMServerError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error


def open_service(stack: ExitStack, settings: Settings, with_llm: bool = True, echo: Callable[[str], None] = typer.echo,
                 calibrate: bool = False, updates: bool = True):
    """The embedded LLM (unless an URL is set, or ``with_llm`` is off), the memory with the demo loaded,
    and the service on top; ``calibrate``: with no role card for the model, one is measured in the
    background (when the settings allow it); ``updates``: train and swap in behaviour models."""
    from agent.llm.vllm_client import VllmLLM
    from agent.service import ShiftRecService
    from memory.service import InterestMemory
    from serving.adapters import shift_adapter_for
    from serving.demo import ensure_demo_data
    from serving.llm_server import llm_base_url

    if settings.llm.url is None and with_llm:
        start_embedded_llm(stack, settings)
    memory = stack.enter_context(InterestMemory.open(settings.memory_config))
    demo = ensure_demo_data(memory, settings)
    echo(demo.describe())
    llm = VllmLLM(llm_base_url(settings), settings.llm.model, api_key=settings.llm.api_key,
                  timeout_s=settings.llm.timeout_s, context_tokens=settings.llm.context_tokens) if with_llm else None
    service = ShiftRecService.create(settings.agent_config, memory, llm, echo=echo, updates=updates,
                                     shift_adapter=shift_adapter_for(settings, llm, memory))
    stack.callback(service.close)
    if calibrate:
        start_calibration(service, echo)
    return service


def start_calibration(service, echo: Callable[[str], None]) -> None:
    """Calibrate the LLM's roles in the background when it has no card and the settings allow it."""
    from agent.roles.calibrate import calibrate_in_background

    agent = service.settings.agent
    if service.llm is None or agent.llm_roles != "earned" or service.roles.card is not None:
        return
    if not agent.calibrate_on_start:
        echo("no role card for this model: stand-ins serve every role (run `shiftrec calibrate`)")
        return
    echo(f"no role card for {service.llm.model_id}: calibrating in the background "
         f"({agent.calibration_cases} cases per role); stand-ins serve until it is done")
    calibrate_in_background(service, agent.calibration_cases, echo)

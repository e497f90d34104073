"""The ``shiftrec`` command line. Each command builds the settings once and passes them down."""

from __future__ import annotations

import signal
from contextlib import ExitStack
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from serving.offline import apply_offline_env
from serving.settings import Settings, load_settings

app = typer.Typer(help="ShiftRec: a conversational recommender that follows how interests evolve.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks; each writes bench/results/<name>.json and a markdown table.")
app.add_typer(bench_app, name="bench")

RESULTS_DIR = Path(__file__).resolve().parents[1] / "bench" / "results"
ResultsOption = Annotated[Path, typer.Option(help="Folder for the JSON and markdown results.")]


def _settings() -> Settings:
    settings = load_settings()
    apply_offline_env(settings)
    return settings


@app.command("prepare-model")
def prepare_model() -> None:
    """Convert the packaged SmolLM2 GGUF to safetensors once (skipped when already done)."""
    from serving.model_convert import ModelPrepareError, ensure_model

    settings = _settings()
    try:
        path = ensure_model(settings)
    except ModelPrepareError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"model ready: {path}")


@app.command("serve")
def serve() -> None:
    """Run the main job: the LLM (embedded vLLM unless SHIFTREC_LLM__URL is set) and the
    interest memory with the MovieLens-100K demo loaded. Ctrl-C stops everything."""
    from memory.service import InterestMemory
    from serving.demo import ensure_demo_data
    from serving.llm_server import llm_base_url

    settings = _settings()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with ExitStack() as stack:
        server = _start_embedded_llm(stack, settings) if settings.llm.url is None else None
        memory = InterestMemory.open(settings)
        demo = ensure_demo_data(memory, settings)
        state = "already loaded" if demo.skipped else "loaded"
        typer.echo(f"LLM: {llm_base_url(settings)} serving {settings.llm.model}")
        typer.echo(f"memory: {settings.chroma_url or settings.chroma_path}")
        typer.echo(f"demo data {state}: {demo.dataset}, {demo.items} items, {demo.events} events, {demo.users} users")
        typer.echo("ready; Ctrl-C stops everything")
        if server is None:
            signal.pause()
        else:
            _wait_while_running(server)


@app.command("llm-serve")
def llm_serve() -> None:
    """Run the embedded vLLM CPU server in the foreground until Ctrl-C."""
    settings = _settings()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # unwinds the with-block, which stops vLLM
    with ExitStack() as stack:
        server = _start_embedded_llm(stack, settings)
        typer.echo(f"vLLM ready at {server.base_url} serving {settings.llm.model}; Ctrl-C stops it")
        _wait_while_running(server)


def _start_embedded_llm(stack: ExitStack, settings: Settings):
    """Start vLLM, stopped when ``stack`` closes; a start-up failure is a short message, exit 1."""
    from serving.llm_server import EmbeddedLLMServer, LLMServerError

    try:
        return stack.enter_context(EmbeddedLLMServer(settings))
    except LLMServerError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error


def _wait_while_running(server) -> None:
    code = server.wait()
    typer.echo(f"vLLM exited on its own with code {code}; see {server.log_path}", err=True)
    raise typer.Exit(1)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


class MovieLensDataset(str, Enum):
    ML_100K = "ml-100k"
    ML_1M = "ml-1m"


@app.command("train-sequential")
def train_sequential_command(
    dataset: Annotated[MovieLensDataset, typer.Option(help="MovieLens set to train on.")] = MovieLensDataset.ML_1M,
    epochs: Annotated[int | None, typer.Option(min=1, help="Most epochs (early stopping may end sooner).")] = None,
    threads: Annotated[
        int, typer.Option(min=1, help="torch threads while training; use 1 when other processes hold the cores.")
    ] = 2,
) -> None:
    """Train the SASRec ranker (leave-one-out split, best validation NDCG@10 epoch kept) and save it."""
    from agent.sequential_training import train_movielens

    settings = _settings()
    overrides: dict[str, object] = {"threads": threads} | ({"epochs": epochs} if epochs else {})
    summary = train_movielens(dataset.value, settings.data_dir / "models", overrides, echo=typer.echo)
    test = "  ".join(f"{name} {value:.4f}" for name, value in summary.test.items())
    typer.echo(f"best epoch {summary.best_epoch}; test {test}; trained in {summary.seconds:.0f} s")
    typer.echo(f"saved {summary.path}")


@bench_app.command("llm")
def bench_llm(results: ResultsOption = RESULTS_DIR) -> None:
    """Start-up, first token, decode speed, concurrency and structured-output validity of vLLM."""
    from bench.llm_bench import run_llm_bench

    run_llm_bench(_settings(), results)


@bench_app.command("memory")
def bench_memory(results: ResultsOption = RESULTS_DIR) -> None:
    """Bulk ingest vs raw Chroma add, update and summary latency, growth with history length."""
    from bench.memory_bench import run_memory_bench

    run_memory_bench(_settings(), results)


@bench_app.command("agent")
def bench_agent(
    results: ResultsOption = RESULTS_DIR,
    users: Annotated[int, typer.Option(min=8, help="Demo users measured (8 sequential, 8 concurrent).")] = 16,
) -> None:
    """Recommendation, first-explanation, why and feedback latency through the chat; output validity; intents."""
    from bench.agent_bench import run_agent_bench

    settings = _settings()
    with ExitStack() as stack:
        service = _open_service(stack, settings)
        chosen = demo_bench_users(service, users)
        result = run_agent_bench(service, results, chosen)
    typer.echo((results / "agent.md").read_text())
    typer.echo(f"warm turn p50 {result.get('warm_turn_p50_s')} s; written to {results}")


def _open_service(stack: ExitStack, settings: Settings):
    """The embedded LLM (unless an URL is set), the memory with the demo loaded, and the service on top."""
    from agent.llm_vllm import VllmLLM
    from agent.service import ShiftRecService
    from memory.service import InterestMemory
    from serving.demo import ensure_demo_data
    from serving.llm_server import llm_base_url

    if settings.llm.url is None:
        _start_embedded_llm(stack, settings)
    memory = stack.enter_context(InterestMemory.open(settings))
    demo = ensure_demo_data(memory, settings)
    typer.echo(f"demo data {'already loaded' if demo.skipped else 'loaded'}: {demo.dataset}, {demo.users} users")
    llm = VllmLLM(llm_base_url(settings), settings.llm.model, api_key=settings.llm.api_key,
                  timeout_s=settings.llm.timeout_s, context_tokens=settings.llm.context_tokens)
    service = ShiftRecService.create(settings, memory, llm, echo=typer.echo)
    stack.callback(service.close)
    return service


def demo_bench_users(service, count: int, seed: int = 0) -> list[str]:
    """``count`` demo users with at least 50 events, drawn with a fixed seed."""
    import random

    from memory.movielens import load_movielens

    import numpy as np

    data = load_movielens("ml-100k")
    counts = np.bincount(data.ratings.user, minlength=len(data.user_ids))
    eligible = sorted(data.user_ids[code] for code in np.flatnonzero(counts >= 50))
    return random.Random(seed).sample(eligible, count)


def main() -> None:
    app()

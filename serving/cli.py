"""The ``shiftrec`` command line. Each command builds the settings once and passes them down."""

from __future__ import annotations

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
    from serving.model_convert import ensure_model

    settings = _settings()
    path = ensure_model(settings)
    typer.echo(f"model ready: {path}")


@app.command("llm-serve")
def llm_serve() -> None:
    """Run the embedded vLLM CPU server in the foreground until Ctrl-C."""
    from serving.llm_server import EmbeddedLLMServer

    settings = _settings()
    with EmbeddedLLMServer(settings) as server:
        typer.echo(f"vLLM ready at {server.base_url} serving {settings.llm.model}; Ctrl-C stops it")
        server.wait()


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


def main() -> None:
    app()

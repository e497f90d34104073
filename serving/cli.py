"""The ``shiftrec`` command line. Each command builds the settings once and passes them down."""

from __future__ import annotations

import signal
from contextlib import ExitStack
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from serving.cli_answers import register_answers
from serving.runtime import cli_settings, open_service, start_embedded_llm

app = typer.Typer(help="ShiftRec: a conversational recommender that follows how interests evolve.", no_args_is_help=True)


@app.command(
    "bench", add_help_option=False,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def bench(ctx: typer.Context) -> None:
    """Benchmarks; each writes bench/results/<name>.json and a markdown table (`shiftrec bench --help`)."""
    from bench.cli import bench_app  # loaded only here: the product does not import bench/

    typer.main.get_command(bench_app).main(args=ctx.args, prog_name="shiftrec bench")


@app.command("prepare-model")
def prepare_model() -> None:
    """Convert the packaged SmolLM2 GGUF to safetensors once (skipped when already done)."""
    from serving.model_convert import ModelPrepareError, ensure_model

    settings = cli_settings()
    try:
        path = ensure_model(settings)
    except ModelPrepareError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"model ready: {path}")


@app.command("serve")
def serve(
    workers: Annotated[int, typer.Option(min=1, max=64, help="API worker processes over one shared Chroma server "
                                         "(more than 1: a `chroma run` server and the trainer run as processes too)")] = 1,
    chroma_port: Annotated[int, typer.Option(help="Port of the Chroma server started for --workers > 1 when "
                                             "SHIFTREC_CHROMA_URL is unset.")] = 8001,
    train_every_minutes: Annotated[float, typer.Option(min=0.1, help="--workers > 1: how often the trainer "
                                                       "retrains (its first training starts at once).")] = 60.0,
) -> None:
    """Run the whole product: LLM, interest memory with the demo, HTTP API and web UI; Ctrl-C stops all.

    The LLM is the embedded vLLM unless SHIFTREC_LLM__URL is set; the demo is MovieLens-100K; the API
    and the UI listen on SHIFTREC_API__HOST:SHIFTREC_API__PORT (127.0.0.1:8000). With --workers N the
    API runs as N stateless processes over a Chroma server (README "Scaling out").
    """
    from serving.app import create_app, serve_in_background
    from serving.llm_server import llm_base_url

    settings = cli_settings()
    api = settings.api
    if api.open_mode and not is_loopback_host(api.host):
        typer.echo(f"error: SHIFTREC_API__HOST is {api.host} but no API keys are configured: set "
                   "SHIFTREC_API__ADMIN_KEY (and SHIFTREC_API__USER_KEYS), or listen on 127.0.0.1", err=True)
        raise typer.Exit(1)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # unwinds the with-block like Ctrl-C
    if workers > 1:
        from serving.cluster import serve_workers

        serve_workers(settings, workers, chroma_port, train_every_minutes)
        return
    with ExitStack() as stack:
        service = open_service(stack, settings, calibrate=True)
        try:
            url = stack.enter_context(serve_in_background(create_app(service, settings.api), api.host, api.port,
                                                          log_level="info"))
        except OSError as error:
            typer.echo(f"error: cannot listen on {api.host}:{api.port} ({error}): set SHIFTREC_API__PORT", err=True)
            raise typer.Exit(1) from error
        typer.echo(f"LLM: {llm_base_url(settings)} serving {settings.llm.model}")
        typer.echo(f"API: {url}   docs: {url}/docs" + (f"   UI: {url}/ui" if api.ui else ""))
        typer.echo("ready; Ctrl-C stops everything")
        # set last: a library set up above may have replaced Python's SIGINT handler (seen: Ctrl-C ignored)
        signal.signal(signal.SIGINT, _exit_on_sigterm)
        try:
            signal.pause()
        finally:
            typer.echo("stopping: API, memory, LLM")


@app.command("worker")
def worker(
    port: Annotated[int | None, typer.Option(help="Port to listen on (default SHIFTREC_API__PORT).")] = None,
) -> None:
    """One stateless API worker over the shared store (SHIFTREC_CHROMA_URL) and the LLM's URL; run as many
    as needed behind a proxy, beside `shiftrec train --every-minutes M` (README "Scaling out")."""
    from serving.cluster import run_worker

    run_worker(cli_settings(), port)


def is_loopback_host(host: str) -> bool:
    from serving.auth import is_loopback

    return host == "localhost" or is_loopback(host)


@app.command("llm-serve")
def llm_serve() -> None:
    """Run the embedded vLLM CPU server in the foreground until Ctrl-C."""
    settings = cli_settings()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # unwinds the with-block, which stops vLLM
    with ExitStack() as stack:
        server = start_embedded_llm(stack, settings)
        typer.echo(f"vLLM ready at {server.base_url} serving {settings.llm.model}; Ctrl-C stops it")
        _wait_while_running(server)


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
    from agent.rankers.sequential_training import train_movielens

    settings = cli_settings()
    overrides: dict[str, object] = {"threads": threads} | ({"epochs": epochs} if epochs else {})
    summary = train_movielens(dataset.value, settings.data_dir / "models", overrides, echo=typer.echo)
    test = "  ".join(f"{name} {value:.4f}" for name, value in summary.test.items())
    typer.echo(f"best epoch {summary.best_epoch}; test {test}; trained in {summary.seconds:.0f} s")
    typer.echo(f"saved {summary.path}")


@app.command("train")
def train(
    epochs: Annotated[int | None, typer.Option(min=1, help="Most SASRec epochs (early stopping may end sooner).")] = None,
    every_minutes: Annotated[float | None, typer.Option(min=0.1, help="Keep running: retrain this often.")] = None,
    every_events: Annotated[
        int | None, typer.Option(min=1, help="Keep running: retrain once this many new events arrived.")
    ] = None,
    llm: Annotated[str | None, typer.Option("--llm", help="Instead: a LoRA adapter of the embedded model for "
                                            "this LLM role (shift), on the same log.")] = None,
    llm_minutes: Annotated[float, typer.Option(min=0.05, help="--llm: most training minutes.")] = 10.0,
    llm_examples: Annotated[int, typer.Option(min=2, help="--llm: training examples drawn (seeded).")] = 400,
    llm_held: Annotated[int, typer.Option(min=2, help="--llm: held-out examples it is judged on.")] = 60,
    device: Annotated[str, typer.Option(help="--llm: cpu, or cuda where one is present.")] = "cpu",
) -> None:
    """Retrain the behaviour models (SASRec, item-kNN, popularity, fusion weights) and the interest-shift
    forecast on the log in memory and
    publish them as a new version; a running `shiftrec serve` swaps it in without a restart.

    Reads the memory only, so it may run beside `shiftrec serve` on the same data folder or Chroma server."""
    import time

    from agent.forecast.training import ForecastInputs
    from agent.rankers.artifacts import ArtifactStore
    from agent.rankers.behaviour import SERVING_SEQUENTIAL_CONFIG
    from agent.rankers.behaviour_training import train_behaviour
    from memory.service import InterestMemory

    settings = cli_settings()
    horizon = settings.agent_config.agent.horizon(settings.domain_words.repeats)
    config = SERVING_SEQUENTIAL_CONFIG.model_copy(update={"epochs": epochs} if epochs else {})
    store = ArtifactStore(settings.artifacts_dir)
    with InterestMemory.open(settings.memory_config) as memory:
        if llm is not None:
            _train_adapter(settings, memory, store, llm, (llm_minutes, llm_examples, llm_held, device), horizon,
                           config)
            return
        while True:
            rows = list(memory.event_log())
            inputs = ForecastInputs.from_memory(memory, {row[1] for row in rows}, horizon)
            meta = train_behaviour(rows, store, settings.agent, config, progress=True, echo=typer.echo,
                                   forecast_inputs=inputs)
            typer.echo(f"published {meta.version}: {meta.events} events, {meta.users} users, {meta.items} items")
            if every_minutes is None and every_events is None:
                return
            _wait_until_due(memory, len(rows), time.monotonic(), every_minutes, every_events)


def _train_adapter(settings, memory, store, role: str, knobs: tuple, horizon, config) -> None:
    """The behaviour models first when the log has moved on (an adapter serves only with its log's models)."""
    from agent.forecast.training import ForecastInputs
    from agent.rankers.artifacts import log_fingerprint
    from agent.rankers.behaviour_training import train_behaviour
    from serving.train_llm import train_llm_role

    rows = list(memory.event_log())
    meta = store.current()
    if meta is None or meta.log_fingerprint != log_fingerprint(rows):
        typer.echo("the behaviour models are older than the log: retraining them first")
        inputs = ForecastInputs.from_memory(memory, {row[1] for row in rows}, horizon)
        train_behaviour(rows, store, settings.agent, config, progress=True, echo=typer.echo, forecast_inputs=inputs)
    try:
        typer.echo(train_llm_role(settings, memory, rows, role, *knobs, echo=typer.echo))
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error


def _wait_until_due(memory, trained_events: int, trained_at: float, minutes: float | None, events: int | None) -> None:
    import time

    while True:
        time.sleep(min(30.0, minutes * 60) if minutes else 30.0)
        if minutes and time.monotonic() - trained_at >= minutes * 60:
            return
        if events and memory.event_count() - trained_events >= events:
            return


@app.command("calibrate")
def calibrate_command(
    cases: Annotated[int | None, typer.Option(min=2, max=500, help="Held-out cases per role "
                                              "(default: SHIFTREC_AGENT__CALIBRATION_CASES).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the held-out users and candidates.")] = 0,
) -> None:
    """Measure the configured LLM role by role against each deterministic stand-in (same held-out cases,
    paired test) and write its role card; the service opens only the roles the LLM wins."""
    from agent.roles.calibrate import calibrate

    settings = cli_settings()
    with ExitStack() as stack:
        service = open_service(stack, settings, updates=False)
        card = calibrate(service, cases or settings.agent.calibration_cases, seed)
    typer.echo(card.table())
    typer.echo(f"role card {card.key} written to {settings.agent_config.card_dir}")


# ---------------------------------------------------------------- data from the command line
# `ingest` opens the memory directly: stop `shiftrec serve` first when it uses the embedded Chroma
# (two processes must not write one Chroma folder), or point both at a Chroma server.
@app.command("ingest")
def ingest(
    items: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="Catalog file, added first.")] = None,
    events: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="Behaviour log file.")] = None,
) -> None:
    """Import a catalog and/or a behaviour log from .jsonl or .csv files, with a progress bar.

    Every row is checked before anything is stored: one bad row, or an event on an item that is in
    neither the catalog nor --items, stores nothing. Formats: README, "Import format".
    """
    from memory.importers import ImportFileError, read_events, read_items
    from memory.service import InterestMemory

    if items is None and events is None:
        typer.echo("error: name a file: --items catalog.jsonl, --events events.csv, or both", err=True)
        raise typer.Exit(2)
    settings = cli_settings()
    try:
        catalog = read_items(items) if items else []
        log = read_events(events) if events else []
    except ImportFileError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    with InterestMemory.open(settings.memory_config) as memory:
        wanted = sorted({event.item for event in log} - {item.id for item in catalog})
        stored = memory.get_items(wanted)
        missing = [item for item in wanted if item not in stored]
        if missing:
            shown = ", ".join(map(repr, missing[:10])) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            typer.echo(f"error: {events}: nothing imported; items not in the catalog: {shown}. Add them with --items",
                       err=True)
            raise typer.Exit(1)
        if catalog:
            report = memory.add_items(catalog, progress=True)
            typer.echo(f"items: {report.added} added, {report.updated} updated, {report.unchanged} unchanged")
        if log:
            result = memory.ingest(log, progress=True)
            typer.echo(f"events: {result.applied} stored, {result.duplicates} already there, {result.users} users")


register_answers(app)  # recommend, why, profile, delete-user


def main() -> None:
    app()

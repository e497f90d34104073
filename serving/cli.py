"""The ``shiftrec`` command line. Each command builds the settings once and passes them down."""

from __future__ import annotations

import signal
from contextlib import ExitStack
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from bench.eval.cli import eval_app

from serving.offline import apply_offline_env
from serving.settings import Settings, load_settings

app = typer.Typer(help="ShiftRec: a conversational recommender that follows how interests evolve.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks; each writes bench/results/<name>.json and a markdown table.")
app.add_typer(bench_app, name="bench")
bench_app.add_typer(eval_app, name="eval")  # light to import: its sub-commands import their work lazily

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
    """Run the whole product: LLM, interest memory with the demo, HTTP API and web UI; Ctrl-C stops all.

    The LLM is the embedded vLLM unless SHIFTREC_LLM__URL is set; the demo is MovieLens-100K; the API
    and the UI listen on SHIFTREC_API__HOST:SHIFTREC_API__PORT (127.0.0.1:8000).
    """
    from serving.app import create_app, serve_in_background
    from serving.llm_server import llm_base_url

    settings = _settings()
    api = settings.api
    if api.open_mode and not is_loopback_host(api.host):
        typer.echo(f"error: SHIFTREC_API__HOST is {api.host} but no API keys are configured: set "
                   "SHIFTREC_API__ADMIN_KEY (and SHIFTREC_API__USER_KEYS), or listen on 127.0.0.1", err=True)
        raise typer.Exit(1)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # unwinds the with-block like Ctrl-C
    with ExitStack() as stack:
        service = _open_service(stack, settings)
        try:
            url = stack.enter_context(serve_in_background(create_app(service, settings), api.host, api.port,
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


def is_loopback_host(host: str) -> bool:
    from serving.auth import is_loopback

    return host == "localhost" or is_loopback(host)


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
def bench_llm(
    results: ResultsOption = RESULTS_DIR,
    compare: Annotated[
        list[str] | None,
        typer.Option(help="NAME=PATH of an earlier llm.json to show beside this run (repeatable)."),
    ] = None,
) -> None:
    """Start-up, first token, decode speed, concurrency and structured-output validity of vLLM."""
    from bench.llm_bench import run_llm_bench

    run_llm_bench(_settings(), results, comparisons=_comparisons(compare, "llm.json"))


def _comparisons(pairs: list[str] | None, file_name: str) -> dict[str, Path]:
    """NAME=PATH options: earlier result files to show beside this run."""
    comparisons = {}
    for pair in pairs or []:
        name, separator, path = pair.partition("=")
        if not separator or not Path(path).is_file():
            raise typer.BadParameter(f"{pair!r}: give NAME=PATH of an existing {file_name}", param_hint="--compare")
        comparisons[name] = Path(path)
    return comparisons


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
        chosen = demo_bench_users(users)
        result = run_agent_bench(service, results, chosen)
    typer.echo((results / "agent.md").read_text())
    typer.echo(f"warm turn p50 {result.get('warm_turn_p50_s')} s; written to {results}")


# ---------------------------------------------------------------- data and answers from the command line
# These open the memory directly: stop `shiftrec serve` first when it uses the embedded Chroma
# (two processes must not write one Chroma folder), or point both at a Chroma server.
UserArgument = Annotated[str, typer.Argument(help="User id, e.g. a MovieLens user such as 196.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")]
LlmOption = Annotated[
    bool, typer.Option("--llm/--no-llm", help="Use the LLM (starts the embedded vLLM, ~30 s); --no-llm: templates.")
]


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
    settings = _settings()
    try:
        catalog = read_items(items) if items else []
        log = read_events(events) if events else []
    except ImportFileError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    with InterestMemory.open(settings) as memory:
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


@app.command("recommend")
def recommend(
    user: UserArgument,
    count: Annotated[int, typer.Option(min=1, max=20, help="Items to recommend.")] = 5,
    exclude_topic: Annotated[list[str] | None, typer.Option(help="Topic never to show (repeatable): Horror.")] = None,
    prefer_topic: Annotated[list[str] | None, typer.Option(help="Topic to rank higher (repeatable).")] = None,
    include_seen: Annotated[bool, typer.Option(help="Allow items the user already interacted with.")] = False,
    llm: LlmOption = True,
    as_json: JsonOption = False,
) -> None:
    """Recommend items to a user, each with its reason and the user's own events behind it."""
    from serving.api_models import RecommendationRequest, UnknownTopicError

    request = RecommendationRequest(count=count, exclude_topics=exclude_topic or [], prefer_topics=prefer_topic or [],
                                    include_seen=include_seen)
    with ExitStack() as stack:
        service = _open_service(stack, _settings(), with_llm=llm)
        try:
            refinement = request.refinement(service.topic_ids())
        except UnknownTopicError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(2) from error
        record = service.recommend(user, count, refinement, include_seen)
    if as_json:
        typer.echo(record.model_dump_json(indent=2))
        return
    degraded = f" (degraded: {'; '.join(record.degraded_reasons)})" if record.degraded else ""
    typer.echo(f"recommendation {record.id}{degraded}")
    for entry in record.items:
        reason = entry.explanation.reason if entry.explanation else ""
        evidence = "; ".join(ref.text for ref in entry.explanation.evidence) if entry.explanation else ""
        suffix = f" (you {evidence})" if evidence else ""
        typer.echo(f"{entry.rank}. {entry.title} [{entry.item_id}] - {reason}{suffix}")


@app.command("why")
def why(
    user: UserArgument,
    record_id: Annotated[str, typer.Argument(help="Recommendation id, as printed by `recommend`.")],
    item_id: Annotated[str, typer.Argument(help="Id of one of its items.")],
    phrase: Annotated[bool, typer.Option(help="Let the LLM phrase the stored facts (starts vLLM).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Why an item was recommended, answered from the stored recommendation record."""
    from agent.records import UnknownRecordError
    from agent.why import UnknownRecommendedItemError

    with ExitStack() as stack:
        service = _open_service(stack, _settings(), with_llm=phrase)
        try:
            answer = service.why(user, record_id, item_id, phrase)
        except (UnknownRecordError, UnknownRecommendedItemError) as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from error
    typer.echo(answer.model_dump_json(indent=2) if as_json else answer.text)


@app.command("profile")
def profile(user: UserArgument, llm: LlmOption = True, as_json: JsonOption = False) -> None:
    """What the user likes now, where their taste is heading, and how their topics moved over time."""
    from memory.service_models import UnknownUserError
    from serving.api_models import ProfileView

    with ExitStack() as stack:
        service = _open_service(stack, _settings(), with_llm=llm)
        try:
            view = ProfileView.of(service.profile(user), service.memory.digest(user).long_term)
        except UnknownUserError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from error
    if as_json:
        typer.echo(view.model_dump_json(indent=2))
        return
    shift = view.predicted_shift
    typer.echo(view.text + (" (trend baseline: the LLM was not used)" if view.details.degraded else ""))
    typer.echo(f"predicted shift: {shift.from_label} -> {shift.to_label} ({shift.confidence:.2f}): {shift.rationale}")
    for topic in view.trajectory[:8]:
        path = " ".join(f"{point.strength:.1f}" for point in topic.points[-8:])
        typer.echo(f"  {topic.label:<14} strength {topic.strength:6.2f}  trend {topic.trend:+.2f}  recent: {path}")


@app.command("delete-user")
def delete_user(
    user: UserArgument,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete everything stored about a user: events, interests, sessions and recommendation records."""
    from memory.service import InterestMemory

    if not yes:
        typer.confirm(f"delete every trace of user {user!r}?", abort=True)
    with InterestMemory.open(_settings()) as memory:
        report = memory.delete_user(user)
    typer.echo(f"deleted {user!r}: {report.events_removed} events, {report.state_rows_removed} interest rows, "
               f"{report.records_removed} recommendation records")


@bench_app.command("serving")
def bench_serving(
    results: ResultsOption = RESULTS_DIR,
    url: Annotated[str | None, typer.Option(help="A running API (shiftrec serve); unset: start all here.")] = None,
    api_key: Annotated[str | None, typer.Option(envvar="SHIFTREC_BENCH_API_KEY", help="Admin key for --url.")] = None,
    users: Annotated[int, typer.Option(min=8, help="Demo users the requests rotate over.")] = 32,
    rounds: Annotated[int, typer.Option(min=1, help="Recommendations per client at each concurrency level.")] = 3,
    compare: Annotated[
        list[str] | None,
        typer.Option(help="NAME=PATH of an earlier serving.json to show beside this run (repeatable)."),
    ] = None,
) -> None:
    """Requests/s, p50/p95 latency, errors and degraded share of /recommendations and /why, 8 and 32 clients."""
    from bench.serving_bench import ServingLoad, run_serving_bench
    from serving.app import create_app, serve_in_background
    from serving.settings import ApiSettings

    settings = _settings()
    load = ServingLoad(users=demo_bench_users(users), rounds=rounds)
    comparisons = _comparisons(compare, "serving.json")
    with ExitStack() as stack:
        if url is None:
            service = _open_service(stack, settings)
            local = settings.model_copy(update={"api": ApiSettings(ui=False)})  # open mode: loopback clients only
            url = stack.enter_context(serve_in_background(create_app(service, local)))
        elif api_key is None and settings.api.admin_key is not None:
            api_key = settings.api.admin_key.get_secret_value()
        result = run_serving_bench(url, api_key, load, results, comparisons)
    typer.echo((results / "serving.md").read_text())
    typer.echo(f"errors {result['errors']}; written to {results}")


@bench_app.command("reliability")
def bench_reliability(
    results: ResultsOption = RESULTS_DIR,
    clients: Annotated[int, typer.Option(min=1, help="Simulated chat users at once.")] = 50,
    duration: Annotated[float, typer.Option(min=1, help="Seconds of chat load.")] = 120.0,
    fuzz_examples: Annotated[int, typer.Option(min=1, help="Generated requests per operation and mode.")] = 50,
) -> None:
    """Fuzzing, red team on the real model, LLM/Chroma/ingest faults and chat load, in scratch folders."""
    from bench.reliability_bench import run_reliability_bench

    result = run_reliability_bench(_settings(), results, clients, duration, fuzz_examples, echo=typer.echo)
    typer.echo((results / "reliability.md").read_text())
    typer.echo(f"events lost {result['events_lost']}; written to {results}")


def _open_service(stack: ExitStack, settings: Settings, with_llm: bool = True):
    """The embedded LLM (unless an URL is set, or ``with_llm`` is off), the memory with the demo loaded,
    and the service on top."""
    from agent.llm_vllm import VllmLLM
    from agent.service import ShiftRecService
    from memory.service import InterestMemory
    from serving.demo import ensure_demo_data
    from serving.llm_server import llm_base_url

    if settings.llm.url is None and with_llm:
        _start_embedded_llm(stack, settings)
    memory = stack.enter_context(InterestMemory.open(settings))
    demo = ensure_demo_data(memory, settings)
    typer.echo(f"demo data {'already loaded' if demo.skipped else 'loaded'}: {demo.dataset}, {demo.users} users")
    llm = VllmLLM(llm_base_url(settings), settings.llm.model, api_key=settings.llm.api_key,
                  timeout_s=settings.llm.timeout_s, context_tokens=settings.llm.context_tokens) if with_llm else None
    service = ShiftRecService.create(settings, memory, llm, echo=typer.echo)
    stack.callback(service.close)
    return service


def demo_bench_users(count: int, seed: int = 0) -> list[str]:
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

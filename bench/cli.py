"""``shiftrec bench ...``: the benchmark commands. serving/cli.py loads this module only when a
benchmark is asked for, so the product never imports bench/ at start."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer

from bench.eval.cli import eval_app
from serving.runtime import cli_settings, open_service

bench_app = typer.Typer(help="Benchmarks; each writes bench/results/<name>.json and a markdown table.",
                        add_completion=False, no_args_is_help=True)
bench_app.add_typer(eval_app, name="eval")  # light to import: its sub-commands import their work lazily

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ResultsOption = Annotated[Path, typer.Option(help="Folder for the JSON and markdown results.")]


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

    run_llm_bench(cli_settings(), results, comparisons=_comparisons(compare, "llm.json"))


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

    run_memory_bench(cli_settings(), results)


@bench_app.command("catalog")
def bench_catalog(
    results: ResultsOption = RESULTS_DIR,
    before_tree: Annotated[
        Path | None, typer.Option(help="A checkout of the previous revision, timed on the same items as 'before'.")
    ] = None,
) -> None:
    """Catalog adds (items/s) on 10k and 100k grocery products, with the previous path in the same run."""
    from bench.catalog_bench import run_catalog_bench

    if before_tree is not None and not (before_tree / "memory" / "catalog.py").is_file():
        raise typer.BadParameter(f"{before_tree} holds no ShiftRec checkout (no memory/catalog.py)")
    run_catalog_bench(results, before_tree)
    typer.echo((results / "domains_catalog.md").read_text())


@bench_app.command("reload")
def bench_reload(
    results: ResultsOption = RESULTS_DIR,
    reloads: Annotated[int, typer.Option(min=1, help="Retrainings swapped in while clients ask.")] = 5,
) -> None:
    """Failed requests while behaviour models are retrained and swapped in under HTTP load (target: none)."""
    from bench.reload_bench import run_reload_bench

    result = run_reload_bench(cli_settings(), results, reloads=reloads)
    typer.echo(f"{result['reload_failed_requests']} failed of {result['reload']['requests']} requests "
               f"over {reloads} reloads (p95 {result['reload']['p95_ms']} ms)")


@bench_app.command("conversation")
def bench_conversation(
    results: ResultsOption = RESULTS_DIR,
    cache: Annotated[Path, typer.Option(help="Where the demos are loaded once (each run works on a copy).")] = (
        Path.home() / ".cache" / "shiftrec" / "bench-conversation"),
) -> None:
    """The chat on the labelled dialogue set (intent, slots, state, memory edits, questions) and the intent sets."""
    from bench.conversation_bench import run_conversation_bench

    result = run_conversation_bench(cli_settings(), results, cache)
    typer.echo(f"{result['turns']} turns: intent {result['intent_accuracy']}, slot F1 {result['slot_f1']}, state "
               f"{result['state_accuracy']}, edits {result['edit_success']}, blind {result['blind_intent_accuracy']}")


@bench_app.command("scaleout")
def bench_scaleout(
    results: ResultsOption = RESULTS_DIR,
    folder: Annotated[Path, typer.Option(help="Scratch folder for the Chroma server and the workers' files.")] = (
        Path.home() / ".cache" / "shiftrec" / "bench-scaleout"),
    seconds: Annotated[float, typer.Option(min=5, help="Closed-loop load per worker count.")] = 30.0,
) -> None:
    """Requests/s and p95 with 1, 2 and 3 workers over one Chroma server; kill -9 of a worker under load."""
    import shutil

    from bench.scaleout_bench import run_scaleout_bench

    shutil.rmtree(folder, ignore_errors=True)
    result = run_scaleout_bench(results, folder, seconds=seconds)
    typer.echo(f"rps {result['rps']}, p95 {result['p95_ms']} ms; events lost {result['events_lost']}, failed "
               f"outside the killed worker {result['failed_requests_outside_killed_worker']}")


@bench_app.command("agent")
def bench_agent(
    results: ResultsOption = RESULTS_DIR,
    users: Annotated[int, typer.Option(min=8, help="Demo users measured (8 sequential, 8 concurrent).")] = 16,
) -> None:
    """Recommendation, first-explanation, why and feedback latency through the chat; output validity; intents."""
    from bench.agent_bench import run_agent_bench

    settings = cli_settings()
    with ExitStack() as stack:
        service = open_service(stack, settings)
        chosen = demo_bench_users(users)
        result = run_agent_bench(service, results, chosen)
    typer.echo((results / "agent.md").read_text())
    typer.echo(f"warm turn p50 {result.get('warm_turn_p50_s')} s; written to {results}")


@bench_app.command("roles")
def bench_roles(
    results: ResultsOption = RESULTS_DIR,
    cases: Annotated[int, typer.Option(min=2, max=500, help="Held-out cases per role.")] = 40,
    seed: Annotated[int, typer.Option(help="Seed of the held-out users and candidates.")] = 0,
) -> None:
    """The configured LLM against each role's stand-in (writes its role card too): llm_roles.json."""
    from bench.roles_bench import run_roles_bench

    with ExitStack() as stack:
        service = open_service(stack, cli_settings(), updates=False)
        run_roles_bench(service, results, cases, seed)
    typer.echo((results / "llm_roles.md").read_text())


@bench_app.command("finetune")
def bench_finetune(
    results: ResultsOption = RESULTS_DIR,
    examples: Annotated[int, typer.Option(min=4, help="Training examples drawn per dataset (seeded).")] = 240,
    budget_minutes: Annotated[float, typer.Option(min=0.1, help="Most training minutes per dataset.")] = 6.0,
    validation: Annotated[int, typer.Option(min=4, help="Validation examples (they choose the blend).")] = 60,
    test: Annotated[int, typer.Option(min=4, help="Test cases answered through vLLM per dataset.")] = 120,
    households: Annotated[int, typer.Option(min=10, help="Grocery households (as `bench eval shift`).")] = 800,
    device: Annotated[str, typer.Option(help="cpu, or cuda where one is present.")] = "cpu",
    seed: Annotated[int, typer.Option(help="Seed of the samples and the training order.")] = 0,
) -> None:
    """A shift LoRA adapter per dataset against the base model and every forecast: llm_finetune.json,
    and `llm_lora` in shift.json (run `bench eval shift` first)."""
    from agent.finetune.lora_training import LoraConfig
    from bench.finetune_bench import run_finetune_bench

    config = LoraConfig(budget_s=budget_minutes * 60, seed=seed, device=device)
    run_finetune_bench(cli_settings(), results, config, households, examples, validation, test, typer.echo)
    typer.echo((results / "llm_finetune.md").read_text())


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

    settings = cli_settings()
    load = ServingLoad(users=demo_bench_users(users), rounds=rounds)
    comparisons = _comparisons(compare, "serving.json")
    with ExitStack() as stack:
        if url is None:
            service = open_service(stack, settings)
            local = ApiSettings(ui=False)  # open mode: loopback clients only
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

    result = run_reliability_bench(cli_settings(), results, clients, duration, fuzz_examples, echo=typer.echo)
    typer.echo((results / "reliability.md").read_text())
    typer.echo(f"events lost {result['events_lost']}; written to {results}")


def demo_bench_users(count: int, seed: int = 0) -> list[str]:
    """``count`` demo users with at least 50 events, drawn with a fixed seed."""
    import random

    import numpy as np

    from memory.movielens import load_movielens

    data = load_movielens("ml-100k")
    counts = np.bincount(data.ratings.user, minlength=len(data.user_ids))
    eligible = sorted(data.user_ids[code] for code in np.flatnonzero(counts >= 50))
    return random.Random(seed).sample(eligible, count)

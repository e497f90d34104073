"""`shiftrec bench eval`: one sub-command per protocol, plus `all`. Fixed seeds; results under bench/results/.

Each sub-command updates its own part of eval.json (earlier parts are kept) and rewrites
eval.md and the plots. SASRec models are cached per split under the cache folder, with
the training cost measured when they were trained.
"""

from __future__ import annotations

import os
import platform
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer

RESULTS_DIR = Path(__file__).resolve().parents[2] / "bench" / "results"

eval_app = typer.Typer(help="Ranking (P1/P2/P3), interest-shift and explanation-honesty evaluation.",
                       no_args_is_help=True)

Results = Annotated[Path, typer.Option(help="Folder for eval.json, eval.md and the plots.")]
Seed = Annotated[int, typer.Option(help="Seed of negatives, subsamples and label shuffles.")]
MemoryUsers = Annotated[int, typer.Option(min=10, help="ML-1M users whose interest memory is built (ML-100K: all).")]
LLMUsers = Annotated[int, typer.Option(min=0, help="Users ranked by the embedded LLM per protocol (0: no LLM).")]
ShiftUsers = Annotated[int, typer.Option(min=10, help="Kept users whose memory is built for the shift task.")]
ShiftLLMUsers = Annotated[int, typer.Option(min=0, help="Users whose LLM profile predicts the shift (0: none).")]
HonestyUsers = Annotated[int, typer.Option(min=1, help="P3 users whose top-5 lists are explained and audited.")]
Households = Annotated[int, typer.Option(min=10, help="Grocery households drawn (seeded) for P4.")]


def _settings():
    from serving.offline import apply_offline_env
    from serving.settings import load_settings

    settings = load_settings()
    apply_offline_env(settings)
    return settings


def _run(parts: list[str], results: Path, seed: int, memory_users: int, llm_users: int, shift_users: int = 400,
         shift_llm_users: int = 40, honesty_users: int = 40, households: int = 800) -> None:
    from bench.eval.llm_eval import EmbeddedRanker
    from bench.eval.ranking_run import EvalOptions, RankingRun

    settings = _settings()
    sections = {"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "seed": seed,
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "processor": platform.machine()}}
    options = EvalOptions(cache_dir=settings.cache_dir / "eval", memory_users=memory_users, llm_users=llm_users,
                          seed=seed, echo=typer.echo)
    wants_llm = (llm_users > 0 and any(p in parts for p in ("p1", "p2", "p3", "explanations"))) or (
        shift_llm_users > 0 and "shift" in parts)
    with ExitStack() as stack:
        ranker = EmbeddedRanker(stack, typer.echo) if wants_llm else None
        for part in parts:
            if part in ("p1", "p2", "p3", "explanations"):
                protocol = "p3" if part == "explanations" else part
                run = RankingRun(protocol, options, ranker if llm_users else None)
                run.keep_memory = part == "explanations"
                sections[protocol] = run.run()
                _save(sections, results)
                if part == "explanations":
                    from bench.eval.honesty import run_honesty

                    try:
                        sections["explanations"] = run_honesty(run, run.test_table, ranker, honesty_users, seed, typer.echo)
                    finally:
                        run.memory.close()
            elif part == "shift":
                from bench.eval.shift import LLM_RANKINGS, run_shift
                from bench.eval.shift_report import run_forecast_eval, write

                sections["shift"] = run_shift(seed, shift_users, shift_llm_users, typer.echo, ranker)
                rankings = sections["shift"].pop(LLM_RANKINGS, None)
                write(run_forecast_eval(households, seed, typer.echo, rankings, ranker, shift_llm_users,
                                        sections["shift"].get("llm_degraded_profiles")), results)
                typer.echo(f"shift forecast: written to {results / 'shift.json'}")
            _save(sections, results)
            typer.echo(f"{part}: written to {results / 'eval.json'}")
    typer.echo((results / "eval.md").read_text())


def _save(sections: dict, results: Path) -> None:
    """Merge into eval.json, re-read first: another sub-command may have written its part meanwhile."""
    from bench.eval import report

    report.write({**report.sections_from_json(results / "eval.json"), **sections}, results)


@eval_app.command("p1")
def p1(results: Results = RESULTS_DIR, seed: Seed = 0, memory_users: MemoryUsers = 1000, llm_users: LLMUsers = 150) -> None:
    """P1: ML-1M, target + 19 never-touched negatives (Hou et al. 2023)."""
    _run(["p1"], results, seed, memory_users, llm_users)


@eval_app.command("p2")
def p2(results: Results = RESULTS_DIR, seed: Seed = 0, memory_users: MemoryUsers = 1000, llm_users: LLMUsers = 100) -> None:
    """P2: ML-1M, ratings >= 3, 10-core, full ranking (RecBole)."""
    _run(["p2"], results, seed, memory_users, llm_users)


@eval_app.command("p3")
def p3(results: Results = RESULTS_DIR, seed: Seed = 0, llm_users: LLMUsers = 150) -> None:
    """P3: ML-100K, full ranking with the top 20 reranked (LlamaRec)."""
    _run(["p3"], results, seed, 1000, llm_users)


@eval_app.command("shift")
def shift(results: Results = RESULTS_DIR, seed: Seed = 0, shift_users: ShiftUsers = 400,
          shift_llm_users: ShiftLLMUsers = 40, households: Households = 800) -> None:
    """Interest-shift forecast on groceries (monthly cuts, 30 days ahead) and ML-1M (the next 10 ratings):
    shift.json; the ML-1M memory and LLM rankings also update eval.json's shift part."""
    _run(["shift"], results, seed, 1000, 0, shift_users, shift_llm_users, households=households)


@eval_app.command("explanations")
def explanations(results: Results = RESULTS_DIR, seed: Seed = 0, llm_users: LLMUsers = 150,
                 honesty_users: HonestyUsers = 40) -> None:
    """Explanation honesty on P3's shipped lists (runs P3 first: it needs its models and memory)."""
    _run(["explanations"], results, seed, 1000, llm_users, honesty_users=honesty_users)


@eval_app.command("all")
def all_(results: Results = RESULTS_DIR, seed: Seed = 0, memory_users: MemoryUsers = 1000, llm_users: LLMUsers = 150,
         shift_users: ShiftUsers = 400, shift_llm_users: ShiftLLMUsers = 40, honesty_users: HonestyUsers = 40) -> None:
    """Every protocol in one run, one embedded LLM server for all of them."""
    _run(["p1", "p2", "explanations", "shift"], results, seed, memory_users, llm_users, shift_users, shift_llm_users,
         honesty_users)


@eval_app.command("p4")
def p4(results: Results = RESULTS_DIR, seed: Seed = 0, households: Households = 1000) -> None:
    """P4: groceries, next basket (Recall/NDCG@10, all items and new ones); writes the p4 key of domains.json."""
    from bench.eval.p4 import run_p4, write_p4

    write_p4(run_p4(households, seed, typer.echo), results)
    typer.echo((results / "domains_p4.md").read_text())

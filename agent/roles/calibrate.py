"""`calibrate`: measure the configured model role by role against each stand-in, side by side on the
same held-out cases, and write the role card the service opens roles from.

A role is earned only where the LLM wins significantly (one-sided paired test, p < 0.05); a tie keeps
the stand-in, which is cheaper. Seeded: the same log and seed give the same cases."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from agent.roles.card import RoleCard, RoleResult, card_key, catalog_version, measured_model, role_prompts, save_card
from agent.roles.cases import held_out_users, memory_at_cut
from agent.roles.judge_adapter import measure_shift_adapter
from agent.roles.judge_chat import measure_chat, measure_intent
from agent.roles.judge_lists import measure_explanations, measure_rerank
from agent.roles.judge_profile import measure_profile_roles
from agent.roles.measure import RoleMeasure
from agent.roles.names import ROLES, Role
from agent.roles.stats import earns, paired_p_value

if TYPE_CHECKING:
    from agent.service import ShiftRecService

TICKS_PER_CASE = 9  # intent, chat, profile text, shift, rerank, evidence, words, why, shift adapter


class CalibrationStopped(RuntimeError):
    """The service closed while calibrating; no card is written."""


def service_card_key(service: ShiftRecService) -> str:
    """The card key of the service's model, prompts and catalog."""
    memory = service.memory
    return card_key(measured_model(service.llm.model_id, service.shift_adapter), catalog_version(memory.store.item_count(), list(memory.catalog.topics())))


def calibrate(service: ShiftRecService, cases: int, seed: int = 0, progress: bool = True,
              stop: threading.Event | None = None, save: bool = True) -> RoleCard:
    """The role card of the service's LLM on ``cases`` held-out cases per role (written unless ``save`` is off)."""
    llm = service.llm
    if llm is None:
        raise ValueError("no LLM is configured: there is nothing to calibrate (set SHIFTREC_LLM__URL or run the "
                         "embedded model)")
    started = time.perf_counter()
    settings, memory, words = service.settings, service.memory, service.settings.words
    bar = tqdm(total=cases * TICKS_PER_CASE, desc="calibrating LLM roles", unit="case", disable=not progress)

    def tick() -> None:
        if stop is not None and stop.is_set():
            raise CalibrationStopped("the service closed during calibration")
        bar.update(1)

    topic = next(iter(sorted(service.topic_ids())), None)
    try:
        measures: dict[Role, RoleMeasure] = {
            Role.INTENT: measure_intent(service.intents.classifier, llm, cases, words, tick),
            Role.CHAT: measure_chat(llm, cases, words, topic, tick),
            Role.SHIFT_FORECAST: measure_shift_adapter(service, cases, seed, tick),
        }
        held = held_out_users(memory, cases, seed)
        with memory_at_cut(memory, held) as fresh:
            measures |= measure_profile_roles(fresh, memory, held, llm, service.forecaster,
                                              settings.agent.profile_token_budget, words, tick)
            measures[Role.RERANK] = measure_rerank(fresh, memory, held, llm, words, seed, tick)
            measures |= measure_explanations(fresh, held, llm, service.behaviour, settings.agent.evidence_options,
                                             words, tick)
    finally:
        bar.close()
    card = RoleCard(
        model=llm.model_id, key=service_card_key(service), prompts=role_prompts(),
        catalog_version=catalog_version(memory.store.item_count(), list(memory.catalog.topics())),
        created_at=datetime.now(timezone.utc), seed=seed, cases_per_role=cases,
        seconds=round(time.perf_counter() - started, 1),
        roles={role.value: role_result(role, measures[role], seed) for role in ROLES},
    )
    if save:
        save_card(settings.card_dir, card)
    return card


def role_result(role: Role, measure: RoleMeasure, seed: int = 0) -> RoleResult:
    """Both means, the paired p-value and whether the LLM earned the role."""
    info = ROLES[role]
    if not measure.llm:
        return RoleResult(metric=info.metric, llm=None, standin=None, cases=0, p_value=1.0, earned=False,
                          lower_is_better=info.lower_is_better, note=measure.note or "no case could be built")
    llm, standin = float(np.mean(measure.llm)), float(np.mean(measure.standin))
    p_value = paired_p_value(measure.llm, measure.standin, info.lower_is_better, seed)
    return RoleResult(
        metric=info.metric, llm=round(llm, 4), standin=round(standin, 4), cases=len(measure.llm),
        p_value=round(p_value, 4), earned=earns(p_value, llm, standin, info.lower_is_better),
        lower_is_better=info.lower_is_better, llm_failed_checks=measure.failed_checks,
        llm_errors=measure.llm_errors, note=measure.note,
    )


def calibrate_in_background(service: ShiftRecService, cases: int, echo: Callable[[str], None]) -> threading.Thread:
    """Calibrate after start-up without blocking serving; stand-ins serve until the card is in use."""
    stop = service.closing
    gate = service.roles
    gate.calibrating(True)

    def run() -> None:
        try:
            card = calibrate(service, cases, stop=stop)
        except CalibrationStopped:
            return
        except Exception as error:  # calibration never takes the service down: stand-ins keep serving
            gate.calibrating(False, f"calibration failed ({type(error).__name__}: {error})"[:300])
            echo(f"role calibration failed: {type(error).__name__}: {error}")
            return
        gate.use(card)
        echo(f"role card {card.key} for {card.model} in {card.seconds:.0f} s: earned "
             f"{', '.join(card.earned()) or 'none (stand-ins serve every role)'}")

    thread = threading.Thread(target=run, name="calibrate-roles", daemon=True)
    service.background.append(thread)
    thread.start()
    return thread

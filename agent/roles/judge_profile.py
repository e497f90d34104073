"""The profile roles on held-out cuts: the text (does it name what the user does next?) and the shift
(Brier score of its claim that a topic grows over the next window), LLM against stand-in."""

from __future__ import annotations

from agent.forecast.forecaster import Forecaster, user_forecast
from agent.llm.interface import LLM, LLMError
from agent.profiler import ProfileDraft, Profiler, profile_text_problem, shift_problem
from agent.roles.cases import HeldOutUser, node_shares, top_topics
from agent.roles.gate import RoleGate
from agent.roles.measure import RoleMeasure, Tick, concurrently, share_named
from agent.roles.names import Role
from memory.domain import DomainWords
from memory.service import InterestMemory

FAILED_BRIER = 1.0  # a claim that cannot be shown scores as the worst possible


def measure_profile_roles(fresh: InterestMemory, live: InterestMemory, cases: list[HeldOutUser], llm: LLM,
                          forecaster: Forecaster | None, budget: int, domain: DomainWords,
                          tick: Tick) -> dict[Role, RoleMeasure]:
    """One LLM profile per case serves both roles; the stand-ins are what the product serves without it."""
    profiler = Profiler(fresh, llm, budget, gate=RoleGate("all", llm.model_id), domain=domain)
    text, shift = RoleMeasure(), RoleMeasure()
    shift.note = ("stand-in: the learned forecast's first 'grow' claim (fitted on the whole log, these cases' "
                  "next windows included: it may flatter the stand-in)" if forecaster
                  else "stand-in: the memory's trend (no forecast trained yet)")
    drafts = [profiler.draft(case.user) for case in cases]

    def ask(draft: ProfileDraft):
        try:
            return profiler.ask_llm(draft).value
        except LLMError:
            return None

    for case, draft, written in zip(cases, drafts, concurrently(ask, drafts), strict=True):
        truth = top_topics(live, case.after)
        grows = _grows(live, case)
        standin_target, standin_p = _standin_claim(draft, forecaster, fresh, case.user)
        if written is None:
            for measure in (text, shift):
                measure.failed_checks += 1
                measure.llm_errors += 1
            text.add(0.0, share_named(draft.baseline.profile, truth))
            shift.add(FAILED_BRIER, _brier(standin_p, grows(standin_target)))
            tick(), tick()
            continue
        text_ok = profile_text_problem(written.profile, domain) is None
        text.failed_checks += not text_ok
        text.add(share_named(written.profile, truth) if text_ok else 0.0, share_named(draft.baseline.profile, truth))
        tick()
        shift_ok = shift_problem(written.shift, draft.digest, domain) is None
        shift.failed_checks += not shift_ok
        llm_brier = _brier(written.shift.confidence, grows(written.shift.to_interest)) if shift_ok else FAILED_BRIER
        shift.add(llm_brier, _brier(standin_p, grows(standin_target)))
        tick()
    return {Role.PROFILE_TEXT: text, Role.SHIFT: shift}


def _standin_claim(draft: ProfileDraft, forecaster: Forecaster | None, fresh: InterestMemory, user: str
                   ) -> tuple[str, float]:
    """(node, probability it grows): the forecast's first grow claim, else the memory trend's shift."""
    view = user_forecast(forecaster, fresh, user) if forecaster else None
    claim = next((c for c in view.claims if c.direction == "grow"), None) if view else None
    if claim is not None:
        return claim.id, claim.probability
    return draft.baseline.shift.to_interest, draft.baseline.shift.confidence


def _grows(live: InterestMemory, case: HeldOutUser):
    """node -> 1.0 when its share of the next window exceeds its share before the cut (live catalog ids;
    a cluster id of the cut's memory is read as its top-level topic)."""
    before, after = node_shares(live, case.before), node_shares(live, case.after)

    def outcome(node: str) -> float:
        node = node if node in before or node in after else node.split("/")[0]
        return float(after.get(node, 0.0) > before.get(node, 0.0))
    return outcome


def _brier(probability: float, outcome: float) -> float:
    return (probability - outcome) ** 2

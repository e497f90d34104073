"""`AgentSettings` (the `SHIFTREC_AGENT__*` group) and `AgentConfig`, all the service is built from.

The agent is handed an AgentConfig by whoever starts it (serving/ builds one from its
settings, tests build their own), so agent/ never reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.forecast.horizon import Horizon
from memory.domain import GENERIC_WORDS, DomainWords


class AgentSettings(BaseModel):
    """How candidates are found, ordered, explained and talked about."""

    model_config = ConfigDict(extra="forbid")

    source_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "sequential": 1.0,
            "itemknn": 1.0,
            "memory_long": 0.1,
            "memory_short": 0.1,
            "memory_shift": 0.1,
            "popularity": 0.1,
            "repeat": 1.0,
            "asked": 0.5,
            "llm": 0.0,
        },
        description="Weight of each source's z-scored candidate scores in the fused order (memory sources "
        "chosen on the validation splits of all three eval protocols, bench/results/eval.md); 'llm' is the "
        "one-pass label-logprob preference: 0 skips that LLM call. 'repeat' (what the user buys again) only "
        "proposes items the user already has, so it counts only where allow_seen lets them back. With "
        "tune_source_weights, 'itemknn', 'popularity' and (seen items allowed) 'repeat', relative to "
        "'sequential' = 1, are replaced at start-up by the values that rank each user's held-out newest event "
        "best on this log.",
    )
    tune_source_weights: bool = Field(
        default=True, description="Choose the behaviour sources' weights at start-up on held-out newest "
        "events (a few seconds); false: serve source_weights exactly as given.",
    )
    tuning_users: int = Field(
        default=2000, ge=1, description="Users whose held-out newest event tunes the weights. On the ML-1M P2 "
        "split (6 sampling seeds each) 300 and 1000 users sometimes picked item-kNN 0 or 1.0, which score 0.175 "
        "on all 6,033 validation events; 2000 always picked 0.25-0.5 (0.178-0.179). 2000 cases: ~2.4 s.",
    )
    candidates_per_source: int = Field(default=30, ge=1, le=500, description="Items each source proposes.")
    pool_size: int = Field(default=20, ge=2, le=100, description="Fused candidates the LLM and MMR choose from.")
    mmr_lambda: float = Field(default=0.9, ge=0, le=1, description="1 = relevance only; lower = more varied lists.")
    max_topic_share: float | None = Field(
        default=0.6, gt=0, le=1, description="Most of a list one topic may fill (rounded up: 3 of 5, 6 of 10). "
        "Chosen with mmr_lambda on the eval protocols' validation splits: 3 of 10 cost 1-4% NDCG@10 there; "
        "0.5 (5 of 10) cost P2 validation 0.001 against 0.6, P1 and P3 nothing; both keep 5-item lists at 3.",
    )
    default_count: int = Field(default=5, ge=1, le=20, description="Items per recommendation unless asked.")
    allow_seen: bool | None = Field(
        default=None,
        description="May items the user already has come back? None: the domain's default (groceries yes, movies no).",
    )
    max_llm_queue: int = Field(
        default=40, ge=1, description="Explanation requests allowed at the LLM at once (40: eight 5-item lists); "
        "beyond it, a turn sheds its LLM work and serves template explanations (flagged degraded) instead of "
        "queueing. With the engine in its own process 8 lists at once took 6.6 s; lower it on a slower host.",
    )
    evidence_options: int = Field(
        default=2, ge=1, le=6, description="Past events offered per item as evidence (fewer: a shorter prompt)."
    )
    explanation_words: bool = Field(
        default=False, description="Ask the LLM for words on what a recommended item shares with the past "
        "one it cites (explain/v7, v4 in the catalog's words). Off: it only picks that past event (explain/v6, "
        "~7 answer tokens instead of "
        "~22) and the sentence names the topics the two share. The packaged 135M model's words passed the check "
        "in 4 of 60 explanations (measured); turn it on with a bigger model.",
    )
    profile_token_budget: int = Field(default=700, ge=100, description="Summary tokens in the profile prompt.")
    adapter_summary_tokens: int = Field(
        default=300, ge=100, description="Summary tokens in a LoRA adapter's prompt (`shiftrec train --llm`): the "
        "profiler's summary, cut shorter by its own priorities (at 700 the prompt doubles and CPU training halves).")
    chat_history_tokens: int = Field(default=1200, ge=100, description="Per-session chat history kept (tokens).")
    intent_llm_below: float = Field(
        default=0.6, ge=0, le=1, description="Ask the LLM for the intent when the classifier is less sure than "
        "this (only where the LLM earned the intent role)."
    )
    llm_roles: Literal["earned", "all", "none"] = Field(
        default="earned", description="Which roles the LLM plays: 'earned' the ones its role card shows it "
        "winning against the stand-in (`shiftrec calibrate`); 'all' or 'none' override the card (experiments)."
    )
    calibrate_on_start: bool = Field(
        default=True, description="With no role card for the configured model, prompts and catalog, calibrate "
        "in the background after start-up (stand-ins serve meanwhile)."
    )
    calibration_cases: int = Field(
        default=30, ge=2, le=500, description="Held-out cases per role in a calibration (~1 s each per LLM "
        "role with the packaged model on 2 cores)."
    )
    event_clock: Literal["after_last", "wall"] = Field(
        default="after_last",
        description="Time stamp of feedback given in chat. after_last: one minute after the user's latest "
        "event (replayed datasets such as the MovieLens demo, whose clock stopped in 1998); wall: now.",
    )
    sequential_model: Path | None = Field(
        default=None, description="A fixed SASRec file to serve instead of the trained versions in "
        "data_dir/models/behaviour (`shiftrec train` writes those); nothing retrains or reloads it.",
    )
    train_sequential_if_missing: bool = Field(
        default=True, description="With no trained version yet, train one in the background after start-up "
        "(the service answers at once with popularity, item-kNN and the memory; SASRec joins when it is done).",
    )
    log_poll_s: float = Field(default=2.0, ge=0, description="How often a serving process reads the events other "
                              "processes logged into its item-kNN and popularity counts (0: never; one process).")
    model_poll_s: float = Field(default=10.0, gt=0, description="How often a running service looks for a new "
                                "trained version (and whether its retraining schedule is due).")
    retrain_every_events: int | None = Field(
        default=None, ge=1, description="Retrain in the background once this many events arrived since the last "
        "training; unset: only `shiftrec train` or a first start trains.",
    )
    retrain_every_minutes: float | None = Field(
        default=None, gt=0, description="Retrain in the background this often; unset: no timed retraining."
    )
    forecast_horizon: str | None = Field(
        default=None, description="How far the interest-shift forecast looks: days ('30d') or the user's next "
        "events ('10e'). Unset: 30 days where items are consumed again (groceries), else the next 10 events.",
    )

    @field_validator("forecast_horizon")
    @classmethod
    def _horizon_reads(cls, value: str | None) -> str | None:
        return None if value is None else Horizon.parse(value).key

    def horizon(self, repeats: bool) -> Horizon:
        """The configured horizon, or the domain's default (``repeats``: people consume items again)."""
        if self.forecast_horizon is not None:
            return Horizon.parse(self.forecast_horizon)
        return Horizon(unit="days", size=30) if repeats else Horizon(unit="events", size=10)


class AgentConfig(BaseModel):
    """Everything :class:`agent.service.ShiftRecService` needs: the agent group and the files it keeps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agent: AgentSettings = Field(default_factory=AgentSettings)
    sequential_model_path: Path | None = Field(default=None, description="A fixed SASRec file (agent.sequential_model).")
    artifacts_dir: Path = Field(description="Trained behaviour-model versions (`shiftrec train` writes them).")
    cache_dir: Path = Field(description="Caches such as the fitted intent classifier.")
    words: DomainWords = Field(
        default=GENERIC_WORDS, description="What the catalog's items are called, in every text a person or LLM reads."
    )
    roles_dir: Path | None = Field(default=None, description="Role cards; unset: next to the behaviour models.")
    catalog_notice: str | None = Field(
        default=None, description="What the catalog's data is, said wherever its items are shown (e.g. simulated)."
    )

    @property
    def card_dir(self) -> Path:
        """Where role cards are kept (``shiftrec calibrate`` writes them)."""
        return self.roles_dir or self.artifacts_dir.parent / "roles"

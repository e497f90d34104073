"""`ShiftRecService`: everything the recommender does, behind one object that serving/ calls.

A recommendation turn: candidates from every source -> fused pool (refinements applied)
-> optional one-pass LLM preference -> MMR short list -> explanations written
concurrently and streamed as they finish -> the record stored. Every LLM step has a
deterministic stand-in, so a result always comes, flagged degraded when it had to.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from agent.chat.conversation import ChatEvent, Conversations
from agent.chat.intents import IntentClassifier, IntentRouter
from agent.chat.sessions import StoredSessions
from agent.explain.admission import LLMAdmission
from agent.explain.explainer import Explainer, OutputAudit, Pick
from agent.explain.records import RecommendationRecord, RecommendedItem, RecordBook
from agent.explain.why import WhyAnswer, answer_why
from agent.forecast.forecaster import Forecaster
from agent.forecast.shown import score_clock, with_forecast
from agent.forecast.track_record import ForecastBook
from agent.llm.interface import LLM, LLMError
from agent.llm.preference import RANK_PROMPT, RANK_VERSION, llm_preference
from agent.log_follower import LogFollower
from agent.model_updates import ModelSwap, ModelUpdates, served_forecast, served_models
from agent.pipeline.candidates import VECTORS_PER_KIND, CandidateGenerator
from agent.pipeline.diversity import intra_list_diversity
from agent.pipeline.refinement import Refinement
from agent.pipeline.shortlist import (
    RankedCandidate,
    diversify,
    fused_pool,
    with_source,
    within_years,
)
from agent.pipeline.standing import with_standing
from agent.profiler import Profiler, ProfileResult
from agent.rankers.artifacts import ArtifactStore
from agent.rankers.behaviour import BehaviourModels
from agent.rankers.behaviour_training import fit_behaviour, tune_weights
from agent.rankers.weight_tuning import WeightChoice
from agent.roles.gate import RoleGate, open_gate
from agent.roles.names import Role
from agent.service_behaviour import BehaviourSupport
from agent.service_chat import ChatSupport
from agent.service_edits import EditSupport
from agent.service_models import (
    DoneEvent,
    ExplanationEvent,
    FeedbackResult,
    RankedEvent,
    RecommendationEvent,
    UnknownItemError,
)
from agent.settings import AgentConfig
from memory.ingest import IngestReport
from memory.models import Event, Item
from memory.service import InterestMemory
from memory.service_models import DeletionReport, UserExport
from memory.snapshot import UserSnapshot


BACKGROUND_WAIT_S = 60.0  # a calibration stops after its current case; cases take seconds


class ShiftRecService(ChatSupport, EditSupport, BehaviourSupport):
    def __init__(
        self, settings: AgentConfig, memory: InterestMemory, llm: LLM | None, behaviour: BehaviourModels,
        intents: IntentRouter, weights: WeightChoice | None = None, model_version: str | None = None,
        roles: RoleGate | None = None, shift_adapter=None,
    ):
        self.settings = settings
        self.model_version = model_version  # the trained behaviour version serving (None: none trained yet)
        self.updates: ModelUpdates | None = None
        # what fuses the sources: tuned on this log at start-up (create), else as configured
        self.weight_choice = weights
        self.source_weights = dict(weights.weights if weights else settings.agent.source_weights)
        self.memory = memory
        self.llm = llm
        # which roles the LLM plays: those its role card shows it earning (stand-ins serve the rest)
        self.roles = roles or open_gate(settings, memory, llm, shift_adapter)
        self.closing = threading.Event()  # set by close(): background work (calibration) stops
        self.background: list[threading.Thread] = []  # joined by close(): none may outlive the interpreter
        self.behaviour = behaviour
        self.intents = intents
        self.audit = OutputAudit()
        self.profiler = Profiler(memory, llm, settings.agent.profile_token_budget, gate=self.roles,
                                 domain=settings.words)
        self.records = RecordBook(memory.store)
        self.forecast_book = ForecastBook(memory)
        self._candidates = CandidateGenerator(memory, behaviour, settings.agent)
        # one thread per admitted LLM request: with fewer, a list's first request queued behind others'
        # and its siblings waited for its first token (the shared-prefix gate), stretching the tail
        self._workers = ThreadPoolExecutor(settings.agent.max_llm_queue, thread_name_prefix="explain")
        self._explainer = Explainer(memory, llm, settings.agent.evidence_options, self.audit, self._workers,
                                    words=settings.agent.explanation_words, domain=settings.words, gate=self.roles)
        self.conversations = Conversations(self, settings.agent.chat_history_tokens, settings.words,
                                           StoredSessions(memory.store))
        self._admission = LLMAdmission(settings.agent.max_llm_queue)
        self._titles: tuple[int, list[tuple[str, str]]] | None = None
        self._observe_lock = threading.Lock()
        self._swap: ModelSwap | None = None  # while new models are fitted, the events they must also count
        self.horizon = settings.agent.horizon(settings.words.repeats)
        self.forecaster: Forecaster | None = None  # the trained version's interest-shift forecast
        self.shift_adapter = shift_adapter  # a served LoRA shift adapter (agent.finetune.served_shift), or None
        self.log: LogFollower | None = None  # counts what other workers log (agent.log_follower)

    @classmethod
    def create(
        cls, settings: AgentConfig, memory: InterestMemory, llm: LLM | None, echo: Callable[[str], None] = print,
        updates: bool = True, shift_adapter=None,
    ) -> ShiftRecService:
        """Fit popularity and item-kNN on everything in memory and serve the newest trained version (SASRec
        and its fusion weights). Without one the service answers at once, weights tuned on what there is,
        and (``updates``) a background thread trains a version; it also swaps in every later one."""
        started, since = time.perf_counter(), time.time()  # events logged from here on are followed
        agent = settings.agent
        store = ArtifactStore(settings.artifacts_dir)
        meta, sequential = served_models(settings.sequential_model_path, store, echo)
        behaviour = fit_behaviour(list(memory.event_log()), sequential)
        weights = None
        if agent.tune_source_weights and (meta is None or meta.weights is None):
            weights = tune_weights(behaviour, agent)
            echo(weights.summary())
        classifier = IntentClassifier.cached(memory.embedder.embed, settings.cache_dir)
        roles = open_gate(settings, memory, llm, shift_adapter)
        router = IntentRouter(classifier, llm, settings.agent.intent_llm_below, settings.words,
                              earned=lambda: roles.earned(Role.INTENT))
        service = cls(settings, memory, llm, behaviour, router, weights, meta.version if meta else None, roles,
                      shift_adapter)
        if meta is not None and meta.weights:
            service.source_weights = dict(meta.weights)
        if meta is not None:
            service.serve_forecast(served_forecast(store, meta, service.horizon, echo))
        if updates:
            service.log = LogFollower(memory, service._observe, agent.log_poll_s, since).start()
        if updates and settings.sequential_model_path is None:
            train_now = (meta is None or not meta.forecast) and agent.train_sequential_if_missing
            service.updates = ModelUpdates(service, store, agent, train_now=train_now, echo=echo,
                                           horizon=service.horizon).start()
        echo(f"recommender ready in {time.perf_counter() - started:.1f} s ({len(behaviour.item_ids)} items in the "
             f"log; behaviour models {service.model_version or 'not trained yet'})")
        return service

    def close(self) -> None:
        self.closing.set()
        if self.log is not None:
            self.log.stop()
        if self.updates is not None:
            self.updates.stop()
        for thread in self.background:
            thread.join(BACKGROUND_WAIT_S)
        self._workers.shutdown(wait=False, cancel_futures=True)

    # ---------------------------------------------------------------- recommendations
    def recommend(self, user: str, count: int | None = None, refinement: Refinement | None = None,
                  include_seen: bool = False, explain: bool = True) -> RecommendationRecord:
        """The complete record (waits for every explanation)."""
        record = None
        for event in self.recommend_stream(user, count, refinement, include_seen, explain):
            if isinstance(event, DoneEvent):
                record = event.record
        assert record is not None  # the stream always ends with a DoneEvent
        return record

    def recommend_stream(self, user: str, count: int | None = None, refinement: Refinement | None = None,
                         include_seen: bool = False, explain: bool = True,
                         hide: set[str] | frozenset[str] = frozenset()) -> Iterator[RecommendationEvent]:
        """The list first, then each explanation as soon as it is written, then the stored record; ``hide``:
        items not to show (the chat's "more" skips what it already showed)."""
        count = count or (refinement.count if refinement else None) or self.settings.agent.default_count
        snapshot = self.memory.snapshot(user, VECTORS_PER_KIND)  # the one read of the user in this request
        record, chosen, items, entries, vectors = self._ranked(snapshot, count, refinement, include_seen, hide)
        yield RankedEvent(record=record.model_copy(deep=True))
        explained = self._explain_all(snapshot, record, chosen, items, entries, explain) if chosen else iter(())
        for position, explanation in explained:
            record.items[position].explanation = explanation
            yield ExplanationEvent(record_id=record.id, item=record.items[position].model_copy(deep=True))
        _summarise_degradation(record)
        written = [entry.explanation.prompt for entry in record.items if entry.explanation and entry.explanation.prompt]
        if written:
            record.prompts["explain"] = written[0]
        self.records.save(record, [vectors[entry.item_id] for entry in record.items if entry.item_id in vectors])
        yield DoneEvent(record=record)

    def _ranked(self, user: UserSnapshot, count: int, refinement: Refinement | None, include_seen: bool,
                hide: set[str] | frozenset[str] = frozenset()):
        """The ranked list as a record without explanations, with what explaining it needs."""
        settings = self.settings.agent
        asked = refinement
        refinement, standing = with_standing(refinement, user.edits, self.memory.catalog.label)
        candidates = self._candidates.generate(user, refinement, include_seen, hide)
        entries = self.memory.catalog.entries(candidates.item_ids)
        items = self.memory.get_items(candidates.item_ids)
        years = {i: int(item.metadata["year"]) for i, item in items.items() if isinstance(item.metadata.get("year"), int)}
        candidates.keep(set(items) & set(entries))  # a logged item missing from the catalog is never shown
        in_years, notes = within_years(refinement, years), []
        if in_years is not None:
            candidates.keep(in_years)
        elif refinement is not None and refinement.has_years:
            notes.append(f"no release years are known for these {self.settings.words.plural}, so the years were "
                         "not applied")
        anchors = self.memory.catalog.vectors(refinement.like_items) if refinement is not None else {}
        usual = [interest.node_id for interest in user.interests.get("long_term", ())[:2]]
        pool = fused_pool(candidates, self.source_weights, refinement, entries, years, settings.pool_size, anchors,
                          usual)
        degraded: list[str] = []
        prompts: dict[str, str] = {}
        llm_weight = self._llm_rank_weight()
        if llm_weight and self.llm is not None and len(pool) > 1 and not candidates.cold:
            pool, problem = self._llm_ordered(user, pool, items, llm_weight)
            degraded += [problem] if problem else []
            prompts["rank"] = f"{RANK_PROMPT}/v{RANK_VERSION}"
        vectors = {item: entry.vector for item, entry in entries.items()}
        chosen = diversify(pool, vectors, entries, settings, count, refinement)
        record = RecommendationRecord(
            id=f"rec-{uuid.uuid4().hex[:16]}",
            user=user.user,
            created_at=datetime.now(timezone.utc),
            items=[_listed(rank, c, items[c.item_id]) for rank, c in enumerate(chosen, start=1)],
            memory_version=user.version,
            model_id=self.llm.model_id if self.llm else None,
            behaviour_version=self.model_version,
            prompts=prompts,
            refinement=asked,
            standing=standing,
            notes=notes,
            cold_start=candidates.cold,
            degraded=bool(degraded),
            degraded_reasons=degraded,
            intra_list_diversity=round(intra_list_diversity([c.item_id for c in chosen], vectors), 4),
        )
        return record, chosen, items, entries, vectors

    def _llm_rank_weight(self) -> float:
        """The LLM preference's fusion weight: 0 unless it earned the rerank role (then as configured, or 1
        where the configured 0 predates the card); roles opened by configuration keep the configured weight."""
        if not self.roles.earned(Role.RERANK):
            return 0.0
        configured = self.source_weights.get("llm", 0.0)
        return configured if self.roles.mode == "all" else configured or 1.0

    def _llm_ordered(self, user: UserSnapshot, pool: list[RankedCandidate], items: dict[str, Item], weight: float):
        """The pool re-fused with the LLM's one-pass preference; unchanged (and why) on failure."""
        try:
            profile = self.profiler.profile(user.user, user.version).profile.profile
            recent = self._recent_titles(user)
            scores = llm_preference(self.llm, profile, recent, [items[c.item_id] for c in pool], self.settings.words)
        except (LLMError, ValueError) as error:
            return pool, f"LLM ranking unavailable: {type(error).__name__}"
        return with_source(pool, "llm", scores, {**self.source_weights, "llm": weight}), None

    def _recent_titles(self, user: UserSnapshot, n: int = 5) -> list[str]:
        recent = [event.item for event in user.recent if event.weight > 0][-n:]
        found = self.memory.get_items(recent)
        return [found[item].title for item in reversed(recent) if item in found]

    def _explain_all(self, user: UserSnapshot, record, chosen, items, entries, explain: bool):
        """(position, explanation) pairs in the order they finish."""
        picks = [Pick(items[c.item_id], entries[c.item_id], c.interest) for c in chosen]
        reason = "explanations not requested" if not explain else "no LLM configured" if self.llm is None else None
        if reason is None and not self._explainer.uses_llm():  # the stand-in by design: nothing degraded
            yield from self._explainer.templates(user, picks, None, record.cold_start)
            return
        if reason is None and not self._admission.reserve(len(picks)):
            reason = "shed under load: the LLM queue is full, template explanations served"
        if reason is not None:
            yield from self._explainer.templates(user, picks, reason, record.cold_start)
            return
        try:
            yield from self._explainer.explain_all(user, picks)
        finally:
            self._admission.release(len(picks))

    @property
    def llm_queue(self) -> int:
        """Explanation requests admitted to the LLM and not finished."""
        return self._admission.inflight

    # ---------------------------------------------------------------- why, feedback, profile
    def why(self, user: str, record_id: str, item_id: str, phrase: bool = False) -> WhyAnswer:
        llm = self.llm if self.roles.earned(Role.WHY) else None
        return answer_why(self.records.get(user, record_id), item_id, llm, phrase, self.settings.words,
                          on_failed_check=lambda: self.roles.failed_check(Role.WHY))

    def feedback(self, user: str, item_id: str, positive: bool) -> FeedbackResult:
        """Written to memory at once; the next recommendation reflects it."""
        item = self.memory.get_items([item_id]).get(item_id)
        if item is None:
            raise UnknownItemError(item_id)
        history = [event.item for event in self.memory.recent_events(user)]
        when = self._event_time(user)
        event = Event(user=user, item=item_id, action="like" if positive else "dislike", timestamp=when)
        result = self.memory.record(event)
        self._observe(user, history, item_id, when.timestamp())
        if self.log is not None:
            self.log.counted([event.id])
        return FeedbackResult(user=user, item_id=item_id, title=item.title, positive=positive, event_id=event.id,
                              memory_version=result.version)

    def ingest_events(self, events: Sequence[Event], progress: bool = False) -> IngestReport:
        """Bulk events into memory (all-or-nothing batches); the behaviour models count the new ones."""
        users = sorted({event.user for event in events})
        known = {user: self.memory.known_events(user, [e.id for e in events if e.user == user]) for user in users}
        histories = {user: [event.item for event in self.memory.recent_events(user)] for user in users}
        report = self.memory.ingest(events, progress=progress)
        if self.log is not None:
            self.log.counted([event.id for event in events])
        for event in sorted(events, key=lambda e: (e.user, e.timestamp)):
            if event.id not in known[event.user]:
                self._observe(event.user, histories[event.user], event.item, event.epoch)
                histories[event.user].append(event.item)
        return report

    def health(self) -> dict:
        """Readiness of the parts: the LLM (None when none is configured) and Chroma."""
        return {
            "llm": None if self.llm is None else self.llm.ping(),
            "llm_model": self.llm.model_id if self.llm else None,
            "chroma": self.memory.store.ping(),
            "sequential_model": self.behaviour.has_sequential,
            "behaviour_version": self.model_version,
            "roles": self.roles.view(),
            "events_followed": self.log.observed if self.log is not None else 0,
        }

    def chat(self, session_id: str, user: str, message: str) -> Iterator[ChatEvent]:
        """One chat turn as a stream of events (see :mod:`agent.chat.conversation`)."""
        return self.conversations.chat(session_id, user, message)

    def profile(self, user: str) -> ProfileResult:
        """The profile with the forecast shown now (stored for its track record) and that track record."""
        shown = with_forecast(self.profiler.profile(user), self.forecast(user), self.forecast_book,
                              score_clock(self.settings.agent.event_clock))
        return shown.model_copy(update={"edits": [view.text for view in self.edit_views(user)]})

    def profile_if_ready(self, user: str) -> ProfileResult | None:
        """The cached profile with the forecast's sentence; otherwise None, and it is built in the background."""
        cached = self.profiler.cached(user)
        if cached is None:
            if self.memory.seen_items(user):
                self._workers.submit(self._warm_profile, user)
            return None
        return with_forecast(cached, self.forecast(user), self.forecast_book, track_record=False)

    def _warm_profile(self, user: str) -> None:
        try:
            self.profiler.profile(user)
        except Exception:  # a background warm-up never surfaces: the next request tries again
            return

    def export_user(self, user: str) -> UserExport:
        return self.memory.export_user(user)

    def delete_user(self, user: str) -> DeletionReport:
        """Everything of the user: events, interests, records, and their chat sessions."""
        sessions = self.conversations.forget_user(user)
        self.profiler.forget(user)
        return self.memory.delete_user(user).model_copy(update={"sessions_removed": sessions})



def _listed(rank: int, candidate: RankedCandidate, item: Item) -> RecommendedItem:
    return RecommendedItem(
        rank=rank, item_id=item.id, title=item.title, categories=item.categories, score=round(candidate.score, 4),
        sources={source: round(value, 6) for source, value in candidate.sources.items()},
    )


def _summarise_degradation(record: RecommendationRecord) -> None:
    reasons = sorted({e.explanation.degraded_reason for e in record.items if e.explanation and e.explanation.degraded
                      and e.explanation.degraded_reason})
    record.degraded_reasons += [f"explanations: {reason}" for reason in reasons]
    record.degraded = bool(record.degraded_reasons)

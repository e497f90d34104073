"""Trained behaviour versions: published atomically, swapped into a running service without a
failed request or a lost event, named in every record they rank."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from agent.model_updates import ModelUpdates
from agent.rankers.artifacts import CURRENT, KEEP_VERSIONS, ArtifactMeta, ArtifactStore
from agent.rankers.behaviour_training import TrainingStopped, train_behaviour
from agent.service import ShiftRecService
from serving.settings import load_settings
from tests.agent_support import TINY_SASREC, loaded_memory


def _meta(version: str, sequential: bool = False) -> ArtifactMeta:
    return ArtifactMeta(version=version, trained_at=datetime(2026, 1, 1, tzinfo=timezone.utc), log_fingerprint="f",
                        events=1, users=1, items=1, sequential=sequential, seconds=0.1)


def test_a_version_is_current_only_once_it_is_complete_and_old_ones_are_pruned(tmp_path: Path):
    store = ArtifactStore(tmp_path)
    assert store.current() is None
    for number in range(KEEP_VERSIONS + 2):
        store.publish(_meta(f"v{number}"), None)
        assert store.current() == _meta(f"v{number}")
    assert store.versions() == [f"v{n}" for n in range(2, KEEP_VERSIONS + 2)]
    assert not list(tmp_path.glob(".staging-*")) and not (tmp_path / f".{CURRENT}.tmp").exists()
    (tmp_path / CURRENT).write_text("v-missing\n")  # a pointer to nothing reads as no version, not a crash
    assert store.current() is None


@pytest.fixture
def service(tmp_path: Path):
    memory = loaded_memory(tmp_path)
    base = load_settings(data_dir=tmp_path, cache_dir=tmp_path / "cache").agent_config
    settings = base.model_copy(update={"agent": base.agent.model_copy(update={"train_sequential_if_missing": False})})
    built = ShiftRecService.create(settings, memory, None, echo=lambda line: None)
    yield built
    built.close()
    memory.close()


def _train(service: ShiftRecService) -> ArtifactMeta:
    store = ArtifactStore(service.settings.artifacts_dir)
    return train_behaviour(list(service.memory.event_log()), store, service.settings.agent, TINY_SASREC,
                           progress=False, echo=lambda line: None)


def test_a_first_start_serves_at_once_and_swaps_in_the_trained_version(service: ShiftRecService):
    assert service.model_version is None and not service.behaviour.has_sequential
    before = service.recommend("ana", explain=False)
    assert before.items and before.behaviour_version is None
    meta = _train(service)
    assert meta.sequential and meta.events == service.logged_events() and meta.users == 4
    assert service.updates.check() is True  # what the watcher thread does every model_poll_s
    assert service.model_version == meta.version and service.behaviour.has_sequential
    assert service.recommend("ana", explain=False).behaviour_version == meta.version
    assert service.health()["behaviour_version"] == meta.version
    assert service.updates.check() is False, "the serving version is not loaded twice"


def test_events_recorded_while_new_models_are_fitted_are_counted_once(service: ShiftRecService):
    meta = _train(service)
    item = "sf23"
    index = service.behaviour.item_ids.index(item)
    with service.model_swap() as swap:
        rows = swap.log()
        service.feedback("dee", item, positive=True)  # after the log read: only the replay can count it
        from agent.rankers.behaviour_training import fit_behaviour

        swap.install(fit_behaviour(rows, None), meta)
        logged = fit_behaviour(rows, None).scores([])["popularity"][index]
    served = service.behaviour.scores([])["popularity"][index]
    assert served > logged, "the feedback given during the swap reached the new models"
    with service.model_swap() as swap:  # this log read already holds that feedback: no double count
        rows = swap.log()
        swap.install(fit_behaviour(rows, None), meta)
    assert service.behaviour.scores([])["popularity"][index] == pytest.approx(served)


def test_swapping_under_load_fails_no_request(service: ShiftRecService):
    meta = _train(service)
    updates: ModelUpdates = service.updates
    failures: list[BaseException] = []
    done = threading.Event()

    def ask(user: str) -> None:
        while not done.is_set():
            try:
                assert service.recommend(user, explain=False).items
            except BaseException as error:  # noqa: BLE001 - every failure counts
                failures.append(error)

    askers = [threading.Thread(target=ask, args=(user,)) for user in ("ana", "bob", "cy")]
    for thread in askers:
        thread.start()
    for _ in range(6):
        service.model_version = None  # force a reload of the same version
        updates.load(meta)
    done.set()
    for thread in askers:
        thread.join()
    assert failures == [] and service.model_version == meta.version


def _wait_for(condition, seconds: float = 120.0) -> None:
    stop = threading.Event()
    for _ in range(int(seconds / 0.1)):
        if condition():
            return
        stop.wait(0.1)
    raise AssertionError("timed out")


def test_a_first_start_trains_in_the_background_and_a_due_schedule_retrains(tmp_path: Path):
    memory = loaded_memory(tmp_path)
    base = load_settings(data_dir=tmp_path, cache_dir=tmp_path / "cache").agent_config
    agent = base.agent.model_copy(update={"retrain_every_events": 1, "model_poll_s": 0.05, "tune_source_weights": False})
    service = ShiftRecService.create(base.model_copy(update={"agent": agent}), memory, None, echo=lambda line: None)
    try:
        assert service.recommend("ana", explain=False).items, "answers before any training"
        _wait_for(lambda: service.model_version is not None)
        first = service.model_version
        service.feedback("ana", "sf3", positive=True)  # one new event: the schedule is due
        _wait_for(lambda: service.model_version != first)
        assert ArtifactStore(base.artifacts_dir).current().events == service.logged_events()
    finally:
        service.close()
        memory.close()


def test_closing_stops_a_training_under_way_and_leaves_no_thread(tmp_path: Path, monkeypatch, caplog):
    memory = loaded_memory(tmp_path)
    base = load_settings(data_dir=tmp_path, cache_dir=tmp_path / "cache").agent_config
    training = threading.Event()

    def slow_training(*args, stop, **kwargs):  # an epoch that lasts until the service closes
        training.set()
        stop.wait(30)
        raise TrainingStopped("behaviour training stopped: the service is closing")

    monkeypatch.setattr("agent.model_updates.train_behaviour", slow_training)
    agent = base.agent.model_copy(update={"model_poll_s": 0.05, "tune_source_weights": False})
    service = ShiftRecService.create(base.model_copy(update={"agent": agent}), memory, None, echo=lambda line: None)
    try:
        _wait_for(training.is_set)
    finally:
        service.close()
        memory.close()
    assert not service.updates._thread.is_alive(), "the training thread ended with the service"
    assert service.model_version is None and "update failed" not in caplog.text


def test_a_stopped_training_raises_before_publishing(tmp_path: Path):
    memory = loaded_memory(tmp_path)
    store = ArtifactStore(tmp_path / "models")
    stop = threading.Event()
    stop.set()
    settings = load_settings(data_dir=tmp_path).agent
    with pytest.raises(TrainingStopped, match="the service is closing"):
        train_behaviour(list(memory.event_log()), store, settings, progress=False, echo=lambda line: None, stop=stop)
    assert store.current() is None
    memory.close()

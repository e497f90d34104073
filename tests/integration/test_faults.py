"""Faults with real servers: vLLM killed mid-request and brought back, the Chroma server killed and
restarted under writes, and `shiftrec ingest` killed with -9 part-way through a bulk import."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.llm.vllm_client import VllmLLM
from agent.rankers.behaviour import BehaviourModels
from agent.service import ShiftRecService
from bench.faults import chroma_restart_under_writes, ingest_kill_drill, llm_outage
from bench.reliability_bench import stored_event_ids
from memory.service import InterestMemory
from serving.settings import load_settings
from tests.agent_support import TINY_SASREC, FixedRouter, SchemaLLM, build_service
from tests.integration.conftest import embedded_settings
from tests.memory_support import BagOfWordsEmbedder, memory_settings, movie_catalog, start_chroma_server, stop
from tests.serving.test_api import ADMIN_KEY, KEYED, running_api

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
LLM_RECOVERY_TARGET_S = 10.0


def test_answers_keep_coming_while_the_llm_is_down_and_full_service_returns_by_itself(
        tmp_path: Path, llm_model_dir: Path, record_property):
    from serving.llm_server import EmbeddedLLMServer

    server = EmbeddedLLMServer(embedded_settings(tmp_path / "vllm", llm_model_dir)).start()
    llm = VllmLLM(server.base_url, server.settings.llm.model, timeout_s=120)
    service = build_service(tmp_path / "data", llm)
    result: dict = {}
    try:
        with running_api(service, KEYED) as url:
            result = llm_outage(url, ADMIN, "ana", server, lambda: service.llm_queue)
    finally:
        service.close()
        (result.get("server") or server).stop()
    result.pop("server", None)
    record_property("llm_outage", result)
    print("llm outage:", result)  # shown with -s: the recovery time on this machine
    assert result["healthy_degraded"] is False
    assert result["in_flight_status"] == "answered" and result["in_flight_degraded"] is True
    assert result["outage_statuses"] == [200] and result["outage_degraded"] and result["outage_deterministic"]
    assert any("explanations" in reason for reason in result["outage_reasons"]), result["outage_reasons"]
    assert result["ready_while_down"] == "degraded"
    assert result["llm_recovery_s"] is not None and result["llm_recovery_s"] <= LLM_RECOVERY_TARGET_S, result


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[tuple]:
    process, url = start_chroma_server(tmp_path)
    holder = {"process": process}
    yield holder, url
    stop(holder["process"])


def test_no_acknowledged_event_is_lost_when_the_chroma_server_restarts_under_writes(
        tmp_path: Path, chroma_server: tuple, record_property):
    holder, chroma_url = chroma_server
    memory = InterestMemory.open(memory_settings(tmp_path / "data", chroma_url), BagOfWordsEmbedder())
    memory.add_items(movie_catalog())
    behaviour = BehaviourModels.from_log(memory.event_log(), tmp_path / "sasrec.pt", config=TINY_SASREC)
    agent = load_settings(data_dir=tmp_path / "data").agent_config
    service = ShiftRecService(agent, memory, SchemaLLM(), behaviour, FixedRouter())
    try:
        with running_api(service, KEYED) as url:
            log, holder["process"] = chroma_restart_under_writes(url, ADMIN, holder["process"],
                                                                 [f"sf{i}" for i in range(24)])
        service.memory.drop_cached([f"writer{w}" for w in range(4)])
        stored = {user: {event["event_id"] for event in service.export_user(user).events}
                  for user in {user for user, _ in log.acknowledged}}
    finally:
        service.close()
    lost = [event_id for user, event_id in log.acknowledged if event_id not in stored[user]]
    record_property("chroma_restart", {"acknowledged": len(log.acknowledged), "refused": log.refused, "lost": lost})
    assert len(log.acknowledged) > 50 and lost == []
    assert sum(log.refused.values()) > 0, "the drill never hit the outage"
    assert set(log.refused) <= {503} and log.refusal_types == {"storage_unavailable"}, (log.refused,
                                                                                      log.refusal_types)


def test_a_bulk_ingest_killed_with_minus_9_is_completed_exactly_by_running_it_again(tmp_path: Path):
    items = [{"id": i.id, "title": i.title, "categories": i.categories} for i in movie_catalog()]
    events = [{"id": f"e{n}", "user": f"u{n % 97}", "item": items[(n * 7) % len(items)]["id"], "action": "view",
               "value": "", "timestamp": 1_600_000_000 + n} for n in range(6000)]
    drill = ingest_kill_drill(tmp_path, items, events, 500, stored_event_ids)
    assert drill["killed_exit_code"] == -9, drill["output_tail"]
    assert 0 < drill["stored_after_kill"] < 6000 and drill["whole_batches_after_kill"], drill  # no partial batch
    assert drill["rerun_exit_code"] == 0 and drill["rerun_report"] == (6000 - drill["stored_after_kill"],
                                                                       drill["stored_after_kill"])
    assert drill["again_exit_code"] == 0 and drill["again_report"] == (0, 6000)  # the same counts again
    assert drill["stored_after_rerun"] == drill["stored_finally"] == 6000
    assert drill["duplicate_rows"] == drill["missing_events"] == drill["unexpected_events"] == 0

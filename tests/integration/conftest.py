"""Real servers shared by the integration tests: one embedded vLLM for the whole session.

Use ``vllm_llm`` for an :class:`~agent.llm.interface.LLM` on the real model, ``vllm_server`` for the
server itself (its settings, base_url, log). Starting vLLM costs 20-70 s on 2 cores, so it
happens once, on first use, and is stopped when the session ends.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.chat.intents import IntentClassifier, IntentRouter
from agent.llm.vllm_client import VllmLLM
from agent.rankers.behaviour import BehaviourModels
from agent.rankers.sequential import SequentialConfig
from agent.service import ShiftRecService
from memory.movielens import load_movielens
from memory.service import InterestMemory
from serving.llm_server import EmbeddedLLMServer
from serving.model_convert import ensure_model
from serving.settings import Settings, load_settings

MOVIELENS_USERS = [str(u) for u in range(1, 61)]  # the first 60 ML-100K users: ~6,000 ratings
# concurrent requests on a busy 2-core machine queue behind each other; the product default is 30 s
TEST_LLM_TIMEOUT_S = 600.0


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def embedded_settings(data_dir: Path, model_dir: Path, **server: object) -> Settings:
    """Settings for an embedded vLLM on a free port, a private data dir and the given model."""
    base = load_settings(data_dir=data_dir)
    fields = {"port": free_port(), "enforce_eager": True, "model_dir": model_dir, **server}
    return base.model_copy(update={"server": base.server.model_copy(update=fields)})


@pytest.fixture(scope="session")
def llm_model_dir() -> Path:
    """The packaged SmolLM2 as safetensors, converted once into the user's cache if needed."""
    return ensure_model(load_settings())


@pytest.fixture(scope="session")
def embedded_settings_factory() -> Callable[..., Settings]:
    """``embedded_settings`` as a fixture, for tests that start a server of their own."""
    return embedded_settings


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory: pytest.TempPathFactory, llm_model_dir: Path) -> Iterator[EmbeddedLLMServer]:
    """One real vLLM for the whole test session (eager mode: the fastest start-up)."""
    settings = embedded_settings(tmp_path_factory.mktemp("vllm-data"), llm_model_dir)
    with EmbeddedLLMServer(settings) as server:
        yield server


@pytest.fixture(scope="session")
def vllm_llm(vllm_server: EmbeddedLLMServer) -> VllmLLM:
    """The product's LLM client on the session's vLLM."""
    settings = vllm_server.settings
    return VllmLLM(
        vllm_server.base_url,
        settings.llm.model,
        api_key=settings.llm.api_key,
        timeout_s=TEST_LLM_TIMEOUT_S,
        context_tokens=settings.llm.context_tokens,
    )


@pytest.fixture(scope="session")
def movielens_service(tmp_path_factory: pytest.TempPathFactory, vllm_llm) -> Iterator[ShiftRecService]:
    """The whole agent for real on 60 MovieLens-100K users (each test uses its own users)."""
    folder: Path = tmp_path_factory.mktemp("agent-ml100k")
    settings = load_settings(data_dir=folder, cache_dir=folder / "cache")
    memory = InterestMemory.open(settings.memory_config)
    data = load_movielens("ml-100k")
    memory.add_items(list(data.items))
    memory.ingest(data.events(MOVIELENS_USERS), progress=False)
    behaviour = BehaviourModels.from_log(
        memory.event_log(), folder / "sasrec.pt", config=SequentialConfig(max_len=30, hidden=32, epochs=3)
    )
    router = IntentRouter(IntentClassifier.cached(memory.embedder.embed, settings.cache_dir))
    config = settings.agent_config
    config = config.model_copy(update={"agent": config.agent.model_copy(update={"llm_roles": "all"})})
    built = ShiftRecService(config, memory, vllm_llm, behaviour, router)  # every LLM path runs on the real model
    yield built
    built.close()
    memory.close()

"""Shared fixtures. Unit tests never reach a real LLM: they get the scripted fake."""

from __future__ import annotations

import pytest

from agent.llm.fake import ScriptedLLM
from serving.offline import OFFLINE_ENV
from tests.memory_support import chroma_server_url, memory_backend  # noqa: F401  (memory suites' fixtures)


@pytest.fixture(autouse=True, scope="session")
def _offline_environment():
    """The same offline hygiene the entry points apply, for every test."""
    patcher = pytest.MonkeyPatch()
    for key, value in OFFLINE_ENV.items():
        patcher.setenv(key, value)
    yield
    patcher.undo()


@pytest.fixture
def scripted_llm() -> ScriptedLLM:
    return ScriptedLLM()

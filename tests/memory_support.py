"""Shared pieces of the memory tests: a tiny embedder, a small catalog, both Chroma backends.

The memory suites take the ``memory_backend`` fixture, parametrised over the embedded
PersistentClient and a real ``chroma run`` server (integration), so the same tests run
against both without copies.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import numpy as np
import pytest

from memory.embeddings import Embedder
from memory.models import Event, Item
from memory.service import InterestMemory
from memory.settings import MemoryConfig
from serving.settings import load_settings
from tests.fakes import bag_of_words_embed

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
CHROMA_BIN = Path(sys.executable).parent / "chroma"


class BagOfWordsEmbedder(Embedder):
    """Deterministic and instant: shared words make similar vectors (a fake behind our interface)."""

    name = "bag-of-words-64"
    dimension = 64

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return bag_of_words_embed(list(texts), self.dimension)


def movie_catalog() -> list[Item]:
    """Flat genres (MovieLens-like): comedies, sci-fi, dramas and a few crossovers."""
    comedies = ["wedding party laugh", "office prank laugh", "road trip laugh", "family holiday laugh"]
    scifi = ["space station alien", "robot uprising future", "time travel paradox", "mars colony alien"]
    items = []
    for index in range(24):
        items.append(Item(id=f"com{index}", title=f"Comedy {index} {comedies[index % 4]}", categories=["Comedy"]))
        items.append(Item(id=f"sf{index}", title=f"Galaxy {index} {scifi[index % 4]}", categories=["Sci-Fi"]))
    for index in range(8):
        items.append(Item(id=f"dr{index}", title=f"Drama {index} courtroom tears", categories=["Drama"]))
    items.append(Item(id="cross", title="Space laugh alien comedy", categories=["Comedy", "Sci-Fi"]))
    items.append(Item(id="book-f", title="Dragon saga", categories=["Books > Fantasy > Epic"]))
    items.append(Item(id="book-h", title="Empire history", categories=["Books > History"]))
    return items


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def event(user: str, item: str, days: float, action: str = "like", value: float | None = None, id: str = "") -> Event:
    return Event(id=id, user=user, item=item, action=action, value=value, timestamp=at(days))


def comedy_then_scifi(user: str = "ana", per_genre: int = 20) -> list[Event]:
    """A user who watches comedies for weeks, then moves to science fiction."""
    events = [event(user, f"com{index}", index) for index in range(per_genre)]
    events += [event(user, f"sf{index}", per_genre + index) for index in range(per_genre)]
    return events


def memory_settings(data_dir: Path, chroma_url: str | None = None, **memory: object) -> MemoryConfig:
    """What a memory in ``data_dir`` (or on the server at ``chroma_url``) opens with, ``memory`` overridden."""
    base = load_settings(data_dir=data_dir, chroma_url=chroma_url).memory_config
    return base.model_copy(update={"memory": base.memory.model_copy(update=memory)})


def start_chroma_server(path: Path) -> tuple[subprocess.Popen, str]:
    """`chroma run` on a free port; returns the process and its URL once it answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (path / "chroma.log").open("w")
    process = subprocess.Popen(
        [str(CHROMA_BIN), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(path / "data")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chroma run exited with {process.returncode}; see {path / 'chroma.log'}")
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"chroma run did not answer within 60 s; see {path / 'chroma.log'}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def chroma_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real Chroma server for the whole session."""
    if not CHROMA_BIN.exists():
        pytest.fail(f"{CHROMA_BIN} is missing: install chromadb in this venv (make setup)")
    process, url = start_chroma_server(tmp_path_factory.mktemp("chroma-server"))
    yield url
    stop(process)


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.integration)])
def memory_backend(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """None for embedded Chroma in tmp_path; the server URL (emptied first) for the server backend."""
    if request.param == "embedded":
        return None
    url = request.getfixturevalue("chroma_server_url")
    InterestMemory.open(memory_settings(tmp_path, url), BagOfWordsEmbedder()).store.drop_collections()
    return url


def open_memory(
    data_dir: Path, chroma_url: str | None = None, catalog: list[Item] | None = None, **memory: object
) -> InterestMemory:
    """A memory on the given backend with the small catalog loaded."""
    opened = InterestMemory.open(memory_settings(data_dir, chroma_url, **memory), BagOfWordsEmbedder())
    opened.add_items(catalog if catalog is not None else movie_catalog())
    return opened

"""Real data and the real embedding model: MovieLens-100K through the memory, MiniLM search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from memory.embeddings import MiniLMEmbedder
from memory.models import Item
from memory.movielens import load_movielens
from memory.service import InterestMemory
from tests.memory_support import event, memory_settings

USERS = [str(user) for user in range(1, 16)]


@pytest.fixture(scope="module")
def movielens_memory(tmp_path_factory: pytest.TempPathFactory) -> InterestMemory:
    from tests.memory_support import BagOfWordsEmbedder

    data = load_movielens("ml-100k")
    memory = InterestMemory.open(memory_settings(tmp_path_factory.mktemp("ml100k")), BagOfWordsEmbedder())
    memory.add_items(list(data.items))
    memory.ingest(data.events(users=USERS), batch_size=500, progress=False)
    return memory


def test_every_rating_lands_in_the_users_memory(movielens_memory: InterestMemory):
    data = load_movielens("ml-100k")
    counts = np.bincount(data.ratings.user, minlength=len(data.user_ids))
    for user in USERS[:5]:
        digest = movielens_memory.digest(user)
        assert digest.events == counts[data.user_index[user]]
        assert set(digest.node_ids) <= set(movielens_memory.catalog.topics())
        assert len(movielens_memory.seen_items(user)) == digest.events


def test_genres_become_topics_with_named_subtopics(movielens_memory: InterestMemory):
    topics = movielens_memory.catalog.topics()
    assert {"t:drama", "t:comedy", "t:sci-fi", "t:childrens", "t:film-noir"} <= set(topics)
    drama = [node for node in topics.values() if node.parent == "t:drama"]
    assert len(drama) == 4 and all(node.label.startswith("Drama: ") and node.examples for node in drama)


def test_adding_the_same_catalog_again_changes_nothing(movielens_memory: InterestMemory):
    report = movielens_memory.add_items(list(load_movielens("ml-100k").items))
    assert (report.added, report.updated, report.topics_created) == (0, 0, [])
    assert report.unchanged == len(load_movielens("ml-100k").items)


def test_topic_strengths_match_an_independent_computation_from_the_ratings(movielens_memory: InterestMemory):
    """Sum over ratings of weight(rating) / genres * 2**(-age / half-life), computed here from the raw table."""
    data, settings = load_movielens("ml-100k"), movielens_memory.settings.memory
    for user in USERS[:3]:
        rows = data.ratings.user == data.user_index[user]
        last = data.ratings.timestamp[rows].max()
        expected: dict[str, float] = {}
        for item, rating, ts in zip(data.ratings.item[rows], data.ratings.rating[rows], data.ratings.timestamp[rows]):
            genres = data.items[item].categories or ["Uncategorized"]
            weight = settings.rating_weights[int(rating)] * 2.0 ** (-(last - ts) / settings.long_term_half_life_s)
            for genre in genres:
                node = "t:" + genre.lower().replace("'", "").replace(" ", "-")
                expected[node] = expected.get(node, 0.0) + weight / len(genres)
        digest = movielens_memory.digest(user)
        assert {node.id: node.strength for node in digest.long_term} == pytest.approx(
            {node: expected[node] for node in (n.id for n in digest.long_term)},
            abs=1e-6,  # digest rounds to 6 places
        )
        assert digest.long_term[0].id == max(expected, key=expected.get)


@pytest.mark.timeout(300)
def test_minilm_history_search_finds_films_by_meaning(tmp_path: Path):
    titles = {
        "sw": ("Star Wars (1977)", "A farm boy joins rebels fighting an evil empire across space."),
        "alien": ("Alien (1979)", "The crew of a spaceship is hunted by a deadly creature."),
        "babe": ("Babe (1995)", "A pig raised by sheepdogs learns to herd sheep on a farm."),
        "heat": ("Heat (1995)", "A detective hunts a gang of professional bank robbers in Los Angeles."),
    }
    items = [Item(id=key, title=title, text=text, categories=["Film"]) for key, (title, text) in titles.items()]
    memory = InterestMemory.open(memory_settings(tmp_path), MiniLMEmbedder(threads=1))
    memory.add_items(items)
    memory.ingest([event("uma", key, index) for index, key in enumerate(titles)], progress=False)
    assert memory.search_history("uma", "rebellion against a galactic empire", k=1)[0].item_id == "sw"
    assert memory.search_history("uma", "monster loose on a spaceship", k=1)[0].item_id == "alien"
    assert memory.search_history("uma", "talking farm animals", k=1)[0].item_id == "babe"
    assert memory.search_history("uma", "police chasing bank robbers", k=1)[0].item_id == "heat"

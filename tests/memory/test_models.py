"""Item and Event validation: what enters memory is clean, UTC and identifiable."""

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from memory.models import Event, Item, split_category, to_utc

NOON_UTC = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def event(**overrides) -> Event:
    fields = {"user": "u1", "item": "i1", "action": "view", "timestamp": "2024-05-01T12:00:00Z"} | overrides
    return Event(**fields)


def error_of(build) -> tuple[tuple, str]:
    with pytest.raises(ValidationError) as caught:
        build()
    first = caught.value.errors()[0]
    return first["loc"], first["msg"]


@pytest.mark.parametrize(
    "moment",
    [
        "2024-05-01T12:00:00Z",
        "2024-05-01T12:00:00z",
        "2024-05-01T14:00:00+02:00",
        "2024-05-01T07:00:00-05:00",
        1714564800,
        1714564800.0,
        "1714564800",
        1714564800000,  # milliseconds
        "1714564800000",
        datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_every_accepted_form_becomes_the_same_utc_moment(moment):
    stamp = event(timestamp=moment).timestamp
    assert stamp == NOON_UTC
    assert stamp.utcoffset() == timedelta(0)


def test_epoch_milliseconds_keep_their_fraction():
    assert to_utc(1714564800123) == NOON_UTC + timedelta(milliseconds=123)


@pytest.mark.parametrize(
    ("moment", "hint"),
    [
        ("2024-05-01T12:00:00", "no time zone"),
        ("2024-05-01", "no time zone"),
        (datetime(2024, 5, 1, 12), "no time zone"),
        ("yesterday", "not ISO-8601"),
        ("", "not ISO-8601"),
        (True, "not a boolean"),
        (-5, "non-negative"),
        (float("nan"), "finite"),
        (1e20, "out of range"),
        ("99999999999999999999999", "out of range"),
        ([2024], "got list"),
    ],
)
def test_bad_timestamps_are_validation_errors_that_say_what_to_fix(moment, hint):
    location, message = error_of(lambda: event(timestamp=moment))
    assert location == ("timestamp",)
    assert hint in message


def test_rating_needs_a_value_and_the_error_names_the_value_field():
    location, message = error_of(lambda: event(action="rate"))
    assert location == ("value",)
    assert "needs a numeric 'value'" in message
    assert event(action="rate", value="4.5").value == 4.5


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True])
def test_values_must_be_finite_numbers_for_every_action(value):
    for action in ("rate", "view"):
        location, _ = error_of(lambda: event(action=action, value=value))
        assert location == ("value",)


def test_actions_are_normalised_and_unknown_ones_list_the_choices():
    assert event(action="  LIKE ").action == "like"
    location, message = error_of(lambda: event(action="teleport"))
    assert location == ("action",)
    assert "unknown action 'teleport'" in message and "purchase" in message


@pytest.mark.parametrize(("field", "blank"), [("user", "  "), ("item", ""), ("user", "\t")])
def test_blank_user_or_item_is_refused(field, blank):
    location, _ = error_of(lambda: event(**{field: blank}))
    assert location == (field,)


def test_unknown_fields_are_refused():
    location, message = error_of(lambda: event(rating=5))
    assert location == ("rating",)
    assert "Extra inputs" in message


def test_derived_ids_are_stable_across_equivalent_inputs_and_differ_otherwise():
    same_moment = [event(timestamp=form).id for form in ("2024-05-01T14:00:00+02:00", 1714564800, 1714564800000)]
    assert len(set(same_moment)) == 1
    assert same_moment[0].startswith("e-") and len(same_moment[0]) == 22
    assert event(action="rate", value=4).id == event(action="rate", value="4.0").id
    others = {event(user="u2").id, event(item="i2").id, event(action="click").id, event(timestamp=1714564801).id}
    assert same_moment[0] not in others and len(others) == 4


def test_given_ids_are_kept_and_blank_ids_are_derived():
    assert event(id=" my-key ").id == "my-key"
    assert event(id="   ").id == event().id


def test_events_are_frozen():
    with pytest.raises(ValidationError):
        event().user = "someone else"


def test_category_paths_are_cleaned_and_deduplicated():
    messy = [" Books >Fantasy>  Epic ", "Books > Fantasy > Epic", "> >", "Sci-Fi"]
    item = Item(id="b1", title="Dune", categories=messy)
    assert item.categories == ["Books > Fantasy > Epic", "Sci-Fi"]
    assert item.category_paths == [("Books", "Fantasy", "Epic"), ("Sci-Fi",)]
    assert split_category("A >> B > ") == ("A", "B")


def test_item_ids_and_titles_are_stripped_and_must_not_be_blank():
    item = Item(id=" 42 ", title=" Heat ")
    assert (item.id, item.title, item.text, item.categories, item.metadata) == ("42", "Heat", "", [], {})
    for field in ("id", "title"):
        location, message = error_of(lambda: Item(**({"id": "1", "title": "t"} | {field: "   "})))
        assert location == (field,) and "blank" in message


def test_item_metadata_keeps_scalar_types_and_refuses_nested_values():
    item = Item(id="1", title="t", metadata={"year": 1995, "score": 7.5, "dubbed": True, "lang": "en"})
    assert item.metadata == {"year": 1995, "score": 7.5, "dubbed": True, "lang": "en"}
    assert type(item.metadata["dubbed"]) is bool and type(item.metadata["year"]) is int
    location, _ = error_of(lambda: Item(id="1", title="t", metadata={"cast": ["a", "b"]}))
    assert location[:2] == ("metadata", "cast")


def test_embedding_text_joins_title_categories_and_text():
    item = Item(id="1", title="Heat (1995)", text="A heist in LA.", categories=["Action", "Crime > Heist"])
    assert item.embedding_text() == "Heat (1995). Action; Crime > Heist. A heist in LA."
    assert Item(id="2", title="Alone").embedding_text() == "Alone"


def test_embedding_text_leaves_out_category_levels_the_title_already_says():
    milk = Item(id="m", title="Fluid Milk White Only (Private brand, 1 GA)",
                categories=["Grocery > Fluid Milk Products > Fluid Milk White Only"])
    assert milk.embedding_text() == "Fluid Milk White Only (Private brand, 1 GA). Grocery > Fluid Milk Products"
    said = Item(id="s", title="Sci-Fi Classics", categories=["Sci-Fi"])
    assert said.embedding_text() == "Sci-Fi Classics"
    heart = Item(id="h", title="Heart of Darkness", categories=["Art"])
    assert heart.embedding_text() == "Heart of Darkness. Art"

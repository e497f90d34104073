"""Reading a turn: memory edits and their targets, cue words before the classifier (which overrules them
only when sure), a refinement with nothing on screen is a request, and a question where two readings are
close (and its answer)."""

from __future__ import annotations

from agent.chat.edit_guess import guessed_edit
from agent.chat.intents import Intent, RoutedIntent
from agent.chat.mentions import position_reference
from agent.chat.turns import TurnContext, TurnReader, fuzzy_items, title_spans
from memory.movielens import MOVIELENS_WORDS
from tests.agent.chat.lexicons import movie_lexicon
from tests.agent.chat.routers import SureRouter

SHOWN = [("m1", "Heat (1995)"), ("m2", "Fargo (1996)"), ("m3", "Scream (1996)")]
HISTORY = [("h1", "Toy Story (1995)"), ("h2", "Aladdin (1992)"), ("h3", "Contact (1997)")]
CATALOG = [*HISTORY, ("c1", "Star Trek: First Contact (1996)")]


class OtherRouter:
    """The classifier's stand-in: everything is small talk (so a test sees where the grammar decided)."""

    def route(self, text: str) -> RoutedIntent:
        return RoutedIntent(Intent.OTHER, 0.9, "classifier")


def _context(shown=SHOWN, **fields) -> TurnContext:
    return TurnContext(lexicon=movie_lexicon(), domain=MOVIELENS_WORDS, last_list=shown,
                       history_titles=lambda text: title_spans(text, HISTORY),
                       catalog_titles=lambda text: title_spans(text, CATALOG),
                       position_in=lambda text: position_reference(text, len(shown), MOVIELENS_WORDS),
                       history_fuzzy=lambda words: fuzzy_items(words, HISTORY),
                       items_under=lambda nodes: ["h1", "h2"] if "t:animation" in nodes else [], **fields)


def _read(text: str, **fields):
    return TurnReader(OtherRouter()).read(text, _context(**fields))


def test_each_memory_edit_and_its_target():
    fade = _read("I'm over my action phase. more documentaries?")
    assert (fade.intent, fade.edit.kind, fade.edit_topics) == (Intent.EDIT, "fade", ["t:action"])
    assert fade.slots.prefer == ["t:documentary"] and not fade.slots.only  # the list slot rides along
    gift = _read("Toy Story and Aladdin were for my kids")
    assert (gift.edit.kind, gift.edit.reason, gift.edit_items) == ("not_mine", "kids", ["h1", "h2"])
    assert _read("the cartoons were gifts").edit_items == ["h1", "h2"]  # a topic names the person's items
    assert _read("forget that I watched Aladdin").edit_items == ["h2"]
    assert _read("always show me some documentaries").edit_topics == ["t:documentary"]
    assert _read("undo that").edit.kind == "undo" and _read("what do you know about me?").memory_view


def test_the_longest_title_wins_so_a_forget_never_takes_the_wrong_item():
    assert _read("forget star trek first contact, hated it").edit_items == ["c1"]  # not "Contact"


def test_an_edit_that_names_what_the_catalog_lacks_is_still_an_edit_to_refuse():
    pin = _read("pin anime")
    assert pin.intent == Intent.EDIT and pin.edit_topics == [] and pin.edit.target == "anime"
    assert _read("unpin sci-fi").intent == Intent.EDIT  # said explicitly: refused if nothing is pinned
    skip = _read("stop showing horror")
    assert skip.intent == Intent.REFINE and skip.slots.exclude == ["t:horror"]
    assert _read("stop showing horror", pinned={"t:horror"}).edit.kind == "unpin"


def test_pronouns_name_what_was_just_discussed_or_the_chat_asks():
    assert _read("those were for my kids", last_items=["h3"]).edit_items == ["h3"]
    asked = _read("those were for my kids")
    assert asked.question.startswith("Which movies do you mean?") and asked.edit_items == []


def test_never_mind_undoes_only_right_after_an_edit():
    assert _read("never mind", last_was_edit=True).edit.kind == "undo"
    assert _read("never mind").intent == Intent.OTHER


def test_a_phase_or_just_this_list_is_asked_and_the_answer_picks():
    asked = _read("I'm tired of horror")
    assert asked.question == ("Just no Horror in these lists, or is Horror a phase you're over (it fades from what I "
                              "know about you)?")
    reader = TurnReader(OtherRouter())
    assert reader.resolve(asked.options, "just for tonight").intent == Intent.REFINE
    assert reader.resolve(asked.options, "it's a phase").edit.kind == "fade"
    assert reader.resolve(asked.options, "what's the weather") is None


def test_a_sigh_while_a_list_shows_asks_fewer_or_a_miss():
    asked = _read("ugh, thrillers again?")
    assert asked.question == "Fewer Thriller movies, or was one of these a miss?"
    reader = TurnReader(OtherRouter())
    assert reader.resolve(asked.options, "fewer please").slots.avoid == ["t:thriller"]
    assert reader.resolve(asked.options, "the second one was a miss").intent == Intent.FEEDBACK
    assert _read("ugh, thrillers again?", shown=[]).question is None  # nothing shown: nothing was a miss


def test_cue_words_decide_before_the_classifier():
    assert _read("what made you pick Fargo?").intent == Intent.WHY
    assert _read("why do you think I like sci-fi?").intent == Intent.PROFILE
    assert _read("the 2nd one is great").intent == Intent.FEEDBACK
    assert _read("I'm really into heist films lately").intent == Intent.FEEDBACK
    assert _read("what should I watch tonight?").intent == Intent.RECOMMEND
    assert _read("just give me a couple").intent == Intent.REFINE  # the list on screen, shorter
    assert _read("no horror").intent == Intent.REFINE
    assert _read("no horror", shown=[]).intent == Intent.RECOMMEND  # nothing to refine: a request
    assert _read("you're great").intent == Intent.OTHER


def test_fuzzy_titles_prefer_the_same_word_over_a_prefix():
    pairs = [("a", "Melons: Honeydew Whole"), ("b", "Jams Honey (16 OZ)"), ("c", "Dog Foods: Can Dog Food")]
    assert fuzzy_items("the honeydew", pairs) == ["a"]
    assert fuzzy_items("canned dog food", pairs) == ["c"]
    assert fuzzy_items("the", pairs) == []


def _read_sure(text: str, intent: Intent, **fields):
    return TurnReader(SureRouter(intent)).read(text, _context(**fields))


def test_a_sure_classifier_overrules_the_cue_words_but_not_exact_list_slots():
    assert _read("help me fill my basket").intent == Intent.OTHER  # the cue word "help" alone
    overruled = _read_sure("help me fill my basket", Intent.RECOMMEND)
    assert (overruled.intent, overruled.source) == (Intent.RECOMMEND, "classifier")
    kept = _read_sure("more like what I've been watching lately", Intent.PROFILE)
    assert kept.intent == Intent.REFINE and kept.slots.like_recent and kept.source == "grammar"
    assert _read_sure("three of them, from the 90s", Intent.OTHER).intent == Intent.REFINE
    assert _read_sure("why did you pick Fargo?", Intent.WHY).source == "grammar"  # agreement changes nothing


def test_an_edit_the_grammar_missed_acts_where_its_target_resolves_and_asks_otherwise():
    unpin = _read_sure("documentaries don't need to be pinned anymore", Intent.EDIT, pinned={"t:documentary"})
    assert (unpin.intent, unpin.edit.kind, unpin.edit_topics) == (Intent.EDIT, "unpin", ["t:documentary"])
    assert unpin.question is None and unpin.source == "classifier"
    theirs = _read_sure("my roommate used my account for Contact, it's theirs", Intent.EDIT)
    assert (theirs.edit.kind, theirs.edit.reason, theirs.edit_items) == ("not_mine", "someone_else", ["h3"])
    vague = _read_sure("the thing from last week is theirs", Intent.EDIT)
    assert vague.intent == Intent.EDIT and vague.edit_items == [] and "Should I change what I remember" in vague.question
    assert _read_sure("hmm okay", Intent.EDIT).intent != Intent.EDIT  # no edit word at all: the next reading


def test_guessed_edit_kinds_from_looser_words():
    assert guessed_edit("actually, reverse that").kind == "undo"
    assert guessed_edit("you can unpin beverages now").kind == "unpin"
    assert guessed_edit("keep organic veg pinned, always").kind == "pin"
    assert guessed_edit("wipe Heat from whatever you remember").kind == "forget"
    gift = guessed_edit("the scarf was a present for my niece")
    assert (gift.kind, gift.reason) == ("not_mine", "kids")
    assert guessed_edit("no longer drinking soda since january").kind == "fade"
    assert guessed_edit("what a lovely day") is None


def test_a_guessed_edit_never_displaces_a_request_unless_its_target_resolves():
    request = _read_sure("forget it, just surprise me", Intent.EDIT)
    assert request.intent == Intent.REFINE and request.slots.surprise and request.question is None
    assert guessed_edit("forget it, just surprise me") is None

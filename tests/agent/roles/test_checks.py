"""The checks on LLM text, against outputs the packaged model was seen to produce."""

from __future__ import annotations

from agent.chat.replies import chat_reply_problem, standin_reply
from agent.llm.outputs import PredictedShift
from agent.profiler import shift_problem
from agent.roles.checks import TextRules, confidence_problem, sentences, text_problem
from memory.movielens import MOVIELENS_WORDS

SEEN_HI = "I'm here to help with your movie recommendations."


def test_the_same_sentence_three_turns_in_a_row_is_refused_from_the_second_on():
    earlier: list[str] = []
    verdicts = []
    for _ in range(3):
        verdicts.append(chat_reply_problem(SEEN_HI, earlier, MOVIELENS_WORDS))
        earlier.append(SEEN_HI)
    assert verdicts == [None, "repeats a sentence already said in this conversation",
                        "repeats a sentence already said in this conversation"]


def test_the_stand_in_varies_so_three_his_never_repeat_a_sentence():
    earlier: list[str] = []
    for _ in range(3):
        earlier.append(standin_reply(MOVIELENS_WORDS, "Comedy", earlier))
    assert len(set(earlier)) == 3
    assert all(chat_reply_problem(reply, earlier[:i], MOVIELENS_WORDS) in (None, "states the number 5, which is "
               "not in the data behind it") for i, reply in enumerate(earlier))


def test_a_raw_node_id_as_rationale_and_certainty_are_refused():
    rules = TextRules(max_chars=200, max_sentences=2)
    assert text_problem("t:action/s3", rules) == "names an interest node id"
    assert confidence_problem(1.0, 40) == "a confidence of 1.00 is certainty, which no forecast has"
    assert confidence_problem(0.9, 1) == "a confidence of 0.90 from 1 event(s) (at most 0.33 is supported)"
    assert confidence_problem(0.7, 20) is None


def test_the_shift_check_reads_the_digests_event_count():
    class Digest:
        events = 1

    shift = PredictedShift(from_interest="t:drama", to_interest="t:action", confidence=1.0, rationale="t:action/s3")
    assert shift_problem(shift, Digest()) == "a confidence of 1.00 is certainty, which no forecast has"
    calm = shift.model_copy(update={"confidence": 0.3})
    assert shift_problem(calm, Digest()) == "names an interest node id"
    assert shift_problem(calm.model_copy(update={"rationale": "Action grew over the last weeks."}), Digest()) is None


def test_labels_schema_words_instructions_and_length_are_refused():
    rules = TextRules(max_chars=60)
    assert text_problem("Because of e1 and e2.", rules) == "names a prompt label such as e1"
    assert text_problem('{"reply": "hi"}', rules) == "shows schema words or markup"
    assert text_problem("Your long_term interests are drama.", rules) == "shows schema words or markup"
    assert text_problem("word " * 20, rules) == "longer than 60 characters"
    assert text_problem("Fine. Fine.", rules) == "repeats a sentence"
    assert text_problem("   ", rules) == "empty text"
    assert text_problem("One. Two. Three. Four.", TextRules(max_chars=100)) == "more than 3 sentences"


def test_names_and_numbers_must_come_from_the_data_behind_the_text():
    rules = TextRules(max_chars=300, names=["Fargo (1996)"], numbers=["5"])
    assert text_problem("You rated Fargo (1996) 5 out of 5.", rules) is None
    assert text_problem("Like Heat (1995), it is tense.", rules) == ("names 'Like Heat (1995)', which is not in the "
                                                                      "data behind it")
    assert text_problem("You rated Fargo (1996) 4 stars.", rules) == "states the number 4, which is not in the data " \
                                                                     "behind it"


def test_a_long_small_talk_session_never_repeats_a_recent_sentence():
    earlier: list[str] = []
    for _ in range(12):
        reply = standin_reply(MOVIELENS_WORDS, "Comedy", earlier)
        recent = {s for r in earlier[-4:] for s in sentences(r)}
        assert not recent & set(sentences(reply))
        earlier.append(reply)

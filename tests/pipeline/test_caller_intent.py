"""What an utterance means: hesitations, acknowledgements by context, and goodbyes that are closings."""

from __future__ import annotations

import pytest

from pipeline.caller_intent import Utterance, classify, is_goodbye, words


@pytest.mark.parametrize("text", ["Yes.", "OK", "okay", "Да.", "Угу", "uh huh", "Mm-hmm.", "Ага, понятно."])
def test_an_acknowledgement_is_a_backchannel_over_a_reply_and_an_answer_after_it(text):
    assert classify(text, assistant_speaking=True) is Utterance.BACKCHANNEL
    assert classify(text, assistant_speaking=False) is Utterance.TURN


@pytest.mark.parametrize("text", ["", "  ", "Um, uh uh.", "Hmm...", "Эээ, мм.", "ну вот"])
def test_hesitations_are_never_a_turn(text):
    assert classify(text, assistant_speaking=False) is Utterance.NOTHING
    assert classify(text, assistant_speaking=True) is Utterance.NOTHING


@pytest.mark.parametrize(
    "text",
    [
        "Thank you very much. Goodbye.",
        "Thank you, goodbye.",
        "Okay, bye-bye!",
        "Bye for now.",
        "Goodbye",
        "Thanks, that's all, have a nice day, bye.",
        "See you tomorrow.",
        "Спасибо, до свидания!",
        "Спасибо, пока.",
        "Ну всё, пока.",
        "Хорошо, всего доброго.",
        "Пока-пока",
        "Спасибо большое, до свидания.",
        "Ладно, давайте, пока!",
    ],
)
def test_closings_end_the_call(text):
    assert is_goodbye(text)
    assert classify(text, assistant_speaking=False) is Utterance.GOODBYE


@pytest.mark.parametrize(
    "text",
    [
        "Подождите, пока я найду ручку.",
        "Пока я ищу ручку, скажите ваш адрес.",
        "Покажите, пожалуйста, прайс.",
        "Пока не знаю, перезвоню.",
        "Goodbye, wait, I have one more question.",
        "Goodbye? No, wait.",
        "Can you say goodbye to Artem for me?",
        "I'll call back, bye the way, what is the price?",
        "Thank you.",
        "Спасибо.",
        "Is that a bye-law?",
        "See you tomorrow at the clinic, and what should I bring?",
    ],
)
def test_farewell_words_inside_other_sentences_do_not(text):
    assert not is_goodbye(text)
    assert classify(text, assistant_speaking=False) is not Utterance.GOODBYE


def test_words_are_whole_lower_case_with_yo_folded():
    assert words("Ёлки, ПОКАЖИТЕ uh huh!") == ["елки", "покажите", "uh-huh"]

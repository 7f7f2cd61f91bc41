"""FAQ matching with the real multilingual-e5-small: paraphrases hit, near misses never do."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from personas.embeddings import E5Embedder
from personas.faq import FaqConfig, FaqMatcher, normalise, render
from personas.schemas import Persona

LINES = dict(greeting="g", farewell="f", silence_prompt="s", hangup_line="h", apology="a")


def persona(name: str, language: str, faq: list[dict]) -> Persona:
    return Persona(name=name, display_name=name, language=language, system_prompt="x", voice="joe", lines=LINES, faq=faq)


ANNA = persona(
    "anna",
    "en",
    [
        {
            "question": "What are your opening hours?",
            "answer": "We are open from 9 to 6, it is {current_time} now.",
            "examples": ["When are you open?", "What time do you open and close?", "What are your working hours?"],
            "triggers": ["hours"],
        },
        {
            "question": "Where is the clinic located?",
            "answer": "Lenina street 1.",
            "examples": ["What is your address?", "How do I get to you?", "Where can I find you?"],
        },
        {
            "question": "How much does a dental check-up cost?",
            "answer": "A check-up costs 1500 roubles.",
            "examples": ["What is the price of an examination?"],
        },
        {
            "question": "Do you accept children as patients?",
            "answer": "Yes, from the age of three.",
            "examples": ["Do you treat children?", "Can I come with my son?"],
        },
    ],
)
MARINA = persona(
    "marina",
    "ru",
    [
        {
            "question": "Какие у вас часы работы?",
            "answer": "С 9 до 18, сегодня {day_of_week}.",
            "examples": ["Во сколько вы открываетесь и закрываетесь?", "Когда вы открыты?"],
        },
        {
            "question": "Где находится клиника?",
            "answer": "Улица Ленина, 1.",
            "examples": ["Какой у вас адрес?", "Как до вас добраться?", "Где вас найти?"],
        },
        {
            "question": "Сколько стоит осмотр у стоматолога?",
            "answer": "Осмотр стоит 1500 рублей.",
            "examples": ["Какая цена осмотра?"],
        },
        {"question": "Вы принимаете детей?", "answer": "Да, с трёх лет.", "examples": ["Вы лечите детей?"]},
    ],
)
# Other phrasings than the entries' own: (persona, message, entry index).
PARAPHRASES = [
    (ANNA, "what time do you open in the morning", 0),
    (ANNA, "what is the address of your clinic", 1),
    (ANNA, "How much is a check-up?", 2),
    (ANNA, "what does a dental checkup cost", 2),
    (ANNA, "do you treat kids", 3),
    (ANNA, "What are the clinic's working hours?", 0),
    (ANNA, "Where are you located?", 1),
    (ANNA, "Can I bring my child to you?", 3),
    (MARINA, "Когда вы работаете?", 0),
    (MARINA, "До скольки вы открыты?", 0),
    (MARINA, "Где вы находитесь?", 1),
    (MARINA, "Сколько стоит осмотр?", 2),
    (MARINA, "Какая цена консультации стоматолога?", 2),
    (MARINA, "Лечите ли вы детей?", 3),
]
# Short, unrelated or close-but-different messages: none may trigger an entry.
NEAR_MISSES = [
    (ANNA, m)
    for m in [
        "hello",
        "open",
        "Hi, how are you?",
        "I want to cancel my appointment",
        "What time is it now?",
        "How much is it?",
        "Where is my order?",
        "Can I speak to the doctor please?",
        "My tooth hurts a lot",
        "Do you sell toothbrushes?",
        "I'd like to book an appointment for tomorrow",
        "Who is the owner of the clinic?",
        "Is the parking free?",
        "hours of",
        "clinic",
    ]
] + [
    (MARINA, m)
    for m in [
        "Алло",
        "Здравствуйте, как дела?",
        "Я хочу отменить запись",
        "Который час?",
        "У меня болит зуб",
        "Можно записаться на завтра?",
        "Сколько это стоит?",
        "Где мой заказ?",
        "Кто владелец клиники?",
        "детей",
    ]
]


@pytest.fixture(scope="module")
def matcher():
    return FaqMatcher(E5Embedder())


async def test_paraphrases_hit_their_own_entry_or_nothing(matcher):
    hits = 0
    for p, message, index in PARAPHRASES:
        hit = await matcher.match(p, message)
        if hit is not None:
            assert hit.index == index, (message, hit, await matcher.scores(p, message))
            hits += 1
    # multilingual-e5-small (4-bit) at a threshold with no false hit: recall is about a third; the
    # rest go to the model, which is the safe side. More example phrasings per entry raise it.
    assert hits >= 5, hits


@pytest.mark.parametrize(("p", "message"), NEAR_MISSES, ids=[m for _, m in NEAR_MISSES])
async def test_near_misses_and_short_messages_never_match(matcher, p, message):
    assert await matcher.match(p, message) is None, await matcher.scores(p, message)


async def test_the_entries_own_phrasings_and_exact_triggers_match(matcher):
    hit = await matcher.match(ANNA, "  HOURS! ")
    assert hit is not None and hit.how == "trigger" and hit.index == 0
    hit = await matcher.match(MARINA, "какой у вас адрес")
    assert hit is not None and hit.index == 1
    hit = await matcher.match(ANNA, "what is your address?")
    assert hit is not None and hit.index == 1 and hit.how == "semantic" and hit.score > 0.9


async def test_a_lower_threshold_is_tunable(matcher):
    strict = FaqMatcher(matcher.embedder, FaqConfig(threshold=0.99))
    loose = FaqMatcher(matcher.embedder, FaqConfig(threshold=0.5, margin=0.0))
    assert await strict.match(ANNA, "what does a dental checkup cost") is None
    assert (await loose.match(ANNA, "what does a dental checkup cost")).index == 2


async def test_ambiguous_messages_match_nothing(matcher):
    twins = persona(
        "twins",
        "en",
        [
            {"question": "What are your opening hours?", "answer": "a"},
            {"question": "What are your opening times?", "answer": "b"},
        ],
    )
    assert await matcher.match(twins, "When do you open and close?") is None


def test_placeholders_are_filled_in_the_personas_time_zone_and_language():
    now = datetime(2026, 11, 25, 21, 30, tzinfo=UTC)  # a Wednesday; 00:30 Thursday in Moscow
    en = persona("en", "en", [])
    ru = persona("ru", "ru", [])
    assert (
        render("It is {current_time} on {day_of_week}, {current_date}.", en, now)
        == "It is 00:30 on Thursday, November 26, 2026."
    )
    assert render("{day_of_week}, {current_date}", ru, now) == "четверг, 26 ноября 2026"
    assert render("{unknown} and {current_time", en, now) == "{unknown} and {current_time"


def test_normalisation():
    assert normalise("  Ёлка, ЁЛКА!!  ") == "елка елка"
    assert normalise("What's\tup?") == "what s up"


async def test_warming_up_embeds_the_background_and_the_entries_ahead_of_the_first_call():
    class CountingEmbedder:
        def __init__(self):
            self.inner, self.texts = E5Embedder(), 0

        def embed(self, texts):
            self.texts += len(texts)
            return self.inner.embed(texts)

    embedder = CountingEmbedder()
    matcher = FaqMatcher(embedder)
    await matcher.warm(ANNA)
    warmed = embedder.texts
    assert warmed > len(ANNA.faq)
    assert (await matcher.match(ANNA, "what does a dental checkup cost")).index == 2
    assert embedder.texts == warmed + 1  # only the caller's message was embedded during the "call"


@pytest.mark.parametrize(
    ("message", "bare"),
    [
        ("Can you tell me your office opening hours?", "your office opening hours?"),
        ("Hello, could you please tell me your address?", "your address?"),
        ("Здравствуйте, подскажите, пожалуйста, адрес", "адрес"),
        ("Не подскажете, сколько стоит осмотр?", "сколько стоит осмотр?"),
        ("What are your opening hours?", ""),
        ("Скажите", ""),
        ("hours of", ""),
        ("Hello", ""),
    ],
)
def test_a_leading_politeness_wrapper_comes_off_and_nothing_else(message, bare):
    from personas.faq import unwrapped

    assert unwrapped(message) == bare


async def test_a_wrapped_trigger_or_question_matches_and_a_wrapped_near_miss_does_not(matcher):
    seed = persona(
        "seed",
        "ru",
        [
            {"question": "Какие у вас часы работы?", "answer": "С 9 до 18.", "triggers": ["часы работы"]},
            {"question": "Где находится клиника?", "answer": "Ленина, 1.", "triggers": ["адрес"]},
        ],
    )
    hit = await matcher.match(seed, "Подскажите, пожалуйста, часы работы")
    assert hit is not None and hit.index == 0 and hit.how == "trigger"
    hit = await matcher.match(seed, "Здравствуйте, скажите, пожалуйста, ваш адрес")
    assert hit is not None and hit.index == 1 and hit.how == "trigger"
    assert (
        await FaqMatcher(matcher.embedder, FaqConfig(unwrap=False)).match(seed, "Подскажите, пожалуйста, часы работы")
        is None
    )  # what unwrapping adds
    for near_miss in ("Подскажите, который час?", "Скажите, а вы кто?", "Can you tell me who owns the clinic?"):
        assert await matcher.match(seed, near_miss) is None
    hit = await matcher.match(ANNA, "Can you tell me your office opening hours?")  # the issue's own example
    assert hit is not None and hit.index == 0

"""Russian numbers, times, dates and phone numbers in words, declined by the preposition before them."""

from __future__ import annotations

import pytest

from deployments.tts.text_ru import group, speakable


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("Мы работаем с 9 до 18.", "Мы работаем с девяти до восемнадцати."),
        ("Приём с 9:00 до 17:30.", "Приём с девяти до семнадцати тридцати."),
        ("Сейчас 12:30.", "Сейчас двенадцать тридцать."),
        ("Сейчас 12:00.", "Сейчас двенадцать ноль-ноль."),
        ("Встреча в 10:05.", "Встреча в десять ноль пять."),
        ("Приходите к 5.", "Приходите к пяти."),
        ("Позвоните 8 800 555-35-35.", "Позвоните восемь, восемьсот, пятьсот пятьдесят пять, тридцать пять, тридцать пять."),
        ("Номер +7 (916) 123-05-67", "Номер плюс семь, девятьсот шестнадцать, сто двадцать три, ноль пять, шестьдесят семь"),
        ("+79161234567", "плюс семь, девятьсот шестнадцать, сто двадцать три, сорок пять, шестьдесят семь"),
        ("Запись на 06.12.2026.", "Запись на шестое декабря две тысячи двадцать шестого года."),
        ("Это было в 2026 году.", "Это было в две тысячи двадцать шестом году."),
        ("Осмотр стоит 1500 рублей.", "Осмотр стоит одна тысяча пятьсот рублей."),
        ("Скидка 10%, кабинет № 3.", "Скидка десять процентов, кабинет номер три."),
        ("Без цифр.", "Без цифр."),
    ],
)
def test_numbers_are_said_as_a_russian_speaker_says_them(text, said):
    assert speakable(text) == said


def test_impossible_times_and_dates_are_left_for_the_number_rule():
    assert "99" not in speakable("в 25:99") and ":" in speakable("в 25:99")  # not a time; digits still in words
    assert speakable("32.13") != "32.13"


def test_phone_groups_keep_their_leading_zeros():
    assert group("05") == "ноль пять" and group("00") == "ноль ноль" and group("45") == "сорок пять"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("Запишитесь на сайте clinic.ru", "Запишитесь на сайте клиник точка ру"),
        ("Пишите на info@smile.ru", "Пишите на инфо собака смиле точка ру"),
        ("Цена 100$ и 5€", "Цена сто долларов и пять евро"),
        ("Смайлик 😀 и «кавычки» — тире", "Смайлик и кавычки, тире"),
        ("Hello, world", "хелло, ворлд"),
    ],
)
def test_latin_and_symbols_become_what_the_russian_voice_can_say(text, said):
    assert speakable(text) == said

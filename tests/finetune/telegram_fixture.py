"""A Telegram Desktop export written here: an owner (Artem, a dental clinic) answering clients in his style.

Every answer of his ends with "— Артём, клиника «Улыбка»" / "— Artem, Smile clinic", so a trained
adapter's style is easy to recognise; the clients' questions vary. One chat, one group (ignored),
service messages, media without caption, entity-formatted text, a phone number and an e-mail
(masked), and a pause of two days (a new dialogue).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

OWNER_ID = "user1000"
SIGN_RU = "— Артём, клиника «Улыбка»"
SIGN_EN = "— Artem, Smile clinic"
QUESTIONS = [
    ("Здравствуйте! Вы работаете в субботу?", "Добрый день! Да, в субботу с 10 до 16."),
    ("Сколько стоит чистка зубов?", "Профессиональная чистка стоит 4500 рублей."),
    ("Можно записаться на завтра?", "Конечно, есть окно в 11:30, записать вас?"),
    ("Где вы находитесь?", "Мы на Ленина, 12, второй этаж."),
    ("Hello, do you speak English?", "Hello! Yes, of course, how can I help?"),
    ("How much is a filling?", "A filling is from 3500 roubles."),
    ("Do you take children?", "Yes, we treat children from three years old."),
    ("Нужна ли предоплата?", "Нет, оплата после приёма."),
    ("Есть парковка?", "Да, во дворе есть бесплатная парковка."),
    ("Can I pay by card?", "Yes, cards and cash are both fine."),
    ("Больно ли удалять зуб?", "Нет, мы делаем хорошую анестезию."),
    ("What are your hours on Sunday?", "On Sunday we are closed."),
]


def _sign(answer: str) -> str:
    return f"{answer} {SIGN_EN if answer.isascii() else SIGN_RU}"


def export(chats: int = 12) -> dict:
    start = datetime(2026, 10, 1, 9, 0)
    listed = []
    for c in range(chats):
        client = f"user{2000 + c}"
        at = start + timedelta(days=c)
        messages, mid = [], 1

        def add(sender: str, name: str, text, kind: str = "message", messages=messages, **extra) -> None:
            nonlocal at, mid
            at += timedelta(minutes=2)
            messages.append(
                {"id": mid, "type": kind, "date": at.isoformat(), "from": name, "from_id": sender, "text": text, **extra}
            )
            mid += 1

        q1, a1 = QUESTIONS[c % len(QUESTIONS)]
        q2, a2 = QUESTIONS[(c + 5) % len(QUESTIONS)]
        add(client, f"Клиент {c}", q1)
        add(client, f"Клиент {c}", "Спасибо заранее")  # two in a row: one turn
        add(
            OWNER_ID,
            "Артём",
            [
                {"type": "bold", "text": a1.split(" ")[0]},
                " " + " ".join(a1.split(" ")[1:]) + " " + (SIGN_EN if a1.isascii() else SIGN_RU),
            ],
        )
        add(client, f"Клиент {c}", "", photo="photos/p.jpg")  # a photo without a caption
        messages.append(
            {
                "id": mid,
                "type": "service",
                "date": at.isoformat(),
                "actor": "Артём",
                "actor_id": OWNER_ID,
                "action": "phone_call",
                "text": "",
            }
        )
        mid += 1
        add(client, f"Клиент {c}", q2 + (" Мой номер +7 916 555-12-34, почта client@mail.ru" if c == 0 else ""))
        add(OWNER_ID, "Артём", _sign(a2))
        at += timedelta(days=2)  # a new conversation
        add(client, f"Клиент {c}", "Спасибо, всё понравилось!")
        add(OWNER_ID, "Артём", _sign("Рады помочь, приходите ещё!"))
        listed.append({"name": f"Клиент {c}", "type": "personal_chat", "id": 2000 + c, "messages": messages})
    listed.append(
        {
            "name": "Стоматологи",
            "type": "private_group",
            "id": 9,
            "messages": [
                {"id": 1, "type": "message", "date": start.isoformat(), "from": "X", "from_id": "user9", "text": "hi"}
            ],
        }
    )
    return {"personal_information": {"user_id": 1000, "first_name": "Артём"}, "chats": {"list": listed}}


def export_bytes(chats: int = 12) -> bytes:
    return json.dumps(export(chats), ensure_ascii=False).encode("utf-8")

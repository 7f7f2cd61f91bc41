"""FAQ recall and near-miss safety on a paraphrase set in English and Russian, with and without unwrapping.

Usage: ``.venv/bin/python bench/bench_faq_recall.py``

The personas are the seed ones (``cluster/personas.yaml``: anna, marina), as callers reach them;
the paraphrases are how callers ask those entries' questions in other words, many wrapped in
politeness ("Can you tell me…", "Подскажите, пожалуйста, …"); the near misses are questions the
FAQ must not answer. Prints recall (hits on the right entry), wrong hits and near-miss hits for
each arm, side by side in one process.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PARAPHRASES = {
    "anna": [
        ("Can you tell me your office opening hours?", 0),
        ("When are you open tomorrow?", 0),
        ("What time do you close today?", 0),
        ("Could you tell me your opening hours, please?", 0),
        ("Hello, what are your hours?", 0),
        ("I'd like to know your working hours", 0),
        ("What time does the clinic open?", 0),
        ("Are you open on Monday morning?", 0),
        ("Can you tell me your address?", 1),
        ("Where exactly is your clinic?", 1),
        ("How can I get to the clinic?", 1),
        ("What's the address of the clinic?", 1),
        ("Could you please tell me where you are located?", 1),
        ("Where is your office?", 1),
    ],
    "marina": [
        ("Подскажите, пожалуйста, часы работы", 0),
        ("Во сколько вы сегодня закрываетесь?", 0),
        ("Скажите, когда вы работаете?", 0),
        ("До скольки вы работаете?", 0),
        ("Вы завтра открыты?", 0),
        ("Какой у вас график работы?", 0),
        ("С какого часа вы принимаете?", 0),
        ("Подскажите адрес клиники", 1),
        ("Скажите, где вы находитесь?", 1),
        ("Как к вам проехать?", 1),
        ("Где находится ваш офис?", 1),
        ("Не подскажете, какой у вас адрес?", 1),
        ("Я хотела бы узнать, где вы находитесь", 1),
        ("Как до вас доехать на метро?", 1),
    ],
}
NEAR_MISSES = {
    "anna": [
        "Who is the owner of the clinic?",
        "Can you tell me who owns the clinic?",
        "What time is it now?",
        "Can you tell me what time it is?",
        "Where is my order?",
        "I want to cancel my appointment",
        "How much does a filling cost?",
        "Is the parking free?",
        "Can I speak to the doctor?",
        "Do you work with insurance?",
        "How long does a check-up take?",
        "hours of",
        "clinic",
        "address book",
    ],
    "marina": [
        "Кто владелец клиники?",
        "Подскажите, который час?",
        "Где мой заказ?",
        "Я хочу отменить запись",
        "Сколько стоит пломба?",
        "Есть ли у вас парковка?",
        "Можно поговорить с врачом?",
        "Вы работаете со страховкой?",
        "Сколько длится осмотр?",
        "Скажите, а вы кто?",
        "адресная книга",
    ],
}


async def measure(unwrap: bool) -> dict:
    from personas.embeddings import E5Embedder
    from personas.faq import FaqConfig, FaqMatcher
    from personas.schemas import Persona

    seeds = {p["name"]: Persona(**p) for p in yaml.safe_load((ROOT / "cluster" / "personas.yaml").read_text())["personas"]}
    matcher = FaqMatcher(E5Embedder(), FaqConfig(unwrap=unwrap))
    out = {"recall": 0, "paraphrases": 0, "wrong": 0, "near_miss_hits": 0, "near_misses": 0, "missed": []}
    for name, items in PARAPHRASES.items():
        for message, index in items:
            hit = await matcher.match(seeds[name], message)
            out["paraphrases"] += 1
            if hit is not None and hit.index == index:
                out["recall"] += 1
            elif hit is not None:
                out["wrong"] += 1
            else:
                out["missed"].append(message)
    for name, items in NEAR_MISSES.items():
        for message in items:
            out["near_misses"] += 1
            if await matcher.match(seeds[name], message) is not None:
                out["near_miss_hits"] += 1
    return out


def main() -> None:
    for unwrap in (False, True):
        r = asyncio.run(measure(unwrap))
        print(
            f"unwrap={unwrap!s:5}  recall {r['recall']}/{r['paraphrases']}  wrong entry {r['wrong']}  "
            f"near misses hit {r['near_miss_hits']}/{r['near_misses']}"
        )
        print("   missed:", "; ".join(r["missed"]))


if __name__ == "__main__":
    main()

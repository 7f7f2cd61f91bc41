"""Dataset builders and preparation: Telegram exports, chat JSONL, consenting callers' calls; errors that say where."""

from __future__ import annotations

import json

import pytest

from finetune.dataset import prepare
from finetune.dialogues import DatasetError, Dialogue, Turn
from finetune.masking import MaskCounts, mask
from finetune.sources.chat_jsonl import dialogues_from_jsonl
from finetune.sources.telegram import dialogues_from_export
from finetune.spec import hyperparams
from tests.finetune.telegram_fixture import SIGN_EN, SIGN_RU, export, export_bytes


def test_the_owners_messages_become_the_assistants_and_consecutive_ones_merge():
    dialogues = dialogues_from_export(export_bytes(3))
    first = dialogues[0].messages
    assert first[0] == {"role": "user", "content": "Здравствуйте! Вы работаете в субботу?\nСпасибо заранее"}
    assert first[1]["role"] == "assistant" and first[1]["content"].endswith(SIGN_RU)  # bold entity joined back
    assert all(m["role"] in ("user", "assistant") for d in dialogues for m in d.messages)
    assert all(d.messages[-1]["role"] == "assistant" for d in dialogues)
    # Two days of silence start a new dialogue; the group chat, the photo and the service message are not there.
    assert len(dialogues) == 6
    text = json.dumps([d.messages for d in dialogues], ensure_ascii=False)
    assert "photos/" not in text and "Стоматологи" not in text and '"hi"' not in text
    assert any(m["content"].endswith(SIGN_EN) for d in dialogues for m in d.messages)


def test_a_one_chat_export_needs_the_owner_named_and_long_chats_are_cut_to_the_context():
    chat = export(1)["chats"]["list"][0]
    raw = json.dumps(chat, ensure_ascii=False).encode()
    with pytest.raises(DatasetError, match="owner"):
        dialogues_from_export(raw)
    assert len(dialogues_from_export(raw, owner="user1000")) == 2
    assert len(dialogues_from_export(raw, owner="Артём")) == 2  # by display name too
    pieces = dialogues_from_export(raw, owner="user1000", max_chars=60, session_gap_h=1000)
    assert len(pieces) == 3 and all(p.messages[0]["role"] == "user" for p in pieces)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", "the file is empty"),
        (b"   \n", "the file is empty"),
        (b'{"chats": {"list": [', "line 1, column 21: not valid JSON"),
        ('{"messages": []}'.encode("utf-16"), "not UTF-8"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"about": "nothing"}', "neither a chat export"),
        (json.dumps({"chats": {"list": [{"type": "private_group", "messages": []}]}}).encode(), "owner"),
    ],
)
def test_bad_exports_get_a_clear_error(raw, expected):
    with pytest.raises(DatasetError) as err:
        dialogues_from_export(raw, owner="user1")
    assert expected in str(err.value) or (expected == "owner" and "no personal chats" in str(err.value))


def test_a_bad_message_is_named_with_its_field():
    doc = export(1)
    doc["chats"]["list"][0]["messages"][2]["text"] = 42
    with pytest.raises(DatasetError) as err:
        dialogues_from_export(json.dumps(doc).encode())
    assert "chat Клиент 0, message 3" in str(err.value) and "field 'text'" in str(err.value)
    del doc["chats"]["list"][0]["messages"][0]["from_id"]
    with pytest.raises(DatasetError, match="field 'from_id'"):
        dialogues_from_export(json.dumps(doc).encode())


def test_material_where_the_owner_never_answers_has_no_assistant_turns():
    doc = export(2)
    for chat in doc["chats"]["list"]:
        for m in chat["messages"]:
            if m.get("from_id") == "user1000":
                m["from_id"], m["from"] = "user5", "Кто-то"
    with pytest.raises(DatasetError, match="no dialogues"):
        prepare(dialogues_from_export(json.dumps(doc).encode()))
    with pytest.raises(DatasetError, match="no assistant turns"):
        prepare([Dialogue((Turn("user", "hi"),))])


def test_preparation_masks_deduplicates_splits_and_counts():
    prepared = prepare(dialogues_from_export(export_bytes()))
    s = prepared.stats
    assert (s.phones_masked, s.emails_masked) == (1, 1)
    text = json.dumps([d.messages for d in prepared.train + prepared.eval], ensure_ascii=False)
    assert "+7 916 555-12-34" not in text and "client@mail.ru" not in text and "<phone>" in text and "<email>" in text
    assert s.duplicates_dropped == 11  # the same "thank you" exchange in every chat is kept once
    assert s.dialogues == s.train + s.eval and s.eval == 2 and s.approx_tokens > 0
    again = prepare(dialogues_from_export(export_bytes()))
    assert [d.messages for d in again.eval] == [d.messages for d in prepared.eval]  # a deterministic split
    kept = prepare(dialogues_from_export(export_bytes()), mask_personal=False)
    assert kept.stats.phones_masked == 0 and "client@mail.ru" in json.dumps(
        [d.messages for d in kept.train + kept.eval], ensure_ascii=False
    )


@pytest.mark.parametrize(
    "text",
    ["+7 916 123-45-67", "8 (916) 123 45 67", "89161234567", "+44 20 7946 0958", "ivan.petrov+clinic@mail.example.ru"],
)
def test_phone_numbers_and_emails_are_masked_and_times_and_prices_are_not(text):
    counts = MaskCounts()
    assert text not in mask(f"Пишите: {text}, спасибо", counts) and counts.phones + counts.emails == 1
    for kept in ("с 10 до 16", "4500 рублей", "в 11:30", "2026-12-06"):
        assert mask(kept) == kept


def test_chat_jsonl_errors_name_the_line_and_field():
    good = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]})
    assert len(dialogues_from_jsonl((good + "\n\n" + good).encode())) == 2
    cases = [
        (good + "\n{not json", "line 2"),
        (json.dumps({"messages": "x"}), "line 1, field 'messages'"),
        (json.dumps({"messages": [{"role": "bot", "content": "x"}]}), "field 'messages[0].role'"),
        (json.dumps({"messages": [{"role": "user", "content": 5}]}), "field 'messages[0].content'"),
        ("", "empty"),
    ]
    for raw, expected in cases:
        with pytest.raises(DatasetError) as err:
            dialogues_from_jsonl(raw.encode())
        assert expected in str(err.value), (raw, str(err.value))
    with pytest.raises(DatasetError, match="UTF-8"):
        dialogues_from_jsonl(b"\xff\xfe")


def test_hyper_parameters_come_from_the_profile_and_the_spec():
    cpu = hyperparams("cpu")
    assert cpu.cpus_per_worker < 1 and cpu.num_workers == 2 and not cpu.use_gpu  # Ray Data keeps a CPU
    gpu = hyperparams("gpu", {"max_steps": 10})
    assert gpu.use_gpu and gpu.bf16 and gpu.max_steps == 10
    with pytest.raises(ValueError):
        hyperparams("cpu", {"learning_rate": -1})
    with pytest.raises(ValueError):
        hyperparams("cpu", {"modules_to_save": ["lm_head"]})  # vLLM cannot load it: refused
    with pytest.raises(ValueError, match="no fine-tuning profile"):
        hyperparams("tpu")

"""The loss mask covers the assistant's tokens only; calls are used only with the caller's consent."""

from __future__ import annotations

import base64

import pytest

from finetune.sources.calls import dialogues_from_calls
from finetune.tokenize import IGNORE, encode
from infra.crypto import Keyring
from infra.database import upgrade
from privacy.service import PrivacyService
from telephony.call_store import CallStore


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    from provisioning.tiny_models import build_tiny_llm

    return AutoTokenizer.from_pretrained(build_tiny_llm(tmp_path_factory.mktemp("tok"), adapters=0) / "base")


def test_only_the_assistants_tokens_and_its_end_marker_carry_loss(tokenizer):
    messages = [
        {"role": "system", "content": "You are Anna."},
        {"role": "user", "content": "Hello, are you open today?"},
        {"role": "assistant", "content": "Yes, until six."},
        {"role": "user", "content": "Thank you."},
        {"role": "assistant", "content": "Goodbye!"},
    ]
    ids, labels = encode(tokenizer, messages, 512)
    assert len(ids) == len(labels)
    learned = [i for i, y in zip(ids, labels, strict=True) if y != IGNORE]
    text = tokenizer.decode(learned)
    assert text == "Yes, until six.<|im_end|>\nGoodbye!<|im_end|>\n"
    masked = tokenizer.decode([i for i, y in zip(ids, labels, strict=True) if y == IGNORE])
    assert "Hello, are you open today?" in masked and "You are Anna." in masked and "<|im_start|>assistant" in masked
    short_ids, short_labels = encode(tokenizer, messages, 20)
    assert len(short_ids) == len(short_labels) == 20


async def test_only_consenting_callers_calls_become_dialogues(db_url, tmp_path):
    await upgrade(db_url)
    keyring = Keyring.parse(f"k:{base64.b64encode(b'c' * 32).decode()}")
    store = CallStore(db_url, "t1", keyring)
    privacy = PrivacyService(db_url, "t1")
    turns = [
        {"speaker": "assistant", "text": "Hello, Smile clinic."},
        {"speaker": "caller", "text": "Are you open?"},
        {"speaker": "assistant", "text": "Until six."},
    ]
    for number in ("+79161111111", "+79162222222", "+79163333333"):
        call_id = await store.call_started("inbound", number, "anna")
        await store.call_ended(call_id, "caller_goodbye", turns)
    await privacy.record_consent("+79161111111", "voice_processing", True, "v1", "call")
    await privacy.record_consent("+79162222222", "voice_processing", True, "v1", "call")
    await privacy.record_consent("+79162222222", "voice_processing", False, "v1", "sms")  # withdrew
    await PrivacyService(db_url, "other").record_consent("+79163333333", "voice_processing", True, "v1", "call")
    dialogues = await dialogues_from_calls(db_url, "t1", store)
    assert len(dialogues) == 1  # the first caller only: not the withdrawn one, not another tenant's consent
    assert dialogues[0].messages == [
        {"role": "user", "content": "Are you open?"},
        {"role": "assistant", "content": "Until six."},
    ]

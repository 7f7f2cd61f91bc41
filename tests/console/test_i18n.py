"""Every word the console shows exists in English and in Russian (console/static/js/i18n.js)."""

from __future__ import annotations

import re
from pathlib import Path

JS = Path(__file__).resolve().parents[2] / "console" / "static" / "js"
ENTRY = re.compile(r'(?:"([^"]+)"|\b([A-Za-z_]\w*))\s*:\s*"')


def dictionary(name: str) -> dict[str, str]:
    source = (JS / "i18n.js").read_text(encoding="utf-8")
    body = source.split(f"const {name} = {{", 1)[1].split("\n};", 1)[0]
    keys = [a or b for a, b in ENTRY.findall(body)]
    assert len(keys) == len(set(keys)), f"{name}: a key twice"
    values = re.findall(r':\s*"((?:[^"\\]|\\.)*)"', body)
    return dict(zip(keys, values, strict=True))


def used_keys() -> set[str]:
    """Keys the pages name in full: t("calls.title"), and the navigation's ["calls", "nav.calls"]."""
    found: set[str] = set()
    for path in JS.rglob("*.js"):
        text = path.read_text(encoding="utf-8")
        found |= {k for k in re.findall(r'\bt\("([A-Za-z0-9_.]+)"', text) if not k.endswith(".")}
        found |= set(re.findall(r'"(nav\.[a-z]+)"', text))
    return found


def test_both_languages_have_the_same_keys():
    en, ru = dictionary("en"), dictionary("ru")
    assert set(en) == set(ru), {"only en": sorted(set(en) - set(ru)), "only ru": sorted(set(ru) - set(en))}
    assert len(en) > 300


def test_every_key_a_page_uses_is_translated():
    en, ru = dictionary("en"), dictionary("ru")
    missing = sorted(k for k in used_keys() if k not in en or k not in ru)
    assert not missing, missing


def test_russian_is_russian_and_placeholders_match():
    en, ru = dictionary("en"), dictionary("ru")
    cyrillic = re.compile(r"[а-яё]", re.IGNORECASE)
    latin_ok = {"channel.telegram", "channel.sms", "erased.sms", "unit.s"}  # names and units that stay as they are
    for key, text in ru.items():
        if key not in latin_ok:
            assert cyrillic.search(text), (key, text)
        assert set(re.findall(r"\{(\w+)\}", text)) == set(re.findall(r"\{(\w+)\}", en[key])), key


def test_every_api_error_code_has_words():
    """The codes the APIs answer with (code="…" in the routes) each have a sentence in both languages,
    except those a console user cannot meet (payment webhooks, an unconfigured install, our own faults)."""
    root = JS.parents[2]
    codes: set[str] = set()
    for folder in ("admin", "billing", "accounts", "privacy", "infra"):
        for path in (root / folder).rglob("*.py"):
            codes |= set(re.findall(r'code="([a-z_]+)"', path.read_text(encoding="utf-8")))
    unreachable = {"invalid_signature", "notification_rejected", "admin_disabled", "internal_error", "metering_unavailable"}
    en = dictionary("en")
    missing = sorted(c for c in codes - unreachable if f"errors.{c}" not in en)
    assert not missing, missing

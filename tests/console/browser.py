"""A real headless Chromium for the console's tests: Debian's ``chromium`` driven by Playwright.

Playwright's own browser download cannot reach its host from these machines, so the tests point
Playwright at the system browser (``executable_path``). The flags keep Chromium off the network
it cannot reach (its background services would otherwise retry connections at every start), and
each browser gets a new, empty profile directory: no state leaks between tests.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 860}


@contextmanager
def chromium(playwright, *, lang: str = "en", viewport: dict | None = None, microphone: Path | None = None) -> Iterator:
    """A browser context with a fresh profile and the console's language set before any page loads.

    ``microphone``: a WAV file Chromium plays as the microphone (in a loop), with the permission
    already given: the console's test call hears it as a caller."""
    profile = Path(tempfile.mkdtemp(prefix="console-profile-"))
    context = playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        headless=True,
        args=FLAGS + (_fake_microphone(microphone) if microphone else []),
        viewport=viewport or DESK,
        locale="ru-RU" if lang == "ru" else "en-GB",
    )
    context.add_init_script(f"localStorage.getItem('secretary.lang') || localStorage.setItem('secretary.lang', '{lang}')")
    context.set_default_timeout(30_000)
    try:
        yield context
    finally:
        context.close()
        shutil.rmtree(profile, ignore_errors=True)


def _fake_microphone(wav: Path) -> list[str]:
    return [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
    ]

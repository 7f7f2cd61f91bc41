"""The admin app in-process over a real ingress on the simulator, for the admin tests."""

from __future__ import annotations

import httpx
import pytest

from admin import dependencies
from admin.app import app
from infra.settings import get_settings
from telephony.ingress_actor import ModemIngressActor
from tests.asgi_server import serving
from tests.local_handles import LocalHandle
from tests.telephony.ingress_rig import make_rig

TOKEN = "test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def admin_token(monkeypatch):
    monkeypatch.setenv("SECRETARY_ADMIN_TOKEN", TOKEN)
    get_settings.cache_clear()
    yield TOKEN
    get_settings.cache_clear()


@pytest.fixture
async def rig(tmp_path, transcriber, synthesizer, admin_token):
    rig = await make_rig(tmp_path, transcriber, synthesizer, replies=["We are open until six."])
    actor = ModemIngressActor({})
    actor.ingress = rig.ingress
    dependencies.bind(rig.store, dependencies.ModemClient(LocalHandle(actor)))
    yield rig
    dependencies.bind(None, None)
    await rig.ingress.stop()
    await rig.modem.stop()


@pytest.fixture
async def client(rig):
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as c:
        yield c

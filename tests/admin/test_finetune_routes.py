"""The fine-tuning routes' refusals, before anything reaches the cluster: each is a clear 4xx and spends nothing."""

from __future__ import annotations

import json
import uuid

import httpx
import jwt
import pytest

from accounts.service import AccountService
from admin.app import app
from admin.dependencies import bind, bind_finetune
from billing.gate import UsageGate
from billing.metering import UsageMeter
from billing.plans import load_plans
from billing.subscriptions import SubscriptionState, SubscriptionStore
from finetune.jobs import FinetuneJobs
from infra.auth import issue_session_token
from infra.database import upgrade
from infra.settings import get_settings
from personas.registry import PersonaRegistry
from personas.schemas import Persona
from telephony.call_store import CallStore
from tests.finetune.telegram_fixture import export_bytes

LINES = {"greeting": "Hi", "farewell": "Bye", "silence_prompt": "Hello?", "hangup_line": "Bye", "apology": "Sorry"}


class Unreachable:
    """A job client that must never be called: every case here is refused before submission."""

    def __getattr__(self, name):
        raise AssertionError(f"the cluster was asked ({name}) although the request should have been refused")


@pytest.fixture
async def rig(db_url, redis_server, monkeypatch, tmp_path):
    monkeypatch.setenv("SECRETARY_JWT_SECRET", "finetune-routes-jwt-secret-0123456789abcdef")
    monkeypatch.setenv("SECRETARY_ADAPTERS_DIR", str(tmp_path / "adapters"))
    get_settings.cache_clear()
    await upgrade(db_url)
    subs = SubscriptionStore(db_url)
    gate = UsageGate(UsageMeter(redis_server.url, db_url), load_plans(), subs, plan_ttl_s=0)
    accounts = AccountService(db_url)
    tenants = {}
    for plan in ("basic", "pro"):  # basic: no fine-tunes; pro: one a month
        tenant, _ = await accounts.create_tenant("Clinic", f"{uuid.uuid4().hex[:8]}@x.ru", "a long password 1")
        await subs.apply_event(
            "stripe", uuid.uuid4().hex, "t", SubscriptionState(tenant, plan, "active", "stripe", tenant, None)
        )
        await PersonaRegistry(db_url, tenant).create(
            Persona(name=f"anna-{plan}", display_name="Anna", language="en", system_prompt="x", lines=LINES, voice="joe")
        )
        tenants[plan] = {"Authorization": f"Bearer {issue_session_token('u' + tenant, tenant, 'owner')}"}
    bind(CallStore(db_url), None, gate=gate)
    bind_finetune(FinetuneJobs(database_url=db_url, gate=gate, client=Unreachable(), work_root=tmp_path / "ft"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client, tenants, gate
    bind_finetune(None)
    bind(None, None)
    await gate.close()
    get_settings.cache_clear()


def form(persona="anna-pro", params=None, raw=None, source="telegram"):
    data = {"persona": persona, "source": source, **({"params": json.dumps(params)} if params is not None else {})}
    return {"data": data, "files": {"file": ("result.json", export_bytes() if raw is None else raw, "application/json")}}


async def test_refusals_name_the_problem_and_spend_nothing(rig):
    client, tenants, gate = rig
    pro = tenants["pro"]
    cases = [
        (form(raw=b""), 400, "the file is empty"),
        (form(raw=b'{"chats": '), 400, "not valid JSON"),
        (form(raw="не json".encode("cp1251")), 400, "not UTF-8"),
        (form(persona="nobody"), 404, "no persona"),
        (form(params={"learning_rate": -1}), 400, "learning_rate"),
        (form(params=[1, 2]), 400, "params must be a JSON object"),
        (form(source="jsonl", raw=b'{"messages": [{"role": "bot"}]}'), 400, "messages[0].role"),
    ]
    for request, status, words in cases:
        r = await client.post("/finetune/jobs", headers=pro, **request)
        assert r.status_code == status and words in r.text, (words, r.text)
    for t in await gate.subscriptions.with_status(("active",)):
        assert await gate.meter.used(t.tenant_id, "finetunes") == 0  # nothing reserved by a refusal


async def test_a_plan_without_fine_tunes_gets_402_and_another_tenants_persona_404(rig):
    client, tenants, _gate = rig
    r = await client.post("/finetune/jobs", headers=tenants["basic"], **form("anna-basic"))
    assert r.status_code == 402 and r.json()["error"] == "usage_limit_exceeded" and r.json()["metric"] == "finetunes"
    stranger = {"Authorization": f"Bearer {issue_session_token('u-x', 'tenant-without-personas', 'owner')}"}
    assert (await client.post("/finetune/jobs", headers=stranger, **form())).status_code == 404
    assert (await client.get("/finetune/jobs/ft-0123456789ab", headers=tenants["pro"])).status_code in (404,)


async def test_the_preview_shows_statistics_before_anything_is_spent(rig):
    client, tenants, _gate = rig
    r = await client.post(
        "/finetune/preview",
        headers=tenants["basic"],
        data={"source": "telegram"},
        files={"file": ("result.json", export_bytes(), "application/json")},
    )
    assert r.status_code == 200 and r.json()["stats"]["dialogues"] == 13 and r.json()["stats"]["emails_masked"] == 1


async def test_a_cluster_that_does_not_answer_is_503_and_the_allowance_comes_back(rig, tmp_path):
    client, tenants, gate = rig
    bind_finetune(FinetuneJobs(dashboard_url="http://127.0.0.1:9", database_url=gate.subscriptions.url, gate=gate,
                               work_root=tmp_path / "ft"))  # fmt: skip
    r = await client.post("/finetune/jobs", headers=tenants["pro"], **form())
    assert r.status_code == 503 and r.json()["error"]["code"] == "jobs_unavailable", r.text
    for sub in await gate.subscriptions.with_status(("active",)):
        assert await gate.meter.used(sub.tenant_id, "finetunes") == 0  # reserved, then given back
    assert not list((tmp_path / "ft").glob("ft-*"))  # and nothing left on disk
    r = await client.get("/finetune/jobs/ft-0123456789ab", headers=tenants["pro"])
    assert r.status_code == 503


class ListedJobs:
    """What Ray's job client lists: fine-tuning jobs of two tenants and a job of another kind."""

    def __init__(self, tenants: dict[str, str]) -> None:
        from types import SimpleNamespace as J

        basic, pro = tenants["basic"], tenants["pro"]
        self.jobs = [
            J(submission_id="ft-00000001", metadata={"kind": "finetune", "tenant": pro, "persona": "anna-pro"},
              status="SUCCEEDED", start_time=1_000_000, end_time=2_000_000),
            J(submission_id="ft-00000002", metadata={"kind": "finetune", "tenant": pro, "persona": "anna-pro"},
              status="RUNNING", start_time=3_000_000, end_time=None),
            J(submission_id="ft-00000003", metadata={"kind": "finetune", "tenant": basic, "persona": "anna-basic"},
              status="FAILED", start_time=4_000_000, end_time=5_000_000),
            J(submission_id="raysubmit_x", metadata={"kind": "other", "tenant": pro}, status="RUNNING",
              start_time=6_000_000, end_time=None),
        ]  # fmt: skip

    def list_jobs(self):
        return self.jobs


async def test_the_job_list_is_the_callers_own_newest_first(rig, tmp_path):
    client, tenants, gate = rig
    ids = {plan: h["Authorization"].split()[1] for plan, h in tenants.items()}

    tid = {plan: jwt.decode(token, options={"verify_signature": False})["tid"] for plan, token in ids.items()}
    bind_finetune(FinetuneJobs(database_url=gate.subscriptions.url, gate=gate, client=ListedJobs(tid), work_root=tmp_path))
    pro = (await client.get("/finetune/jobs", headers=tenants["pro"])).json()["items"]
    assert [(j["job_id"], j["status"]) for j in pro] == [("ft-00000002", "RUNNING"), ("ft-00000001", "SUCCEEDED")]
    assert pro[1]["started_at"] == 1000.0 and pro[1]["ended_at"] == 2000.0 and pro[0]["ended_at"] is None
    basic = (await client.get("/finetune/jobs", headers=tenants["basic"])).json()["items"]
    assert [j["job_id"] for j in basic] == ["ft-00000003"]
    assert (await client.get("/finetune/jobs")).status_code == 401


async def test_serving_a_stored_version_needs_one_and_is_the_owners_alone(rig):
    client, tenants, _ = rig
    r = await client.post("/personas/anna-pro/adapter/versions/1/publish", headers=tenants["pro"])
    assert r.status_code == 404 and r.json()["error"]["param"] == "version"  # nothing stored yet
    r = await client.post("/personas/anna-pro/adapter/versions/1/publish", headers=tenants["basic"])
    assert r.status_code == 404 and r.json()["error"]["code"] == "persona_not_found"  # another tenant's
    tenant = jwt.decode(tenants["pro"]["Authorization"].split()[1], options={"verify_signature": False})["tid"]
    viewer = {"Authorization": f"Bearer {issue_session_token('v' + tenant, tenant, 'viewer')}"}
    assert (await client.post("/personas/anna-pro/adapter/versions/1/publish", headers=viewer)).status_code == 403
    assert (await client.get("/personas/anna-pro/adapter/versions", headers=viewer)).json() == {"items": []}

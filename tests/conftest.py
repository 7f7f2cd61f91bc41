"""Session-wide fixtures: one real CPU-profile cluster for every test that needs it.

The cluster is started once (``serve run cluster/profiles/cpu.yaml``, the same command a user
runs) and shared; tests that only need an engine build it in-process.
"""

from __future__ import annotations

import os

import httpx
import pytest

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
# The suite (and the cluster it starts) sends many requests with one key from one address; the
# rate limits themselves are tested on apps of their own (tests/infra/test_http_hardening.py).
os.environ.setdefault("SECRETARY_RATE_LIMIT_PER_KEY", "100000/minute")
os.environ.setdefault("SECRETARY_RATE_LIMIT_PER_IP", "100000/minute")
BASE_URL = os.environ.get("SECRETARY_TEST_BASE_URL", "http://127.0.0.1:8000")
# The test cluster's modem is a simulator the tests drive (tests/telephony/test_modem_cluster.py),
# and its admin API takes this token. A cluster reused via SECRETARY_TEST_BASE_URL must match both.
ADMIN_TOKEN = os.environ.get("SECRETARY_TEST_ADMIN_TOKEN", "test-cluster-admin-token")
CLUSTER_JWT_SECRET = "test-cluster-jwt-secret-0123456789abcdef"  # the test cluster's session tokens
# The cluster's cloud fallback LLM is a fake in this process (tests/fake_cloud_llm.py) on this port.
CLOUD_PORT = int(os.environ.get("SECRETARY_TEST_CLOUD_PORT", "18765"))
# Where the cluster's message desk delivers: an SMTP sink and the Telegram Bot API fake, in this process.
SMTP_PORT = int(os.environ.get("SECRETARY_TEST_SMTP_PORT", "18766"))
TELEGRAM_PORT = int(os.environ.get("SECRETARY_TEST_TELEGRAM_PORT", "18767"))
# The payment providers the cluster's billing app calls: the Stripe and YooKassa fakes, in this process.
STRIPE_PORT = int(os.environ.get("SECRETARY_TEST_STRIPE_PORT", "18768"))
YOOKASSA_PORT = int(os.environ.get("SECRETARY_TEST_YOOKASSA_PORT", "18769"))
STRIPE_WEBHOOK_SECRET = "whsec_console_test"


@pytest.fixture(scope="session")
def fake_cloud():
    """The cloud provider the test cluster falls back to, speaking OpenAI's wire format."""
    from tests.fake_cloud_llm import FakeCloudLLM

    server = FakeCloudLLM().start(port=CLOUD_PORT)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def owner_inbox():
    """The owner's e-mail and Telegram as the test cluster's message desk reaches them."""
    from tests.fake_telegram import FakeTelegram
    from tests.smtp_sink import SmtpSink

    smtp, telegram = SmtpSink(SMTP_PORT).start(), FakeTelegram().start(TELEGRAM_PORT)
    yield smtp, telegram
    smtp.stop()
    telegram.stop()


@pytest.fixture(scope="session")
def payment_fakes():
    """Stripe and YooKassa as the test cluster's billing app reaches them (the console's checkout)."""
    from tests.fake_stripe import FakeStripe
    from tests.fake_yookassa import FakeYooKassa

    stripe, yookassa = FakeStripe(), FakeYooKassa()
    stripe.start_server(STRIPE_PORT)
    yookassa.start_server(YOOKASSA_PORT)
    yield stripe, yookassa
    stripe.stop()
    yookassa.stop()


@pytest.fixture(scope="session")
def local_cluster(fake_cloud, redis_server, owner_inbox, payment_fakes):
    """The CPU-profile cluster this session started (None when SECRETARY_TEST_BASE_URL points at one).

    Three Ray nodes on this machine, as in production: the head with the models, and two office
    machines with modems (cli/local_nodes.py), which only the modems' ingress actors may use.
    Its metering uses this session's redis-server, so tests can look at (and fill) tenants' usage.
    """
    if "SECRETARY_TEST_BASE_URL" in os.environ:
        yield None
        return
    from cli.local_cluster import LocalCluster
    from cli.local_nodes import modem_node
    from infra.settings import PROJECT_ROOT
    from tests.cluster_modem import LINE_A, LINE_B, line_ports

    c = LocalCluster(
        base_url=BASE_URL,
        modem_dir=PROJECT_ROOT / "var" / "test-modem",
        # The office machine has the profile's modem and a registered line's; a second office has
        # another registered line (tests/telephony/test_lines_cluster.py).
        worker_nodes=[
            modem_node("office", lines={LINE_A: line_ports(LINE_A)}),
            modem_node("office-b", resources={}, lines={LINE_B: line_ports(LINE_B)}),
        ],
        env={
            "SECRETARY_ADMIN_TOKEN": ADMIN_TOKEN,
            "SECRETARY_JWT_SECRET": CLUSTER_JWT_SECRET,
            "SECRETARY_CLOUD_LLM_BASE_URL": fake_cloud.base_url,
            "SECRETARY_CLOUD_LLM_API_KEY": fake_cloud.api_key,
            "SECRETARY_CLOUD_LLM_MODEL": "fake-cloud-model",
            "SECRETARY_REDIS_URL": redis_server.url,
            "SECRETARY_SMTP_HOST": "127.0.0.1",
            "SECRETARY_SMTP_PORT": str(SMTP_PORT),
            "SECRETARY_TELEGRAM_API_URL": f"http://127.0.0.1:{TELEGRAM_PORT}",
            "SECRETARY_MESSAGES_INTERVAL_S": "0.5",
            "SECRETARY_DELIVERY_BACKOFF_S": "0.5",
            "SECRETARY_STRIPE_API_KEY": "sk_test_fake",
            "SECRETARY_STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
            "SECRETARY_STRIPE_API_BASE": f"http://127.0.0.1:{STRIPE_PORT}",
            "SECRETARY_YOOKASSA_SHOP_ID": "123456",
            "SECRETARY_YOOKASSA_SECRET_KEY": "test_secret_key",
            "SECRETARY_YOOKASSA_API_URL": f"http://127.0.0.1:{YOOKASSA_PORT}/v3",
        },
    )
    from cli.local_cluster import ClusterStartError

    try:
        c.start(timeout_s=420)
    except ClusterStartError as exc:  # the deployment's own cause, not the waiting loop's traceback
        pytest.fail(f"the test cluster did not start: {exc}", pytrace=False)
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="session")
def cluster(local_cluster) -> str:
    """The running CPU-profile cluster's base URL."""
    return BASE_URL


@pytest.fixture(scope="session")
def api_key(cluster) -> str:
    """A tenant's API key in the cluster's database (the local tenant: cli/local_access.py)."""
    from cli.local_access import local_api_key

    return local_api_key()


@pytest.fixture(scope="session")
def openai_client(cluster, api_key):
    from openai import OpenAI

    return OpenAI(base_url=f"{cluster}/v1", api_key=api_key, max_retries=0, timeout=120)


@pytest.fixture(scope="session")
def http(cluster, api_key):
    with httpx.Client(base_url=cluster, timeout=120, headers={"Authorization": f"Bearer {api_key}"}) as client:
        yield client


@pytest.fixture(scope="session")
def chat_model(openai_client) -> str:
    return next(m.id for m in openai_client.models.list().data if m.model_extra.get("kind") == "chat")


# In-process Whisper tiny.en and Piper, shared by the pipeline and telephony tests.
from tests.local_engines import (  # noqa: E402, F401
    multilingual_stt_engine,
    stt_engine,
    synthesizer,
    transcriber,
    tts_service,
)


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for this test session (see tests/db_servers.py)."""
    from tests.db_servers import PostgresServer

    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server():
    """A real redis-server for this test session (see tests/db_servers.py)."""
    from tests.db_servers import RedisServer

    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


_db_counter = iter(range(10**6))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, migrated-to-nothing database on each backend the product supports."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("postgres").create_database(f"t{next(_db_counter)}")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``memory_heavy`` run first, before the session's in-process engines (vLLM,
    Whisper, Piper, kept for the whole session) take their share of this 24 GiB machine: the
    fine-tuning showcase trains SmolLM2 beside the serving cluster and needs the headroom."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("memory_heavy") else 1)


# The cluster's simulated modem and admin client (tests/cluster_modem.py), shared by the modem and message tests.
from tests.cluster_modem import modem_admin, modem_sim  # noqa: E402, F401

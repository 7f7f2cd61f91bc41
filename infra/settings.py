"""Process-wide settings, read from the environment and `.env` (prefix ``SECRETARY_``).

Secrets never live in code: every value that differs between machines or is private is a setting,
and `.env.example` documents each one. Per-deployment model choices are *not* settings: they live
in the Serve config (``cluster/profiles/*.yaml``, ``serve_config.yaml``) so a profile is a file.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
try:
    __version__ = version("secretary")  # one version, pyproject.toml's
except PackageNotFoundError:  # pragma: no cover - running from a tree that was never installed
    __version__ = "0.0.0"


class Settings(BaseSettings):
    """Settings shared by every process of the cluster."""

    model_config = SettingsConfigDict(env_prefix="SECRETARY_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    production: bool = Field(
        default=False,
        description="Refuse to start with development defaults (generated master key, weak secrets, API docs on, "
        "plain http): see infra/production.py.",
    )
    api_docs: bool = Field(default=True, description="Serve /docs and /openapi.json on each app (off in production).")
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or networks of load balancers whose X-Forwarded-For is believed "
        "(rate limits, the YooKassa sender check). Empty: the TCP peer is the client.",
    )
    models_dir: Path = Field(
        default=PROJECT_ROOT / "var" / "models",
        description="Where `secretary models prepare` writes model directories; relative model "
        "paths in Serve configs resolve against it.",
    )
    log_level: str = Field(default="INFO", description="Root log level.")
    log_json: bool = Field(default=True, description="JSON log lines (False: console renderer).")
    log_pii: bool = Field(
        default=False,
        description="Write personal data (fields named pii_*) in clear. Off by default: masked.",
    )
    max_audio_bytes: int = Field(
        default=25 * 1024 * 1024, description="Largest upload accepted by /v1/audio/transcriptions."
    )
    max_audio_seconds: float = Field(default=600.0, description="Longest audio accepted for STT.")
    max_request_bytes: int = Field(
        default=1024 * 1024,
        description="Largest request body any app reads (JSON, forms); uploads get max_audio_bytes. Larger: 413.",
    )
    max_streams_per_tenant: int = Field(
        default=8,
        ge=1,
        description="Open WebSockets (and, apart, event streams) one tenant may hold on one replica; more: refused.",
    )
    stream_idle_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="A call WebSocket with no message from the client, or an event stream with no event, for this "
        "long is closed (an EventSource reconnects and resumes).",
    )
    max_dataset_bytes: int = Field(
        default=50 * 1024 * 1024, description="Largest fine-tuning upload (a Telegram export, chat JSONL)."
    )
    max_speech_chars: int = Field(default=4096, description="Longest input to /v1/audio/speech.")
    max_chat_messages: int = Field(default=256, description="Most messages in one chat request.")
    request_timeout_s: float = Field(default=120.0, description="Ingress timeout per model call.")
    cloud_llm_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible base URL of the cloud fallback LLM (…/v1). Empty: no cloud fallback.",
    )
    cloud_llm_api_key: str | None = Field(default=None, description="API key of the cloud fallback LLM.")
    cloud_llm_model: str = Field(default="gpt-4o-mini", description="Model name asked of the cloud fallback LLM.")

    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{PROJECT_ROOT / 'var' / 'secretary.db'}",
        description="SQLAlchemy async URL: SQLite by default, postgresql+asyncpg://… in production.",
    )
    admin_token: str | None = Field(
        default=None,
        description="Bearer token of the admin API until accounts arrive (billing issue). Empty: admin API refuses.",
    )
    jwt_secret: str | None = Field(
        default=None,
        description="HMAC secret of the admin API's session tokens (JWT, HS256). Empty: no sessions.",
    )
    jwt_ttl_s: int = Field(default=3600, description="How long an admin session token is valid, seconds.")
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="Redis for usage metering and rate limits.")
    metering: bool = Field(
        default=True,
        description="Enforce plan limits and record usage (needs Redis). Off: nothing is counted.",
    )
    upgrade_url: str = Field(
        default="/billing/plans",
        description="Where a tenant over its plan's limit is sent (the 402 body says it).",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The address owners reach the cluster at (no trailing slash): payment pages send them back "
        "to {public_url}/console/billing.",
    )
    billing_grace_days: int = Field(
        default=3, ge=0, description="Days a paid period still serves after its end, unpaid, before suspension."
    )
    billing_sweep_interval_s: float = Field(
        default=300.0, gt=0, description="How often the billing app expires trials, lapses periods and renews."
    )
    smtp_host: str | None = Field(default=None, description="SMTP server for usage e-mails. Empty: they are logged.")
    smtp_port: int = Field(default=25, description="SMTP port (587 with STARTTLS, 465 is not supported).")
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_username: str | None = Field(default=None, description="SMTP login. Empty: no authentication.")
    smtp_password: str | None = Field(default=None, description="SMTP password.")
    smtp_from: str = Field(default="secretary@localhost", description="Sender of usage e-mails.")
    telegram_api_url: str = Field(
        default="https://api.telegram.org",
        description="The Telegram Bot API server that message notifications go through (a local Bot API server "
        "or a test fake: same wire protocol).",
    )
    messages_interval_s: float = Field(
        default=2.0, gt=0, le=300, description="How often the message desk looks for ended calls and due deliveries."
    )
    delivery_max_attempts: int = Field(
        default=10, ge=1, le=100, description="Attempts per message and channel before the delivery is marked failed."
    )
    delivery_backoff_s: float = Field(
        default=15.0, gt=0, description="First retry delay of a failed delivery; doubles per attempt, at most an hour."
    )
    delivery_lease_s: float = Field(
        default=120.0,
        gt=0,
        description="How long a claimed delivery is held by the worker sending it; one whose worker died is "
        "sent again after this (the worker died before it could record a send).",
    )
    cors_origins: str = Field(
        default="",
        description="Comma-separated origins browsers may call the APIs from. Empty: none.",
    )
    rate_limit_per_key: str = Field(
        default="120/minute",
        description="Requests per API key or session (limits syntax, e.g. '120/minute').",
    )
    rate_limit_per_ip: str = Field(
        default="300/minute",
        description="Requests per client address, credentials or not ('' turns it off).",
    )
    login_attempts: str = Field(
        default="5/15minutes",
        description="Failed sign-ins one account may have in the window before sign-in answers 429 (limits syntax).",
    )
    stripe_api_key: str | None = Field(default=None, description="Stripe secret key. Empty: no Stripe payments.")
    stripe_webhook_secret: str | None = Field(default=None, description="Signing secret of the Stripe webhook.")
    stripe_api_base: str | None = Field(default=None, description="Stripe API base URL (tests: a local fake).")
    yookassa_shop_id: str | None = Field(default=None, description="YooKassa shop id. Empty: no YooKassa payments.")
    yookassa_secret_key: str | None = Field(default=None, description="YooKassa secret key.")
    yookassa_api_url: str = Field(default="https://api.yookassa.ru/v3", description="YooKassa API (tests: a fake).")
    yookassa_networks: str | None = Field(
        default=None,
        description="Comma-separated networks YooKassa notifies from. Empty: YooKassa's published list.",
    )
    pii_hash_key: str = Field(
        default="change-me",
        description="HMAC key that turns phone numbers into stable lookup hashes (deletion requests, stats).",
    )
    adapters_dir: Path = Field(
        default=PROJECT_ROOT / "var" / "adapters",
        description="Each tenant's LoRA adapter store ({adapters_dir}/{tenant}/…; _shared: the operator's). "
        "Adapters are published only from inside it.",
    )
    retention_days: int = Field(
        default=365,
        ge=1,
        le=3650,
        description="Days recordings, transcripts and SMS bodies are kept unless a tenant chose its own period.",
    )
    recordings_dir: Path = Field(
        default=PROJECT_ROOT / "var" / "recordings", description="Where call recordings are written (encrypted)."
    )
    recording_keys_dir: Path = Field(
        default=PROJECT_ROOT / "var" / "recording-keys",
        description="Where each recording's wrapped data key is kept, apart from the recordings (crypto-shredding).",
    )
    master_keys: str | None = Field(
        default=None,
        description="Master keys that wrap recording data keys: 'kid:base64-32-bytes,…', the first one active. "
        "Empty: a local key is generated in var/keys (development only).",
    )
    modem_at_port: str | None = Field(
        default=None, description="The modem's AT port (a stable /dev/serial/by-id path). Empty: discover by USB."
    )
    modem_audio_port: str | None = Field(default=None, description="The modem's audio port (if04). Empty: discover by USB.")
    modem_lines: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="This node's modems, as JSON: {IMEI: {at, audio}}, from `secretary node modems` "
        "(telephony/port_discovery.py). A registered line's actor finds its ports here by IMEI.",
    )
    modem_tenant: str | None = Field(
        default=None,
        description="The tenant (id) whose phone line this modem is: its calls are stored under it "
        "and count against its plan. Empty: the installation's own line, not metered.",
    )

    def resolve_model_path(self, path: str | Path) -> Path:
        """Absolute paths stay; relative ones are taken inside `models_dir`."""
        p = Path(path)
        return p if p.is_absolute() else (self.models_dir / p)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()

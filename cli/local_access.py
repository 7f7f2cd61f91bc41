"""An API key for this machine's own use of its local cluster (demo, benchmarks, tests).

A "local" tenant is created once in the cluster's database with a random password nobody needs,
and its API key is kept in ``var/local-api-key`` (mode 0600); the next call reuses it while it is
still valid. The operator grants it the unlimited plan (its use is still metered and shown). A
production installation makes keys through ``POST /billing/api-keys`` instead.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

from infra.settings import PROJECT_ROOT

KEY_FILE = PROJECT_ROOT / "var" / "local-api-key"
LOCAL_PLAN = "enterprise"


async def _ensure(db_url: str | None, key_file: Path) -> str:
    from accounts.service import AccountService, InvalidCredentials
    from billing.subscriptions import SubscriptionStore
    from infra.database import upgrade

    await upgrade(db_url)
    accounts = AccountService(db_url)
    key = await asyncio.to_thread(_read, key_file)
    if key:
        try:
            tenant_id = (await accounts.verify_api_key(key)).tenant_id
            await SubscriptionStore(db_url).grant(tenant_id, LOCAL_PLAN)
            return key
        except InvalidCredentials:
            pass
    email = f"local-{secrets.token_hex(4)}@secretary.invalid"
    tenant_id, _ = await accounts.create_tenant("local", email, secrets.token_urlsafe(24))
    await SubscriptionStore(db_url).grant(tenant_id, LOCAL_PLAN)
    _, key = await accounts.issue_api_key(tenant_id, "local use")
    await asyncio.to_thread(_write, key_file, key)
    return key


async def local_tenant_id(db_url: str | None = None, key_file: Path = KEY_FILE) -> str:
    """The local tenant's id (the modem of the local cluster is its line)."""
    from accounts.service import AccountService

    key = await _ensure(db_url, key_file)
    return (await AccountService(db_url).verify_api_key(key)).tenant_id


def _read(path: Path) -> str | None:
    return path.read_text().strip() if path.exists() else None


def _write(path: Path, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    os.replace(path.with_suffix(".tmp"), path)


def local_api_key(db_url: str | None = None, key_file: Path = KEY_FILE) -> str:
    """The local tenant's API key (made on first use); from synchronous code."""
    return asyncio.run(_ensure(db_url, key_file))


async def local_api_key_async(db_url: str | None = None, key_file: Path = KEY_FILE) -> str:
    """The same, from a running event loop."""
    return await _ensure(db_url, key_file)

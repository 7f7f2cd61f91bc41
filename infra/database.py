"""The database: one declarative base, one async engine per URL and process, Alembic migrations.

SQLite (``sqlite+aiosqlite``) is the embedded default; production points ``SECRETARY_DATABASE_URL``
at PostgreSQL (``postgresql+asyncpg``). Tables are declared next to the code that owns them
(``telephony/call_store.py``, ``billing/…``) on :class:`Base`; the schema itself only ever changes
through the migrations in ``migrations/`` (``secretary db upgrade``), never ``create_all``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import MetaData, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from infra.settings import PROJECT_ROOT, get_settings

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Every table's base; constraint names are fixed so migrations diff cleanly on both backends."""

    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(at: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite hands ``DateTime(timezone=True)`` back naive)."""
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=UTC)


def database_url(url: str | None = None) -> str:
    return url or get_settings().database_url


@lru_cache(maxsize=8)
def get_engine(url: str | None = None) -> AsyncEngine:
    """One pooled engine per URL in this process (a replica, an actor, a test session)."""
    url = database_url(url)
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - driver callback
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers never block the one writer
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[-1]
    if url.startswith("sqlite") and path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def session_factory(url: str | None = None) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(get_engine(url), expire_on_commit=False)


@asynccontextmanager
async def transaction(url: str | None = None) -> AsyncIterator[AsyncSession]:
    """A session whose work commits on success and rolls back on any error."""
    async with session_factory(url)() as session, session.begin():
        yield session


def _alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@contextmanager
def migration_lock(url: str) -> Iterator[None]:
    """One migrating process at a time for a SQLite file (several apps start at once and each
    migrates: without it one failed with ``table usage_ledger already exists``).

    A lock file beside the database, held with ``flock``: the kernel lets it go if the holder dies.
    PostgreSQL takes an advisory lock inside the migration's transaction (``migrations/env.py``).
    """
    path = url.split("///", 1)[-1] if url.startswith("sqlite") else ""
    if not path or path == ":memory:":
        yield
        return
    import fcntl

    with open(f"{path}.migrate.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def upgrade_sync(url: str | None = None, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (idempotent, and safe when several processes run it at once)."""
    from alembic import command

    url = database_url(url)
    _ensure_sqlite_dir(url)
    with migration_lock(url):
        command.upgrade(_alembic_config(url), revision)


def downgrade_sync(url: str | None = None, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(_alembic_config(database_url(url)), revision)


def upgrade_blocking(url: str | None = None) -> None:
    """Migrations from sync code that may be running under an event loop (Serve builders, CLIs)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        pool.submit(upgrade_sync, url).result()


async def upgrade(url: str | None = None) -> None:
    """Migrations from async code: Alembic's env runs its own loop, so it gets a thread."""
    await asyncio.to_thread(upgrade_sync, url)

"""Alembic environment: runs the migrations over the async engine of ``sqlalchemy.url``."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

import accounts.models  # noqa: F401  (each import registers its tables on Base.metadata)
import billing.metering
import billing.subscriptions  # noqa: F401
import finetune.versions  # noqa: F401
import messages.models  # noqa: F401
import personas.registry  # noqa: F401
import privacy.models  # noqa: F401
import screening.lists  # noqa: F401
import telephony.call_store
import telephony.lines  # noqa: F401
from infra.database import Base

config = context.config
target_metadata = Base.metadata
# pg_advisory_xact_lock's key: any fixed 64-bit number the application uses for nothing else.
MIGRATION_LOCK_KEY = 0x5EC2E7A2


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several apps migrate as they start; the second waits here, then finds the schema at
            # head (Alembic reads the version after this) and does nothing. Released at commit.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        context.run_migrations()


async def _online() -> None:
    engine = create_async_engine(config.get_main_option("sqlalchemy.url"))
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_online())

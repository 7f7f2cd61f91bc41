"""Migrations on a real SQLite file: up, idempotent, down; and the `secretary db upgrade` command."""

from __future__ import annotations

import asyncio
import sqlite3

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from cli.main import main
from infra.database import downgrade_sync, upgrade_sync
from infra.settings import get_settings


def tables(path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {r[0] for r in db.execute("select name from sqlite_master where type='table'")}


def table_names(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_upgrade_is_idempotent_and_reversible(db_url):
    upgrade_sync(db_url)
    upgrade_sync(db_url)
    assert {"calls", "sms_messages", "alembic_version"} <= table_names(db_url)
    downgrade_sync(db_url)
    assert table_names(db_url) == {"alembic_version"}


def test_sqlite_directories_are_created(tmp_path):
    path = tmp_path / "nested" / "deeper" / "db.sqlite"
    upgrade_sync(f"sqlite+aiosqlite:///{path}")
    assert "calls" in tables(path)


def test_db_upgrade_command(tmp_path, monkeypatch, capsys):
    path = tmp_path / "cli.sqlite"
    monkeypatch.setenv("SECRETARY_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    get_settings.cache_clear()
    try:
        assert main(["db", "upgrade"]) == 0
    finally:
        get_settings.cache_clear()
    assert "calls" in tables(path) and "database at head" in capsys.readouterr().out


UPGRADE = "import sys; from infra.database import upgrade_sync; upgrade_sync(sys.argv[1])"


def test_apps_that_migrate_a_new_database_at_once_both_succeed(db_url):
    """The admin and billing apps both migrate as they start; on a new database one of them used to
    fail with ``table usage_ledger already exists``. Four processes at once, as a slow start makes."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", UPGRADE, db_url], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(4)
    ]
    outputs = [(p.wait(120), p.stdout.read()) for p in procs]
    for code, out in outputs:
        assert code == 0, out[-2000:]
    assert {"usage_ledger", "calls", "alembic_version"} <= table_names(db_url)

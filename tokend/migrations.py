"""Numbered schema migrations of the token database.

Each migration runs in one transaction together with the row that records it in
`schema_migrations`, so a crash leaves the schema either before or after a step, never between.
Append new steps to `MIGRATIONS`; never edit one that has shipped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiosqlite

from .errors import StartupError


@dataclass(frozen=True)
class Migration:
    """One schema step: its version number, a description and its SQL statements."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS = (
    Migration(
        1,
        "create the tokens table",
        (
            """
            CREATE TABLE tokens (
                id INTEGER PRIMARY KEY,
                account TEXT NOT NULL,
                name TEXT NOT NULL,
                lookup_id TEXT NOT NULL UNIQUE,
                secret_hash TEXT NOT NULL,
                create_time INTEGER NOT NULL,
                expires_at INTEGER,
                UNIQUE (account, name)
            ) STRICT
            """,
        ),
    ),
)

_CREATE_LEDGER = """
    CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY,
        description TEXT NOT NULL,
        applied_at INTEGER NOT NULL
    ) STRICT
"""


async def apply_migrations(db: aiosqlite.Connection) -> int:
    """Bring the schema up to the latest version and return that version.

    `db` must be in autocommit mode (`isolation_level=None`). Raises `StartupError` when the
    database was written by a newer tokend whose schema this version does not know.
    """
    await db.execute(_CREATE_LEDGER)
    async with db.execute("SELECT coalesce(max(version), 0) FROM schema_migrations") as cursor:
        row = await cursor.fetchone()
    current = int(row[0]) if row else 0

    latest = MIGRATIONS[-1].version
    if current > latest:
        raise StartupError(
            f"The database has schema version {current}, but this tokend knows only up to "
            f"{latest}. Install the newer tokend that wrote it, or restore a backup."
        )

    for migration in MIGRATIONS:
        if migration.version > current:
            await _apply(db, migration)
    return latest


async def _apply(db: aiosqlite.Connection, migration: Migration) -> None:
    await db.execute("BEGIN IMMEDIATE")
    try:
        for statement in migration.statements:
            await db.execute(statement)
        await db.execute(
            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.description, int(time.time())),
        )
        await db.execute("COMMIT")
    except BaseException:
        await db.execute("ROLLBACK")
        raise

"""The token store: SQLite through aiosqlite.

The store keeps two connections to one database in WAL mode. The writer runs every write in a
`BEGIN IMMEDIATE` transaction under one asyncio lock, because aiosqlite shares a connection
between coroutines and interleaved transactions would commit or roll back each other's work.
The reader serves lists and lookups; under WAL it sees only committed rows, never the writer's
open transaction. `synchronous=FULL` makes each commit durable before the method returns, so a
reply sent after it describes a write that survives a crash or power loss.

Each query is one `execute_fetchall` call. Every aiosqlite call is a round trip to the
connection's thread, so execute, fetch and close as separate calls would cost three.

The store raises and never logs; the service layer logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aiosqlite

from .errors import DuplicateNameError, StorageUnavailableError, TokenLimitError, TokenNotFoundError
from .files import prepare_database_path
from .migrations import apply_migrations

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class TokenRecord:
    """A token's public fields, as `Tokens::list` reports them."""

    name: str
    create_time: int
    expires_at: int | None


@dataclass(frozen=True)
class StoredToken:
    """A token row with what verification needs: its account, lookup id and secret's hash."""

    account: str
    record: TokenRecord
    secret_hash: str
    lookup_id: str


class LookupIdTakenError(Exception):
    """The random lookup id of a new token collides with an existing one."""


class Store:
    """Reads and writes tokens; every write is committed before its method returns."""

    def __init__(self, writer: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> Store:
        """Open (creating if needed) the database at `path` and apply pending migrations.

        Raises `StartupError` when the path or its directory is unsafe or the schema is newer
        than this version of tokend.
        """
        prepare_database_path(path)
        writer = await _connect(path)
        try:
            await writer.execute("PRAGMA journal_mode=WAL")
            await apply_migrations(writer)
            reader = await _connect(path)
        except BaseException:
            await writer.close()
            raise
        return cls(writer, reader)

    async def close(self) -> None:
        """Wait for a running write to finish, then close both connections."""
        async with self._write_lock:
            await self._reader.close()
            await self._writer.close()

    async def has_name(self, account: str, name: str) -> bool:
        """Return whether `account` has a token named `name` (case-sensitive)."""
        return await _has_name(self._reader, account, name)

    async def list_tokens(self, account: str) -> list[TokenRecord]:
        """Return all of the account's tokens in no particular order."""
        query = "SELECT name, create_time, expires_at FROM tokens WHERE account = ?"
        rows = await self._reader.execute_fetchall(query, (account,))
        return [TokenRecord(row[0], row[1], row[2]) for row in rows]

    async def find_by_lookup_id(self, lookup_id: str) -> StoredToken | None:
        """Return the token whose lookup id is `lookup_id`, or None."""
        query = (
            "SELECT account, name, create_time, expires_at, secret_hash FROM tokens "
            "WHERE lookup_id = ?"
        )
        # lookup_id is UNIQUE, so there is at most one row.
        for row in await self._reader.execute_fetchall(query, (lookup_id,)):
            return StoredToken(row[0], TokenRecord(row[1], row[2], row[3]), row[4], lookup_id)
        return None

    async def insert(
        self,
        account: str,
        record: TokenRecord,
        lookup_id: str,
        secret_hash: str,
        max_tokens: int,
    ) -> None:
        """Add a token. Raises `DuplicateNameError`, `TokenLimitError` or `LookupIdTakenError`."""

        async def work(db: aiosqlite.Connection) -> None:
            if await _has_name(db, account, record.name):
                raise DuplicateNameError(account, record.name)
            rows = await db.execute_fetchall(
                "SELECT count(*) FROM tokens WHERE account = ?", (account,)
            )
            if next(iter(rows))[0] >= max_tokens:
                raise TokenLimitError(account, max_tokens)
            if await _has_lookup_id(db, lookup_id):
                raise LookupIdTakenError
            await db.execute(
                "INSERT INTO tokens (account, name, lookup_id, secret_hash, create_time, "
                "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    account,
                    record.name,
                    lookup_id,
                    secret_hash,
                    record.create_time,
                    record.expires_at,
                ),
            )

        await self._write(work)

    async def rename(self, account: str, name: str, new_name: str) -> None:
        """Rename a token. Raises `TokenNotFoundError` or `DuplicateNameError`."""

        async def work(db: aiosqlite.Connection) -> None:
            if not await _has_name(db, account, name):
                raise TokenNotFoundError(account, name)
            if name == new_name:
                return
            if await _has_name(db, account, new_name):
                raise DuplicateNameError(account, new_name)
            await db.execute(
                "UPDATE tokens SET name = ? WHERE account = ? AND name = ?",
                (new_name, account, name),
            )

        await self._write(work)

    async def revoke(self, account: str, names: Iterable[str]) -> list[str]:
        """Delete the named tokens in one transaction and return the names that existed."""
        wanted = list(names)

        # Two statements whatever the number of names: one aiosqlite round trip per name made
        # a revoke of thousands of names hold the write lock for seconds.
        names_json = json.dumps(wanted)
        selection = "account = ? AND name IN (SELECT value FROM json_each(?))"

        async def work(db: aiosqlite.Connection) -> list[str]:
            rows = await db.execute_fetchall(
                f"SELECT name FROM tokens WHERE {selection}",  # noqa: S608 - a constant
                (account, names_json),
            )
            existing = {row[0] for row in rows}
            await db.execute(f"DELETE FROM tokens WHERE {selection}", (account, names_json))  # noqa: S608
            return [name for name in wanted if name in existing]

        return await self._write(work)

    async def _write(self, work: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        # A caller that times out while it waits for the lock gives up its write: nothing has
        # happened yet. Once the lock is held, the transaction runs shielded to its end,
        # because cancelling it halfway would leave the writer inside an open transaction.
        await self._write_lock.acquire()
        task = asyncio.ensure_future(self._transaction(work))
        task.add_done_callback(_retrieve_exception)
        return await asyncio.shield(task)

    async def _transaction(self, work: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """Run `work` in one transaction and release the write lock that `_write` took."""
        try:
            await self._writer.execute("BEGIN IMMEDIATE")
            result = await work(self._writer)
            await self._writer.execute("COMMIT")
        except BaseException as error:
            await self._rollback()
            if isinstance(error, sqlite3.OperationalError):
                raise StorageUnavailableError(_describe(error)) from None
            raise
        finally:
            self._write_lock.release()
        return result

    async def _rollback(self) -> None:
        if self._writer.in_transaction:
            # SQLite may already have rolled back after an I/O or disk-full error.
            with contextlib.suppress(sqlite3.OperationalError):
                await self._writer.execute("ROLLBACK")


async def _connect(path: Path) -> aiosqlite.Connection:
    db = await aiosqlite.connect(path, isolation_level=None)
    for pragma in (
        f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
        "PRAGMA synchronous=FULL",
        "PRAGMA foreign_keys=ON",
    ):
        await db.execute(pragma)
    return db


async def _has_name(db: aiosqlite.Connection, account: str, name: str) -> bool:
    query = "SELECT 1 FROM tokens WHERE account = ? AND name = ?"
    rows = await db.execute_fetchall(query, (account, name))
    return next(iter(rows), None) is not None


async def _has_lookup_id(db: aiosqlite.Connection, lookup_id: str) -> bool:
    query = "SELECT 1 FROM tokens WHERE lookup_id = ?"
    rows = await db.execute_fetchall(query, (lookup_id,))
    return next(iter(rows), None) is not None


def _describe(error: sqlite3.OperationalError) -> str:
    """Name an SQLite failure in plain words, without SQL or file paths."""
    code = getattr(error, "sqlite_errorcode", None)
    reasons = {
        sqlite3.SQLITE_FULL: "the disk is full",
        sqlite3.SQLITE_READONLY: "the database is read-only",
        sqlite3.SQLITE_IOERR: "an I/O error occurred",
        sqlite3.SQLITE_BUSY: "the database is locked by another process",
        sqlite3.SQLITE_CANTOPEN: "the database file cannot be opened",
    }
    if code is None:
        return "a database error occurred"
    return reasons.get(code & 0xFF, f"SQLite error code {code}")


def _retrieve_exception(task: asyncio.Task[object]) -> None:
    # Marks the exception of an abandoned write as retrieved. The caller that awaited the
    # write has already received the exception, or timed out and replied with a timeout error.
    if not task.cancelled():
        task.exception()

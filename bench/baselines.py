"""The limits of the stack under tokend: raw argon2 verifications and raw SQLite inserts.

Both run in the benchmark process itself, with the daemon's own parameters: the argon2id
profile from `tokend.hashing.PROFILES` and the table from `tokend.migrations.MIGRATIONS`.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import argon2

from tokend.hashing import TOKEN_ALPHABET, HashProfile
from tokend.migrations import MIGRATIONS
from tokend.store import BUSY_TIMEOUT_MS

SECRET_LENGTH = 24


def password_hasher(profile: HashProfile) -> argon2.PasswordHasher:
    """Return an argon2id hasher with the profile's parameters, as tokend builds it."""
    return argon2.PasswordHasher(
        time_cost=profile.time_cost,
        memory_cost=profile.memory_cost_kib,
        parallelism=profile.parallelism,
        type=argon2.Type.ID,
    )


def random_text(length: int) -> str:
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(length))


def argon2_verifications_per_s(profile: HashProfile, threads: int, duration_s: float) -> float:
    """Verify one secret against its hash in `threads` threads for `duration_s`; return the rate.

    argon2-cffi releases the GIL during the hash, so threads run in parallel, as the
    daemon's executor threads do.
    """
    hasher = password_hasher(profile)
    secret = random_text(SECRET_LENGTH)
    secret_hash = hasher.hash(secret)
    barrier = threading.Barrier(threads)

    def work() -> tuple[int, float]:
        barrier.wait()
        started = time.perf_counter()
        deadline = started + duration_s
        count = 0
        while time.perf_counter() < deadline:
            hasher.verify(secret_hash, secret)
            count += 1
        return count, time.perf_counter() - started

    with ThreadPoolExecutor(max_workers=threads) as executor:
        results = list(executor.map(lambda _: work(), range(threads)))
    return sum(count / elapsed for count, elapsed in results)


def create_schema(db: sqlite3.Connection) -> None:
    """Create tokend's tables by running its migrations' statements."""
    for migration in MIGRATIONS:
        for statement in migration.statements:
            db.execute(statement)


def connect(path: Path) -> sqlite3.Connection:
    """Open `path` with the pragmas tokend's store sets: WAL, synchronous=FULL, busy timeout."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return db


def sqlite_inserts_per_s(path: Path, duration_s: float) -> float:
    """Insert rows for `duration_s`, one `BEGIN IMMEDIATE ... COMMIT` each; return the rate."""
    path.unlink(missing_ok=True)
    db = connect(path)
    try:
        create_schema(db)
        secret_hash = "$argon2id$v=19$m=19456,t=2,p=1$" + random_text(22) + "$" + random_text(43)
        count = 0
        started = time.perf_counter()
        deadline = started + duration_s
        while time.perf_counter() < deadline:
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "INSERT INTO tokens (account, name, lookup_id, secret_hash, create_time, "
                "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                ("bench", f"raw{count}", f"R{count:07d}", secret_hash, int(time.time()), None),
            )
            db.execute("COMMIT")
            count += 1
        return count / (time.perf_counter() - started)
    finally:
        db.close()

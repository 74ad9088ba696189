"""Large token stores for the scale test, with a passwd database of the same number of accounts.

At about 65 ms per `owasp` hash on a 2-core test machine, hashing 100,000 secrets would take
about an hour, so every row reuses one real `owasp` hash of one secret. Each row has its own
random lookup id, so the lookup index has its real size and shape, and a verification still
runs one full argon2id check when the cache misses. Every account owns `TOKENS_PER_ACCOUNT`
tokens.

On a hosting server each of those accounts is a line in /etc/passwd, and the daemon looks
accounts up there on every call. So the daemon of the scale test runs in its own mount
namespace (`unshare --mount`), where a generated passwd file with the store's accounts is
bind-mounted over /etc/passwd. The host's /etc/passwd is never changed. The measured account
is the one halfway down the file.
"""

from __future__ import annotations

import time
from pathlib import Path

from baselines import SECRET_LENGTH, connect, password_hasher, random_text

from tokend.hashing import DEFAULT_PROFILE, LOOKUP_ID_LENGTH, PROFILES

TOKENS_PER_ACCOUNT = 10
# Far above the uids that Debian and useradd hand out, so no made-up account shares a uid.
FIRST_UID = 200_000


def account_name(index: int) -> str:
    return f"bench{index:05d}"


def measured_account(accounts: int) -> str:
    """Return the account whose calls the scale test times: the one halfway down passwd."""
    return account_name(accounts // 2)


def owasp_secret() -> tuple[str, str]:
    """Return a random secret and its argon2id hash with the default `owasp` profile."""
    secret = random_text(SECRET_LENGTH)
    return secret, password_hasher(PROFILES[DEFAULT_PROFILE]).hash(secret)


def write_passwd(path: Path, accounts: int) -> None:
    """Write the host's passwd entries followed by one line per made-up account."""
    lines = Path("/etc/passwd").read_text().splitlines()
    for index in range(accounts):
        name = account_name(index)
        uid = FIRST_UID + index
        lines.append(f"{name}:x:{uid}:{uid}::/home/{name}:/usr/sbin/nologin")
    path.write_text("\n".join(lines) + "\n")


def fill(database: Path, accounts: int, secret_hash: str) -> str:
    """Insert `TOKENS_PER_ACCOUNT` rows for each account into an empty migrated database.

    Returns the lookup id of one of the measured account's tokens. The database must already
    hold tokend's schema, which the daemon creates on its first start.
    """
    lookup_ids = _unique_lookup_ids(accounts * TOKENS_PER_ACCOUNT)
    now = int(time.time())
    rows = (
        (
            account_name(index),
            f"token{slot:02d}",
            lookup_ids[index * TOKENS_PER_ACCOUNT + slot],
            secret_hash,
            now,
        )
        for index in range(accounts)
        for slot in range(TOKENS_PER_ACCOUNT)
    )
    db = connect(database)
    try:
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT INTO tokens (account, name, lookup_id, secret_hash, create_time, expires_at) "
            "VALUES (?, ?, ?, ?, ?, NULL)",
            rows,
        )
        db.execute("COMMIT")
        # Fold the WAL into the database file, so that its size is the store's real size.
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return lookup_ids[accounts // 2 * TOKENS_PER_ACCOUNT]


def _unique_lookup_ids(count: int) -> list[str]:
    seen: set[str] = set()
    ordered: list[str] = []
    while len(ordered) < count:
        lookup_id = random_text(LOOKUP_ID_LENGTH)
        if lookup_id not in seen:
            seen.add(lookup_id)
            ordered.append(lookup_id)
    return ordered

"""Token generation and argon2id hashing of token secrets.

A token is 32 characters from 0-9A-Z, as cPanel's are. The first 8 characters are a public
lookup id, stored in clear and unique across the store, so that verification finds the row with
one indexed read. The other 24 characters (24 * log2(36), about 124 bits) are the secret; only
its argon2id hash is stored.

Hashing and verification run in a thread pool behind a semaphore, so that the event loop keeps
serving and a burst of calls never holds more than `workers` argon2 buffers in memory at once.
"""

from __future__ import annotations

import asyncio
import secrets
import string
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOKEN_ALPHABET = string.digits + string.ascii_uppercase
TOKEN_LENGTH = 32
LOOKUP_ID_LENGTH = 8

T = TypeVar("T")


@dataclass(frozen=True)
class HashProfile:
    """A named set of argon2id parameters."""

    name: str
    memory_cost_kib: int
    time_cost: int
    parallelism: int
    test_only: bool = False


PROFILES = {
    profile.name: profile
    for profile in (
        # OWASP's minimum recommendation for argon2id (Password Storage Cheat Sheet, 2023):
        # m=19 MiB, t=2, p=1.
        HashProfile("owasp", memory_cost_kib=19 * 1024, time_cost=2, parallelism=1),
        # RFC 9106's second recommended option, section 4: m=64 MiB, t=3, p=4.
        HashProfile("rfc9106-low-memory", memory_cost_kib=64 * 1024, time_cost=3, parallelism=4),
        # Cheap enough for a test suite that creates hundreds of tokens; never for production.
        HashProfile(
            "test-only-fast", memory_cost_kib=64, time_cost=1, parallelism=1, test_only=True
        ),
    )
}
DEFAULT_PROFILE = "owasp"


@dataclass(frozen=True)
class NewToken:
    """A freshly generated token: the value shown once, its lookup id and its secret's hash."""

    value: str
    lookup_id: str
    secret_hash: str


def split_token(token: str) -> tuple[str, str]:
    """Split a token value into its lookup id and its secret."""
    return token[:LOOKUP_ID_LENGTH], token[LOOKUP_ID_LENGTH:]


def is_well_formed(token: str) -> bool:
    """Return whether `token` has the length and alphabet of a tokend token."""
    return len(token) == TOKEN_LENGTH and all(char in TOKEN_ALPHABET for char in token)


class Hasher:
    """Generates tokens and hashes or verifies their secrets off the event loop."""

    def __init__(self, profile: HashProfile, workers: int) -> None:
        self.profile = profile
        self._hasher = argon2.PasswordHasher(
            time_cost=profile.time_cost,
            memory_cost=profile.memory_cost_kib,
            parallelism=profile.parallelism,
            type=argon2.Type.ID,
        )
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._slots = asyncio.Semaphore(workers)

    async def new_token(self) -> NewToken:
        """Generate a random token and hash its secret."""
        value = "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))
        lookup_id, secret = split_token(value)
        secret_hash = await self._run(self._hasher.hash, secret)
        return NewToken(value=value, lookup_id=lookup_id, secret_hash=secret_hash)

    async def verify(self, secret_hash: str, secret: str) -> bool:
        """Return whether `secret` matches `secret_hash`."""
        return await self._run(self._verify_sync, secret_hash, secret)

    def _verify_sync(self, secret_hash: str, secret: str) -> bool:
        try:
            return self._hasher.verify(secret_hash, secret)
        except VerifyMismatchError:
            return False
        except (VerificationError, InvalidHashError):
            # A hash that argon2 cannot read never matches; the caller sees a plain failure.
            return False

    async def _run(self, function: Callable[..., T], *args: str) -> T:
        async with self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, function, *args)

    def close(self) -> None:
        """Wait for running hash jobs and stop the worker threads."""
        self._executor.shutdown(wait=True)

"""Verification of presented tokens, with a cache of recent successes and failure limits.

A verification costs one indexed read by the token's 8-character lookup id and one argon2id
check of the secret part, which runs in the hasher's thread pool. After a success, a keyed
BLAKE2b digest of account and token is cached until it has gone unused for
`verify_cache_ttl_s`, so a service that checks the same token on every request pays argon2
once. A cache hit still reads the token's
row, so revoking or expiring a token takes effect at once: the cache only skips argon2, never
the row checks.

Failed checks that reached argon2 count against the token's lookup id. Past the limit, further
attempts on that lookup id are refused at once without argon2, except for a presented token
that is already in the cache. Callers other than root are also limited per uid, counting every
failure. Failures are logged as one line per account and window, then as a counted summary.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass

from .accounts import Accounts
from .config import Config
from .errors import InvalidTokenError, RateLimitedError, TokenExpiredError
from .hashing import Hasher, is_well_formed, split_token
from .ratelimit import FailureLimiter
from .store import Store, StoredToken

logger = logging.getLogger(__name__)

UNKNOWN_ACCOUNT = "-"


@dataclass(frozen=True)
class _CacheEntry:
    secret_hash: str
    valid_until: float


class Verifier:
    """Checks presented tokens against the store; the only code that reads secret hashes."""

    def __init__(self, config: Config, store: Store, hasher: Hasher, accounts: Accounts) -> None:
        self._store = store
        self._accounts = accounts
        self._hasher = hasher
        self._cache_ttl_s = config.verify_cache_ttl_s
        self._cache_max_entries = config.verify_cache_max_entries
        self._cache: OrderedDict[bytes, _CacheEntry] = OrderedDict()
        self._cache_key = secrets.token_bytes(32)
        window = config.verify_failure_window_s
        self._by_lookup_id = FailureLimiter(config.verify_failure_limit, window)
        self._by_uid = FailureLimiter(config.verify_failure_limit_per_uid, window)
        self.window_s = window
        self._failures: Counter[str] = Counter()
        self._running: dict[bytes, asyncio.Future[bool]] = {}

    async def verify(self, caller_uid: int, account: str, token: str) -> StoredToken:
        """Return the stored token if `token` is a valid, unexpired token of `account`.

        Raises `InvalidTokenError`, `TokenExpiredError` or `RateLimitedError`.
        """
        if not is_well_formed(token) or not self._accounts.exists(account):
            self._note_failure(account, None, "malformed_or_unknown")
            raise InvalidTokenError
        lookup_id, secret = split_token(token)
        digest = self._digest(account, token)

        cached = self._cache_hit(digest, time.monotonic())
        stored = await self._store.find_by_lookup_id(lookup_id)
        if stored is None or stored.account != account:
            self._note_failure(account, None, "unknown_token")
            raise InvalidTokenError

        if cached is None or cached.secret_hash != stored.secret_hash:
            if not await self._check_secret(caller_uid, digest, stored, secret):
                self._note_failure(account, stored.record.name, "wrong_secret")
                raise InvalidTokenError
            # Read the row again, because a revoke or rename acknowledged while argon2 ran or
            # waited for a worker must decide this result too.
            current = await self._store.find_by_lookup_id(lookup_id)
            if current is None or current.secret_hash != stored.secret_hash:
                self._note_failure(account, stored.record.name, "revoked_during_check")
                raise InvalidTokenError
            stored = current
            self._remember(digest, stored.secret_hash, time.monotonic())

        expires_at = stored.record.expires_at
        if expires_at is not None and expires_at < int(time.time()):
            self._note_failure(account, stored.record.name, "expired")
            raise TokenExpiredError(account, stored.record.name, expires_at)
        return stored

    async def _check_secret(
        self, caller_uid: int, digest: bytes, stored: StoredToken, secret: str
    ) -> bool:
        """Run argon2 on `secret`, within the failure limits; return whether it matched.

        Concurrent checks of one presented token share one argon2 run. Each run counts
        against the limits while it is in progress, so a burst of parallel guesses cannot
        slip past a limit before the first of them has failed.
        """
        running = self._running.get(digest)
        if running is None:
            running = self._start_check(caller_uid, digest, stored, secret)
        return await asyncio.shield(running)

    def _start_check(
        self, caller_uid: int, digest: bytes, stored: StoredToken, secret: str
    ) -> asyncio.Future[bool]:
        now = time.monotonic()
        lookup_id = stored.lookup_id
        retry_after = self._by_lookup_id.retry_after(lookup_id, now)
        if retry_after is not None:
            self._note_failure(stored.account, stored.record.name, "rate_limited")
            raise RateLimitedError("this token", retry_after)
        limit_uid = caller_uid != 0
        if limit_uid:
            retry_after = self._by_uid.retry_after(caller_uid, now)
            if retry_after is not None:
                self._note_failure(stored.account, stored.record.name, "uid_rate_limited")
                raise RateLimitedError(f"uid {caller_uid}", retry_after)

        # Checks in progress count against the token, because parallel guesses target one
        # token. They do not count against the uid, whose parallel checks of many different
        # valid tokens are a gateway's normal burst.
        self._by_lookup_id.begin(lookup_id)
        running = asyncio.ensure_future(self._hasher.verify(stored.secret_hash, secret))
        self._running[digest] = running

        def settle(done: asyncio.Future[bool]) -> None:
            del self._running[digest]
            failed = not done.cancelled() and done.exception() is None and not done.result()
            finished_at = time.monotonic()
            self._by_lookup_id.finish(lookup_id, finished_at, failed)
            if limit_uid and failed:
                self._by_uid.record(caller_uid, finished_at)

        running.add_done_callback(settle)
        return running

    def _digest(self, account: str, token: str) -> bytes:
        message = f"{account}\0{token}".encode()
        return hashlib.blake2b(message, key=self._cache_key, digest_size=32).digest()

    def _cache_hit(self, digest: bytes, now: float) -> _CacheEntry | None:
        entry = self._cache.get(digest)
        if entry is None:
            return None
        if entry.valid_until <= now:
            del self._cache[digest]
            return None
        # Each use extends the entry, so a token in steady use stays cached and keeps
        # verifying while guesses on its lookup id are being refused.
        self._remember(digest, entry.secret_hash, now)
        return entry

    def _remember(self, digest: bytes, secret_hash: str, now: float) -> None:
        self._cache[digest] = _CacheEntry(secret_hash, now + self._cache_ttl_s)
        self._cache.move_to_end(digest)
        while len(self._cache) > self._cache_max_entries:
            self._cache.popitem(last=False)

    def _note_failure(self, account: str, name: str | None, reason: str) -> None:
        key = account if self._accounts.exists(account) else UNKNOWN_ACCOUNT
        self._failures[key] += 1
        if self._failures[key] == 1:
            logger.info(
                "event=verification_failed account=%s name=%s reason=%s",
                key,
                name or "-",
                reason,
            )

    def housekeeping(self) -> None:
        """Log the window's failure counts and drop expired cache and limiter entries."""
        for account, count in sorted(self._failures.items()):
            if count > 1:
                logger.info(
                    "event=verification_failures account=%s count=%d window_s=%g",
                    account,
                    count,
                    self.window_s,
                )
        self._failures.clear()
        now = time.monotonic()
        self._by_lookup_id.prune(now)
        self._by_uid.prune(now)
        for digest in [key for key, entry in self._cache.items() if entry.valid_until <= now]:
            del self._cache[digest]

    async def run_housekeeping(self) -> None:
        """Call `housekeeping` once per failure window, at most once a second, until cancelled."""
        while True:
            await asyncio.sleep(max(self.window_s, 1.0))
            self.housekeeping()

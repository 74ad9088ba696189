"""Account lookups in the passwd database (NSS), with a short cache.

glibc reads /etc/passwd from the top on every lookup, so on a server with thousands of accounts
one lookup costs hundreds of microseconds, and every request needs at least one. Results,
found or not, are kept for `ttl_s` seconds. So an account deleted from the passwd database can
still call the daemon, and its tokens still verify, for up to that long.
"""

from __future__ import annotations

import pwd
import time
from collections.abc import Callable
from typing import TypeVar

MAX_ENTRIES = 65_536

K = TypeVar("K")
V = TypeVar("V")


class Accounts:
    """Maps uids to account names and checks that names exist."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._names: dict[int, tuple[float, str | None]] = {}
        self._known: dict[str, tuple[float, bool]] = {}

    def name_of(self, uid: int) -> str | None:
        """Return the account name of `uid`, or None when it has no passwd entry."""
        now = self._clock()
        cached = self._names.get(uid)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            name: str | None = pwd.getpwuid(uid).pw_name
        except KeyError:
            name = None
        _store(self._names, uid, (now + self._ttl_s, name))
        return name

    def exists(self, name: str) -> bool:
        """Return whether `name` is an account in the passwd database."""
        if not name or "\0" in name:
            return False
        now = self._clock()
        cached = self._known.get(name)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            pwd.getpwnam(name)
            found = True
        except KeyError:
            found = False
        _store(self._known, name, (now + self._ttl_s, found))
        return found


def _store(cache: dict[K, V], key: K, value: V) -> None:
    if len(cache) >= MAX_ENTRIES:
        # A flood of made-up names must not grow the cache without bound.
        cache.clear()
    cache[key] = value

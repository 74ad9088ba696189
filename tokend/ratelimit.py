"""A sliding-window counter of failures per key, for refusing online guessing."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Hashable

# Seconds to wait when the limit is reached only by attempts that are still in progress. An
# argon2 check takes tens of milliseconds, so by then they have finished.
PENDING_RETRY_S = 1.0


class FailureLimiter:
    """Counts failures per key over the last `window_s` seconds and rejects past `limit`.

    Each key keeps at most `limit` timestamps, so memory stays proportional to the number of
    keys that failed recently. `prune` drops keys whose failures have all aged out.
    """

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._failures: dict[Hashable, deque[float]] = {}
        self._pending: Counter[Hashable] = Counter()

    def retry_after(self, key: Hashable, now: float) -> float | None:
        """Return the seconds until `key` may try again, or None if it may try now.

        Attempts still in progress count as failures, because each of them may become one.
        """
        failures = self._failures.get(key, deque())
        self._expire(failures, now)
        if len(failures) + self._pending[key] < self.limit:
            return None
        if len(failures) >= self.limit:
            return failures[0] + self.window_s - now
        return PENDING_RETRY_S

    def begin(self, key: Hashable) -> None:
        """Count an attempt for `key` as in progress until `finish`."""
        self._pending[key] += 1

    def finish(self, key: Hashable, now: float, failed: bool) -> None:
        """End an attempt that `begin` counted, recording a failure if it failed."""
        self._pending[key] -= 1
        if self._pending[key] <= 0:
            del self._pending[key]
        if failed:
            self.record(key, now)

    def record(self, key: Hashable, now: float) -> None:
        """Count one failure for `key` at time `now`."""
        failures = self._failures.setdefault(key, deque(maxlen=self.limit))
        self._expire(failures, now)
        failures.append(now)

    def prune(self, now: float) -> None:
        """Forget keys with no failure inside the window."""
        for key in list(self._failures):
            failures = self._failures[key]
            self._expire(failures, now)
            if not failures:
                del self._failures[key]

    def __len__(self) -> int:
        return len(self._failures)

    def _expire(self, failures: deque[float], now: float) -> None:
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()

"""A sliding-window counter of failures per key, for refusing online guessing."""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable


class FailureLimiter:
    """Counts failures per key over the last `window_s` seconds and refuses past `limit`.

    Each key keeps at most `limit` timestamps, so memory stays proportional to the number of
    keys that failed recently; `prune` drops keys whose failures have all aged out.
    """

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._failures: dict[Hashable, deque[float]] = {}

    def retry_after(self, key: Hashable, now: float) -> float | None:
        """Return the seconds until `key` may try again, or None if it may try now."""
        failures = self._failures.get(key)
        if failures is None:
            return None
        self._expire(failures, now)
        if len(failures) < self.limit:
            return None
        return failures[0] + self.window_s - now

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

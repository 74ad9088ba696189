"""Logging of failed and rejected calls, which any local account can repeat at will.

Each account gets up to `burst` log lines per window, one per failed call. Further failures in
the window are only counted, and the count is logged when the next window starts, or when the
daemon stops. journald drops a service's messages past its rate limit, so an unbounded stream
of failures from one account would otherwise hide every other account's state changes.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

logger = logging.getLogger(__name__)


class RejectionLog:
    """Logs failed and rejected calls per account: the first few lines, then a count."""

    def __init__(
        self, window_s: float = 60.0, burst: int = 5, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._window_s = window_s
        self._burst = burst
        self._clock = clock
        self._window_start = clock()
        self._counts: Counter[str] = Counter()

    def note(self, account: str, message: str, *args: object) -> None:
        """Log `message % args` for `account` unless its burst for this window is used up."""
        if self._clock() - self._window_start >= self._window_s:
            self.flush()
        self._counts[account] += 1
        if self._counts[account] <= self._burst:
            logger.info(message, *args)

    def flush(self) -> None:
        """Log the count of each account whose failures went past the burst, and reset."""
        for account, count in sorted(self._counts.items()):
            if count > self._burst:
                logger.info(
                    "event=calls_failed account=%s count=%d logged=%d window_s=%g",
                    account,
                    count,
                    self._burst,
                    self._window_s,
                )
        self._counts.clear()
        self._window_start = self._clock()

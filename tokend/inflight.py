"""The requests in progress, counted so that shutdown can wait for them to finish.

aiohttp's graceful shutdown (AppRunner's `shutdown_timeout`) first marks every connection as
closing, and from then on ignores the bytes that arrive on it (`RequestHandler.data_received` in
aiohttp 3.14). A request whose body is still arriving at SIGTERM could then never finish. So
tokend stops accepting connections, waits here until the requests in progress are done, and
only then lets aiohttp close the connections.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Handler


class InFlightRequests:
    """The number of requests whose handlers are running, and a wait for it to reach zero."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def started(self) -> None:
        self.count += 1
        self._idle.clear()

    def finished(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    async def wait_until_idle(self, timeout_s: float) -> bool:
        """Wait until no request is in progress; return False if `timeout_s` passed first."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True


IN_FLIGHT_KEY = web.AppKey("in_flight", InFlightRequests)


@web.middleware
async def count_in_flight(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count the request as in progress until its handler returns or raises."""
    in_flight = request.app[IN_FLIGHT_KEY]
    in_flight.started()
    try:
        return await handler(request)
    finally:
        in_flight.finished()

"""The benchmark's baseline: a bare aiohttp handler that returns a fixed JSON body.

It runs on the same kind of Unix socket, with the same aiohttp runner settings as tokend: no
access log and the same keep-alive timeout. So the client side of the benchmark is identical,
and the difference is what tokend does per request.

Usage: `python bench/bare_server.py --socket PATH`. It reports `READY=1` on `NOTIFY_SOCKET`
when that variable is set, and stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
from pathlib import Path

from aiohttp import web

KEEPALIVE_TIMEOUT_S = 15.0
# A UAPI-shaped reply of about the size of a cached `Tokens::verify` result.
BODY = json.dumps(
    {
        "jsonrpc": "2.0",
        "result": {
            "data": {
                "name": "bench",
                "create_time": 1700000000,
                "expires_at": None,
                "has_full_access": 1,
                "features": [],
                "expired": 0,
                "expiring_soon": 0,
            },
            "errors": None,
            "messages": None,
            "metadata": {},
            "status": 1,
            "warnings": None,
        },
        "id": 1,
    }
).encode()


async def handle(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=BODY, content_type="application/json")


def notify(message: str) -> None:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.connect(address)
        sender.sendall(message.encode())


async def serve(listener: socket.socket) -> None:
    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, keepalive_timeout=KEEPALIVE_TIMEOUT_S
    )
    await runner.setup()
    try:
        await web.SockSite(runner, listener).start()
        notify("READY=1")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signal_number, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fixed JSON body on a Unix socket.")
    parser.add_argument("--socket", required=True, type=Path, help="Unix socket path to bind")
    socket_path: Path = parser.parse_args().socket
    socket_path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(socket_path))
    # The same backlog as tokend's own listening socket.
    listener.listen(128)
    try:
        asyncio.run(serve(listener))
    finally:
        socket_path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()

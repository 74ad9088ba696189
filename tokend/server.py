"""The aiohttp application and the daemon's life cycle on a Unix socket.

The caller of every request is the local account that owns the connecting process, read from
the socket's peer credentials (SO_PEERCRED) and looked up in the passwd database. No claim
made inside the request is trusted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import struct
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from tokend_client import protocol

from . import systemd
from .accounts import Accounts
from .config import Config
from .files import bind_unix_socket
from .hashing import PROFILES, Hasher
from .inflight import IN_FLIGHT_KEY, InFlightRequests, count_in_flight
from .rpc import Dispatcher, error_reply
from .store import Store
from .uapi import Caller, TokenFunctions

logger = logging.getLogger(__name__)

_PEERCRED = struct.Struct("3i")

# Seconds that aiohttp's own shutdown waits for handlers still running after tokend's drain.
# It lets the last replies be written, then cancels what a timed-out drain left behind.
FINAL_GRACE_S = 1.0

CONFIG_KEY = web.AppKey("config", Config)
DISPATCHER_KEY = web.AppKey("dispatcher", Dispatcher)
ACCOUNTS_KEY = web.AppKey("accounts", Accounts)
CALLER_KEY = web.RequestKey("caller", Caller)


class UnknownCallerError(Exception):
    """The peer's uid has no passwd entry, so it cannot be mapped to an account."""

    def __init__(self, uid: int) -> None:
        super().__init__(
            f"Access denied: uid {uid} has no entry in the passwd database, so it has no "
            "account whose tokens it could manage."
        )
        self.uid = uid


def identify_caller(request: web.BaseRequest, accounts: Accounts) -> Caller:
    """Return the account of the process on the other end of the request's connection."""
    transport = request.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        raise RuntimeError("the request has no socket to read peer credentials from")
    credentials = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    _pid, uid, _gid = _PEERCRED.unpack(credentials)
    account = accounts.name_of(uid)
    if account is None:
        raise UnknownCallerError(uid)
    return Caller(uid=uid, account=account)


def _json_error(status: int, code: int, message: str) -> web.Response:
    return web.json_response(error_reply(code, message), status=status)


async def handle_rpc(request: web.Request) -> web.StreamResponse:
    """Handle one HTTP request that carries a JSON-RPC call or batch."""
    config = request.app[CONFIG_KEY]
    caller = request[CALLER_KEY]

    limit = config.max_request_bytes
    too_large = f"Request too large: the limit is {limit} bytes. Send fewer calls per batch."
    if request.content_length is not None and request.content_length > limit:
        logger.info("event=request_rejected account=%s reason=too_large", caller.account)
        return _json_error(413, protocol.REQUEST_TOO_LARGE, too_large)

    deadline = asyncio.get_running_loop().time() + config.request_timeout_s
    try:
        async with asyncio.timeout_at(deadline):
            body = await request.read()
        reply = await request.app[DISPATCHER_KEY].dispatch(body, caller, deadline)
    except web.HTTPRequestEntityTooLarge:
        logger.info("event=request_rejected account=%s reason=too_large", caller.account)
        return _json_error(413, protocol.REQUEST_TOO_LARGE, too_large)
    except RequestPayloadError:
        logger.info("event=request_rejected account=%s reason=undecodable_body", caller.account)
        response = _json_error(
            400,
            protocol.PARSE_ERROR,
            "Parse error: the request body could not be decoded. Send it without "
            "Content-Encoding, or check its compression or chunked framing.",
        )
        # The rest of the body cannot be read either, so the connection is not reused.
        response.force_close()
        return response
    except TimeoutError:
        # Only the body read is under this timeout; the dispatcher answers its own calls.
        logger.info("event=request_timed_out account=%s", caller.account)
        return _json_error(
            408,
            protocol.REQUEST_TIMEOUT,
            f"Request timed out after {config.request_timeout_s:g} seconds before its body "
            "arrived; nothing was run. Send the whole body at once.",
        )

    if reply is None:
        return web.Response(status=204)
    return await send_reply(request, web.json_response(reply), config.request_timeout_s, caller)


async def send_reply(
    request: web.Request, response: web.Response, timeout_s: float, caller: Caller
) -> web.Response:
    """Send `response` within `timeout_s`, or drop the connection of a client that does not read.

    aiohttp waits without a limit for the socket to drain, so a client that never reads a reply
    larger than the socket buffers would otherwise keep its connection and the reply forever.
    """
    try:
        async with asyncio.timeout(timeout_s):
            await response.prepare(request)
            await response.write_eof()
    except TimeoutError:
        logger.info("event=reply_timed_out account=%s timeout_s=%g", caller.account, timeout_s)
        if request.transport is not None:
            # close() would wait for the unread reply to drain; abort() discards it.
            request.transport.abort()
    return response


@web.middleware
async def identify(request: web.Request, handler: Any) -> web.StreamResponse:
    """Reject a caller without a passwd entry before anything else, whatever the path."""
    try:
        request[CALLER_KEY] = identify_caller(request, request.app[ACCOUNTS_KEY])
    except UnknownCallerError as error:
        logger.info("event=request_rejected uid=%s reason=unknown_uid", error.uid)
        return _json_error(403, protocol.UNKNOWN_CALLER, str(error))
    response: web.StreamResponse = await handler(request)
    return response


@web.middleware
async def json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Turn aiohttp's own rejections (wrong path or method) into JSON-RPC error bodies."""
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        message = f"{error.reason}: send JSON-RPC 2.0 requests as POST to /."
        return _json_error(error.status, protocol.INVALID_REQUEST, message)
    return response


def make_app(config: Config, store: Store, hasher: Hasher) -> web.Application:
    """Build the aiohttp application that serves the Tokens functions."""
    app = web.Application(
        client_max_size=config.max_request_bytes,
        middlewares=[count_in_flight, json_errors, identify],
    )
    functions = TokenFunctions(config, store, hasher)
    app[IN_FLIGHT_KEY] = InFlightRequests()
    app[CONFIG_KEY] = config
    app[DISPATCHER_KEY] = Dispatcher(functions, config.max_batch_size)
    app[ACCOUNTS_KEY] = functions.accounts
    app.router.add_post("/", handle_rpc)
    app.cleanup_ctx.append(_housekeeping(functions))
    return app


def _housekeeping(functions: TokenFunctions) -> Callable[[web.Application], AsyncIterator[None]]:
    async def run_in_background(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(functions.verifier.run_housekeeping())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        functions.verifier.housekeeping()
        app[DISPATCHER_KEY].rejections.flush()

    return run_in_background


async def serve(config: Config) -> None:
    """Run the daemon until SIGTERM or SIGINT, then drain requests and close the store.

    On the signal the daemon stops accepting connections and lets the requests in progress
    finish for up to `shutdown_timeout_s`, then FINAL_GRACE_S more for their replies.
    """
    # Caught from the start, so that a SIGTERM sent while the daemon starts, or as soon as
    # READY=1 arrives, stops it cleanly.
    stop = _catch_stop_signals()
    profile = PROFILES[config.hash_profile]
    if profile.test_only:
        logger.warning("event=insecure_profile profile=%s use=tests_only", profile.name)
    watchdog_interval_s = systemd.watchdog_interval_s()

    store = await Store.open(config.database_path)
    hasher = Hasher(profile, config.hash_workers)
    app = make_app(config, store, hasher)
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=None,
        shutdown_timeout=FINAL_GRACE_S,
        keepalive_timeout=config.keepalive_timeout_s,
    )
    bound_path: Path | None = None
    watchdog: asyncio.Task[None] | None = None
    try:
        await runner.setup()
        listener, bound_path = _listen(config)
        # asyncio calls listen() again with this backlog, also on a socket from systemd. The
        # kernel's maximum (systemd's Backlog= default) lets a burst of connections wait in the
        # queue, where aiohttp's default of 128 makes non-blocking clients fail with EAGAIN.
        site = web.SockSite(runner, listener, backlog=socket.SOMAXCONN)
        await site.start()
        logger.info(
            "event=started socket=%s database=%s profile=%s",
            listener.getsockname(),
            config.database_path,
            profile.name,
        )
        _notify("READY=1")
        if watchdog_interval_s is not None:
            # Kept running while requests drain, so that a slow drain never looks like a hang.
            watchdog = asyncio.create_task(_send_watchdog_keepalives(watchdog_interval_s))

        await stop.wait()
        _notify("STOPPING=1")
        logger.info("event=stopping timeout_s=%g", config.shutdown_timeout_s)
        # Calls still running shortly before the drain ends get an interrupted error, and batch
        # calls not started by then a not-run error, so every request gets its reply in time.
        reply_margin_s = min(1.0, config.shutdown_timeout_s / 2)
        loop_time = asyncio.get_running_loop().time()
        app[DISPATCHER_KEY].stop_by = loop_time + config.shutdown_timeout_s - reply_margin_s
        await site.stop()
        in_flight = app[IN_FLIGHT_KEY]
        if not await in_flight.wait_until_idle(config.shutdown_timeout_s):
            logger.warning("event=drain_timed_out requests_in_progress=%d", in_flight.count)
    finally:
        await runner.cleanup()
        if watchdog is not None:
            watchdog.cancel()
        hasher.close()
        await store.close()
    if bound_path is not None:
        bound_path.unlink(missing_ok=True)
    logger.info("event=stopped")


def _notify(message: str) -> None:
    try:
        systemd.notify(message)
    except OSError as error:
        # The service manager may have gone away; serving matters more than telling it.
        logger.warning("event=notify_failed message=%s error=%s", message, error.strerror)


async def _send_watchdog_keepalives(interval_s: float) -> None:
    # NOTE: a keep-alive shows only that the event loop runs. A database call that hangs is
    # cut off by request_timeout_s, not caught by the watchdog.
    logger.info("event=watchdog_enabled interval_s=%g", interval_s)
    failing = False
    while True:
        try:
            systemd.notify("WATCHDOG=1")
        except OSError as error:
            # Logged once per outage, so that a lost service manager does not flood the log.
            if not failing:
                logger.warning("event=watchdog_notify_failed error=%s", error.strerror)
            failing = True
        else:
            if failing:
                logger.info("event=watchdog_notify_recovered")
            failing = False
        await asyncio.sleep(interval_s)


def _listen(config: Config) -> tuple[socket.socket, Path | None]:
    """Return the listening socket and, when tokend bound it itself, its path."""
    inherited = systemd.inherited_socket()
    systemd.forget_listen_environment()
    if inherited is not None:
        return inherited, None
    listener = bind_unix_socket(config.socket_path, config.socket_mode, config.socket_group)
    return listener, config.socket_path


def _catch_stop_signals() -> asyncio.Event:
    """Return an event that SIGTERM or SIGINT sets, instead of ending the process."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    # SIGHUP would end the daemon without a word; it has no configuration to reload, so the
    # signal is logged and otherwise ignored.
    loop.add_signal_handler(signal.SIGHUP, logger.info, "event=signal_ignored signal=SIGHUP")
    return stop

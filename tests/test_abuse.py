"""Slow and abusive clients must not stall other callers, hold connections or grow memory.

The daemon runs with short timeouts here, so that each test can watch it close a connection.
A slow client paces its own sends; every wait is bounded by a deadline.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress

from .checks import check_reply, open_descriptors, resident_kib
from .conftest import DaemonFactory
from .helpers import Daemon

IDLE_TIMEOUT_S = 1.0
REQUEST_TIMEOUT_S = 2.0
# Time for the daemon to act on a timeout, on top of the timeout itself.
SLACK_S = 5.0
PROMPT_S = 1.0
LIST_CALL = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "Tokens::list"}).encode()


def short_timeouts(daemon_factory: DaemonFactory) -> Daemon:
    return daemon_factory(keepalive_timeout_s=IDLE_TIMEOUT_S, request_timeout_s=REQUEST_TIMEOUT_S)


def connect(daemon: Daemon) -> socket.socket:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # A blocking connect waits while the listen backlog is full, as most clients do.
    client.connect(daemon.socket_path)
    client.settimeout(30)
    return client


def http_request(body: bytes, extra_headers: str = "") -> bytes:
    head = (
        f"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(body)}\r\n{extra_headers}\r\n"
    )
    return head.encode() + body


def wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Poll `condition` every 50 ms until it is true or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def closed_by_peer(client: socket.socket, timeout_s: float) -> bool:
    """Read and drop what the daemon sends until it closes the connection or time runs out."""
    deadline = time.monotonic() + timeout_s
    while (remaining := deadline - time.monotonic()) > 0:
        client.settimeout(remaining)
        try:
            if client.recv(65536) == b"":
                return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
    return False


def peer_hung_up(client: socket.socket) -> bool:
    """Return whether the daemon closed its end, without reading what it sent."""
    poller = select.poll()
    poller.register(client, select.POLLRDHUP)
    return any(events & (select.POLLRDHUP | select.POLLHUP) for _, events in poller.poll(0))


def timed_list(daemon: Daemon) -> float:
    """Return the seconds one `Tokens::list` call took; the call must succeed."""
    started = time.monotonic()
    status, body = daemon.post(LIST_CALL)
    elapsed = time.monotonic() - started
    (response,) = check_reply(status, body)
    assert response["result"]["status"] == 1
    return elapsed


@contextmanager
def open_connections(daemon: Daemon, count: int) -> Iterator[list[socket.socket]]:
    with ExitStack() as stack:
        clients = [stack.enter_context(connect(daemon)) for _ in range(count)]
        yield clients


def test_idle_connections_are_closed(daemon_factory: DaemonFactory) -> None:
    daemon = short_timeouts(daemon_factory)
    pid = daemon.process.pid  # type: ignore[union-attr]
    baseline = open_descriptors(pid)

    with open_connections(daemon, 300) as clients:
        assert timed_list(daemon) < PROMPT_S
        # The daemon accepted the connections and holds them until the idle timeout.
        assert wait_until(lambda: open_descriptors(pid) >= baseline + 290, SLACK_S)
        for client in clients:
            assert closed_by_peer(client, IDLE_TIMEOUT_S + SLACK_S)
    assert wait_until(lambda: open_descriptors(pid) <= baseline, SLACK_S)


def test_kept_alive_connection_is_closed_when_idle(daemon_factory: DaemonFactory) -> None:
    daemon = short_timeouts(daemon_factory)
    with connect(daemon) as client:
        client.sendall(http_request(LIST_CALL))
        reply = client.recv(65536)
        assert reply.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert closed_by_peer(client, IDLE_TIMEOUT_S + SLACK_S)
        assert time.monotonic() - started >= IDLE_TIMEOUT_S * 0.9


def test_headers_sent_byte_by_byte_time_out(daemon_factory: DaemonFactory) -> None:
    daemon = short_timeouts(daemon_factory)
    request = http_request(LIST_CALL, "X-Padding: " + "a" * 200 + "\r\n")
    started = time.monotonic()
    closed = False
    with connect(daemon) as client:
        for byte in request[:-4]:
            try:
                client.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if time.monotonic() - started > IDLE_TIMEOUT_S + SLACK_S:
                break
            # The attacker's own pace: one byte every 20 ms keeps the headers unfinished.
            time.sleep(0.02)
        closed = closed or closed_by_peer(client, 1.0)
    assert closed
    assert time.monotonic() - started < IDLE_TIMEOUT_S + SLACK_S
    assert timed_list(daemon) < PROMPT_S


def test_body_sent_byte_by_byte_times_out(daemon_factory: DaemonFactory) -> None:
    daemon = short_timeouts(daemon_factory)
    # At one byte every 50 ms, this body would take 10 seconds, five times the time limit.
    body = LIST_CALL + b" " * (200 - len(LIST_CALL))
    request = http_request(body)
    started = time.monotonic()
    reply = b""
    with connect(daemon) as client:
        client.sendall(request[: -len(body)])
        client.settimeout(0.05)
        for byte in body[:-1]:
            client.sendall(bytes([byte]))
            # The recv timeout paces the sends and catches the reply as soon as it comes.
            with suppress(TimeoutError):
                reply += client.recv(65536)
            if reply or time.monotonic() - started > REQUEST_TIMEOUT_S + SLACK_S:
                break
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert time.monotonic() - started < REQUEST_TIMEOUT_S + SLACK_S
    assert timed_list(daemon) < PROMPT_S


def test_client_that_never_reads_is_dropped(daemon_factory: DaemonFactory) -> None:
    daemon = short_timeouts(daemon_factory)
    for number in range(60):
        daemon.call("create_full_access", name=f"token-{number}")
    batch = json.dumps([json.loads(LIST_CALL)] * 100).encode()
    pid = daemon.process.pid  # type: ignore[union-attr]
    baseline = open_descriptors(pid)

    with connect(daemon) as client:
        # Each reply is about 1 MB, far more than the socket buffers hold, and it is never read.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.sendall(http_request(batch) * 4)
        assert timed_list(daemon) < PROMPT_S
        assert wait_until(
            lambda: peer_hung_up(client), REQUEST_TIMEOUT_S + IDLE_TIMEOUT_S + SLACK_S
        ), "the daemon still holds the connection of a client that never reads"
    assert wait_until(lambda: open_descriptors(pid) <= baseline, SLACK_S)
    assert "event=reply_timed_out" in daemon.log()
    assert timed_list(daemon) < PROMPT_S


def send_large_body(daemon: Daemon, size: int, chunked: bool) -> bytes:
    """Send a body of `size` bytes as fast as the daemon takes it; return what it replied."""
    if chunked:
        head = b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
    else:
        head = f"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: {size}\r\n\r\n".encode()
    block = b"[" * (1 << 20)
    chunk = f"{len(block):x}\r\n".encode() + block + b"\r\n" if chunked else block
    with connect(daemon) as client:
        try:
            client.sendall(head)
            for _ in range(size // len(block)):
                client.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        client.settimeout(10)
        reply = b""
        try:
            while part := client.recv(65536):
                reply += part
        except (TimeoutError, ConnectionResetError):
            pass
    return reply


def test_100_mb_body_is_rejected(daemon_factory: DaemonFactory) -> None:
    daemon = short_timeouts(daemon_factory)
    pid = daemon.process.pid  # type: ignore[union-attr]
    assert timed_list(daemon) < PROMPT_S
    memory_before = resident_kib(pid)

    for chunked in (False, True):
        with ThreadPoolExecutor(1) as pool:
            sent = pool.submit(send_large_body, daemon, 100 << 20, chunked)
            assert timed_list(daemon) < PROMPT_S
            reply = sent.result(timeout=120)
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]

    growth_kib = resident_kib(pid) - memory_before
    assert growth_kib < 20 * 1024, f"the daemon grew by {growth_kib} KiB"
    assert timed_list(daemon) < PROMPT_S

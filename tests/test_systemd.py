"""Running under systemd: socket activation, notifications and shutdown."""

from __future__ import annotations

import http.client
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

import pytest

from tokend.errors import StartupError
from tokend.systemd import watchdog_interval_s

from .conftest import DaemonFactory
from .helpers import START_TIMEOUT_S, STOP_TIMEOUT_S, Daemon, call

LIST_REQUEST = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "Tokens::list"}).encode()


def read_line(stream: IO[bytes] | None, timeout_s: float) -> str:
    assert stream is not None
    readable, _, _ = select.select([stream], [], [], timeout_s)
    assert readable, f"no new output line within {timeout_s} s"
    return stream.readline().decode(errors="replace")


# Socket activation


def test_socket_activation_serves_inherited_socket(workdir: Path) -> None:
    tool = shutil.which("systemd-socket-activate")
    if tool is None:
        pytest.skip("systemd-socket-activate is missing; install the Debian package systemd")
    daemon = Daemon(workdir / "daemon")
    notify_path = daemon.workdir / "notify.sock"
    daemon.notify_socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    daemon.notify_socket.bind(str(notify_path))
    activated_path = str(daemon.workdir / "run" / "activated.sock")
    # The daemon's own --socket path must stay unused, because an inherited socket wins.
    command = [tool, "--listen", activated_path, "-E", f"NOTIFY_SOCKET={notify_path}"]
    process = subprocess.Popen(
        [*command, *daemon.command()], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    daemon.process = process
    try:
        # systemd-socket-activate prints "Listening on PATH as 3." once the socket listens.
        # On the first connection it executes the daemon in its own process, so SIGTERM to
        # `process` reaches the daemon.
        assert "Listening on" in read_line(process.stderr, START_TIMEOUT_S)
        result = call(activated_path, "list")
        daemon.wait_for_notification("READY=1")
        process.send_signal(signal.SIGTERM)
        exit_status = process.wait(timeout=STOP_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        daemon.notify_socket.close()
    assert process.stderr is not None
    log = process.stderr.read().decode(errors="replace")

    assert result["status"] == 1, log
    assert exit_status == 0, log
    assert f"event=started socket={activated_path}" in log
    assert "event=stopped" in log
    assert not Path(daemon.socket_path).exists()
    # The socket belongs to whoever passed it (tokend.socket removes it with RemoveOnStop=).
    assert Path(activated_path).exists()


# Notifications


def fill_datagram_queue(path: str) -> socket.socket:
    """Queue datagrams at `path` until the kernel limit, so that the next sender blocks.

    Returns the sending socket, which must stay open while the queue is full.
    """
    filler = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    filler.setblocking(False)
    filler.connect(path)
    while True:
        try:
            filler.send(b"FILLER=1")
        except BlockingIOError:
            return filler


def test_ready_sent_after_listen_and_database_open(workdir: Path) -> None:
    daemon = Daemon(workdir / "daemon")
    notify_path = str(daemon.workdir / "notify.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(notify_path)
    # With the notify socket's queue full, the daemon blocks inside its send of READY=1, so
    # the checks below see the daemon exactly as it was when it reported readiness.
    filler = fill_datagram_queue(notify_path)
    env = {**os.environ, "NOTIFY_SOCKET": notify_path}
    process = subprocess.Popen(daemon.command(), stderr=subprocess.PIPE, env=env)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(START_TIMEOUT_S)
    try:
        # tokend logs event=started right before it sends READY=1. A daemon that sent
        # READY=1 before it listened would block before this line, and the test would fail.
        while "event=started" not in read_line(process.stderr, START_TIMEOUT_S):
            pass
        open_files = {
            os.path.realpath(entry) for entry in Path(f"/proc/{process.pid}/fd").iterdir()
        }
        client.connect(daemon.socket_path)
        client.sendall(
            b"POST / HTTP/1.1\r\nHost: localhost\r\n"
            + f"Content-Length: {len(LIST_REQUEST)}\r\n\r\n".encode()
            + LIST_REQUEST
        )
        received = []
        while "READY=1" not in received:
            received += receiver.recv(4096).decode().split("\n")
        response = http.client.HTTPResponse(client)
        response.begin()
        status, body = response.status, response.read()
    finally:
        client.close()
        filler.close()
        receiver.close()
        process.kill()
        process.wait()

    assert os.path.realpath(daemon.database_path) in open_files
    assert status == 200
    assert json.loads(body)["result"]["status"] == 1


def test_watchdog_sent_at_half_interval(workdir: Path) -> None:
    daemon = Daemon(workdir / "watched")
    daemon.start(env={"WATCHDOG_USEC": "400000"})
    try:
        daemon.wait_for_notification("WATCHDOG=1")
        first = time.monotonic()
        daemon.wait_for_notification("WATCHDOG=1")
        gap_s = time.monotonic() - first
    finally:
        daemon.kill()
    # Half of 0.4 s, with room for a timer that fires a little early.
    assert gap_s >= 0.18
    assert "event=watchdog_enabled interval_s=0.2" in daemon.log()


def test_no_watchdog_without_watchdog_usec(daemon: Daemon) -> None:
    daemon.call("list")
    assert daemon.process is not None
    daemon.process.send_signal(signal.SIGTERM)
    received = daemon.wait_for_notification("STOPPING=1")
    assert "WATCHDOG=1" not in received
    assert daemon.process.wait(timeout=STOP_TIMEOUT_S) == 0


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_PID": str(os.getpid())}, None),
    ],
)
def test_watchdog_interval_from_environment(
    environ: dict[str, str], expected: float | None
) -> None:
    assert watchdog_interval_s(environ) == expected


@pytest.mark.parametrize(
    "environ",
    [
        {"WATCHDOG_USEC": "0"},
        {"WATCHDOG_USEC": "30s"},
        {"WATCHDOG_USEC": "-1"},
        {"WATCHDOG_USEC": "١٢"},
        {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "self"},
    ],
)
def test_invalid_watchdog_environment_raises(environ: dict[str, str]) -> None:
    with pytest.raises(StartupError, match="WATCHDOG_"):
        watchdog_interval_s(environ)


def test_invalid_watchdog_usec_stops_startup(workdir: Path) -> None:
    daemon = Daemon(workdir / "daemon")
    env = {**os.environ, "WATCHDOG_USEC": "30s"}
    completed = subprocess.run(
        daemon.command(), capture_output=True, text=True, env=env, timeout=START_TIMEOUT_S
    )
    assert completed.returncode == 1
    assert "WATCHDOG_USEC='30s' is not a positive whole number" in completed.stderr
    assert not Path(daemon.socket_path).exists()


# Shutdown


def start_upload(socket_path: str, body: bytes) -> socket.socket:
    """Send a request's headers and wait for `100 Continue`, then return with the body unsent.

    aiohttp sends `100 Continue` from the request's handler task, so once it arrives, the
    request is in flight. tokend has accepted it and waits for the body.
    """
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(START_TIMEOUT_S)
    client.connect(socket_path)
    headers = (
        "POST / HTTP/1.1\r\n"
        "Host: localhost\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Expect: 100-continue\r\n"
        "\r\n"
    )
    client.sendall(headers.encode())
    interim = b""
    while not interim.endswith(b"\r\n\r\n"):
        chunk = client.recv(1)
        assert chunk, f"connection closed before 100 Continue; got {interim!r}"
        interim += chunk
    assert interim.startswith(b"HTTP/1.1 100 Continue"), interim
    return client


def test_sigterm_finishes_request_in_flight(daemon: Daemon) -> None:
    assert daemon.process is not None
    client = start_upload(daemon.socket_path, LIST_REQUEST)
    with client:
        daemon.process.send_signal(signal.SIGTERM)
        daemon.wait_for_notification("STOPPING=1")
        client.sendall(LIST_REQUEST)
        response = http.client.HTTPResponse(client)
        response.begin()
        status, body = response.status, response.read()

    assert status == 200
    assert json.loads(body)["result"]["status"] == 1
    assert daemon.process.wait(timeout=STOP_TIMEOUT_S) == 0
    assert "event=stopped" in daemon.log()
    assert not Path(daemon.socket_path).exists()


def test_sigterm_cuts_off_request_after_shutdown_timeout(
    daemon_factory: DaemonFactory,
) -> None:
    daemon = daemon_factory(shutdown_timeout_s=0.5)
    assert daemon.process is not None
    client = start_upload(daemon.socket_path, LIST_REQUEST)
    with client:
        daemon.process.send_signal(signal.SIGTERM)
        daemon.wait_for_notification("STOPPING=1")
        # The body never comes, so only the shutdown timeout can end the request.
        exit_status = daemon.process.wait(timeout=STOP_TIMEOUT_S)
        try:
            leftover = client.recv(4096)
        except ConnectionResetError:
            leftover = b""

    assert exit_status == 0
    assert leftover == b""
    assert "event=drain_timed_out requests_in_progress=1" in daemon.log()
    assert "event=stopped" in daemon.log()

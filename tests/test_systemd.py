"""Running under systemd: socket activation, notifications, shutdown and the unit files."""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest

from tokend.config import Config
from tokend.errors import StartupError
from tokend.server import FINAL_GRACE_S
from tokend.systemd import watchdog_interval_s
from tokend_client import protocol

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


# Unit files

UNIT_DIR = Path(__file__).resolve().parent.parent / "systemd"
SERVICE_UNIT = UNIT_DIR / "tokend.service"
SOCKET_UNIT = UNIT_DIR / "tokend.socket"
INSTALLED_EXEC_START = "ExecStart=/usr/local/bin/tokend"


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Return each section's `key=value` lines in order; comments and blank lines are dropped."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        assert not stripped.endswith("\\"), f"{path}: continued lines are not parsed: {line}"
        if stripped.startswith("[") and stripped.endswith("]"):
            current = sections.setdefault(stripped[1:-1], [])
            continue
        assert current is not None, f"{path}: setting before the first section: {line}"
        key, separator, value = stripped.partition("=")
        assert separator, f"{path}: not a key=value line: {line}"
        current.append((key.strip(), value.strip()))
    return sections


def unit_values(path: Path, section: str, key: str) -> list[str]:
    return [value for name, value in parse_unit(path).get(section, []) if name == key]


def copy_units_for_verify(destination: Path) -> list[Path]:
    """Copy both units to `destination`, with ExecStart pointing at the tokend of this venv.

    `systemd-analyze verify` fails when the ExecStart program does not exist, and tests must not
    install into /usr/local/bin. The console script next to this Python exists once the package
    is installed, so the copy is checked against a real program and otherwise unchanged.
    """
    installed = Path(sys.executable).with_name("tokend")
    assert installed.exists(), f"{installed} is missing; install the package first"
    service_text = SERVICE_UNIT.read_text()
    assert service_text.count(INSTALLED_EXEC_START + "\n") == 1
    service_text = service_text.replace(INSTALLED_EXEC_START, f"ExecStart={installed}")
    service = destination / SERVICE_UNIT.name
    service.write_text(service_text)
    socket_unit = destination / SOCKET_UNIT.name
    shutil.copyfile(SOCKET_UNIT, socket_unit)
    return [socket_unit, service]


def systemd_analyze(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is missing; install the Debian package systemd")
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=60)


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    units = copy_units_for_verify(tmp_path)
    completed = systemd_analyze("verify", *map(str, units))
    # verify exits 0 on an unknown directive and only warns, so any stderr output fails.
    assert completed.stderr == ""
    assert completed.returncode == 0


def test_verify_reports_misspelled_directive(tmp_path: Path) -> None:
    """systemd-analyze warns about a misspelled directive on stderr, which the test above sees."""
    socket_unit, service = copy_units_for_verify(tmp_path)
    text = service.read_text()
    assert "PrivateNetwork=yes\n" in text
    service.write_text(text.replace("PrivateNetwork=yes\n", "PrivateNetwrk=yes\n"))
    completed = systemd_analyze("verify", str(socket_unit), str(service))
    assert "PrivateNetwrk" in completed.stderr


def test_service_exposure_stays_low(tmp_path: Path) -> None:
    _socket_unit, service = copy_units_for_verify(tmp_path)
    completed = systemd_analyze("security", "--offline=yes", str(service))
    assert completed.returncode == 0, completed.stderr
    match = re.search(r"Overall exposure level for tokend\.service: ([0-9.]+)", completed.stdout)
    assert match is not None, completed.stdout
    # systemd 252 rates the unit 0.7 ("SAFE") on a scale from 0 to 10.
    assert float(match.group(1)) <= 1.0, completed.stdout


# Every line of each directive, in order: a later line of the same directive would override
# or widen the one checked here.
SANDBOX_DIRECTIVES = [
    ("NoNewPrivileges", ["yes"]),
    ("ProtectSystem", ["strict"]),
    ("ProtectHome", ["yes"]),
    ("PrivateTmp", ["yes"]),
    ("PrivateDevices", ["yes"]),
    ("PrivateNetwork", ["yes"]),
    ("RestrictAddressFamilies", ["AF_UNIX"]),
    ("SystemCallFilter", ["@system-service", "~@privileged @resources"]),
    ("CapabilityBoundingSet", [""]),
    ("AmbientCapabilities", [""]),
    # On purpose: in a user namespace every other account's uid reads as the overflow uid.
    ("PrivateUsers", ["no"]),
    ("DynamicUser", ["yes"]),
    ("PrivateIPC", ["yes"]),
    ("PrivateMounts", ["yes"]),
    ("ProtectKernelTunables", ["yes"]),
    ("ProtectKernelModules", ["yes"]),
    ("ProtectKernelLogs", ["yes"]),
    ("ProtectControlGroups", ["yes"]),
    ("ProtectClock", ["yes"]),
    ("ProtectHostname", ["yes"]),
    ("ProtectProc", ["invisible"]),
    ("ProcSubset", ["pid"]),
    ("RestrictNamespaces", ["yes"]),
    ("RestrictRealtime", ["yes"]),
    ("RestrictSUIDSGID", ["yes"]),
    ("LockPersonality", ["yes"]),
    ("MemoryDenyWriteExecute", ["yes"]),
    ("SystemCallArchitectures", ["native"]),
    ("UMask", ["0077"]),
]


@pytest.mark.parametrize(("key", "values"), SANDBOX_DIRECTIVES)
def test_service_has_sandbox_directive(key: str, values: list[str]) -> None:
    assert unit_values(SERVICE_UNIT, "Service", key) == values


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("Type", "notify"),
        ("ExecStart", "/usr/local/bin/tokend"),
        ("StateDirectory", "tokend"),
        ("StateDirectoryMode", "0700"),
        ("Restart", "on-failure"),
        ("WatchdogSec", "30s"),
    ],
)
def test_service_runs_as_notify_daemon(key: str, value: str) -> None:
    assert unit_values(SERVICE_UNIT, "Service", key) == [value]


def test_service_requires_its_socket() -> None:
    assert unit_values(SERVICE_UNIT, "Unit", "Requires") == ["tokend.socket"]
    assert unit_values(SERVICE_UNIT, "Unit", "After") == ["tokend.socket"]


def test_service_leaves_socket_directory_alone() -> None:
    """RuntimeDirectory=tokend would delete /run/tokend, socket included, on every stop."""
    assert unit_values(SERVICE_UNIT, "Service", "RuntimeDirectory") == []


def test_service_stop_timeout_covers_drain() -> None:
    (timeout,) = unit_values(SERVICE_UNIT, "Service", "TimeoutStopSec")
    assert timeout.endswith("s")
    # aiohttp waits FINAL_GRACE_S for running handlers, cancels them, then waits as long again.
    longest_drain_s = Config().shutdown_timeout_s + 2 * FINAL_GRACE_S
    assert float(timeout[:-1]) > longest_drain_s


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ListenStream", "/run/tokend/tokend.sock"),
        ("SocketMode", "0666"),
        ("RemoveOnStop", "yes"),
    ],
)
def test_socket_unit_settings(key: str, value: str) -> None:
    assert unit_values(SOCKET_UNIT, "Socket", key) == [value]


def test_socket_path_matches_client_default() -> None:
    (path,) = unit_values(SOCKET_UNIT, "Socket", "ListenStream")
    assert path == protocol.ROOT_SOCKET_PATH

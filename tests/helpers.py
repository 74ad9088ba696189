"""Test helpers: a real tokend daemon in a subprocess, and calls made under other uids."""

from __future__ import annotations

import http.client
import json
import os
import pickle
import pwd
import select
import signal
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
TEST_PROFILE = "test-only-fast"


class UnixHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection over a Unix stream socket."""

    def __init__(self, socket_path: str, timeout: float = 30.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def post(socket_path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """POST `body` to the daemon and return the HTTP status and the reply body."""
    connection = UnixHTTPConnection(socket_path)
    try:
        connection.request("POST", "/", body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def rpc(socket_path: str, method: str, params: object = None, request_id: object = 1) -> Any:
    """Send one JSON-RPC call and return the decoded response object."""
    request: dict[str, object] = {"jsonrpc": "2.0", "method": method, "id": request_id}
    if params is not None:
        request["params"] = params
    status, body = post(socket_path, json.dumps(request).encode())
    assert status == 200, (status, body)
    return json.loads(body)


def call(socket_path: str, function: str, params: dict[str, object] | None = None) -> Any:
    """Call `Tokens::<function>` and return its UAPI result object."""
    response = rpc(socket_path, f"Tokens::{function}", params or {})
    assert "result" in response, response
    return response["result"]


class Daemon:
    """A tokend process on a temporary socket and database, started with the real CLI."""

    def __init__(self, workdir: Path, config: dict[str, object] | None = None) -> None:
        self.workdir = workdir
        workdir.mkdir(mode=0o755, exist_ok=True)
        # Other accounts must reach the socket, so its directory is world-searchable.
        run_dir = workdir / "run"
        run_dir.mkdir(mode=0o755, exist_ok=True)
        run_dir.chmod(0o755)
        self.socket_path = str(run_dir / "tokend.sock")
        self.database_path = str(workdir / "state" / "tokens.db")
        self.log_path = workdir / "tokend.log"
        self.config_path = workdir / "tokend.toml"
        settings = {"hash_profile": TEST_PROFILE, **(config or {})}
        self.config_path.write_text(
            "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.notify_socket: socket.socket | None = None

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "tokend",
            "--socket",
            self.socket_path,
            "--database",
            self.database_path,
            "--config",
            str(self.config_path),
            "--log-level",
            "DEBUG",
        ]

    def start(self, env: dict[str, str] | None = None) -> None:
        """Start the daemon and return once it reports READY=1 on a notify socket.

        `env` adds environment variables, such as the WATCHDOG_USEC that systemd would set.
        """
        notify_path = self.workdir / "notify.sock"
        notify_path.unlink(missing_ok=True)
        if self.notify_socket is not None:
            self.notify_socket.close()
        # Kept open while the daemon runs, so that it can also report STOPPING=1.
        self.notify_socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify_socket.bind(str(notify_path))
        env = {**os.environ, **(env or {}), "NOTIFY_SOCKET": str(notify_path)}
        for name in ("TOKEND_SOCKET", "TOKEND_DATABASE", "TOKEND_CONFIG"):
            env.pop(name, None)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=env
            )
        self.wait_for_notification("READY=1")

    def wait_for_notification(self, message: str) -> list[str]:
        """Wait until the daemon sends `message` to the notify socket.

        Returns every notification line received up to and including `message`. Raises
        RuntimeError when the daemon exits first or START_TIMEOUT_S passes.
        """
        assert self.process is not None
        assert self.notify_socket is not None
        received: list[str] = []
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            readable, _, _ = select.select([self.notify_socket], [], [], 0.1)
            if readable:
                received += self.notify_socket.recv(4096).decode().split("\n")
                if message in received:
                    return received
            elif self.process.poll() is not None:
                raise RuntimeError(f"tokend exited with {self.process.returncode}:\n{self.log()}")
        raise RuntimeError(f"tokend did not send {message} in time:\n{self.log()}")

    def stop(self) -> int:
        """Send SIGTERM and return the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STOP_TIMEOUT_S)

    def kill(self) -> None:
        """Kill the daemon with SIGKILL, as a crash or power loss would stop it."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=STOP_TIMEOUT_S)

    def close(self) -> None:
        """Kill the daemon if it still runs and close the notify socket."""
        if self.process is not None and self.process.poll() is None:
            self.kill()
        if self.notify_socket is not None:
            self.notify_socket.close()
            self.notify_socket = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def rpc(self, method: str, params: object = None, request_id: object = 1) -> Any:
        return rpc(self.socket_path, method, params, request_id)

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        return post(self.socket_path, body, headers)

    def call(self, function: str, **params: object) -> Any:
        return call(self.socket_path, function, params)


def run_as(user: str | int, function: Callable[..., Any], *args: Any) -> Any:
    """Run `function(*args)` in a child process under another uid and return its result.

    `user` is an account name or a bare uid (which need not have a passwd entry). The test
    process must be root. An exception in the child is raised again here as RuntimeError.
    """
    if isinstance(user, str):
        entry = pwd.getpwnam(user)
        uid, gid = entry.pw_uid, entry.pw_gid
    else:
        uid, gid = user, user
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            outcome = ("ok", function(*args))
        except BaseException:
            outcome = ("error", traceback.format_exc())
        with os.fdopen(write_end, "wb") as stream:
            pickle.dump(outcome, stream)
        os._exit(0)

    os.close(write_end)
    with os.fdopen(read_end, "rb") as stream:
        data = stream.read()
    os.waitpid(pid, 0)
    kind, value = pickle.loads(data)  # noqa: S301 - our own forked child wrote it
    if kind == "error":
        raise RuntimeError(f"the call as {user} failed:\n{value}")
    return value

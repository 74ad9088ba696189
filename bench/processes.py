"""Servers under test as subprocesses, and their memory and CPU time read from /proc.

Both the tokend daemon and the bare aiohttp baseline report `READY=1` on a `NOTIFY_SOCKET`
datagram socket, as systemd's sd_notify protocol defines, so the benchmark starts and waits
for them the same way. Every path is under a temporary work directory; nothing here touches
the system's own tokend socket or database.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
BARE_SERVER = Path(__file__).with_name("bare_server.py")


class ServerProcess:
    """A server subprocess on a Unix socket that reports readiness through `NOTIFY_SOCKET`."""

    def __init__(self, workdir: Path, name: str) -> None:
        self.workdir = workdir / name
        self.workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.name = name
        self.socket_path = str(self.workdir / "server.sock")
        self.log_path = self.workdir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    def start(self) -> None:
        """Start the server and return once it sends READY=1."""
        notify_path = self.workdir / "notify.sock"
        notify_path.unlink(missing_ok=True)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
            notify.bind(str(notify_path))
            env = {**os.environ, "NOTIFY_SOCKET": str(notify_path)}
            for variable in ("TOKEND_SOCKET", "TOKEND_DATABASE", "TOKEND_CONFIG"):
                env.pop(variable, None)
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    self.command(), stdout=log, stderr=subprocess.STDOUT, env=env
                )
            self._wait_ready(notify)

    def _wait_ready(self, notify: socket.socket) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            readable, _, _ = select.select([notify], [], [], 0.1)
            if readable and b"READY=1" in notify.recv(4096).split(b"\n"):
                return
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log()}"
                )
        self.process.kill()
        raise RuntimeError(f"{self.name} did not report READY=1 in {START_TIMEOUT_S:g} s")

    def stop(self) -> None:
        """Send SIGTERM and wait; raise if the server exits with a failure status."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"{self.name} did not stop within {STOP_TIMEOUT_S:g} s") from None
        if status != 0:
            raise RuntimeError(f"{self.name} exited with {status}:\n{self.log()}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class DaemonProcess(ServerProcess):
    """tokend started as `python -m tokend` with its own socket, database and TOML file."""

    def __init__(
        self, workdir: Path, name: str, config: dict[str, object], passwd: Path | None = None
    ) -> None:
        super().__init__(workdir, name)
        self.passwd = passwd
        self.database_path = self.workdir / "state" / "tokens.db"
        self.config_path = self.workdir / "tokend.toml"
        self.config_path.write_text(
            "".join(f"{key} = {_toml(value)}\n" for key, value in config.items())
        )

    def command(self) -> list[str]:
        """Return the daemon's command line, in its own mount namespace when `passwd` is set.

        In that namespace `passwd` is bind-mounted over /etc/passwd, and `exec` keeps the
        daemon's pid the one that Popen started, so /proc readings are the daemon's own.
        """
        namespace = []
        if self.passwd is not None:
            mount = 'mount --bind "$0" /etc/passwd && exec "$@"'
            namespace = ["unshare", "--mount", "--propagation", "private"]
            namespace += ["sh", "-c", mount, str(self.passwd)]
        return [
            *namespace,
            sys.executable,
            "-m",
            "tokend",
            "--socket",
            self.socket_path,
            "--database",
            str(self.database_path),
            "--config",
            str(self.config_path),
            "--log-level",
            "INFO",
        ]

    def database_bytes(self) -> int:
        """Return the size of the database file with its WAL and shared-memory files."""
        paths = [
            self.database_path.with_name(self.database_path.name + suffix)
            for suffix in ("", "-wal", "-shm")
        ]
        return sum(path.stat().st_size for path in paths if path.exists())


class BareServerProcess(ServerProcess):
    """The baseline: an aiohttp handler that returns a fixed JSON body."""

    def command(self) -> list[str]:
        return [sys.executable, str(BARE_SERVER), "--socket", self.socket_path]


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(f"no TOML form for {value!r}")


def memory_kib(pid: int) -> dict[str, int]:
    """Return `VmRSS` (resident memory) and `VmHWM` (its peak) of `pid`, in KiB."""
    fields: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
    return fields


def cpu_seconds(pid: int) -> float:
    """Return the user plus system CPU time that `pid` has used, in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        text = stat.read()
    # The command name in brackets may hold spaces, so count fields after its closing bracket.
    fields = text[text.rindex(")") + 2 :].split()
    user_ticks, system_ticks = int(fields[11]), int(fields[12])
    return (user_ticks + system_ticks) / os.sysconf("SC_CLK_TCK")

"""The parts of systemd's protocols the daemon uses, without libsystemd.

Socket activation: systemd passes listening sockets from fd 3 on and sets `LISTEN_FDS` and
`LISTEN_PID` (sd_listen_fds(3)). Readiness: the daemon sends datagrams such as `READY=1` to the
socket named by `NOTIFY_SOCKET`, where a leading `@` means an abstract socket (sd_notify(3)).
Watchdog: with `WatchdogSec=` in the unit, systemd sets `WATCHDOG_USEC` and expects `WATCHDOG=1`
within that time, or it stops the service as failed (sd_watchdog_enabled(3)).
"""

from __future__ import annotations

import os
import socket
import stat

from .errors import StartupError

LISTEN_FDS_START = 3


def inherited_socket(environ: dict[str, str] | None = None) -> socket.socket | None:
    """Return the listening Unix stream socket passed by systemd, or None if there is none.

    Raises `StartupError` when systemd passed something other than exactly one listening
    Unix stream socket, because serving on the wrong socket would be worse than not starting.
    """
    env = os.environ if environ is None else environ
    if env.get("LISTEN_PID") != str(os.getpid()):
        return None
    count_text = env.get("LISTEN_FDS", "")
    if not count_text.isdigit() or int(count_text) == 0:
        return None
    if int(count_text) != 1:
        raise StartupError(
            f"systemd passed {count_text} sockets; tokend expects exactly one. "
            "Give tokend.socket a single ListenStream= line."
        )

    fd = LISTEN_FDS_START
    if not stat.S_ISSOCK(os.fstat(fd).st_mode):
        raise StartupError("systemd passed fd 3, but it is not a socket.")
    listener = socket.socket(fileno=fd)
    if listener.family != socket.AF_UNIX or listener.type != socket.SOCK_STREAM:
        listener.detach()
        raise StartupError(
            "systemd passed a socket that is not a Unix stream socket. "
            "Use ListenStream=/run/tokend/tokend.sock in tokend.socket."
        )
    os.set_inheritable(fd, False)
    return listener


def forget_listen_environment() -> None:
    """Remove the socket activation variables so that child processes do not inherit them."""
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)


def watchdog_interval_s(environ: dict[str, str] | None = None) -> float | None:
    """Return how often to send `WATCHDOG=1`, in seconds, or None when no watchdog is set.

    The interval is half of `WATCHDOG_USEC`, as sd_watchdog_enabled(3) recommends. When
    `WATCHDOG_PID` is set to another process, that process is the one systemd watches, so this
    one sends nothing. Raises `StartupError` when either variable is not a positive whole number,
    because ignoring a watchdog that systemd enforces would get a healthy daemon killed.
    """
    env = os.environ if environ is None else environ
    usec_text = env.get("WATCHDOG_USEC")
    if usec_text is None:
        return None
    pid_text = env.get("WATCHDOG_PID")
    if pid_text is not None:
        if not _is_positive_integer(pid_text):
            raise StartupError(f"WATCHDOG_PID={pid_text!r} is not a process id. Unset it.")
        if int(pid_text) != os.getpid():
            return None
    if not _is_positive_integer(usec_text):
        raise StartupError(
            f"WATCHDOG_USEC={usec_text!r} is not a positive whole number of microseconds. "
            "Check WatchdogSec= in tokend.service."
        )
    return int(usec_text) / 1_000_000 / 2


def _is_positive_integer(text: str) -> bool:
    return text.isascii() and text.isdigit() and int(text) > 0


def notify(message: str) -> bool:
    """Send `message` to systemd's notification socket; return whether one was configured.

    Raises `OSError` when the socket is configured but the message cannot be sent.
    """
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.connect(address)
        sender.sendall(message.encode("utf-8"))
    return True

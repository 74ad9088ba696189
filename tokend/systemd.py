"""The parts of systemd's protocols the daemon uses, without libsystemd.

Socket activation: systemd passes listening sockets from fd 3 on and sets `LISTEN_FDS` and
`LISTEN_PID` (sd_listen_fds(3)). Readiness: the daemon sends datagrams such as `READY=1` to the
socket named by `NOTIFY_SOCKET`, where a leading `@` means an abstract socket (sd_notify(3)).
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

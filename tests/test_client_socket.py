"""How the clients choose their default socket, and why they reject a personal socket.

Without XDG_RUNTIME_DIR, an account's personal socket is TMPDIR/tokend-UID/tokend.sock, and
any other account can create that directory first. These tests play such an account
("nobody") against a victim ("daemon", uid 1) in a temporary directory that stands in for
/tmp: mode 1777 and owned by root.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokend_client import cli, protocol
from tokend_client.aio import AsyncClient
from tokend_client.client import Client
from tokend_client.errors import DaemonUnavailable, UntrustedSocket

from .helpers import Daemon, run_as
from .test_uapi_cli import run_main_captured

pytestmark = pytest.mark.root

ATTACKER = "nobody"
VICTIM = "daemon"


def uid_of(account: str) -> int:
    return pwd.getpwnam(account).pw_uid


@pytest.fixture
def shared_tmp(workdir: Path) -> Path:
    """A directory that every account may write, with the sticky bit, as /tmp is."""
    path = workdir / "tmp"
    path.mkdir()
    path.chmod(0o1777)
    return path


def victim_environment(**environ: str) -> dict[str, str]:
    """Return the variables that decide the victim's default socket: TMPDIR or XDG."""
    return {"XDG_RUNTIME_DIR": "", "TMPDIR": "", **environ}


def _apply_environment(environ: dict[str, str]) -> None:
    os.environ.pop(protocol.ENV_SOCKET, None)
    for name, value in environ.items():
        if value:
            os.environ[name] = value
        else:
            os.environ.pop(name, None)


def _resolve(environ: dict[str, str], system_socket: str) -> str:
    _apply_environment(environ)
    return protocol.resolve_socket_path(system_socket=system_socket)


def _list_with_default_socket(environ: dict[str, str]) -> tuple[str, str, str]:
    """List tokens through the default socket; return the path, error class and message."""
    _apply_environment(environ)
    client = Client(timeout_s=2)
    try:
        client.list_tokens()
    except DaemonUnavailable as error:
        return client.socket_path, type(error).__name__, str(error)
    return client.socket_path, "", ""


def _list_async_with_default_socket(environ: dict[str, str]) -> tuple[str, str]:
    """List tokens with the asyncio client; return the error class and message."""
    _apply_environment(environ)

    async def list_tokens() -> tuple[str, str]:
        async with AsyncClient(timeout_s=2) as client:
            try:
                await client.list_tokens()
            except DaemonUnavailable as error:
                return type(error).__name__, str(error)
        return "", ""

    return asyncio.run(list_tokens())


def _run_uapi(environ: dict[str, str], argv: list[str]) -> tuple[int, str, str]:
    _apply_environment(environ)
    return run_main_captured(argv)


def _make_directory(path: str, mode: int) -> None:
    os.mkdir(path)
    os.chmod(path, mode)


def _make_symlink(target: str, link: str) -> None:
    os.symlink(target, link)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A listening socket that the test binds where the attacker wants the victim to go.

    Nothing ever accepts on it, so a connection shows up as a pending one, and a client
    that connected would wait for a reply until its timeout.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        yield sock


def listen_as(sock: socket.socket, path: Path, account: str) -> None:
    """Bind and listen on `path` and make the socket file look like `account`'s."""
    sock.bind(str(path))
    sock.listen()
    os.lchown(path, uid_of(account), -1)


def assert_never_connected(sock: socket.socket) -> None:
    sock.setblocking(False)
    try:
        connection, _ = sock.accept()
    except BlockingIOError:
        return
    connection.close()
    pytest.fail("the client connected to a socket it should have rejected")


def plant_attacker_socket(shared_tmp: Path, sock: socket.socket) -> Path:
    """Create the victim's personal directory as the attacker, with `sock` listening in it."""
    fake_directory = shared_tmp / f"tokend-{uid_of(VICTIM)}"
    run_as(ATTACKER, _make_directory, str(fake_directory), 0o777)
    fake_socket = fake_directory / protocol.SOCKET_FILE_NAME
    listen_as(sock, fake_socket, ATTACKER)
    return fake_socket


def rejection_message(listener: socket.socket, environ: dict[str, str]) -> str:
    """List tokens as the victim; check that the client rejected the socket unconnected."""
    _, error_class, message = run_as(VICTIM, _list_with_default_socket, environ)
    assert error_class == UntrustedSocket.__name__, message
    assert_never_connected(listener)
    return str(message)


def test_attacker_directory_in_tmp_rejected(shared_tmp: Path, listener: socket.socket) -> None:
    fake_socket = plant_attacker_socket(shared_tmp, listener)

    environ = victim_environment(TMPDIR=str(shared_tmp))
    socket_path, error_class, message = run_as(VICTIM, _list_with_default_socket, environ)

    assert socket_path == str(fake_socket)
    assert error_class == UntrustedSocket.__name__
    assert f"owned by uid {uid_of(ATTACKER)}, not by you (uid {uid_of(VICTIM)})" in message
    assert str(fake_socket) in message
    assert_never_connected(listener)


def test_async_client_rejects_attacker_directory(shared_tmp: Path, listener: socket.socket) -> None:
    plant_attacker_socket(shared_tmp, listener)

    environ = victim_environment(TMPDIR=str(shared_tmp))
    error_class, message = run_as(VICTIM, _list_async_with_default_socket, environ)

    assert error_class == UntrustedSocket.__name__
    assert f"owned by uid {uid_of(ATTACKER)}" in message
    assert_never_connected(listener)


def test_uapi_rejects_attacker_directory(shared_tmp: Path, listener: socket.socket) -> None:
    fake_socket = plant_attacker_socket(shared_tmp, listener)

    environ = victim_environment(TMPDIR=str(shared_tmp))
    argv = ["Tokens", "verify", "user=daemon", "token=ABCD1234EFGH5678IJKL9012MNOP3456"]
    exit_status, stdout, stderr = run_as(VICTIM, _run_uapi, environ, argv)

    assert exit_status == cli.EXIT_UNAVAILABLE
    assert stdout == ""
    assert stderr.startswith(f"uapi: did not connect to the tokend socket at {fake_socket}")
    assert stderr.count("\n") == 1
    assert_never_connected(listener)


def test_attacker_socket_in_own_directory_rejected(
    shared_tmp: Path, listener: socket.socket
) -> None:
    """The victim's directory is fine, but the socket in it belongs to someone else."""
    directory = shared_tmp / f"tokend-{uid_of(VICTIM)}"
    run_as(VICTIM, _make_directory, str(directory), 0o755)
    fake_socket = directory / "tokend.sock"
    listen_as(listener, fake_socket, ATTACKER)

    environ = victim_environment(TMPDIR=str(shared_tmp))
    message = rejection_message(listener, environ)

    assert f"{fake_socket} is owned by uid {uid_of(ATTACKER)}" in message


def test_symlink_to_tmp_rejected(shared_tmp: Path, listener: socket.socket) -> None:
    """A link tokend-UID -> the temp dir itself, whose tokend.sock the attacker serves."""
    run_as(ATTACKER, _make_symlink, str(shared_tmp), str(shared_tmp / f"tokend-{uid_of(VICTIM)}"))
    listen_as(listener, shared_tmp / "tokend.sock", ATTACKER)

    environ = victim_environment(TMPDIR=str(shared_tmp))
    message = rejection_message(listener, environ)

    assert "is a symbolic link" in message


def test_group_writable_own_directory_rejected(shared_tmp: Path, listener: socket.socket) -> None:
    directory = shared_tmp / f"tokend-{uid_of(VICTIM)}"
    run_as(VICTIM, _make_directory, str(directory), 0o775)
    listen_as(listener, directory / "tokend.sock", VICTIM)

    environ = victim_environment(TMPDIR=str(shared_tmp))
    message = rejection_message(listener, environ)

    assert "writable by group or others (mode 0775)" in message


def test_attacker_directory_under_xdg_rejected(shared_tmp: Path, listener: socket.socket) -> None:
    """XDG_RUNTIME_DIR pointing at a shared directory gets the same ownership rule."""
    fake_directory = shared_tmp / protocol.SOCKET_DIR_NAME
    run_as(ATTACKER, _make_directory, str(fake_directory), 0o755)
    listen_as(listener, fake_directory / protocol.SOCKET_FILE_NAME, ATTACKER)

    environ = victim_environment(XDG_RUNTIME_DIR=str(shared_tmp))
    message = rejection_message(listener, environ)

    assert f"owned by uid {uid_of(ATTACKER)}" in message


def test_parent_without_sticky_bit_rejected(workdir: Path, listener: socket.socket) -> None:
    """In a world-writable parent without the sticky bit, others could swap the directory."""
    open_directory = workdir / "open"
    open_directory.mkdir()
    open_directory.chmod(0o777)
    directory = open_directory / protocol.SOCKET_DIR_NAME
    run_as(VICTIM, _make_directory, str(directory), 0o700)
    listen_as(listener, directory / protocol.SOCKET_FILE_NAME, VICTIM)

    environ = victim_environment(XDG_RUNTIME_DIR=str(open_directory))
    message = rejection_message(listener, environ)

    assert "without the sticky bit (mode 0777)" in message


def test_missing_personal_socket_not_connected(shared_tmp: Path) -> None:
    environ = victim_environment(TMPDIR=str(shared_tmp))
    socket_path, error_class, message = run_as(VICTIM, _list_with_default_socket, environ)

    assert socket_path == str(shared_tmp / f"tokend-{uid_of(VICTIM)}" / "tokend.sock")
    assert error_class == DaemonUnavailable.__name__
    assert "No such file or directory" in message


def test_untrusted_personal_socket_falls_back(daemon: Daemon, shared_tmp: Path) -> None:
    """With a system daemon running, the client skips the attacker's socket for it."""
    with socket.socket(socket.AF_UNIX) as fake:
        plant_attacker_socket(shared_tmp, fake)
        environ = victim_environment(TMPDIR=str(shared_tmp))
        chosen = run_as(VICTIM, _resolve, environ, daemon.socket_path)
        assert_never_connected(fake)
    assert chosen == daemon.socket_path


def test_default_socket_falls_back_to_system_daemon(daemon: Daemon, workdir: Path) -> None:
    # Made by root and handed over, as systemd-logind makes /run/user/UID.
    runtime_dir = workdir / "runtime"
    runtime_dir.mkdir(mode=0o700)
    os.chown(runtime_dir, uid_of(VICTIM), -1)
    environ = victim_environment(XDG_RUNTIME_DIR=str(runtime_dir))
    chosen = run_as(VICTIM, _resolve, environ, daemon.socket_path)
    assert chosen == daemon.socket_path

    personal_dir = runtime_dir / protocol.SOCKET_DIR_NAME
    run_as(VICTIM, _make_directory, str(personal_dir), 0o700)
    personal_socket = personal_dir / protocol.SOCKET_FILE_NAME
    with socket.socket(socket.AF_UNIX) as personal:
        listen_as(personal, personal_socket, VICTIM)
        chosen = run_as(VICTIM, _resolve, environ, daemon.socket_path)
    assert chosen == str(personal_socket)

    environ_with_socket = {**environ, protocol.ENV_SOCKET: "/x.sock"}
    chosen = run_as(VICTIM, _resolve, environ_with_socket, daemon.socket_path)
    assert chosen == "/x.sock"

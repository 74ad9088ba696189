"""Safe creation and checks of the daemon's database file and Unix socket.

The database lives in a directory that only the daemon's user may write. The daemon creates
it with mode 0700 and refuses to start when an existing one is owned by another user or
writable by group or others, because anyone who can write there could replace the database or
plant a symlink. The database file is created 0600, must not be a symlink, and is held to the
same owner and mode rules.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import os
import socket
import stat
from pathlib import Path

from .errors import StartupError


def prepare_database_path(path: Path) -> None:
    """Create the database's directory and file with safe modes, or raise `StartupError`."""
    directory = path.parent
    _make_private_directory(directory)
    _check_directory_not_shared(directory)

    try:
        info = path.lstat()
    except FileNotFoundError:
        info = None
    if info is not None and stat.S_ISLNK(info.st_mode):
        raise StartupError(
            f"The database path {path} is a symbolic link. Point --database at the real file, "
            "or remove the link."
        )
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise StartupError(f"The database path {path} exists but is not a regular file.")

    # O_NOFOLLOW closes the gap between the check above and the open.
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        descriptor = os.open(path, flags, 0o600)
    except OSError as error:
        raise StartupError(f"Cannot open the database {path}: {error.strerror}.") from None
    try:
        _check_not_foreign(path, os.fstat(descriptor), "database file")
        # An existing file may have been created readable by others; the hashes and lookup
        # ids in it are for the daemon's user alone.
        os.fchmod(descriptor, 0o600)
    finally:
        os.close(descriptor)
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            companion = path.with_name(path.name + suffix)
            if not companion.is_symlink() and companion.stat().st_uid == os.geteuid():
                companion.chmod(0o600)


def _make_private_directory(directory: Path) -> None:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise StartupError(
            f"Cannot create the database directory {directory}: {error.strerror}. "
            "Create it with mode 0700, or choose another path with --database."
        ) from None


def _check_directory_not_shared(directory: Path) -> None:
    _check_not_foreign(directory, directory.stat(), "database directory")


def _check_not_foreign(path: Path, info: os.stat_result, kind: str) -> None:
    """Raise `StartupError` unless the daemon's user owns `path` and only it may write there.

    An owner other than the daemon's user could chmod the file or directory and then replace
    the token hashes with its own.
    """
    if info.st_uid != os.geteuid():
        raise StartupError(
            f"The {kind} {path} is owned by uid {info.st_uid}, not by the daemon's user "
            f"(uid {os.geteuid()}). Run `chown {os.geteuid()} {path}` or use another path."
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise StartupError(
            f"The {kind} {path} is writable by group or others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}). Run `chmod go-w {path}` or use another "
            "path."
        )


def bind_unix_socket(path: Path, mode: int, group: str | None) -> socket.socket:
    """Bind a listening Unix stream socket at `path` with the given mode and group.

    A socket file left behind by a daemon that crashed is replaced. Any other file at the path
    (a regular file, a symlink, a directory) is left alone and the daemon refuses to start,
    as it does when another daemon still listens there.
    """
    _make_socket_directory(path.parent)
    _remove_stale_socket(path)

    gid = _group_id(group) if group is not None else None
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # Bind under a umask that leaves the socket closed to everyone until chmod opens it.
        previous_umask = os.umask(0o177)
        try:
            listener.bind(str(path))
        finally:
            os.umask(previous_umask)
        if gid is not None:
            os.chown(path, -1, gid, follow_symlinks=False)
        os.chmod(path, mode)
        listener.listen(128)
    except OSError as error:
        listener.close()
        reason = error.strerror or str(error)
        raise StartupError(f"Cannot listen on the socket {path}: {reason}.") from None
    return listener


def _make_socket_directory(directory: Path) -> None:
    if directory.is_dir():
        _check_socket_directory(directory)
        return
    # Root's daemon serves every account, so its directory is 0755 and the socket's own mode
    # decides who may connect. Another user's daemon is personal, so its directory is private.
    mode = 0o755 if os.geteuid() == 0 else 0o700
    try:
        directory.mkdir(mode=mode, parents=True)
    except OSError as error:
        raise StartupError(
            f"Cannot create the socket directory {directory}: {error.strerror}. "
            "Create it, or choose another path with --socket."
        ) from None


def _check_socket_directory(directory: Path) -> None:
    """Reject a directory in which another account could replace the socket."""
    link = directory.lstat()
    if stat.S_ISLNK(link.st_mode) and link.st_uid not in (0, os.geteuid()):
        # Its owner could point the link elsewhere once clients trust the path.
        raise StartupError(
            f"The socket directory {directory} is a symbolic link owned by uid "
            f"{link.st_uid}, not by this user or root. Remove it or choose another path "
            "with --socket."
        )
    info = directory.stat()
    if info.st_uid not in (0, os.geteuid()):
        raise StartupError(
            f"The socket directory {directory} belongs to uid {info.st_uid}, not to this "
            "user or root. Remove it or choose another path with --socket."
        )
    shared = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if shared and not info.st_mode & stat.S_ISVTX:
        raise StartupError(
            f"The socket directory {directory} is writable by group or others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}). Run `chmod go-w {directory}` or choose "
            "another path with --socket."
        )


def _remove_stale_socket(path: Path) -> None:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise StartupError(
            f"{path} exists and is not a socket. tokend does not delete it; move it away or "
            "choose another path with --socket."
        )
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except ConnectionRefusedError:
        # Nobody listens: a crashed daemon left the file behind.
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as error:
            raise StartupError(
                f"Cannot remove the stale socket {path}: {error.strerror}. It belongs to uid "
                f"{info.st_uid}; remove it as that user or root, or choose another path with "
                "--socket."
            ) from None
        return
    except OSError as error:
        if error.errno == errno.ENOENT:
            return
        raise StartupError(f"Cannot check the existing socket {path}: {error.strerror}.") from None
    finally:
        probe.close()
    raise StartupError(
        f"Another process already listens on {path}. Stop it first, or choose another path "
        "with --socket."
    )


def _group_id(group: str) -> int:
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise StartupError(
            f"The socket group {group!r} does not exist. Create it, or change socket_group."
        ) from None

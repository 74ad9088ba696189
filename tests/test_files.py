"""Start-up checks on the database and socket paths, against planted files and symlinks."""

from __future__ import annotations

import os
import pwd
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import Daemon

OTHER_USER = "nobody"


def run_tokend(socket_path: Path, database_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tokend",
            "--socket",
            str(socket_path),
            "--database",
            str(database_path),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env={key: value for key, value in os.environ.items() if not key.startswith("TOKEND_")},
    )


def private_state(workdir: Path) -> Path:
    state = workdir / "state"
    state.mkdir(mode=0o700)
    return state


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o702, 0o720])
def test_shared_directory_modes_are_refused(workdir: Path, mode: int) -> None:
    state = private_state(workdir)
    state.chmod(mode)
    completed = run_tokend(workdir / "s.sock", state / "t.db")
    assert completed.returncode == 1
    assert "writable by group or others" in completed.stderr
    assert not (state / "t.db").exists()
    assert not (workdir / "s.sock").exists()


@pytest.mark.root
def test_directory_of_another_user_is_refused(workdir: Path) -> None:
    state = private_state(workdir)
    os.chown(state, pwd.getpwnam(OTHER_USER).pw_uid, -1)
    completed = run_tokend(workdir / "s.sock", state / "t.db")
    assert completed.returncode == 1
    assert "is owned by uid" in completed.stderr
    assert not (state / "t.db").exists()


@pytest.mark.root
def test_database_of_another_user_is_refused(workdir: Path) -> None:
    state = private_state(workdir)
    database = state / "t.db"
    database.touch(mode=0o600)
    os.chown(database, pwd.getpwnam(OTHER_USER).pw_uid, -1)
    completed = run_tokend(workdir / "s.sock", database)
    assert completed.returncode == 1
    assert "database file" in completed.stderr
    assert "is owned by uid" in completed.stderr
    assert database.stat().st_size == 0


def test_world_writable_database_is_refused(workdir: Path) -> None:
    state = private_state(workdir)
    database = state / "t.db"
    database.touch()
    database.chmod(0o666)
    completed = run_tokend(workdir / "s.sock", database)
    assert completed.returncode == 1
    assert "writable by group or others" in completed.stderr
    assert database.stat().st_size == 0


def test_database_symlink_to_elsewhere_is_not_followed(workdir: Path) -> None:
    state = private_state(workdir)
    target = workdir / "elsewhere.db"
    target.write_bytes(b"not a database")
    (state / "t.db").symlink_to(target)
    completed = run_tokend(workdir / "s.sock", state / "t.db")
    assert completed.returncode == 1
    assert "symbolic link" in completed.stderr
    assert target.read_bytes() == b"not a database"


def test_socket_symlink_is_not_followed(workdir: Path) -> None:
    target = workdir / "victim"
    target.write_text("keep me")
    link = workdir / "s.sock"
    link.symlink_to(target)
    completed = run_tokend(link, workdir / "db" / "t.db")
    assert completed.returncode == 1
    assert "is not a socket" in completed.stderr
    assert link.is_symlink()
    assert target.read_text() == "keep me"


def test_socket_symlink_to_stale_socket_is_kept(workdir: Path) -> None:
    stale = workdir / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(stale))
    link = workdir / "s.sock"
    link.symlink_to(stale)
    completed = run_tokend(link, workdir / "db" / "t.db")
    assert completed.returncode == 1
    assert link.is_symlink()
    assert stat.S_ISSOCK(stale.lstat().st_mode)


def test_created_files_have_documented_modes(daemon: Daemon) -> None:
    daemon.call("create_full_access", name="a")
    database = Path(daemon.database_path)
    assert stat.S_IMODE(database.parent.stat().st_mode) == 0o700
    for path in (
        database,
        database.with_name("tokens.db-wal"),
        database.with_name("tokens.db-shm"),
    ):
        assert path.exists(), path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert path.stat().st_uid == os.geteuid()
    assert stat.S_IMODE(os.stat(daemon.socket_path).st_mode) == 0o666

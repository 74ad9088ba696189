"""Disk errors: the database on a small tmpfs that the test fills up or mounts read-only.

Mounting needs root (CAP_SYS_ADMIN); each test mounts under its own temporary directory and
unmounts it afterwards.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .checks import integrity, snapshot
from .helpers import Daemon

pytestmark = pytest.mark.root

DISK_SIZE = "512k"
MAX_CREATES = 400


@pytest.fixture
def small_disk_daemon(workdir: Path) -> Iterator[Daemon]:
    """A daemon whose database directory is a 512 KiB tmpfs; skipped where mounting fails."""
    daemon = Daemon(workdir / "daemon")
    state = Path(daemon.database_path).parent
    state.mkdir(mode=0o700)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE},mode=0700", "tmpfs", str(state)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        daemon.start()
        yield daemon
    finally:
        if daemon.process is not None and daemon.process.poll() is None:
            daemon.kill()
        unmounted = subprocess.run(["umount", str(state)], capture_output=True, text=True)
        if unmounted.returncode != 0:
            # Detach it anyway, so that no mount outlives the test, and report why it was busy.
            subprocess.run(["umount", "--lazy", str(state)], check=True)
            pytest.fail(f"the tmpfs was still in use: {unmounted.stderr.strip()}")


def write_until_error(descriptor: int) -> int:
    """Append 4 KiB blocks until a write fails; return its errno, or 0 after 4 GiB."""
    for _ in range(1 << 20):
        try:
            os.write(descriptor, b"\0" * 4096)
        except OSError as error:
            return error.errno or 0
    return 0


def fill(directory: Path) -> Path:
    """Write a file that takes every free block of the file system; return its path."""
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        assert write_until_error(descriptor) == errno.ENOSPC
    finally:
        os.close(descriptor)
    return filler


def test_full_disk_fails_writes_and_recovers(small_disk_daemon: Daemon) -> None:
    daemon = small_disk_daemon
    state = Path(daemon.database_path).parent
    for number in range(5):
        assert daemon.call("create_full_access", name=f"before-{number}")["status"] == 1
    filler = fill(state)

    acknowledged = {f"before-{number}" for number in range(5)}
    failed = []
    for number in range(MAX_CREATES):
        name = f"full-{number}"
        result = daemon.call("create_full_access", name=name)
        if result["status"] == 1:
            acknowledged.add(name)
            continue
        failed.append(name)
        assert "could not be written (the disk is full)" in result["errors"][0], result
        if len(failed) >= 3:
            break
    assert failed, f"{MAX_CREATES} creates fitted on a full {DISK_SIZE} disk"

    # Reads keep working, and a failed create leaves nothing behind.
    listed = {entry["name"] for entry in daemon.call("list")["data"]}
    assert listed == acknowledged
    assert {row[1] for row in snapshot(daemon.database_path)} == acknowledged
    renamed = daemon.call("rename", name="before-0", new_name="renamed")
    if renamed["status"] == 1:
        acknowledged = (acknowledged - {"before-0"}) | {"renamed"}
    else:
        assert "could not be written" in renamed["errors"][0]
    assert {entry["name"] for entry in daemon.call("list")["data"]} == acknowledged
    assert "event=internal_error" not in daemon.log()

    filler.unlink()
    for name in failed:
        assert daemon.call("create_full_access", name=name)["status"] == 1
    assert {entry["name"] for entry in daemon.call("list")["data"]} == acknowledged | set(failed)
    assert integrity(daemon.database_path) == "ok"

    daemon.stop()
    daemon.start()
    assert {entry["name"] for entry in daemon.call("list")["data"]} == acknowledged | set(failed)


def test_read_only_file_system_stops_startup(small_disk_daemon: Daemon) -> None:
    daemon = small_disk_daemon
    daemon.call("create_full_access", name="kept")
    assert daemon.stop() == 0
    state = Path(daemon.database_path).parent
    subprocess.run(["mount", "-o", "remount,ro", str(state)], check=True)
    try:
        completed = subprocess.run(
            daemon.command(), capture_output=True, text=True, timeout=30, env=dict(os.environ)
        )
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(state)], check=True)
    assert completed.returncode == 1
    assert "Read-only file system" in completed.stderr
    assert "Traceback" not in completed.stderr

    daemon.start()
    assert [entry["name"] for entry in daemon.call("list")["data"]] == ["kept"]

"""Fixtures that start the real tokend daemon on a temporary socket and database."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .helpers import Daemon

DaemonFactory = Callable[..., Daemon]


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A temporary directory that other uids may enter (pytest's tmp_path is private)."""
    path = Path(tempfile.mkdtemp(prefix="tokend-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def daemon_factory(workdir: Path) -> Iterator[DaemonFactory]:
    """Start daemons with extra configuration keys; stop them all after the test."""
    started: list[Daemon] = []

    def start(**config: object) -> Daemon:
        daemon = Daemon(workdir / f"daemon{len(started)}", config)
        started.append(daemon)
        daemon.start()
        return daemon

    yield start
    for daemon in started:
        daemon.close()


@pytest.fixture
def daemon(daemon_factory: DaemonFactory) -> Daemon:
    """A running daemon with the default test configuration."""
    return daemon_factory()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "root: needs uid 0 to switch to other accounts")
    config.addinivalue_line("markers", "stress: a long run, selected by `make stress`")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="switching uids needs root; run the suite as root")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)

"""Acknowledged writes survive SIGKILL of the daemon."""

from __future__ import annotations

import sqlite3

from .helpers import Daemon


def test_acknowledged_creates_survive_sigkill(daemon: Daemon) -> None:
    acknowledged = []
    for index in range(30):
        result = daemon.call("create_full_access", name=f"t{index}")
        assert result["status"] == 1
        acknowledged.append(result["data"]["name"])
    daemon.call("rename", name="t0", new_name="renamed")
    daemon.call("revoke", name="t1")
    daemon.kill()

    daemon.start()
    names = {entry["name"] for entry in daemon.call("list")["data"]}
    expected = (set(acknowledged) - {"t0", "t1"}) | {"renamed"}
    assert names == expected

    with sqlite3.connect(daemon.database_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_sigterm_exits_cleanly(daemon: Daemon) -> None:
    daemon.call("create_full_access", name="a")
    assert daemon.stop() == 0
    log = daemon.log()
    assert "event=stopping" in log
    assert "event=stopped" in log
    daemon.start()
    assert [entry["name"] for entry in daemon.call("list")["data"]] == ["a"]

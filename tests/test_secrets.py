"""Token values never reach the database, its WAL or the log."""

from __future__ import annotations

import glob

from .helpers import Daemon


def test_token_values_not_at_rest_or_in_logs(daemon: Daemon) -> None:
    tokens = [daemon.call("create_full_access", name=f"t{i}")["data"]["token"] for i in range(5)]
    daemon.call("list")
    daemon.call("rename", name="t0", new_name="r0")
    daemon.call("revoke", name="t1")

    files = glob.glob(daemon.database_path + "*")
    assert any(path.endswith("-wal") for path in files), files
    contents = b"".join(open(path, "rb").read() for path in files)  # noqa: SIM115
    log = daemon.log()
    assert "DEBUG" in log or "INFO" in log

    for token in tokens:
        secret = token[8:]
        assert token.encode() not in contents
        assert secret.encode() not in contents
        assert token not in log
        assert secret not in log

    assert daemon.stop() == 0
    log = daemon.log()
    for token in tokens:
        assert token[8:] not in log

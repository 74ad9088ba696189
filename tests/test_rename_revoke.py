"""Tokens::rename and Tokens::revoke, single and bulk."""

from __future__ import annotations

import sqlite3
import time

import pytest

from .helpers import Daemon


def listed(daemon: Daemon) -> dict[str, dict[str, object]]:
    return {entry["name"]: entry for entry in daemon.call("list")["data"]}


def lookup_id(daemon: Daemon, name: str) -> str:
    with sqlite3.connect(daemon.database_path) as db:
        (value,) = db.execute("SELECT lookup_id FROM tokens WHERE name = ?", (name,)).fetchone()
    return str(value)


def test_rename_keeps_token_and_times(daemon: Daemon) -> None:
    expires_at = int(time.time()) + 86400
    created = daemon.call("create_full_access", name="old", expires_at=expires_at)["data"]
    result = daemon.call("rename", name="old", new_name="new")
    assert result["status"] == 1, result
    assert result["data"] is None

    tokens = listed(daemon)
    assert list(tokens) == ["new"]
    assert tokens["new"]["create_time"] == created["create_time"]
    assert tokens["new"]["expires_at"] == expires_at
    assert lookup_id(daemon, "new") == created["token"][:8]


def test_rename_unknown_token_fails(daemon: Daemon) -> None:
    result = daemon.call("rename", name="missing", new_name="other")
    assert result["status"] == 0
    assert 'no token named "missing"' in result["errors"][0]


def test_rename_to_taken_name_fails(daemon: Daemon) -> None:
    daemon.call("create_full_access", name="a")
    daemon.call("create_full_access", name="b")
    result = daemon.call("rename", name="a", new_name="b")
    assert result["status"] == 0
    assert 'already has a token named "b"' in result["errors"][0]
    assert sorted(listed(daemon)) == ["a", "b"]


def test_rename_to_same_name_succeeds(daemon: Daemon) -> None:
    daemon.call("create_full_access", name="a")
    assert daemon.call("rename", name="a", new_name="a")["status"] == 1
    assert list(listed(daemon)) == ["a"]


def test_rename_case_only_change(daemon: Daemon) -> None:
    daemon.call("create_full_access", name="deploy")
    assert daemon.call("rename", name="deploy", new_name="Deploy")["status"] == 1
    assert list(listed(daemon)) == ["Deploy"]


@pytest.mark.parametrize("new_name", ["", "a b", "a.b", "x" * 51, "ci\n"])
def test_rename_to_invalid_name_fails(daemon: Daemon, new_name: str) -> None:
    daemon.call("create_full_access", name="a")
    result = daemon.call("rename", name="a", new_name=new_name)
    assert result["status"] == 0
    assert '"new_name"' in result["errors"][0]
    assert list(listed(daemon)) == ["a"]


def test_rename_requires_both_names(daemon: Daemon) -> None:
    assert '"new_name" is required' in daemon.call("rename", name="a")["errors"][0]
    assert '"name" is required' in daemon.call("rename", new_name="a")["errors"][0]


def test_revoke_single(daemon: Daemon) -> None:
    daemon.call("create_full_access", name="ci")
    result = daemon.call("revoke", name="ci")
    assert result["status"] == 1
    assert result["data"] == 1
    assert result["warnings"] is None
    assert result["metadata"]["revoked"] == ["ci"]
    assert listed(daemon) == {}


def test_revoke_unknown_name_warns(daemon: Daemon) -> None:
    result = daemon.call("revoke", name="typo")
    assert result["status"] == 1
    assert result["data"] == 1
    assert result["metadata"]["revoked"] == []
    assert len(result["warnings"]) == 1
    assert '"typo"' in result["warnings"][0]


def test_revoke_repeated_is_safe(daemon: Daemon) -> None:
    daemon.call("create_full_access", name="ci")
    assert daemon.call("revoke", name="ci")["metadata"]["revoked"] == ["ci"]
    again = daemon.call("revoke", name="ci")
    assert again["data"] == 1
    assert again["metadata"]["revoked"] == []
    assert again["warnings"]


def test_revoke_bulk_array(daemon: Daemon) -> None:
    for name in ["a", "b", "c"]:
        daemon.call("create_full_access", name=name)
    result = daemon.call("revoke", name=["a", "c", "zz"])
    assert result["data"] == 1
    assert result["metadata"]["revoked"] == ["a", "c"]
    assert len(result["warnings"]) == 1
    assert list(listed(daemon)) == ["b"]


def test_revoke_bulk_numbered_keys(daemon: Daemon) -> None:
    for name in ["a", "b", "c"]:
        daemon.call("create_full_access", name=name)
    result = daemon.call("revoke", **{"name-0": "a", "name-1": "b"})
    assert result["metadata"]["revoked"] == ["a", "b"]
    assert list(listed(daemon)) == ["c"]


def test_revoke_bulk_is_atomic_on_invalid_name(daemon: Daemon) -> None:
    daemon.call("create_full_access", name="a")
    result = daemon.call("revoke", name=["a", "not valid"])
    assert result["status"] == 0
    assert list(listed(daemon)) == ["a"]


def test_revoke_requires_a_name(daemon: Daemon) -> None:
    assert daemon.call("revoke")["status"] == 0
    assert daemon.call("revoke", name=[])["status"] == 0


def test_revoke_rejects_unknown_parameter(daemon: Daemon) -> None:
    daemon.call("create_full_access", name="a")
    result = daemon.call("revoke", names="a")
    assert result["status"] == 0
    assert '"names"' in result["errors"][0]
    assert list(listed(daemon)) == ["a"]


def test_revoke_caps_names_per_call(daemon: Daemon) -> None:
    daemon.call("create_full_access", name="keep")
    too_many = [f"n{index}" for index in range(1001)] + ["keep"]
    result = daemon.call("revoke", name=too_many)
    assert result["status"] == 0
    assert "at most 1000" in result["errors"][0]
    assert list(listed(daemon)) == ["keep"]

    allowed = daemon.call("revoke", name=[*too_many[:999], "keep"])
    assert allowed["metadata"]["revoked"] == ["keep"]
    assert len(allowed["warnings"]) == 999

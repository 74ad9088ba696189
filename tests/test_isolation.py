"""Accounts are identified by peer credentials and cannot touch each other's tokens."""

from __future__ import annotations

import json

import pytest

from .helpers import Daemon, call, post, run_as

pytestmark = pytest.mark.root

ALICE = "nobody"
BOB = "daemon"


def test_each_account_sees_only_its_own(daemon: Daemon) -> None:
    run_as(ALICE, call, daemon.socket_path, "create_full_access", {"name": "shared"})
    run_as(BOB, call, daemon.socket_path, "create_full_access", {"name": "shared"})
    run_as(BOB, call, daemon.socket_path, "create_full_access", {"name": "bob-only"})

    alice = run_as(ALICE, call, daemon.socket_path, "list")
    bob = run_as(BOB, call, daemon.socket_path, "list")
    assert [entry["name"] for entry in alice["data"]] == ["shared"]
    assert [entry["name"] for entry in bob["data"]] == ["bob-only", "shared"]
    assert daemon.call("list")["data"] == []


def test_other_account_cannot_rename_or_revoke(daemon: Daemon) -> None:
    run_as(BOB, call, daemon.socket_path, "create_full_access", {"name": "bob-only"})

    renamed = run_as(
        ALICE, call, daemon.socket_path, "rename", {"name": "bob-only", "new_name": "mine"}
    )
    assert renamed["status"] == 0
    revoked = run_as(ALICE, call, daemon.socket_path, "revoke", {"name": "bob-only"})
    assert revoked["metadata"]["revoked"] == []

    bob = run_as(BOB, call, daemon.socket_path, "list")
    assert [entry["name"] for entry in bob["data"]] == ["bob-only"]


@pytest.mark.parametrize("function", ["create_full_access", "list", "rename", "revoke"])
def test_api_user_denied_for_non_root(daemon: Daemon, function: str) -> None:
    run_as(BOB, call, daemon.socket_path, "create_full_access", {"name": "x"})
    params = {
        "create_full_access": {"api.user": BOB, "name": "y"},
        "list": {"api.user": BOB},
        "rename": {"api.user": BOB, "name": "x", "new_name": "y"},
        "revoke": {"api.user": BOB, "name": "x"},
    }[function]
    result = run_as(ALICE, call, daemon.socket_path, function, params)
    assert result["status"] == 0
    assert "Access denied" in result["errors"][0]
    bob = run_as(BOB, call, daemon.socket_path, "list")
    assert [entry["name"] for entry in bob["data"]] == ["x"]


def test_api_user_naming_self_is_allowed(daemon: Daemon) -> None:
    result = run_as(
        ALICE, call, daemon.socket_path, "create_full_access", {"name": "me", "api.user": ALICE}
    )
    assert result["status"] == 1


def test_root_acts_for_another_account(daemon: Daemon) -> None:
    created = daemon.call("create_full_access", name="by-root", **{"api.user": BOB})
    assert created["status"] == 1
    bob = run_as(BOB, call, daemon.socket_path, "list")
    assert [entry["name"] for entry in bob["data"]] == ["by-root"]
    assert daemon.call("rename", name="by-root", new_name="r2", **{"api.user": BOB})["status"] == 1
    revoked = daemon.call("revoke", name="r2", **{"api.user": BOB})
    assert revoked["metadata"]["revoked"] == ["r2"]


def test_root_api_user_unknown_account(daemon: Daemon) -> None:
    result = daemon.call("list", **{"api.user": "no-such-account-xyz"})
    assert result["status"] == 0
    assert '"no-such-account-xyz" does not exist' in result["errors"][0]


def test_uid_without_passwd_entry_is_rejected(daemon: Daemon) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "Tokens::list"}).encode()
    status, reply = run_as(54321, post, daemon.socket_path, body)
    assert status == 403
    error = json.loads(reply)["error"]
    assert error["code"] == -32001
    assert "uid 54321" in error["message"]


def test_batch_cannot_mix_accounts(daemon: Daemon) -> None:
    run_as(BOB, call, daemon.socket_path, "create_full_access", {"name": "keep"})
    batch = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "Tokens::create_full_access",
            "params": {"name": "mine"},
        },
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "Tokens::revoke",
            "params": {"name": "keep", "api.user": BOB},
        },
    ]
    status, reply = run_as(ALICE, post, daemon.socket_path, json.dumps(batch).encode())
    assert status == 200
    first, second = json.loads(reply)
    assert first["result"]["status"] == 1
    assert second["result"]["status"] == 0
    bob = run_as(BOB, call, daemon.socket_path, "list")
    assert [entry["name"] for entry in bob["data"]] == ["keep"]


def _get(socket_path: str) -> tuple[int, bytes]:
    from .helpers import UnixHTTPConnection

    connection = UnixHTTPConnection(socket_path)
    connection.request("GET", "/anything")
    response = connection.getresponse()
    return response.status, response.read()


def test_unknown_uid_rejected_on_any_path(daemon: Daemon) -> None:
    status, reply = run_as(54321, _get, daemon.socket_path)
    assert status == 403
    assert json.loads(reply)["error"]["code"] == -32001

"""A non-root account must not reach another account's tokens by any parameter or connection."""

from __future__ import annotations

import json
import os
import select
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from .checks import check_reply, snapshot
from .helpers import Daemon, UnixHTTPConnection, call, post, run_as

pytestmark = pytest.mark.root

ALICE = "nobody"
BOB = "daemon"
# Values that try to name BOB (or root) without being exactly the caller's own account.
FOREIGN_USERS: list[object] = [
    BOB,
    "root",
    f"{BOB}\n",
    f" {BOB}",
    f"{BOB}\x00",
    f"../{BOB}",
    "/etc/passwd",
    f"{BOB}' OR '1'='1",
    "%",
    "*",
    1,
    "0",
    [BOB],
    {"name": BOB},
    None,
    True,
    "",
    "no-such-account",
]
SUSPICIOUS_NAMES = ["../daemon/x", "x'; DROP TABLE tokens;--", "daemon:x", "a/b", "a\x00", "%", "*"]


def seed_bob(daemon: Daemon) -> list[Any]:
    for name in ("a", "bob-only", "_"):
        result = run_as(BOB, call, daemon.socket_path, "create_full_access", {"name": name})
        assert result["status"] == 1
    return [row for row in snapshot(daemon.database_path) if row[0] == BOB]


def bob_rows(daemon: Daemon) -> list[Any]:
    return [row for row in snapshot(daemon.database_path) if row[0] == BOB]


@pytest.mark.parametrize("function", ["create_full_access", "list", "rename", "revoke"])
def test_api_user_variants_denied(daemon: Daemon, function: str) -> None:
    before = seed_bob(daemon)
    every_params: dict[str, dict[str, object]] = {
        "create_full_access": {"name": "planted"},
        "list": {},
        "rename": {"name": "bob-only", "new_name": "taken"},
        "revoke": {"name": ["a", "bob-only", "_"]},
    }
    params = every_params[function]
    for user in FOREIGN_USERS:
        result = run_as(ALICE, call, daemon.socket_path, function, {**params, "api.user": user})
        assert result["status"] == 0, (user, result)
        assert result["data"] is None
        message = result["errors"][0]
        assert message.startswith(("Access denied", "Invalid value")), message
        # Whether an account exists is not revealed to other accounts.
        assert "does not exist" not in message
    assert bob_rows(daemon) == before
    assert [row for row in snapshot(daemon.database_path) if row[0] == ALICE] == []


def test_path_and_sql_names_touch_nothing(daemon: Daemon) -> None:
    before = seed_bob(daemon)
    run_as(ALICE, call, daemon.socket_path, "create_full_access", {"name": "a"})
    alice_before = [row for row in snapshot(daemon.database_path) if row[0] == ALICE]

    for name in SUSPICIOUS_NAMES:
        for function, params in (
            ("create_full_access", {"name": name}),
            ("rename", {"name": "a", "new_name": name}),
            ("rename", {"name": name, "new_name": "b"}),
            ("revoke", {"name": name}),
        ):
            result = run_as(ALICE, call, daemon.socket_path, function, params)
            assert result["status"] == 0, (function, name, result)

    # "_" is a valid name and SQL's LIKE wildcard for one character: it must match only itself.
    result = run_as(ALICE, call, daemon.socket_path, "revoke", {"name": "_"})
    assert result["metadata"]["revoked"] == []
    assert bob_rows(daemon) == before
    assert [row for row in snapshot(daemon.database_path) if row[0] == ALICE] == alice_before


def test_batch_targeting_another_account_fails_per_call(daemon: Daemon) -> None:
    before = seed_bob(daemon)
    calls = [
        ("Tokens::create_full_access", {"name": "mine"}),
        ("Tokens::create_full_access", {"name": "planted", "api.user": BOB}),
        ("Tokens::list", {"api.user": BOB}),
        ("Tokens::rename", {"name": "a", "new_name": "x", "api.user": BOB}),
        ("Tokens::revoke", {"name": "bob-only", "api.user": BOB}),
        ("Tokens::list", {}),
    ]
    batch = [
        {"jsonrpc": "2.0", "id": number, "method": method, "params": params}
        for number, (method, params) in enumerate(calls)
    ]
    status, body = run_as(ALICE, post, daemon.socket_path, json.dumps(batch).encode())
    responses = {response["id"]: response for response in check_reply(status, body)}

    assert responses[0]["result"]["status"] == 1
    for number in (1, 2, 3, 4):
        assert responses[number]["result"]["status"] == 0
        assert "Access denied" in responses[number]["result"]["errors"][0]
    assert [entry["name"] for entry in responses[5]["result"]["data"]] == ["mine"]
    assert bob_rows(daemon) == before


def list_twice_on_one_connection(socket_path: str, done_fd: int, resume_fd: int) -> list[list[str]]:
    """List on one kept-alive connection, wait on `resume_fd` in between, then list again."""
    connection = UnixHTTPConnection(socket_path)
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "Tokens::list"}).encode()
    names = []
    try:
        for step in range(2):
            connection.request("POST", "/", body=body)
            reply = json.loads(connection.getresponse().read())
            names.append([entry["name"] for entry in reply["result"]["data"]])
            if step == 0:
                os.write(done_fd, b"1")
                assert select.select([resume_fd], [], [], 30)[0], "no signal to resume"
    finally:
        connection.close()
    return names


def test_connection_keeps_its_own_account(daemon: Daemon) -> None:
    """Another account's request between two on a kept-alive connection changes nothing."""
    seed_bob(daemon)
    run_as(ALICE, call, daemon.socket_path, "create_full_access", {"name": "alice-only"})
    done_read, done_write = os.pipe()
    resume_read, resume_write = os.pipe()
    with ThreadPoolExecutor(1) as pool:
        alice = pool.submit(
            run_as, ALICE, list_twice_on_one_connection, daemon.socket_path, done_write, resume_read
        )
        assert select.select([done_read], [], [], 30)[0], "the first list did not finish"
        bob = run_as(BOB, call, daemon.socket_path, "list")
        os.write(resume_write, b"1")
        first, second = alice.result(timeout=60)
    for descriptor in (done_read, done_write, resume_read, resume_write):
        os.close(descriptor)

    assert [entry["name"] for entry in bob["data"]] == ["_", "a", "bob-only"]
    assert first == ["alice-only"]
    assert second == ["alice-only"]


@pytest.mark.parametrize(
    "user", ["no-such-account", "", "root\x00", "../root", f"{BOB}\n", 54321, "54321", [BOB]]
)
def test_root_unknown_account_gets_clear_error(daemon: Daemon, user: object) -> None:
    for function, params in (
        ("list", {}),
        ("create_full_access", {"name": "x"}),
        ("revoke", {"name": "x"}),
    ):
        result = daemon.call(function, **params, **{"api.user": user})
        assert result["status"] == 0, result
        message = result["errors"][0]
        assert "does not exist" in message or "Invalid value" in message, message
        assert "api.user" in message or "getent passwd" in message, message
    assert snapshot(daemon.database_path) == []

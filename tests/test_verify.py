"""Tokens::verify: validity, one generic failure message, cache, rate limits, concurrency."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from typing import Any

import aiohttp
import pytest

from .conftest import DaemonFactory
from .helpers import Daemon, call, run_as

INVALID = "Invalid token: the account name or the token is wrong, or the token was revoked."


def verify(daemon: Daemon, user: str, token: object) -> Any:
    return daemon.call("verify", user=user, token=token)


def assert_invalid(result: dict[str, Any]) -> None:
    assert result["status"] == 0, result
    assert result["data"] is None
    assert result["errors"] == [INVALID]


def set_expiry(daemon: Daemon, name: str, expires_at: int) -> None:
    with sqlite3.connect(daemon.database_path) as db:
        db.execute("UPDATE tokens SET expires_at = ? WHERE name = ?", (expires_at, name))


def create(daemon: Daemon, name: str, **params: object) -> str:
    result = daemon.call("create_full_access", name=name, **params)
    assert result["status"] == 1, result
    return str(result["data"]["token"])


def flip(character: str) -> str:
    return "A" if character != "A" else "B"


def test_valid_token_returns_list_entry(daemon: Daemon) -> None:
    token = create(daemon, "ci")
    result = verify(daemon, "root", token)
    assert result["status"] == 1, result
    (listed,) = daemon.call("list")["data"]
    assert result["data"] == listed


def test_failures_share_one_message(daemon: Daemon) -> None:
    token = create(daemon, "ci")
    other = create(daemon, "other")
    wrong_secret = token[:-1] + flip(token[-1])
    unknown_lookup = flip(token[0]) + token[1:]
    cases = [
        ("root", wrong_secret),
        ("root", unknown_lookup),
        ("no-such-account-xyz", token),
        ("daemon", token),
        ("root", token[:-1]),
        ("root", token + "A"),
        ("root", token.lower()),
        ("root", token[:-1] + "!"),
        ("root", ""),
        ("root", other[:8] + token[8:]),
    ]
    for user, presented in cases:
        assert_invalid(verify(daemon, user, presented))
    assert_invalid(verify(daemon, "root", 12345678))
    assert verify(daemon, "root", token)["status"] == 1


def test_failure_message_never_echoes_token(daemon: Daemon) -> None:
    token = create(daemon, "ci")
    wrong = token[:-1] + flip(token[-1])
    reply = json.dumps(verify(daemon, "root", wrong))
    assert wrong not in reply
    assert wrong[8:] not in daemon.log()


def test_expired_token_says_expired(daemon: Daemon) -> None:
    token = create(daemon, "old", expires_at=int(time.time()) + 3600)
    set_expiry(daemon, "old", int(time.time()) - 5)
    result = verify(daemon, "root", token)
    assert result["status"] == 0
    assert "expired" in result["errors"][0]
    assert '"old"' in result["errors"][0]

    wrong = verify(daemon, "root", token[:-1] + flip(token[-1]))
    assert_invalid(wrong)


def test_expiry_applies_to_cached_token(daemon: Daemon) -> None:
    token = create(daemon, "ci", expires_at=int(time.time()) + 3600)
    assert verify(daemon, "root", token)["status"] == 1
    set_expiry(daemon, "ci", int(time.time()) - 1)
    assert "expired" in verify(daemon, "root", token)["errors"][0]


def test_revoked_cached_token_fails_at_once(daemon: Daemon) -> None:
    token = create(daemon, "ci")
    assert verify(daemon, "root", token)["status"] == 1
    assert daemon.call("revoke", name="ci")["metadata"]["revoked"] == ["ci"]
    assert_invalid(verify(daemon, "root", token))


def test_renamed_then_revoked_token_fails(daemon: Daemon) -> None:
    token = create(daemon, "ci")
    assert verify(daemon, "root", token)["data"]["name"] == "ci"
    daemon.call("rename", name="ci", new_name="deploy")
    assert verify(daemon, "root", token)["data"]["name"] == "deploy"
    daemon.call("revoke", name="deploy")
    assert_invalid(verify(daemon, "root", token))


def test_verify_rejects_unknown_parameter(daemon: Daemon) -> None:
    token = create(daemon, "ci")
    result = daemon.call("verify", user="root", token=token, **{"api.user": "root"})
    assert result["status"] == 0
    assert '"api.user"' in result["errors"][0]


@pytest.mark.root
def test_non_root_cannot_verify_other_account(daemon: Daemon) -> None:
    token = create(daemon, "ci")
    result = run_as("nobody", call, daemon.socket_path, "verify", {"user": "root", "token": token})
    assert result["status"] == 0
    assert "Access denied" in result["errors"][0]


@pytest.mark.root
def test_non_root_verifies_own_token(daemon: Daemon) -> None:
    created = run_as("nobody", call, daemon.socket_path, "create_full_access", {"name": "mine"})
    token = created["data"]["token"]
    result = run_as(
        "nobody", call, daemon.socket_path, "verify", {"user": "nobody", "token": token}
    )
    assert result["status"] == 1
    assert verify(daemon, "nobody", token)["status"] == 1


def retry_seconds(result: dict[str, Any]) -> int:
    match = re.search(r"Retry in (\d+) seconds?\.", result["errors"][0])
    assert match, result
    return int(match.group(1))


def test_rate_limit_engages_and_expires(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory(verify_failure_limit=3, verify_failure_window_s=2)
    token = create(daemon, "ci")
    wrong = token[:-1] + flip(token[-1])
    for _ in range(3):
        assert_invalid(verify(daemon, "root", wrong))

    refused = verify(daemon, "root", token)
    assert refused["status"] == 0
    assert "Too many failed verifications" in refused["errors"][0]
    assert 1 <= retry_seconds(refused) <= 2

    # Waiting out the window is the behaviour under test, so this test sleeps on purpose.
    time.sleep(retry_seconds(refused) + 0.1)
    assert verify(daemon, "root", token)["status"] == 1


def test_cached_token_verifies_while_limited(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory(verify_failure_limit=2)
    token = create(daemon, "ci")
    assert verify(daemon, "root", token)["status"] == 1
    wrong = token[:-1] + flip(token[-1])
    for _ in range(2):
        assert_invalid(verify(daemon, "root", wrong))
    assert "Too many" in verify(daemon, "root", wrong)["errors"][0]
    assert verify(daemon, "root", token)["status"] == 1


@pytest.mark.root
def _verify_many(socket_path: str, params: list[dict[str, object]]) -> list[Any]:
    return [call(socket_path, "verify", one) for one in params]


@pytest.mark.root
def test_per_uid_limit_for_non_root(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory(verify_failure_limit_per_uid=3, verify_failure_limit=100)
    cached = run_as("nobody", call, daemon.socket_path, "create_full_access", {"name": "a"})
    cached_token = cached["data"]["token"]
    other = run_as("nobody", call, daemon.socket_path, "create_full_access", {"name": "b"})
    other_token = other["data"]["token"]
    wrong = other_token[:-1] + flip(other_token[-1])
    junk = {"user": "nobody", "token": "0" * 32}
    attempts = [
        {"user": "nobody", "token": cached_token},
        *[junk] * 5,
        *[{"user": "nobody", "token": wrong}] * 3,
        {"user": "nobody", "token": other_token},
        {"user": "nobody", "token": cached_token},
    ]
    results = run_as("nobody", _verify_many, daemon.socket_path, attempts)

    assert results[0]["status"] == 1
    # Malformed and unknown tokens never reach argon2 and do not count against the uid.
    for result in results[1:6]:
        assert_invalid(result)
    for result in results[6:9]:
        assert_invalid(result)
    assert "Too many failed verifications for uid" in results[9]["errors"][0]
    # A token in the cache still verifies while the uid is limited.
    assert results[10]["status"] == 1
    # Root has no per-uid limit.
    assert verify(daemon, "nobody", other_token)["status"] == 1


def test_parallel_guesses_stop_at_limit(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory(verify_failure_limit=10, hash_profile="owasp")
    token = create(daemon, "ci")
    guesses = [
        {
            "jsonrpc": "2.0",
            "id": index,
            "method": "Tokens::verify",
            "params": {"user": "root", "token": token[:8] + f"{index:024d}"},
        }
        for index in range(60)
    ]

    async def send_all() -> list[Any]:
        connector = aiohttp.UnixConnector(path=daemon.socket_path, limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def post(body: dict[str, object]) -> Any:
                async with session.post("http://localhost/", json=body) as response:
                    return await response.json(content_type=None)

            return await asyncio.gather(*(post(guess) for guess in guesses))

    replies = asyncio.run(send_all())
    errors = [reply["result"]["errors"][0] for reply in replies]
    checked = [error for error in errors if error == INVALID]
    refused = [error for error in errors if "Too many failed verifications" in error]
    assert len(checked) <= 10
    assert len(checked) + len(refused) == 60


def test_parallel_checks_of_one_token_share_argon2(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory(
        verify_failure_limit=1, verify_cache_ttl_s=0.000001, hash_profile="owasp"
    )
    token = create(daemon, "ci")
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "Tokens::verify",
        "params": {"user": "root", "token": token},
    }

    async def send_all() -> list[Any]:
        connector = aiohttp.UnixConnector(path=daemon.socket_path, limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def post() -> Any:
                async with session.post("http://localhost/", json=request) as response:
                    return await response.json(content_type=None)

            return await asyncio.gather(*(post() for _ in range(30)))

    replies = asyncio.run(send_all())
    assert all(reply["result"]["status"] == 1 for reply in replies)


def test_verify_failures_not_logged_per_call(daemon: Daemon) -> None:
    for _ in range(5):
        assert_invalid(verify(daemon, "root", "0" * 32))
    assert "event=call_failed method=Tokens::verify" not in daemon.log()


def test_failures_logged_as_summary(daemon: Daemon) -> None:
    for _ in range(5):
        assert_invalid(verify(daemon, "root", "0" * 32))
    assert daemon.stop() == 0
    log = daemon.log()
    assert log.count("event=verification_failed ") == 1
    assert "event=verification_failures account=root count=5" in log


async def test_burst_keeps_event_loop_responsive(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory(hash_profile="owasp", verify_cache_ttl_s=0.000001)
    # 200 different tokens, because concurrent checks of one token share one argon2 run.
    tokens = []
    for first in (0, 100):
        batch = [
            {
                "jsonrpc": "2.0",
                "id": index,
                "method": "Tokens::create_full_access",
                "params": {"name": f"t{index}"},
            }
            for index in range(first, first + 100)
        ]
        status, body = daemon.post(json.dumps(batch).encode())
        assert status == 200
        tokens += [reply["result"]["data"]["token"] for reply in json.loads(body)]
    requests = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "Tokens::verify",
            "params": {"user": "root", "token": token},
        }
        for token in tokens
    ]
    list_request = {"jsonrpc": "2.0", "id": 2, "method": "Tokens::list"}
    connector = aiohttp.UnixConnector(path=daemon.socket_path, limit=0)
    finished: list[float] = []
    burst_started = asyncio.Event()

    async with aiohttp.ClientSession(connector=connector) as session:

        async def post(body: dict[str, object]) -> Any:
            async with session.post("http://localhost/", json=body) as response:
                reply = await response.json(content_type=None)
            finished.append(time.monotonic())
            if len(finished) >= 5:
                burst_started.set()
            return reply

        burst = [asyncio.create_task(post(request)) for request in requests]
        await burst_started.wait()
        listed = await post(list_request)
        done_before_list = len(finished) - 1
        replies = await asyncio.gather(*burst)

    assert listed["result"]["status"] == 1
    assert all(reply["result"]["status"] == 1 for reply in replies)
    # The list call waited for at most a few argon2 jobs, not for the rest of the burst.
    assert done_before_list < 100


def test_revoke_during_check_wins(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory(hash_profile="owasp", hash_workers=1, verify_cache_ttl_s=0.000001)
    blocker = create(daemon, "blocker")

    def rpc_body(method: str, params: dict[str, object]) -> dict[str, object]:
        return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}

    async def one_round(index: int) -> tuple[float, float, Any]:
        victim = create(daemon, f"victim{index}")
        connector = aiohttp.UnixConnector(path=daemon.socket_path, limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def post(body: dict[str, object]) -> tuple[float, Any]:
                async with session.post("http://localhost/", json=body) as response:
                    reply = await response.json(content_type=None)
                return time.monotonic(), reply

            verify_params: dict[str, object] = {"user": "root", "token": blocker}
            busy = asyncio.create_task(post(rpc_body("Tokens::verify", verify_params)))
            checked = asyncio.create_task(
                post(rpc_body("Tokens::verify", {"user": "root", "token": victim}))
            )
            await asyncio.sleep(0.005)
            revoked_at, _ = await post(rpc_body("Tokens::revoke", {"name": f"victim{index}"}))
            verified_at, reply = await checked
            await busy
        return revoked_at, verified_at, reply

    async def rounds() -> list[tuple[float, float, Any]]:
        return [await one_round(index) for index in range(10)]

    for revoked_at, verified_at, reply in asyncio.run(rounds()):
        if revoked_at < verified_at:
            assert reply["result"]["status"] == 0, reply

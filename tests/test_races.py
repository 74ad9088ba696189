"""Concurrent clients create, rename and revoke the same names on one daemon.

Each client records what the daemon acknowledged. Afterwards the store, read straight from the
database file, must agree with those acknowledgements: no duplicate names in an account, no
token that no create returned, and exactly one removed token for every name a revoke reported.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .checks import check_response, snapshot
from .helpers import Daemon, rpc

SHARED_NAMES = ("n0", "n1", "n2", "Deploy", "deploy")
ACCOUNTS = ("root", "nobody")
CLIENTS = 12
CALLS_PER_CLIENT = 60
# Messages of the expected function-level failures when clients collide on a name.
EXPECTED_FAILURES = ("already has a token named", "has no token named")


@dataclass
class Ledger:
    """What one client sent and what the daemon acknowledged."""

    created: list[tuple[str, str, str]] = field(default_factory=list)
    revoked: list[tuple[str, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    private: dict[str, set[str]] = field(default_factory=dict)


def call_as(socket_path: str, account: str, function: str, params: dict[str, Any]) -> Any:
    response = rpc(socket_path, f"Tokens::{function}", {**params, "api.user": account})
    check_response(response)
    assert "result" in response, response
    return response["result"]


def run_client(socket_path: str, number: int, seed: int, calls: int = CALLS_PER_CLIENT) -> Ledger:
    """Send random calls on the shared names and on names only this client uses."""
    chooser = random.Random(seed)
    ledger = Ledger(private={account: set() for account in ACCOUNTS})
    for step in range(calls):
        account = chooser.choice(ACCOUNTS)
        if chooser.random() < 0.25:
            run_private_step(socket_path, account, f"c{number}-{step}", chooser, ledger)
            continue
        name = chooser.choice(SHARED_NAMES)
        kind = chooser.choice(("create", "create", "rename", "revoke"))
        if kind == "create":
            result = call_as(socket_path, account, "create_full_access", {"name": name})
            if result["status"] == 1:
                ledger.created.append((account, name, result["data"]["token"][:8]))
        elif kind == "rename":
            new_name = chooser.choice(SHARED_NAMES)
            result = call_as(socket_path, account, "rename", {"name": name, "new_name": new_name})
        else:
            names = chooser.sample(SHARED_NAMES, chooser.randint(1, 3))
            result = call_as(socket_path, account, "revoke", {"name": names})
            if result["status"] == 1:
                ledger.revoked.extend((account, gone) for gone in result["metadata"]["revoked"])
        if result["status"] == 0:
            ledger.failures.append(result["errors"][0])
    return ledger


def run_private_step(
    socket_path: str, account: str, name: str, chooser: random.Random, ledger: Ledger
) -> None:
    """Create a name no other client uses and maybe rename or revoke one of this client's."""
    result = call_as(socket_path, account, "create_full_access", {"name": name})
    assert result["status"] == 1, result
    ledger.created.append((account, name, result["data"]["token"][:8]))
    owned = ledger.private[account]
    owned.add(name)
    choice = chooser.random()
    if choice < 0.3:
        old = chooser.choice(sorted(owned))
        result = call_as(socket_path, account, "rename", {"name": old, "new_name": old + "r"})
        assert result["status"] == 1, result
        owned.remove(old)
        owned.add(old + "r")
    elif choice < 0.5:
        gone = chooser.choice(sorted(owned))
        result = call_as(socket_path, account, "revoke", {"name": gone})
        assert result["metadata"]["revoked"] == [gone], result
        ledger.revoked.append((account, gone))
        owned.remove(gone)


def test_concurrent_writes_match_acknowledgements(daemon: Daemon) -> None:
    race_writers(daemon, CLIENTS, CALLS_PER_CLIENT, seed=1000)


def race_writers(daemon: Daemon, clients: int, calls: int, seed: int) -> None:
    """Run `clients` concurrent writers of `calls` calls each; check the store against them."""
    with ThreadPoolExecutor(clients) as pool:
        futures = [
            pool.submit(run_client, daemon.socket_path, number, seed + number, calls)
            for number in range(clients)
        ]
        ledgers = [future.result(timeout=600) for future in futures]

    rows = snapshot(daemon.database_path)
    names = Counter((row[0], row[1]) for row in rows)
    assert [key for key, count in names.items() if count > 1] == []

    created = [entry for ledger in ledgers for entry in ledger.created]
    created_ids = {lookup_id for _, _, lookup_id in created}
    assert len(created_ids) == len(created)
    stored_ids = {row[2] for row in rows}
    assert stored_ids <= created_ids, "the store holds a token that no create returned"
    revoked = [entry for ledger in ledgers for entry in ledger.revoked]
    assert len(rows) == len(created) - len(revoked)

    for account in ACCOUNTS:
        stored = {row[1] for row in rows if row[0] == account and row[1] not in SHARED_NAMES}
        expected = set().union(*(ledger.private[account] for ledger in ledgers))
        assert stored == expected, account

    failures = [message for ledger in ledgers for message in ledger.failures]
    unexpected = [m for m in failures if not any(text in m for text in EXPECTED_FAILURES)]
    assert unexpected == []
    assert "locked" not in daemon.log()
    assert "event=internal_error" not in daemon.log()

    for account in ACCOUNTS:
        listed = call_as(daemon.socket_path, account, "list", {})["data"]
        assert sorted(entry["name"] for entry in listed) == sorted(
            row[1] for row in rows if row[0] == account
        )


def test_simultaneous_creates_of_one_name(daemon: Daemon) -> None:
    """Of many creates of one name released at the same moment, exactly one succeeds."""
    start = threading.Barrier(CLIENTS)

    def create() -> Any:
        start.wait(timeout=30)
        return call_as(daemon.socket_path, "root", "create_full_access", {"name": "same"})

    for _ in range(5):
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = list(pool.map(lambda _: create(), range(CLIENTS), timeout=60))
        assert sum(result["status"] for result in results) == 1
        assert [row[1] for row in snapshot(daemon.database_path)] == ["same"]
        assert call_as(daemon.socket_path, "root", "revoke", {"name": "same"})["status"] == 1


def test_two_daemons_share_one_database(daemon_factory: Any) -> None:
    """Writes from two daemons on one database wait for each other instead of failing."""
    first = daemon_factory()
    second = daemon_factory()
    second.database_path = first.database_path
    second.stop()
    second.start()
    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [
            pool.submit(run_client, target.socket_path, number, seed=2000 + number)
            for number, target in enumerate([first, second] * (CLIENTS // 2))
        ]
        ledgers = [future.result(timeout=120) for future in futures]
    rows = snapshot(first.database_path)
    created = sum(len(ledger.created) for ledger in ledgers)
    revoked = sum(len(ledger.revoked) for ledger in ledgers)
    assert len(rows) == created - revoked
    failures = [message for ledger in ledgers for message in ledger.failures]
    assert [m for m in failures if not any(text in m for text in EXPECTED_FAILURES)] == []
    for target in (first, second):
        assert "could not be written" not in target.log()
        assert "event=internal_error" not in target.log()

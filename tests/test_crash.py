"""SIGKILL during a stream of writes, repeated, must never lose or invent acknowledged state.

Two clients write to disjoint name ranges, so each has at most one call in flight when the
daemon dies. After each restart the database must pass `PRAGMA integrity_check`, and each
client's names must match its acknowledged calls, with the call in flight either fully applied
or not at all.
"""

from __future__ import annotations

import http.client
import random
import threading
from dataclasses import dataclass, field
from typing import Any

from .checks import integrity, snapshot
from .helpers import Daemon, call

ROUNDS = 20
CLIENTS = 2
# None stands for a lookup id not yet known: a create that was in flight when the daemon died.
Names = dict[str, str | None]


@dataclass
class Client:
    """One writer's acknowledged names and the call it had in flight, if any."""

    prefix: str
    chooser: random.Random
    names: Names = field(default_factory=dict)
    pending: tuple[str, ...] | None = None
    acknowledged: int = 0
    counter: int = 0

    def next_call(self) -> tuple[str, ...]:
        existing = sorted(self.names)
        kind = self.chooser.choice(("create", "create", "create", "rename", "revoke"))
        if kind == "create" or not existing:
            self.counter += 1
            return ("create", f"{self.prefix}{self.counter}")
        name = self.chooser.choice(existing)
        if kind == "rename":
            return ("rename", name, name + "x")
        return ("revoke", name)

    def run(self, socket_path: str, acknowledged_enough: threading.Event, wanted: int) -> None:
        """Write until the daemon dies; set `acknowledged_enough` after `wanted` replies."""
        while True:
            request = self.next_call()
            self.pending = request
            try:
                result = send(socket_path, request)
            except (OSError, http.client.HTTPException):
                # The daemon was killed: this call stays pending, applied or not.
                return
            assert result["status"] == 1, result
            self.names = apply(self.names, request, result)
            self.pending = None
            self.acknowledged += 1
            if self.acknowledged >= wanted:
                acknowledged_enough.set()


def send(socket_path: str, request: tuple[str, ...]) -> Any:
    kind, name, *rest = request
    if kind == "create":
        return call(socket_path, "create_full_access", {"name": name})
    if kind == "rename":
        return call(socket_path, "rename", {"name": name, "new_name": rest[0]})
    return call(socket_path, "revoke", {"name": name})


def apply(names: Names, request: tuple[str, ...], result: Any) -> Names:
    """Return `names` after `request`; a create without its `result` has an unknown id."""
    kind, name, *rest = request
    after = dict(names)
    if kind == "create":
        data = result["data"] if result is not None else None
        after[name] = data["token"][:8] if isinstance(data, dict) else None
    elif kind == "rename":
        after[rest[0]] = after.pop(name)
    else:
        after.pop(name, None)
    return after


def matches(expected: Names, actual: dict[str, str]) -> bool:
    if set(expected) != set(actual):
        return False
    return all(expected[name] in (None, actual[name]) for name in expected)


def test_sigkill_keeps_acknowledged_state(daemon: Daemon) -> None:
    kill_during_writes(daemon, ROUNDS, seed=20240601)


def kill_during_writes(daemon: Daemon, rounds: int, seed: int) -> None:
    """Kill and restart `daemon` `rounds` times during writes; check the state after each."""
    chooser = random.Random(seed)
    clients = [Client(f"k{number}-", random.Random(number)) for number in range(CLIENTS)]
    total_acknowledged = 0
    in_flight = 0

    for round_number in range(rounds):
        acknowledged_enough = threading.Event()
        wanted = chooser.randint(1, 25)
        for client in clients:
            client.acknowledged = 0
        threads = [
            threading.Thread(
                target=client.run, args=(daemon.socket_path, acknowledged_enough, wanted)
            )
            for client in clients
        ]
        for thread in threads:
            thread.start()
        assert acknowledged_enough.wait(timeout=60), daemon.log()[-2000:]
        daemon.kill()
        for thread in threads:
            thread.join(timeout=60)
            assert not thread.is_alive()

        daemon.start()
        assert integrity(daemon.database_path) == "ok"
        rows = snapshot(daemon.database_path)
        for client in clients:
            actual = {row[1]: row[2] for row in rows if row[1].startswith(client.prefix)}
            candidates = [client.names]
            if client.pending is not None:
                in_flight += 1
                candidates.append(apply(client.names, client.pending, None))
            matched = [names for names in candidates if matches(names, actual)]
            assert matched, (round_number, client.pending, client.names, actual)
            client.names = dict(actual)
            client.pending = None
            total_acknowledged += client.acknowledged

    listed = {entry["name"] for entry in daemon.call("list")["data"]}
    assert listed == {name for client in clients for name in client.names}
    assert total_acknowledged >= rounds
    # Half the clients' rounds must end with a call in flight, or the kills prove little.
    assert in_flight >= rounds, in_flight

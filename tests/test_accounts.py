"""Account lookups through NSS and their cache."""

from __future__ import annotations

import os
import pwd

from tokend.accounts import Accounts


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_name_of_known_and_unknown_uid() -> None:
    accounts = Accounts(ttl_s=5)
    assert accounts.name_of(os.getuid()) == pwd.getpwuid(os.getuid()).pw_name
    assert accounts.name_of(2_000_000_123) is None


def test_exists_rejects_unknown_and_odd_names() -> None:
    accounts = Accounts(ttl_s=5)
    assert accounts.exists("root")
    assert not accounts.exists("no-such-account-xyz")
    assert not accounts.exists("")
    assert not accounts.exists("ro\0ot")


def test_results_are_cached_until_ttl() -> None:
    clock = Clock()
    accounts = Accounts(ttl_s=5, clock=clock)
    assert accounts.exists("root")
    cached = dict(accounts._known)
    clock.now += 4.9
    assert accounts.exists("root")
    assert accounts._known == cached
    clock.now += 0.2
    assert accounts.exists("root")
    assert accounts._known["root"][0] == clock.now + 5

"""Tokens::create_full_access: name rules, expiry rules and the token it returns."""

from __future__ import annotations

import re
import time
from datetime import date, datetime

import pytest

from .helpers import Daemon

TOKEN_PATTERN = re.compile(r"[0-9A-Z]{32}\Z")


def assert_failed(result: dict[str, object], *fragments: str) -> None:
    assert result["status"] == 0, result
    assert result["data"] is None
    errors = result["errors"]
    assert isinstance(errors, list)
    assert len(errors) == 1
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def test_create_returns_token_once(daemon: Daemon) -> None:
    before = int(time.time())
    result = daemon.call("create_full_access", name="ci")
    assert result["status"] == 1
    assert result["errors"] is None
    data = result["data"]
    assert set(data) == {"create_time", "token", "name", "expires_at"}
    assert TOKEN_PATTERN.match(data["token"])
    assert data["name"] == "ci"
    assert data["expires_at"] is None
    assert before <= data["create_time"] <= int(time.time())

    listed = daemon.call("list")["data"]
    assert "token" not in listed[0]


def test_tokens_are_unique(daemon: Daemon) -> None:
    tokens = {daemon.call("create_full_access", name=f"t{i}")["data"]["token"] for i in range(20)}
    assert len(tokens) == 20
    assert len({token[:8] for token in tokens}) == 20


@pytest.mark.parametrize("name", ["a", "A" * 50, "deploy_ci-2", "0", "-", "_"])
def test_create_accepts_valid_name(daemon: Daemon, name: str) -> None:
    result = daemon.call("create_full_access", name=name)
    assert result["status"] == 1, result
    assert result["data"]["name"] == name


@pytest.mark.parametrize(
    "name",
    ["", "A" * 51, "my token", "my.token", "my/token", "tökén", "ci\n", "\nci", "ci\x00", "a;b"],
)
def test_create_rejects_invalid_name(daemon: Daemon, name: str) -> None:
    result = daemon.call("create_full_access", name=name)
    assert_failed(result, '"name"', "1 to 50 characters")
    assert daemon.call("list")["data"] == []


@pytest.mark.parametrize("value", [None, True, 1.5, ["ci"], {"a": 1}])
def test_create_rejects_non_scalar_name(daemon: Daemon, value: object) -> None:
    assert_failed(daemon.call("create_full_access", name=value), '"name"')


def test_create_accepts_number_as_name(daemon: Daemon) -> None:
    result = daemon.call("create_full_access", name=2024)
    assert result["data"]["name"] == "2024"


def test_create_requires_name(daemon: Daemon) -> None:
    assert_failed(daemon.call("create_full_access"), '"name" is required')


def test_create_rejects_duplicate_name(daemon: Daemon) -> None:
    assert daemon.call("create_full_access", name="ci")["status"] == 1
    assert_failed(daemon.call("create_full_access", name="ci"), "already has a token named")
    assert len(daemon.call("list")["data"]) == 1


def test_create_names_are_case_sensitive(daemon: Daemon) -> None:
    assert daemon.call("create_full_access", name="Deploy")["status"] == 1
    assert daemon.call("create_full_access", name="deploy")["status"] == 1
    names = [entry["name"] for entry in daemon.call("list")["data"]]
    assert names == ["Deploy", "deploy"]


def test_create_rejects_unknown_parameter(daemon: Daemon) -> None:
    result = daemon.call("create_full_access", name="ci", expire_at="1")
    assert_failed(result, '"expire_at"', "expires_at")
    assert daemon.call("list")["data"] == []


def test_expiry_absent_or_zero_never_expires(daemon: Daemon) -> None:
    assert daemon.call("create_full_access", name="a")["data"]["expires_at"] is None
    assert daemon.call("create_full_access", name="b", expires_at=0)["data"]["expires_at"] is None
    assert daemon.call("create_full_access", name="c", expires_at="0")["data"]["expires_at"] is None


def test_expiry_in_future_is_kept(daemon: Daemon) -> None:
    future = int(time.time()) + 86400 * 30
    assert (
        daemon.call("create_full_access", name="a", expires_at=future)["data"]["expires_at"]
        == future
    )
    as_text = daemon.call("create_full_access", name="b", expires_at=str(future))
    assert as_text["data"]["expires_at"] == future


def test_expiry_now_is_accepted(daemon: Daemon) -> None:
    # The daemon reads its clock after this one, so "now" here is never in its future.
    now = int(time.time())
    result = daemon.call("create_full_access", name="a", expires_at=now)
    assert result["status"] == 1, result
    assert result["data"]["expires_at"] == now


def test_expiry_in_past_is_rejected(daemon: Daemon) -> None:
    past = int(time.time()) - 60
    assert_failed(daemon.call("create_full_access", name="a", expires_at=past), "in the past")
    assert_failed(daemon.call("create_full_access", name="b", expires_at=1), "in the past")


def test_expiry_date_means_end_of_local_day(daemon: Daemon) -> None:
    day = date(date.today().year + 1, 6, 15)
    result = daemon.call("create_full_access", name="a", expires_at=day.isoformat())
    expected = int(datetime(day.year, day.month, day.day, 23, 59, 59).timestamp())
    assert result["data"]["expires_at"] == expected


@pytest.mark.parametrize(
    "value",
    [
        -1,
        "-1",
        "+100",
        1.5,
        "1.5",
        2e9,
        "abc",
        "",
        " 2000000000",
        "2000000000 ",
        True,
        None,
        "\uff12" + "\uff10" * 9,  # fullwidth digits
        "2030-02-30",
        "2030-13-01",
        "30-01-01",
        "2030-1-1",
        [2000000000],
    ],
)
def test_expiry_rejects_invalid_values(daemon: Daemon, value: object) -> None:
    assert_failed(daemon.call("create_full_access", name="a", expires_at=value), '"expires_at"')
    assert daemon.call("list")["data"] == []


@pytest.mark.parametrize("value", [253402300800, "99999999999999999999999999", 10**30])
def test_expiry_rejects_absurdly_large(daemon: Daemon, value: object) -> None:
    assert_failed(daemon.call("create_full_access", name="a", expires_at=value), "253402300799")


def test_expiry_accepts_last_second_of_9999(daemon: Daemon) -> None:
    result = daemon.call("create_full_access", name="a", expires_at=253402300799)
    assert result["data"]["expires_at"] == 253402300799


def test_expiry_date_in_past_is_rejected(daemon: Daemon) -> None:
    assert_failed(daemon.call("create_full_access", name="a", expires_at="2001-01-01"), "past")


def test_errors_show_values_as_json(daemon: Daemon) -> None:
    message = daemon.call("create_full_access", name=True)["errors"][0]
    assert "true" in message
    assert "True" not in message
    message = daemon.call("create_full_access", name="a", expires_at=None)["errors"][0]
    assert "null" in message


def test_create_stops_at_account_limit(daemon_factory: object) -> None:
    daemon = daemon_factory(max_tokens_per_account=3)  # type: ignore[operator]
    for index in range(3):
        assert daemon.call("create_full_access", name=f"t{index}")["status"] == 1
    result = daemon.call("create_full_access", name="t3")
    assert_failed(result, "already has 3 tokens")
    daemon.call("revoke", name="t0")
    assert daemon.call("create_full_access", name="t3")["status"] == 1

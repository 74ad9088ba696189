"""Tokens::list: fields, order, expiry flags, and the api.sort/filter/paginate parameters."""

from __future__ import annotations

import sqlite3
import time

import pytest

from .helpers import Daemon

LIST_FIELDS = {
    "name",
    "create_time",
    "expires_at",
    "has_full_access",
    "features",
    "expired",
    "expiring_soon",
}


def set_expiry(daemon: Daemon, name: str, expires_at: int) -> None:
    """Move a token's expiry into the past, which the API itself never allows."""
    with sqlite3.connect(daemon.database_path) as db:
        db.execute("UPDATE tokens SET expires_at = ? WHERE name = ?", (expires_at, name))


def names(result: dict[str, object]) -> list[str]:
    data = result["data"]
    assert isinstance(data, list)
    return [entry["name"] for entry in data]


def test_list_empty(daemon: Daemon) -> None:
    result = daemon.call("list")
    assert result["status"] == 1
    assert result["data"] == []
    assert result["metadata"]["transformed"] == 1


def test_list_entry_fields(daemon: Daemon) -> None:
    created = daemon.call("create_full_access", name="ci")["data"]
    (entry,) = daemon.call("list")["data"]
    assert set(entry) == LIST_FIELDS
    assert entry["name"] == "ci"
    assert entry["create_time"] == created["create_time"]
    assert entry["expires_at"] is None
    assert entry["has_full_access"] == 1
    assert entry["features"] == []
    assert entry["expired"] == 0
    assert entry["expiring_soon"] == 0


def test_list_default_order_ignores_case(daemon: Daemon) -> None:
    for name in ["beta", "Alpha", "deploy", "Deploy", "_x", "9"]:
        daemon.call("create_full_access", name=name)
    assert names(daemon.call("list")) == ["9", "_x", "Alpha", "beta", "Deploy", "deploy"]


def test_list_marks_expired_and_expiring_soon(daemon: Daemon) -> None:
    now = int(time.time())
    daemon.call("create_full_access", name="soon", expires_at=now + 3600)
    daemon.call("create_full_access", name="later", expires_at=now + 3 * 86400)
    daemon.call("create_full_access", name="gone", expires_at=now + 3600)
    daemon.call("create_full_access", name="never")
    set_expiry(daemon, "gone", now - 10)

    entries = {entry["name"]: entry for entry in daemon.call("list")["data"]}
    assert (entries["soon"]["expired"], entries["soon"]["expiring_soon"]) == (0, 1)
    assert (entries["later"]["expired"], entries["later"]["expiring_soon"]) == (0, 0)
    assert (entries["gone"]["expired"], entries["gone"]["expiring_soon"]) == (1, 0)
    assert (entries["never"]["expired"], entries["never"]["expiring_soon"]) == (0, 0)


def test_expiring_soon_window_is_configurable(daemon_factory: object) -> None:
    daemon = daemon_factory(expiring_soon_s=7 * 86400)  # type: ignore[operator]
    daemon.call("create_full_access", name="a", expires_at=int(time.time()) + 3 * 86400)
    assert daemon.call("list")["data"][0]["expiring_soon"] == 1


@pytest.fixture
def sample(daemon: Daemon) -> Daemon:
    now = int(time.time())
    daemon.call("create_full_access", name="web", expires_at=now + 1000)
    daemon.call("create_full_access", name="Deploy", expires_at=now + 500)
    daemon.call("create_full_access", name="backup")
    daemon.call("create_full_access", name="ci-main", expires_at=now + 2000)
    daemon.call("create_full_access", name="ci-test", expires_at=now + 100)
    return daemon


def test_sort_by_expiry_puts_never_last(sample: Daemon) -> None:
    result = sample.call("list", **{"api.sort_column": "expires_at"})
    assert names(result) == ["ci-test", "Deploy", "web", "ci-main", "backup"]


def test_sort_reverse(sample: Daemon) -> None:
    result = sample.call("list", **{"api.sort_column": "name", "api.sort_reverse": "1"})
    assert names(result) == ["web", "Deploy", "ci-test", "ci-main", "backup"]


def test_sort_rejects_unknown_column(sample: Daemon) -> None:
    result = sample.call("list", **{"api.sort_column": "token"})
    assert result["status"] == 0
    assert "api.sort_column" in result["errors"][0]


def test_sort_reverse_rejects_other_values(sample: Daemon) -> None:
    result = sample.call("list", **{"api.sort_reverse": "yes"})
    assert result["status"] == 0
    assert "api.sort_reverse" in result["errors"][0]


def test_filter_contains_ignores_case(sample: Daemon) -> None:
    params = {"api.filter_column": "name", "api.filter_term": "CI"}
    result = sample.call("list", **params)
    assert names(result) == ["ci-main", "ci-test"]
    assert result["metadata"]["records_before_filter"] == 5


@pytest.mark.parametrize(
    ("kind", "term", "expected"),
    [
        ("eq", "Deploy", ["Deploy"]),
        ("eq", "deploy", []),
        ("begins", "ci-", ["ci-main", "ci-test"]),
        ("lt", "c", ["backup"]),
        ("gt", "D", ["Deploy", "web"]),
    ],
)
def test_filter_types_on_name(sample: Daemon, kind: str, term: str, expected: list[str]) -> None:
    params = {"api.filter_column": "name", "api.filter_type": kind, "api.filter_term": term}
    assert names(sample.call("list", **params)) == expected


def test_filter_numeric_column(sample: Daemon) -> None:
    cutoff = int(time.time()) + 900
    params = {"api.filter_column": "expires_at", "api.filter_type": "lt", "api.filter_term": cutoff}
    assert names(sample.call("list", **params)) == ["ci-test", "Deploy"]
    params["api.filter_type"] = "gt"
    assert names(sample.call("list", **params)) == ["backup", "ci-main", "web"]


def test_filter_rejects_bad_combinations(sample: Daemon) -> None:
    cases = [
        {"api.filter_term": "x"},
        {"api.filter_column": "name"},
        {"api.filter_column": "name", "api.filter_type": "like", "api.filter_term": "x"},
        {"api.filter_column": "expires_at", "api.filter_type": "lt", "api.filter_term": "soon"},
    ]
    for params in cases:
        result = sample.call("list", **params)
        assert result["status"] == 0, params
        assert "api.filter" in result["errors"][0], result


def test_paginate_reports_metadata(sample: Daemon) -> None:
    result = sample.call("list", **{"api.paginate_size": 2, "api.paginate_start": "3"})
    assert names(result) == ["ci-test", "Deploy"]
    assert result["metadata"]["paginate"] == {
        "current_page": 2,
        "results_per_page": 2,
        "start_result": 3,
        "total_pages": 3,
        "total_results": 5,
    }


def test_paginate_last_partial_page(sample: Daemon) -> None:
    result = sample.call("list", **{"api.paginate_size": "2", "api.paginate_start": "5"})
    assert names(result) == ["web"]
    assert result["metadata"]["paginate"]["current_page"] == 3


def test_paginate_after_filter_counts_filtered(sample: Daemon) -> None:
    params = {
        "api.filter_column": "name",
        "api.filter_term": "ci",
        "api.paginate_size": "1",
    }
    result = sample.call("list", **params)
    assert names(result) == ["ci-main"]
    assert result["metadata"]["paginate"]["total_results"] == 2
    assert result["metadata"]["paginate"]["total_pages"] == 2


@pytest.mark.parametrize(
    "params",
    [
        {"api.paginate_size": "0"},
        {"api.paginate_size": "-1"},
        {"api.paginate_size": "x"},
        {"api.paginate_size": "2", "api.paginate_start": "0"},
        {"api.paginate_start": "2"},
    ],
)
def test_paginate_rejects_bad_values(sample: Daemon, params: dict[str, str]) -> None:
    result = sample.call("list", **params)
    assert result["status"] == 0
    assert "api.paginate" in result["errors"][0]


def test_list_rejects_unknown_parameter(sample: Daemon) -> None:
    result = sample.call("list", **{"api.sort_colum": "name"})
    assert result["status"] == 0
    assert '"api.sort_colum"' in result["errors"][0]

"""Property-based attacks on the JSON-RPC surface of a running daemon.

Every generated body goes to one real daemon over its socket. For every input the daemon must
send a well-formed JSON-RPC reply that is never an internal error, and the token store must
change only as a successful result reports.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tokend_client import protocol

from .checks import Row, check_reply, snapshot
from .helpers import Daemon

SEED_NAMES = ("alpha", "beta", "Gamma", "d-1", "007")
EXAMPLES = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
METHODS = [protocol.method_name(name) for name in protocol.FUNCTIONS]


@dataclass(frozen=True)
class Raw:
    """JSON text sent as it is, for numbers that Python's encoder cannot or will not write."""

    text: str


@dataclass(frozen=True)
class Pairs:
    """A JSON object as a list of members, so that a key may appear twice."""

    members: tuple[tuple[str, Any], ...]


def encode(value: Any) -> str:
    """Write `value` as JSON text, keeping `Raw` text and repeated `Pairs` keys as they are."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Pairs):
        members = (f"{json.dumps(key)}:{encode(item)}" for key, item in value.members)
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode(item) for item in value) + "]"
    return json.dumps(value)


def has_duplicate_key(value: Any) -> bool:
    if isinstance(value, Pairs):
        keys = [key for key, _ in value.members]
        if len(keys) != len(set(keys)):
            return True
        return any(has_duplicate_key(item) for _, item in value.members)
    if isinstance(value, list):
        return any(has_duplicate_key(item) for item in value)
    return False


# Strings with every code point, lone surrogates and control characters included.
any_text = st.text(st.characters(codec=None, categories=None), max_size=40)
long_text = st.builds(
    lambda char, count: char * count, st.characters(codec=None), st.integers(51, 10_000)
)
raw_numbers = st.one_of(
    st.sampled_from(["1e400", "-1e400", "1E309", "-0", "0.0", "1.5", "1e-400", "9" * 5000]),
    st.from_regex(r"-?[0-9]{1,30}(\.[0-9]{1,5})?([eE][+-]?[0-9]{1,3})?", fullmatch=True),
).map(Raw)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    raw_numbers,
    any_text,
    long_text,
    st.from_regex(r"[0-9]{1,25}", fullmatch=True),
    st.sampled_from(
        [
            "\u0663",
            "\uff11\uff12",
            "+5",
            "-5",
            " 5",
            "5\n",
            "0",
            "",
            "1",
            "2030-01-01",
            "9999-12-31",
        ]
    ),
    st.sampled_from(["2024-02-30", "0000-01-01", "10000-01-01", "nobody", "root", "../root"]),
    st.sampled_from(SEED_NAMES),
    st.from_regex(r"[A-Za-z0-9_-]{1,52}", fullmatch=True),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(st.tuples(any_text, children), max_size=4).map(
            lambda members: Pairs(tuple(members))
        ),
    ),
    max_leaves=12,
)
deep_arrays = st.integers(1, 2000).map(lambda depth: Raw("[" * depth + "]" * depth))


plausible_values = st.one_of(
    st.sampled_from(SEED_NAMES),
    st.from_regex(r"[A-Za-z0-9_-]{1,52}", fullmatch=True),
    st.sampled_from(["0", "1", 0, 1, 2, "2030-01-01", "4102444800", 4102444800, "name", "root"]),
)


def param_keys(method: str) -> st.SearchStrategy[str]:
    function = protocol.FUNCTIONS[method.removeprefix(protocol.MODULE + protocol.METHOD_SEPARATOR)]
    known = st.sampled_from([param.name for param in (*function.params, *function.generic_params)])
    return st.one_of(
        known,
        known,
        known,
        st.sampled_from([protocol.API_USER, "expire_at", "api.", "Name", "name ", "api.user "]),
        st.integers(0, 1_000_000).map(lambda number: f"name-{number}"),
        st.sampled_from(["name-0", "name-1", "name-3", "name-007", "name-1234567", "name--1"]),
        any_text,
    )


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, Pairs]:
    """Draw a method and params: mostly distinct keys, at times repeated keys and deep arrays."""
    method = draw(st.sampled_from(METHODS))
    keys = param_keys(method)
    values = st.one_of(plausible_values, plausible_values, json_values)
    if draw(st.integers(0, 9)) == 0:
        members = draw(st.lists(st.tuples(keys, st.one_of(values, deep_arrays)), max_size=6))
        return method, Pairs(tuple(members))
    function = protocol.FUNCTIONS[method.removeprefix(protocol.MODULE + protocol.METHOD_SEPARATOR)]
    params = {param.name: draw(values) for param in function.params if param.required}
    params.update(draw(st.dictionaries(keys, values, max_size=3)))
    return method, Pairs(tuple(params.items()))


@pytest.fixture(scope="module")
def target() -> Iterator[Daemon]:
    """One daemon for all examples of this module, seeded with a few tokens."""
    workdir = Path(tempfile.mkdtemp(prefix="tokend-fuzz-"))
    daemon = Daemon(workdir)
    daemon.start()
    for name in SEED_NAMES:
        assert daemon.call("create_full_access", name=name)["status"] == 1
    yield daemon
    daemon.kill()
    shutil.rmtree(workdir, ignore_errors=True)


def post_document(daemon: Daemon, document: Any) -> list[dict[str, Any]]:
    """POST `document` as JSON text and return the checked response objects."""
    body = encode(document).encode("utf-8", "surrogatepass")
    status, reply = daemon.post(body)
    return check_reply(status, reply, len(body))


def post_call(daemon: Daemon, method: str, params: Any, request_id: Any = 1) -> dict[str, Any]:
    """POST one call and return its checked response object."""
    envelope = Pairs(
        (("jsonrpc", "2.0"), ("id", request_id), ("method", method), ("params", params))
    )
    responses = post_document(daemon, envelope)
    return responses[0] if responses else {"error": {"code": protocol.REQUEST_TOO_LARGE}}


def expect_store_change(
    method: str, result: dict[str, Any], before: list[Row], after: list[Row]
) -> None:
    """Assert that the store changed exactly as the successful `result` reports, or not at all."""
    success = result["status"] == 1
    if not success or method == protocol.method_name(protocol.LIST):
        assert after == before
        return
    if method == protocol.method_name(protocol.CREATE):
        assert after[: len(before)] == before
        (new,) = after[len(before) :]
        assert new[1] == result["data"]["name"]
        assert new[2] == result["data"]["token"][:8]
        return
    if method == protocol.method_name(protocol.RENAME):
        assert len(after) == len(before)
        changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
        assert len(changed) <= 1, changed
        for old, new in changed:
            assert old[0] == new[0]
            assert old[2:] == new[2:]
        return
    if method == protocol.method_name(protocol.REVOKE):
        revoked = result["metadata"]["revoked"]
        assert len(before) - len(after) == len(revoked)
        assert {row[1] for row in before} - {row[1] for row in after} <= set(revoked)
        assert all(row in before for row in after)
        return
    assert after == before


@EXAMPLES
@given(call=calls())
def test_any_params_get_wellformed_reply(target: Daemon, call: tuple[str, Pairs]) -> None:
    method, params = call
    before = snapshot(target.database_path)
    response = post_call(target, method, params)
    after = snapshot(target.database_path)

    outcome = response.get("result", {}).get("status", response.get("error", {}).get("code"))
    event(f"{method} -> {outcome}")
    if has_duplicate_key(params):
        expected = (protocol.PARSE_ERROR, protocol.REQUEST_TOO_LARGE)
        assert response.get("error", {}).get("code") in expected, response
    if "error" in response:
        assert after == before
        return
    expect_store_change(method, response["result"], before, after)


envelopes = st.one_of(
    json_values,
    st.builds(
        lambda request_id, method, params, extra: Pairs(
            (("jsonrpc", "2.0"), ("id", request_id), ("method", method), ("params", params), *extra)
        ),
        st.one_of(json_values, raw_numbers),
        st.one_of(st.sampled_from(METHODS), any_text, json_values),
        json_values,
        st.lists(
            st.tuples(st.sampled_from(["jsonrpc", "id", "extra", "Method"]), scalars), max_size=1
        ),
    ),
)


documents = st.one_of(envelopes, st.lists(envelopes, min_size=1, max_size=5))


@EXAMPLES
@given(document=documents)
def test_any_document_gets_wellformed_reply(target: Daemon, document: Any) -> None:
    before = snapshot(target.database_path)
    responses = post_document(target, document)
    after = snapshot(target.database_path)

    succeeded = any(response.get("result", {}).get("status") == 1 for response in responses)
    # A notification may succeed without a reply, so only a body without one proves this.
    if not succeeded and not holds_notification(document):
        assert after == before


def holds_notification(document: Any) -> bool:
    elements = document if isinstance(document, list) else [document]
    for element in elements:
        members = dict(element.members) if isinstance(element, Pairs) else {}
        if "id" not in members and members.get("method") in METHODS:
            return True
    return False


@settings(max_examples=150, deadline=None)
@given(body=st.binary(max_size=2000))
def test_any_bytes_get_wellformed_reply(target: Daemon, body: bytes) -> None:
    before = snapshot(target.database_path)
    status, reply = target.post(body)
    check_reply(status, reply, len(body))
    if status == 200 and b'"result"' not in reply:
        assert snapshot(target.database_path) == before


@pytest.mark.parametrize("number", ["9" * 5000, "-" + "9" * 101, "1e400", "-1E309"])
def test_out_of_range_number_is_parse_error(target: Daemon, number: str) -> None:
    for position in ("id", "params"):
        request_id = Raw(number) if position == "id" else 1
        params = Pairs((("name", Raw(number)),)) if position == "params" else Pairs(())
        response = post_call(target, protocol.method_name(protocol.CREATE), params, request_id)
        assert response["error"]["code"] == protocol.PARSE_ERROR, response
        assert response["id"] is None

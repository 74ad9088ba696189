"""Checks shared by the attack tests: strict reply parsing, store snapshots, process state."""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing
from typing import Any

from tokend_client import protocol

# The JSON-RPC error codes that the daemon may send; INTERNAL_ERROR is left out on purpose,
# because no input may cause one.
EXPECTED_ERROR_CODES = frozenset(
    (
        protocol.PARSE_ERROR,
        protocol.INVALID_REQUEST,
        protocol.METHOD_NOT_FOUND,
        protocol.INVALID_PARAMS,
        protocol.REQUEST_TOO_LARGE,
        protocol.REQUEST_TIMEOUT,
    )
)

Row = tuple[Any, ...]
DEFAULT_MAX_REQUEST_BYTES = 256 * 1024


def _reject_constant(name: str) -> object:
    raise ValueError(f"the reply holds {name}, which is not valid JSON")


def strict_json(body: bytes) -> Any:
    """Decode a reply body as RFC 8259 JSON: UTF-8, no NaN or Infinity, no duplicate keys."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), f"duplicate keys in a reply object: {keys}"
        return dict(pairs)

    return json.loads(
        body.decode("utf-8"), parse_constant=_reject_constant, object_pairs_hook=unique
    )


def check_response(response: object) -> None:
    """Assert that `response` is one well-formed JSON-RPC 2.0 response object."""
    assert isinstance(response, dict), response
    assert response.get("jsonrpc") == "2.0", response
    assert "id" in response, response
    assert ("result" in response) != ("error" in response), response
    assert set(response) <= {"jsonrpc", "id", "result", "error"}, response
    if "error" in response:
        error = response["error"]
        assert isinstance(error, dict), response
        assert error.get("code") in EXPECTED_ERROR_CODES, response
        assert isinstance(error.get("message"), str), response
        return
    check_uapi_result(response["result"])


def check_uapi_result(result: object) -> None:
    """Assert that `result` is a UAPI result object with a consistent status."""
    assert isinstance(result, dict), result
    assert tuple(sorted(result)) == protocol.RESULT_KEYS, result
    assert result["status"] in (0, 1), result
    assert isinstance(result["metadata"], dict), result
    for key in ("errors", "messages", "warnings"):
        value = result[key]
        assert value is None or (
            isinstance(value, list) and value and all(isinstance(line, str) for line in value)
        ), result
    if result["status"] == 0:
        assert result["data"] is None, result
        assert result["errors"], result


def check_reply(status: int, body: bytes, sent_bytes: int = 0) -> list[dict[str, Any]]:
    """Assert a well-formed HTTP reply to a JSON-RPC POST; return its response objects.

    HTTP 413 is well-formed only when the request body (`sent_bytes`) was over the default
    `max_request_bytes`.
    """
    if status == 413:
        assert sent_bytes > DEFAULT_MAX_REQUEST_BYTES, (sent_bytes, body[:300])
        (response,) = [strict_json(body)]
        assert response["error"]["code"] == protocol.REQUEST_TOO_LARGE, response
        return []
    assert status in (200, 204), (status, body[:300])
    if status == 204:
        assert body == b""
        return []
    document = strict_json(body)
    responses = document if isinstance(document, list) else [document]
    assert responses, body[:300]
    for response in responses:
        check_response(response)
    return responses


def snapshot(database_path: str) -> list[Row]:
    """Return every token row, read straight from the database file."""
    # closing(): sqlite3's own context manager commits but leaves the connection open.
    with closing(sqlite3.connect(f"file:{database_path}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT account, name, lookup_id, secret_hash, create_time, expires_at "
            "FROM tokens ORDER BY id"
        ).fetchall()
    return rows


def integrity(database_path: str) -> str:
    """Return the result of SQLite's `PRAGMA integrity_check` on the database."""
    with closing(sqlite3.connect(database_path)) as db:
        row = db.execute("PRAGMA integrity_check").fetchone()
    return str(row[0])


def open_descriptors(pid: int) -> int:
    """Return the number of file descriptors that process `pid` has open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def resident_kib(pid: int) -> int:
    """Return the resident set size of process `pid` in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS line for pid {pid}")

"""The JSON-RPC layer: protocol errors, batches, notifications and HTTP edges."""

from __future__ import annotations

import json
from typing import Any

from .helpers import Daemon

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602


def error_code(reply: Any) -> int:
    error = reply["error"]
    assert isinstance(error, dict)
    return int(error["code"])


def post_json(daemon: Daemon, body: bytes) -> Any:
    status, reply = daemon.post(body)
    assert status == 200, (status, reply)
    return json.loads(reply)


def still_serving(daemon: Daemon) -> bool:
    return bool(daemon.call("list")["status"] == 1)


def test_invalid_json_is_parse_error(daemon: Daemon) -> None:
    reply = post_json(daemon, b'{"jsonrpc": "2.0", "method": ')
    assert error_code(reply) == PARSE_ERROR
    assert reply["id"] is None
    assert still_serving(daemon)


def test_non_utf8_body_is_parse_error(daemon: Daemon) -> None:
    reply = post_json(daemon, b'{"jsonrpc": "2.0", "method": "\xff\xfe"}')
    assert error_code(reply) == PARSE_ERROR
    assert "UTF-8" in reply["error"]["message"]
    assert still_serving(daemon)


def test_duplicate_keys_are_rejected(daemon: Daemon) -> None:
    body = (
        b'{"jsonrpc":"2.0","id":1,"method":"Tokens::create_full_access",'
        b'"params":{"name":"a","name":"b"}}'
    )
    reply = post_json(daemon, body)
    assert error_code(reply) == PARSE_ERROR
    assert "duplicate key" in reply["error"]["message"]
    assert daemon.call("list")["data"] == []


def test_wrong_version_is_invalid_request(daemon: Daemon) -> None:
    body = json.dumps({"jsonrpc": "1.0", "method": "Tokens::list", "id": 7}).encode()
    reply = post_json(daemon, body)
    assert error_code(reply) == INVALID_REQUEST
    assert reply["id"] == 7


def test_params_not_object_is_invalid_params(daemon: Daemon) -> None:
    for params in (["ci"], "ci", 5):
        reply = daemon.rpc("Tokens::create_full_access", params)
        assert error_code(reply) == INVALID_PARAMS, reply
    assert daemon.call("list")["data"] == []


def test_unknown_method_is_method_not_found(daemon: Daemon) -> None:
    reply = daemon.rpc("Tokens::delete", {})
    assert error_code(reply) == METHOD_NOT_FOUND
    assert "Tokens::list" in reply["error"]["message"]


def test_batch_answers_each_element(daemon: Daemon) -> None:
    batch = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "Tokens::create_full_access",
            "params": {"name": "a"},
        },
        {"jsonrpc": "2.0", "id": 2, "method": "Tokens::nope"},
        42,
        {"jsonrpc": "2.0", "id": 3, "method": "Tokens::list", "params": ["x"]},
        {"jsonrpc": "2.0", "method": "Tokens::rename", "params": {"name": "a", "new_name": "b"}},
        {"jsonrpc": "2.0", "id": 4, "method": "Tokens::list"},
    ]
    replies = post_json(daemon, json.dumps(batch).encode())
    assert isinstance(replies, list)
    assert len(replies) == 5
    by_id = {reply["id"]: reply for reply in replies if reply["id"] is not None}
    assert by_id[1]["result"]["status"] == 1
    assert error_code(by_id[2]) == METHOD_NOT_FOUND
    assert error_code(by_id[3]) == INVALID_PARAMS
    assert [entry["name"] for entry in by_id[4]["result"]["data"]] == ["b"]
    (anonymous,) = [reply for reply in replies if reply["id"] is None]
    assert error_code(anonymous) == INVALID_REQUEST


def test_empty_batch_is_invalid_request(daemon: Daemon) -> None:
    assert error_code(post_json(daemon, b"[]")) == INVALID_REQUEST


def test_batch_over_limit_is_rejected(daemon_factory: object) -> None:
    daemon = daemon_factory(max_batch_size=3)  # type: ignore[operator]
    call = {"jsonrpc": "2.0", "id": 1, "method": "Tokens::list"}
    reply = post_json(daemon, json.dumps([call] * 4).encode())
    assert error_code(reply) == INVALID_REQUEST
    assert "limit is 3" in reply["error"]["message"]


def test_notification_gets_204(daemon: Daemon) -> None:
    daemon.call("create_full_access", name="n")
    body = json.dumps(
        {"jsonrpc": "2.0", "method": "Tokens::rename", "params": {"name": "n", "new_name": "m"}}
    ).encode()
    status, reply = daemon.post(body)
    assert status == 204
    assert reply == b""
    assert [entry["name"] for entry in daemon.call("list")["data"]] == ["m"]


def test_create_as_notification_is_not_run(daemon: Daemon) -> None:
    body = json.dumps(
        {"jsonrpc": "2.0", "method": "Tokens::create_full_access", "params": {"name": "n"}}
    ).encode()
    status, reply = daemon.post(body)
    assert status == 204
    assert reply == b""
    assert daemon.call("list")["data"] == []
    assert "reason=create_as_notification" in daemon.log()


def test_undecodable_body_gets_json_error(daemon: Daemon) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "Tokens::list"}).encode()
    status, reply = daemon.post(body, {"Content-Encoding": "gzip"})
    assert status == 400
    assert error_code(json.loads(reply)) == PARSE_ERROR
    assert still_serving(daemon)
    assert "Traceback" not in daemon.log()


def test_batch_of_notifications_gets_204(daemon: Daemon) -> None:
    call = {"jsonrpc": "2.0", "method": "Tokens::list"}
    status, reply = daemon.post(json.dumps([call, call]).encode())
    assert status == 204
    assert reply == b""


def test_oversize_body_gets_413(daemon: Daemon) -> None:
    status, reply = daemon.post(b"[" + b" " * 400_000 + b"]")
    assert status == 413
    assert error_code(json.loads(reply)) == -32000
    assert still_serving(daemon)


def test_any_content_type_is_accepted(daemon: Daemon) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "Tokens::list"}).encode()
    for content_type in ("application/x-www-form-urlencoded", "text/plain", "application/json"):
        status, reply = daemon.post(body, {"Content-Type": content_type})
        assert status == 200
        assert json.loads(reply)["result"]["status"] == 1


def test_get_request_gets_json_error(daemon: Daemon) -> None:
    from .helpers import UnixHTTPConnection

    connection = UnixHTTPConnection(daemon.socket_path)
    connection.request("GET", "/")
    response = connection.getresponse()
    assert response.status == 405
    assert error_code(json.loads(response.read())) == INVALID_REQUEST
    connection.request("POST", "/other", body=b"{}")
    response = connection.getresponse()
    assert response.status == 404
    assert error_code(json.loads(response.read())) == INVALID_REQUEST
    connection.close()


def test_nested_json_is_handled(daemon: Daemon) -> None:
    reply = post_json(daemon, b"[" * 100_000 + b"]" * 100_000)
    assert error_code(reply) == PARSE_ERROR
    assert still_serving(daemon)


def test_batch_past_deadline_reports_each_call(daemon_factory: object) -> None:
    daemon = daemon_factory(hash_profile="owasp", request_timeout_s=0.5)  # type: ignore[operator]
    batch = [
        {
            "jsonrpc": "2.0",
            "id": index,
            "method": "Tokens::create_full_access",
            "params": {"name": f"t{index}"},
        }
        for index in range(100)
    ]
    replies = post_json(daemon, json.dumps(batch).encode())
    assert isinstance(replies, list)
    assert len(replies) == 100
    created = {reply["result"]["data"]["name"] for reply in replies if "result" in reply}
    not_run = [reply for reply in replies if "error" in reply]
    assert created
    assert not_run
    assert all(error_code(reply) == -32002 for reply in not_run)
    listed = {entry["name"] for entry in daemon.call("list")["data"]}
    # At most the one call that was running at the deadline committed without a result.
    assert created <= listed
    assert len(listed - created) <= 1


def test_notification_errors_get_no_reply(daemon: Daemon) -> None:
    for call in (
        {"jsonrpc": "2.0", "method": "Tokens::nope"},
        {"jsonrpc": "2.0", "method": "Tokens::list", "params": []},
    ):
        status, reply = daemon.post(json.dumps(call).encode())
        assert status == 204, call
        assert reply == b""


def test_failed_calls_are_logged_with_a_count(daemon: Daemon) -> None:
    batch = [
        {
            "jsonrpc": "2.0",
            "id": index,
            "method": "Tokens::rename",
            "params": {"name": "bad name", "new_name": "x"},
        }
        for index in range(40)
    ]
    post_json(daemon, json.dumps(batch).encode())
    assert daemon.stop() == 0
    log = daemon.log()
    assert log.count("event=call_failed ") == 5
    assert "event=calls_failed account=root count=40" in log


def test_rejected_requests_are_logged_with_a_count(daemon: Daemon) -> None:
    for _ in range(20):
        assert error_code(post_json(daemon, b"not json")) == PARSE_ERROR
    assert daemon.stop() == 0
    log = daemon.log()
    assert log.count("event=request_rejected account=root") == 5
    assert "event=calls_failed account=root count=20" in log

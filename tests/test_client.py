"""The synchronous client library against a real daemon, and its HTTP reading on its own."""

from __future__ import annotations

import os
import pwd
import socket
import time
from pathlib import Path

import pytest

from tokend_client import protocol, unixhttp
from tokend_client.client import Client
from tokend_client.errors import (
    DaemonTimeout,
    DaemonUnavailable,
    ProtocolError,
    TokendClientError,
    UAPIError,
)

from .helpers import Daemon

FAR_FUTURE = 4102444800  # 2100-01-01 00:00:00 UTC


def own_account() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


# Against a real daemon.


def test_create_returns_token(daemon: Daemon) -> None:
    client = Client(daemon.socket_path)
    created = client.create_full_access("deploy", FAR_FUTURE)
    assert created["name"] == "deploy"
    assert created["expires_at"] == FAR_FUTURE
    assert len(created["token"]) == 32
    assert isinstance(created["create_time"], int)


def test_create_without_expiry(daemon: Daemon) -> None:
    created = Client(daemon.socket_path).create_full_access("forever")
    assert created["expires_at"] is None


def test_list_tokens_matches_jsonrpc(daemon: Daemon) -> None:
    client = Client(daemon.socket_path)
    client.create_full_access("b")
    client.create_full_access("a", FAR_FUTURE)
    tokens = client.list_tokens()
    assert [token["name"] for token in tokens] == ["a", "b"]
    assert tokens == daemon.call(protocol.LIST)["data"]


def test_rename_keeps_token(daemon: Daemon) -> None:
    client = Client(daemon.socket_path)
    token = client.create_full_access("old")["token"]
    client.rename("old", "new")
    assert [entry["name"] for entry in client.list_tokens()] == ["new"]
    assert client.verify(own_account(), token)["name"] == "new"


def test_revoke_returns_removed_names(daemon: Daemon) -> None:
    client = Client(daemon.socket_path)
    for name in ("a", "b", "kept"):
        client.create_full_access(name)
    assert sorted(client.revoke(["a", "b", "never-existed"])) == ["a", "b"]
    assert [entry["name"] for entry in client.list_tokens()] == ["kept"]


def test_revoke_single_name(daemon: Daemon) -> None:
    client = Client(daemon.socket_path)
    client.create_full_access("only")
    assert client.revoke("only") == ["only"]
    assert client.revoke("only") == []


def test_verify_returns_list_entry(daemon: Daemon) -> None:
    client = Client(daemon.socket_path)
    token = client.create_full_access("ci")["token"]
    info = client.verify(own_account(), token)
    assert info == client.list_tokens()[0]


def test_verify_wrong_token_raises(daemon: Daemon) -> None:
    client = Client(daemon.socket_path)
    token = client.create_full_access("ci")["token"]
    wrong = token[:8] + ("A" if token[8] != "A" else "B") + token[9:]
    with pytest.raises(UAPIError) as raised:
        client.verify(own_account(), wrong)
    assert raised.value.method == "Tokens::verify"
    assert raised.value.errors
    assert wrong not in str(raised.value)


def test_failure_raises_uapi_error(daemon: Daemon) -> None:
    client = Client(daemon.socket_path)
    client.create_full_access("taken")
    with pytest.raises(UAPIError) as raised:
        client.create_full_access("taken")
    error = raised.value
    assert error.method == "Tokens::create_full_access"
    assert error.errors
    assert error.errors[0] in str(error)
    assert error.result["status"] == 0
    assert error.warnings == []


def test_uapi_error_is_client_error(daemon: Daemon) -> None:
    with pytest.raises(TokendClientError):
        Client(daemon.socket_path).rename("missing", "other")


def test_call_returns_failed_result(daemon: Daemon) -> None:
    """`call` returns a status 0 result as it is, for callers such as `uapi`."""
    client = Client(daemon.socket_path)
    result = client.call(protocol.method_name(protocol.RENAME), {"name": "x", "new_name": "y"})
    assert result == daemon.call(protocol.RENAME, name="x", new_name="y")
    assert result["status"] == 0


def test_call_function_passes_generic_params(daemon: Daemon) -> None:
    client = Client(daemon.socket_path)
    for name in ("a", "b", "c"):
        client.create_full_access(name)
    params = {"api.sort_column": "name", "api.sort_reverse": 1, "api.paginate_size": 2}
    result = client.call_function(protocol.LIST, params)
    assert [entry["name"] for entry in result["data"]] == ["c", "b"]
    assert result["metadata"]["paginate"]["total_results"] == 3


def test_unknown_method_raises_protocol_error(daemon: Daemon) -> None:
    with pytest.raises(ProtocolError) as raised:
        Client(daemon.socket_path).call("Tokens::nope", {})
    assert raised.value.code == protocol.METHOD_NOT_FOUND
    assert raised.value.http_status == 200


def test_params_not_object_raises_protocol_error(daemon: Daemon) -> None:
    with pytest.raises(ProtocolError) as raised:
        Client(daemon.socket_path).call(protocol.method_name(protocol.LIST), ["positional"])
    assert raised.value.code == protocol.INVALID_PARAMS


def test_oversize_request_raises_protocol_error(daemon: Daemon) -> None:
    """The daemon's HTTP 413 reply is read even if it closes before reading the whole body."""
    huge_name = "x" * (4 * 1024 * 1024)
    with pytest.raises(ProtocolError) as raised:
        Client(daemon.socket_path).create_full_access(huge_name)
    assert raised.value.code == protocol.REQUEST_TOO_LARGE
    assert raised.value.http_status == 413
    assert daemon.call(protocol.LIST)["data"] == []


def test_user_param_for_root(daemon: Daemon) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root may act on another account")
    client = Client(daemon.socket_path)
    client.create_full_access("theirs", user="nobody")
    assert [entry["name"] for entry in client.list_tokens(user="nobody")] == ["theirs"]
    assert client.list_tokens() == []


def test_socket_from_environment(daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(protocol.ENV_SOCKET, daemon.socket_path)
    client = Client()
    assert client.socket_path == daemon.socket_path
    assert client.list_tokens() == []


# Without a daemon.


def test_missing_socket_raises_unavailable(tmp_path: Path) -> None:
    socket_path = str(tmp_path / "missing.sock")
    with pytest.raises(DaemonUnavailable) as raised:
        Client(socket_path).list_tokens()
    assert raised.value.socket_path == socket_path
    assert raised.value.reason == "No such file or directory"
    assert socket_path in str(raised.value)
    assert "tokend" in str(raised.value)


def test_silent_listener_raises_timeout(tmp_path: Path) -> None:
    """A socket that accepts connections but never replies makes the call time out."""
    socket_path = str(tmp_path / "silent.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(socket_path)
        listener.listen()
        started = time.monotonic()
        with pytest.raises(DaemonTimeout) as raised:
            Client(socket_path, timeout_s=0.2).list_tokens()
        elapsed_s = time.monotonic() - started
    assert isinstance(raised.value, DaemonUnavailable)
    assert raised.value.timeout_s == 0.2
    assert socket_path in str(raised.value)
    assert elapsed_s < 5


# The HTTP reply reader, fed through a socket pair.


def read_reply(raw: bytes) -> tuple[int, bytes]:
    """Return what the client reads from a server that sends `raw` and closes."""
    client_end, server_end = socket.socketpair()
    with client_end, server_end:
        server_end.sendall(raw)
        server_end.shutdown(socket.SHUT_WR)
        reader = unixhttp._Reader(client_end, time.monotonic() + 5)
        return unixhttp._read_reply(reader)


def test_reply_with_content_length() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Other: y\r\n\r\nhelloEXTRA"
    assert read_reply(raw) == (200, b"hello")


def test_reply_chunked_with_trailer() -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
    )
    assert read_reply(raw) == (200, b"hello world")


def test_reply_until_close() -> None:
    assert read_reply(b"HTTP/1.0 413 Too Large\r\n\r\n{}") == (413, b"{}")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not HTTP"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", "invalid chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid chunk size"),
        (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 20000, "header is longer"),
    ],
)
def test_malformed_reply_raises(raw: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        read_reply(raw)


def test_truncated_reply_raises() -> None:
    with pytest.raises(unixhttp._ClosedEarly):
        read_reply(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")

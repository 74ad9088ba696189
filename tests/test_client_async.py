"""The asyncio client against a real daemon."""

from __future__ import annotations

import asyncio
import os
import pwd
import socket
from pathlib import Path

import pytest

from tokend_client import protocol
from tokend_client.aio import AsyncClient
from tokend_client.errors import DaemonTimeout, DaemonUnavailable, ProtocolError, UAPIError

from .helpers import Daemon

FAR_FUTURE = 4102444800  # 2100-01-01 00:00:00 UTC


def own_account() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


async def test_create_list_rename_revoke(daemon: Daemon) -> None:
    async with AsyncClient(daemon.socket_path) as client:
        created = await client.create_full_access("ci", FAR_FUTURE)
        assert created["name"] == "ci"
        assert created["expires_at"] == FAR_FUTURE
        assert len(created["token"]) == 32

        tokens = await client.list_tokens()
        assert [token["name"] for token in tokens] == ["ci"]
        assert tokens == daemon.call(protocol.LIST)["data"]

        await client.rename("ci", "deploy")
        assert [token["name"] for token in await client.list_tokens()] == ["deploy"]

        assert await client.revoke(["deploy", "never-existed"]) == ["deploy"]
        assert await client.list_tokens() == []


async def test_verify_returns_list_entry(daemon: Daemon) -> None:
    async with AsyncClient(daemon.socket_path) as client:
        token = (await client.create_full_access("ci"))["token"]
        info = await client.verify(own_account(), token)
        assert info == (await client.list_tokens())[0]


async def test_verify_wrong_token_raises(daemon: Daemon) -> None:
    async with AsyncClient(daemon.socket_path) as client:
        token = (await client.create_full_access("ci"))["token"]
        wrong = token[:8] + ("A" if token[8] != "A" else "B") + token[9:]
        with pytest.raises(UAPIError) as raised:
            await client.verify(own_account(), wrong)
        assert raised.value.errors
        assert wrong not in str(raised.value)


async def test_failure_raises_uapi_error(daemon: Daemon) -> None:
    async with AsyncClient(daemon.socket_path) as client:
        with pytest.raises(UAPIError) as raised:
            await client.rename("missing", "other")
    assert raised.value.method == "Tokens::rename"
    assert raised.value.result == daemon.call(protocol.RENAME, name="missing", new_name="other")


async def test_call_returns_failed_result(daemon: Daemon) -> None:
    async with AsyncClient(daemon.socket_path) as client:
        result = await client.call(protocol.method_name(protocol.REVOKE), {"name": []})
    assert result == daemon.call(protocol.REVOKE, name=[])


async def test_unknown_method_raises_protocol_error(daemon: Daemon) -> None:
    async with AsyncClient(daemon.socket_path) as client:
        with pytest.raises(ProtocolError) as raised:
            await client.call("Tokens::nope", {})
    assert raised.value.code == protocol.METHOD_NOT_FOUND


async def test_oversize_request_raises_protocol_error(daemon: Daemon) -> None:
    # NOTE: the daemon replies 413 before it has read the whole body, so the connection may
    # still be sending when the session closes. Under `python -X dev` the loop's shutdown
    # right after the test then warns about an unclosed transport.
    async with AsyncClient(daemon.socket_path) as client:
        with pytest.raises(ProtocolError) as raised:
            await client.create_full_access("x" * (4 * 1024 * 1024))
    assert raised.value.code == protocol.REQUEST_TOO_LARGE
    assert raised.value.http_status == 413


async def test_concurrent_calls(daemon: Daemon) -> None:
    """One client serves many calls at once over its connection pool."""
    names = [f"token-{index:02d}" for index in range(20)]
    async with AsyncClient(daemon.socket_path) as client:
        created = await asyncio.gather(*(client.create_full_access(name) for name in names))
        assert sorted(entry["name"] for entry in created) == names
        listed = await asyncio.gather(*(client.list_tokens() for _ in range(10)))
    for tokens in listed:
        assert [token["name"] for token in tokens] == names


async def test_client_reopens_after_close(daemon: Daemon) -> None:
    client = AsyncClient(daemon.socket_path)
    assert await client.list_tokens() == []
    await client.close()
    await client.close()
    assert await client.list_tokens() == []
    await client.close()


async def test_missing_socket_raises_unavailable(tmp_path: Path) -> None:
    socket_path = str(tmp_path / "missing.sock")
    async with AsyncClient(socket_path) as client:
        with pytest.raises(DaemonUnavailable) as raised:
            await client.list_tokens()
    assert raised.value.socket_path == socket_path
    assert raised.value.reason == "No such file or directory"
    assert socket_path in str(raised.value)


async def test_silent_listener_raises_timeout(tmp_path: Path) -> None:
    socket_path = str(tmp_path / "silent.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(socket_path)
        listener.listen()
        async with AsyncClient(socket_path, timeout_s=0.2) as client:
            with pytest.raises(DaemonTimeout) as raised:
                await client.list_tokens()
    assert socket_path in str(raised.value)

"""The aiohttp application built in-process by make_app, for failures a real store cannot make."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tokend.config import Config
from tokend.hashing import PROFILES, Hasher
from tokend.server import make_app
from tokend.store import Store, TokenRecord

INTERNAL_DETAIL = "disk sector 42 exploded: /var/lib/tokend/tokens.db"


class BrokenStore(Store):
    """A real store whose list_tokens fails with an unexpected exception."""

    async def list_tokens(self, account: str) -> list[TokenRecord]:
        raise RuntimeError(INTERNAL_DETAIL)


@pytest.fixture
async def broken_socket(tmp_path: Path) -> AsyncIterator[str]:
    real = await Store.open(tmp_path / "state" / "tokens.db")
    store = BrokenStore(real._writer, real._reader)
    config = Config(socket_path=tmp_path / "s.sock", database_path=tmp_path / "state" / "t.db")
    hasher = Hasher(PROFILES["test-only-fast"], 1)
    runner = web.AppRunner(make_app(config, store, hasher))
    await runner.setup()
    site = web.UnixSite(runner, str(config.socket_path))
    await site.start()
    yield str(config.socket_path)
    await runner.cleanup()
    hasher.close()
    await store.close()


async def test_unexpected_exception_is_internal_error(
    broken_socket: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    request = {"jsonrpc": "2.0", "id": 1, "method": "Tokens::list", "params": {}}
    connector = aiohttp.UnixConnector(path=broken_socket)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.post("http://localhost/", json=request) as response,
    ):
        assert response.status == 200
        text = await response.text()

    assert INTERNAL_DETAIL not in text
    assert "RuntimeError" not in text
    reply = await _json(text)
    assert reply["error"] == {"code": -32603, "message": "Internal error"}
    assert reply["id"] == 1
    assert "Tokens::list" in caplog.text
    assert "Traceback" in caplog.text


async def _json(text: str) -> dict[str, object]:
    import json

    value = json.loads(text)
    assert isinstance(value, dict)
    return value

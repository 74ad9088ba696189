"""The documented curl round trip works against the real socket."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from .helpers import Daemon

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def curl(daemon: Daemon, request: dict[str, object]) -> dict[str, object]:
    completed = subprocess.run(
        [
            "curl",
            "-sS",
            "--unix-socket",
            daemon.socket_path,
            "-d",
            json.dumps(request),
            "http://localhost/",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    reply = json.loads(completed.stdout)
    assert isinstance(reply, dict)
    return reply


def test_curl_round_trip(daemon: Daemon) -> None:
    def request(method: str, params: dict[str, object]) -> dict[str, object]:
        reply = curl(daemon, {"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        result = reply["result"]
        assert isinstance(result, dict)
        return result

    created = request("Tokens::create_full_access", {"name": "ci"})
    assert created["status"] == 1
    token = created["data"]["token"]  # type: ignore[index]
    assert re.fullmatch(r"[0-9A-Z]{32}", token)

    listed = request("Tokens::list", {})
    assert [entry["name"] for entry in listed["data"]] == ["ci"]  # type: ignore[attr-defined]

    assert request("Tokens::rename", {"name": "ci", "new_name": "ci2"})["status"] == 1
    revoked = request("Tokens::revoke", {"name": "ci2"})
    assert revoked["data"] == 1
    assert request("Tokens::list", {})["data"] == []

"""The `uapi` command: arguments, output, exit statuses, and calls to a real daemon.

The daemon tests run the installed `uapi` script as a subprocess and compare what it prints,
parsed back with a standard parser, with the result of the same call sent as JSON-RPC.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pwd
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tokend_client import cli, output, protocol

from .helpers import Daemon, run_as
from .test_uapi_output import parse_output

UAPI = str(Path(sys.executable).with_name("uapi"))
FAR_FUTURE = 4102444800  # 2100-01-01 00:00:00 UTC
OTHER_ACCOUNT = "nobody"


def run_uapi(socket_path: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Run the installed `uapi` with TOKEND_SOCKET set, so that no call reaches a default path."""
    env = {**os.environ, protocol.ENV_SOCKET: socket_path}
    return subprocess.run(
        [UAPI, *arguments], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def run_uapi_with_stdin(
    socket_path: str, stdin: bytes, *arguments: str
) -> subprocess.CompletedProcess[str]:
    """Run the installed `uapi` as `run_uapi` does, writing `stdin` to its standard input."""
    env = {**os.environ, protocol.ENV_SOCKET: socket_path}
    completed = subprocess.run(
        [UAPI, *arguments], env=env, input=stdin, capture_output=True, timeout=60, check=False
    )
    return subprocess.CompletedProcess(
        completed.args,
        completed.returncode,
        completed.stdout.decode("utf-8"),
        completed.stderr.decode("utf-8"),
    )


def uapi_result(
    daemon: Daemon, output_format: str, function: str, *arguments: str, exit_status: int = 0
) -> Any:
    """Run `uapi Tokens function ...`, check the envelope, and return the parsed `result`."""
    completed = run_uapi(
        daemon.socket_path, f"--output={output_format}", protocol.MODULE, function, *arguments
    )
    assert completed.returncode == exit_status, completed
    assert completed.stderr == ""
    document = parse_output(completed.stdout, output_format)
    assert document["apiversion"] == 3
    assert document["func"] == function
    assert document["module"] == protocol.MODULE
    assert set(document) == {"apiversion", "func", "module", "result"}
    return document["result"]


def as_twin(result: Any, prefix: str) -> str:
    """Return `result` as JSON with the token names' prefix replaced by a common one.

    The tests make the same call twice, once through `uapi` on names starting "uapi-" and
    once as JSON-RPC on names starting "rpc-", and compare the two results this way.
    """
    return json.dumps(result, sort_keys=True).replace(prefix, "twin-")


def own_account() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


def run_main_captured(argv: list[str]) -> tuple[int, str, str]:
    """Run `cli.main(argv)` in this process and return its exit status, stdout and stderr."""
    stdout = io.StringIO()
    stderr = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        exit_status = cli.main(argv)
    return exit_status, stdout.getvalue(), stderr.getvalue()


# Argument parsing, without a daemon.


def test_params_percent_decoded() -> None:
    params = cli.parse_params(["name=a%2Db", "%6Eew_name=x%3Dy", "plus=a+b", "space=a%20b"])
    assert params == {"name": "a-b", "new_name": "x=y", "plus": "a+b", "space": "a b"}


def test_params_value_keeps_equals() -> None:
    assert cli.parse_params(["name=a=b==c"]) == {"name": "a=b==c"}


def test_params_empty_value_kept() -> None:
    assert cli.parse_params(["name="]) == {"name": ""}


def test_params_utf8_percent_decoded() -> None:
    assert cli.parse_params(["name=%C3%A9t%C3%A9"]) == {"name": "été"}


def test_params_repeated_key_makes_list() -> None:
    params = cli.parse_params(["name=a", "other=1", "name=b", "name=c"])
    assert params == {"name": ["a", "b", "c"], "other": "1"}


def test_params_numbered_keys_pass_through() -> None:
    params = cli.parse_params(["name-0=a", "name-1=b"])
    assert params == {"name-0": "a", "name-1": "b"}


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("name", "not of the form key=value"),
        ("=value", "empty key"),
        ("=", "empty key"),
        ("name=%FF", "not valid UTF-8 after percent-decoding"),
        ("name=\udcff", "not valid UTF-8"),
    ],
)
def test_params_invalid_argument_raises(argument: str, message: str) -> None:
    with pytest.raises(cli.UsageError, match=message):
        cli.parse_params([argument])


def test_command_line_flags_anywhere() -> None:
    command_line = cli.parse_command_line(
        ["Tokens", "--output=json", "list", "--user", "bob", "a=b", "--socket=/s"]
    )
    assert command_line.module == "Tokens"
    assert command_line.function == "list"
    assert command_line.arguments == ["a=b"]
    assert command_line.output_format == "json"
    assert command_line.user == "bob"
    assert command_line.socket_path == "/s"
    assert command_line.help is False


def test_command_line_defaults() -> None:
    command_line = cli.parse_command_line(["Tokens", "list"])
    assert command_line.output_format == "yaml"
    assert command_line.user is None
    assert command_line.socket_path is None


def test_command_line_double_dash_ends_flags() -> None:
    command_line = cli.parse_command_line(["Tokens", "list", "--", "--output=xml"])
    assert command_line.output_format == "yaml"
    assert command_line.arguments == ["--output=xml"]


@pytest.mark.parametrize(
    "arguments",
    [
        ["--bogus", "Tokens", "list"],
        ["-x", "Tokens", "list"],
        [],
        ["Tokens"],
        ["Tokens", "list", "name"],
        ["Tokens", "list", "=x"],
        ["--output=csv", "Tokens", "list"],
        ["--output=", "Tokens", "list"],
        ["Tokens", "list", "--output"],
        ["--user=", "Tokens", "list"],
        ["--socket=", "Tokens", "list"],
        ["--stdin=", "Tokens", "list"],
        ["--user=a", "Tokens", "list", "api.user=b"],
        ["Nope", "--help"],
        ["Tokens", "nope", "--help"],
    ],
    ids=" ".join,
)
def test_usage_error_exits_2(tmp_path: Path, arguments: list[str]) -> None:
    completed = run_uapi(str(tmp_path / "none.sock"), *arguments)
    assert completed.returncode == cli.EXIT_USAGE
    assert completed.stdout == ""
    assert completed.stderr.startswith("uapi: ")
    assert completed.stderr.count("\n") == 1
    assert "Traceback" not in completed.stderr


def test_help_lists_options(tmp_path: Path) -> None:
    completed = run_uapi(str(tmp_path / "none.sock"), "--help")
    assert completed.returncode == 0
    for text in ("usage: uapi", "--user=NAME", "--output=FORMAT", "--socket=PATH", "69"):
        assert text in completed.stdout
    assert "--stdin=KEY" in completed.stdout


def test_module_help_lists_functions(tmp_path: Path) -> None:
    completed = run_uapi(str(tmp_path / "none.sock"), "Tokens", "--help")
    assert completed.returncode == 0
    for function in protocol.FUNCTIONS.values():
        assert f"\n{function.name}: {function.summary}" in f"\n{completed.stdout}"
        for param in (*function.params, *function.generic_params):
            assert f"  {param.name} " in completed.stdout
            assert param.description in completed.stdout


def test_function_help_marks_required(tmp_path: Path) -> None:
    completed = run_uapi(str(tmp_path / "none.sock"), "-h", "Tokens", "revoke")
    assert completed.returncode == 0
    assert completed.stdout.startswith("revoke: ")
    assert "name (required, repeatable)" in completed.stdout
    assert "create_full_access" not in completed.stdout


# No daemon on the socket.


def test_missing_socket_exits_69(tmp_path: Path) -> None:
    socket_path = str(tmp_path / "missing.sock")
    completed = run_uapi(socket_path, "Tokens", "list")
    assert completed.returncode == cli.EXIT_UNAVAILABLE
    assert completed.stdout == ""
    assert socket_path in completed.stderr
    assert "No such file or directory" in completed.stderr
    assert completed.stderr.count("\n") == 1
    assert "Traceback" not in completed.stderr


def test_socket_without_listener_exits_69(tmp_path: Path) -> None:
    socket_path = str(tmp_path / "stale.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stale:
        stale.bind(socket_path)
    completed = run_uapi(socket_path, "--output=json", "Tokens", "list")
    assert completed.returncode == cli.EXIT_UNAVAILABLE
    assert socket_path in completed.stderr
    assert "Connection refused" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_socket_flag_overrides_environment(tmp_path: Path) -> None:
    flag_path = str(tmp_path / "flag.sock")
    completed = run_uapi(
        str(tmp_path / "environment.sock"), f"--socket={flag_path}", "Tokens", "list"
    )
    assert completed.returncode == cli.EXIT_UNAVAILABLE
    assert flag_path in completed.stderr
    assert "environment.sock" not in completed.stderr


# A real daemon: each function in each output format, compared with the JSON-RPC call.


@pytest.mark.parametrize("output_format", output.FORMATS)
def test_create_matches_jsonrpc(daemon: Daemon, output_format: str) -> None:
    arguments = ("name=uapi-ci", f"expires_at={FAR_FUTURE}")
    by_uapi = uapi_result(daemon, output_format, protocol.CREATE, *arguments)
    by_rpc = daemon.call(protocol.CREATE, name="rpc-ci", expires_at=FAR_FUTURE)

    token = by_uapi["data"]["token"]
    assert len(token) == 32
    assert token.isascii()
    assert token.isalnum()
    assert token.upper() == token
    for result in (by_uapi, by_rpc):
        del result["data"]["token"]
        del result["data"]["create_time"]
    assert as_twin(by_uapi, "uapi-") == as_twin(by_rpc, "rpc-")


@pytest.mark.parametrize("output_format", output.FORMATS)
def test_list_matches_jsonrpc(daemon: Daemon, output_format: str) -> None:
    daemon.call(protocol.CREATE, name="b-never")
    daemon.call(protocol.CREATE, name="A-later", expires_at=FAR_FUTURE)
    by_uapi = uapi_result(daemon, output_format, protocol.LIST)
    assert by_uapi == daemon.call(protocol.LIST)
    assert [token["name"] for token in by_uapi["data"]] == ["A-later", "b-never"]


@pytest.mark.parametrize("output_format", output.FORMATS)
def test_rename_matches_jsonrpc(daemon: Daemon, output_format: str) -> None:
    daemon.call(protocol.CREATE, name="uapi-old")
    daemon.call(protocol.CREATE, name="rpc-old")
    by_uapi = uapi_result(
        daemon, output_format, protocol.RENAME, "name=uapi-old", "new_name=uapi-new"
    )
    by_rpc = daemon.call(protocol.RENAME, name="rpc-old", new_name="rpc-new")
    assert as_twin(by_uapi, "uapi-") == as_twin(by_rpc, "rpc-")
    names = [token["name"] for token in daemon.call(protocol.LIST)["data"]]
    assert names == ["rpc-new", "uapi-new"]


@pytest.mark.parametrize("output_format", output.FORMATS)
def test_revoke_matches_jsonrpc(daemon: Daemon, output_format: str) -> None:
    for name in ("uapi-a", "uapi-b", "rpc-a", "rpc-b"):
        daemon.call(protocol.CREATE, name=name)
    by_uapi = uapi_result(
        daemon, output_format, protocol.REVOKE, "name=uapi-a", "name=uapi-b", "name=uapi-gone"
    )
    by_rpc = daemon.call(protocol.REVOKE, name=["rpc-a", "rpc-b", "rpc-gone"])
    assert as_twin(by_uapi, "uapi-") == as_twin(by_rpc, "rpc-")
    assert by_uapi["metadata"]["revoked"] == ["uapi-a", "uapi-b"]
    assert len(by_uapi["warnings"]) == 1
    assert daemon.call(protocol.LIST)["data"] == []


@pytest.mark.parametrize("output_format", output.FORMATS)
def test_verify_matches_jsonrpc(daemon: Daemon, output_format: str) -> None:
    token = daemon.call(protocol.CREATE, name="checked")["data"]["token"]
    arguments = (f"user={own_account()}", f"token={token}")
    by_uapi = uapi_result(daemon, output_format, protocol.VERIFY, *arguments)
    assert by_uapi == daemon.call(protocol.VERIFY, user=own_account(), token=token)
    assert by_uapi["status"] == 1
    assert by_uapi["data"]["name"] == "checked"


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b""], ids=["LF", "CRLF", "none"])
def test_stdin_token_verifies(daemon: Daemon, newline: bytes) -> None:
    token = daemon.call(protocol.CREATE, name="checked")["data"]["token"]
    arguments = ("--output=json", "--stdin=token", "Tokens", "verify", f"user={own_account()}")
    completed = run_uapi_with_stdin(daemon.socket_path, token.encode() + newline, *arguments)
    assert completed.returncode == 0, completed
    result = json.loads(completed.stdout)["result"]
    assert result["status"] == 1
    assert result["data"]["name"] == "checked"


def test_stdin_value_not_decoded(daemon: Daemon) -> None:
    """The value read from stdin is sent as it is: no percent-decoding, spaces kept."""
    token = daemon.call(protocol.CREATE, name="checked")["data"]["token"]
    arguments = ("--output=json", "--stdin=token", "Tokens", "verify", f"user={own_account()}")
    for stdin in (token.encode() + b" \n", b"%41" + token[3:].encode()):
        completed = run_uapi_with_stdin(daemon.socket_path, stdin, *arguments)
        assert completed.returncode == cli.EXIT_FAILED, completed
        assert json.loads(completed.stdout)["result"]["status"] == 0


def test_stdin_reads_one_line(daemon: Daemon) -> None:
    arguments = ("--output=json", "--stdin=name", "Tokens", "create_full_access")
    completed = run_uapi_with_stdin(daemon.socket_path, b"first\nsecond\n", *arguments)
    assert completed.returncode == 0, completed
    assert json.loads(completed.stdout)["result"]["data"]["name"] == "first"


@pytest.mark.parametrize(
    ("stdin", "arguments", "message"),
    [
        (b"", [], "standard input is empty"),
        (b"\xff\n", [], "not valid UTF-8"),
        (b"A" * (cli.MAX_STDIN_VALUE_BYTES + 1), [], "longer than 65536 bytes"),
        (b"A\n", ["token=B"], "given both with --stdin and as an argument"),
        (b"A\n", ["--stdin=user"], "--stdin may be given only once"),
    ],
    ids=["empty", "not-utf8", "too-long", "also-argument", "twice"],
)
def test_stdin_usage_error_exits_2(
    tmp_path: Path, stdin: bytes, arguments: list[str], message: str
) -> None:
    socket_path = str(tmp_path / "none.sock")
    command = ["--stdin=token", "Tokens", "verify", "user=alice", *arguments]
    completed = run_uapi_with_stdin(socket_path, stdin, *command)
    assert completed.returncode == cli.EXIT_USAGE
    assert completed.stdout == ""
    assert message in completed.stderr
    assert completed.stderr.count("\n") == 1


@pytest.mark.parametrize("output_format", output.FORMATS)
def test_failure_exits_1_with_errors(daemon: Daemon, output_format: str) -> None:
    """A function-level failure prints the errors in the chosen format and exits 1."""
    by_uapi = uapi_result(
        daemon,
        output_format,
        protocol.RENAME,
        "name=missing",
        "new_name=other",
        exit_status=cli.EXIT_FAILED,
    )
    assert by_uapi == daemon.call(protocol.RENAME, name="missing", new_name="other")
    assert by_uapi["status"] == 0
    assert by_uapi["data"] is None
    assert by_uapi["errors"]
    assert "missing" in by_uapi["errors"][0]


# A real daemon: percent-decoding, lists and the --user flag.


def test_create_decodes_percent_in_name(daemon: Daemon) -> None:
    result = uapi_result(daemon, "json", protocol.CREATE, "name=a%2Db")
    assert result["data"]["name"] == "a-b"
    assert [token["name"] for token in daemon.call(protocol.LIST)["data"]] == ["a-b"]


@pytest.mark.parametrize(
    "arguments", [("name-0=x", "name-1=y"), ("name=x", "name=y")], ids=["numbered", "repeated"]
)
def test_revoke_two_names(daemon: Daemon, arguments: tuple[str, str]) -> None:
    for name in ("x", "y", "kept"):
        daemon.call(protocol.CREATE, name=name)
    result = uapi_result(daemon, "json", protocol.REVOKE, *arguments)
    assert result["status"] == 1
    assert sorted(result["metadata"]["revoked"]) == ["x", "y"]
    assert [token["name"] for token in daemon.call(protocol.LIST)["data"]] == ["kept"]


def test_value_with_equals_reaches_daemon(daemon: Daemon) -> None:
    result = uapi_result(
        daemon, "json", protocol.RENAME, "name=a=b", "new_name=c", exit_status=cli.EXIT_FAILED
    )
    assert result == daemon.call(protocol.RENAME, name="a=b", new_name="c")
    assert "a=b" in result["errors"][0]


def test_unknown_param_is_daemon_error(daemon: Daemon) -> None:
    """The command sends a misspelled parameter on, and the daemon's error names it."""
    result = uapi_result(
        daemon, "json", protocol.CREATE, "name=x", "expire_at=1", exit_status=cli.EXIT_FAILED
    )
    assert "expire_at" in result["errors"][0]
    assert daemon.call(protocol.LIST)["data"] == []


def test_unknown_function_exits_2(daemon: Daemon) -> None:
    completed = run_uapi(daemon.socket_path, "Tokens", "nope")
    assert completed.returncode == cli.EXIT_USAGE
    assert completed.stdout == ""
    assert "Tokens::nope" in completed.stderr
    assert completed.stderr.count("\n") == 1


def test_unknown_module_exits_2(daemon: Daemon) -> None:
    completed = run_uapi(daemon.socket_path, "Nope", "list")
    assert completed.returncode == cli.EXIT_USAGE
    assert "Nope::list" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_default_output_is_yaml(daemon: Daemon) -> None:
    completed = run_uapi(daemon.socket_path, "Tokens", "list")
    assert completed.returncode == 0
    assert completed.stdout.startswith("---\n")
    assert parse_output(completed.stdout, "yaml")["result"] == daemon.call(protocol.LIST)


@pytest.mark.root
def test_user_flag_works_for_root(daemon: Daemon) -> None:
    result = uapi_result(daemon, "json", protocol.CREATE, f"--user={OTHER_ACCOUNT}", "name=theirs")
    assert result["status"] == 1
    other_list = daemon.call(protocol.LIST, **{protocol.API_USER: OTHER_ACCOUNT})
    assert [token["name"] for token in other_list["data"]] == ["theirs"]
    assert daemon.call(protocol.LIST)["data"] == []


@pytest.mark.root
def test_user_flag_rejected_for_others(daemon: Daemon) -> None:
    """The daemon, not the command, rejects --user for another account."""
    argv = ["--socket", daemon.socket_path, "--output=json", "--user=root", "Tokens", "list"]
    exit_status, stdout, stderr = run_as(OTHER_ACCOUNT, run_main_captured, argv)
    assert exit_status == cli.EXIT_FAILED
    assert stderr == ""
    result = json.loads(stdout)["result"]
    assert result["status"] == 0
    assert result["data"] is None
    assert result["errors"]


@pytest.mark.root
def test_user_flag_for_own_account(daemon: Daemon) -> None:
    argv = ["--socket", daemon.socket_path, "--output=json", f"--user={OTHER_ACCOUNT}"]
    exit_status, stdout, _ = run_as(OTHER_ACCOUNT, run_main_captured, [*argv, "Tokens", "list"])
    assert exit_status == cli.EXIT_OK
    assert json.loads(stdout)["result"]["status"] == 1


@pytest.mark.root
def test_caller_without_account_exits_1(daemon: Daemon) -> None:
    """The daemon's JSON-RPC error for a uid without a passwd entry is one line on stderr."""
    uid_without_account = 54321
    argv = ["--socket", daemon.socket_path, "Tokens", "list"]
    exit_status, stdout, stderr = run_as(uid_without_account, run_main_captured, argv)
    assert exit_status == cli.EXIT_FAILED
    assert stdout == ""
    assert f"JSON-RPC error {protocol.UNKNOWN_CALLER}" in stderr
    assert stderr.count("\n") == 1


# The command's imports.


def imported_modules(socket_path: str, *arguments: str) -> set[str]:
    """Return the top-level packages that one `uapi` run imports."""
    env = {**os.environ, protocol.ENV_SOCKET: socket_path}
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", UAPI, *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    modules = set()
    for line in completed.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            modules.add(name.split(".")[0])
    return modules


HEAVY_PACKAGES = {"aiohttp", "aiosqlite", "argon2", "tokend", "http", "typing", "dataclasses"}


def test_json_output_imports_stay_light(daemon: Daemon) -> None:
    modules = imported_modules(daemon.socket_path, "--output=json", "Tokens", "list")
    assert "tokend_client" in modules
    assert modules.isdisjoint(HEAVY_PACKAGES | {"yaml", "xml", "urllib"})


def test_yaml_output_imports_only_yaml(daemon: Daemon) -> None:
    modules = imported_modules(daemon.socket_path, "Tokens", "list")
    assert "yaml" in modules
    assert modules.isdisjoint(HEAVY_PACKAGES | {"xml"})

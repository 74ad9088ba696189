"""The `apitokens` command run as a subprocess against a real daemon, without a terminal.

stdin is /dev/null and stdout a pipe here, so the command never prompts and prints no
colour. tests/test_apitokens_terminal.py runs it on a pseudo-terminal.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pwd
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import pytest

from tokend_client import apitokens, cli

from .helpers import Daemon, run_as
from .test_list import set_expiry

APITOKENS = str(Path(sys.executable).with_name("apitokens"))
TOKEN_PATTERN = re.compile(r"[0-9A-Z]{32}")
OTHER_ACCOUNT = "nobody"

# Variables that would change colour, width or the socket of the command under test.
CLEARED_VARIABLES = ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "TOKEND_SOCKET")


def command_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key not in CLEARED_VARIABLES}


def run_apitokens(
    socket_path: str, *arguments: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed `apitokens` with `--socket`, stdin /dev/null and captured output.

    `env` adds environment variables, such as TZ.
    """
    return subprocess.run(
        [APITOKENS, "--socket", socket_path, *arguments],
        env={**command_env(), **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_line_error(completed: subprocess.CompletedProcess[str], status: int) -> None:
    """Check a failure: the exit status, nothing on stdout, one line on stderr, no traceback."""
    assert completed.returncode == status, completed
    assert completed.stdout == ""
    assert completed.stderr.startswith("apitokens: ")
    assert completed.stderr.count("\n") == 1
    assert "Traceback" not in completed.stderr


def end_of_day(day: date) -> int:
    """Return the Unix time of 23:59:59 local time on `day`, as the daemon reads a date."""
    return int(datetime.combine(day, clock_time(23, 59, 59)).timestamp())


def listed(daemon: Daemon) -> dict[str, Any]:
    return {entry["name"]: entry for entry in daemon.call("list")["data"]}


def verifies(daemon: Daemon, token: str) -> Any:
    """Return the daemon's Tokens::verify result for `token` of this process's account."""
    return daemon.call("verify", user=pwd.getpwuid(os.getuid()).pw_name, token=token)


def parse_json(completed: subprocess.CompletedProcess[str]) -> Any:
    assert completed.returncode == 0, completed
    assert completed.stderr == ""
    return json.loads(completed.stdout)


# create


def test_create_prints_token_once_with_warning(daemon: Daemon) -> None:
    completed = run_apitokens(daemon.socket_path, "create", "ci", "--no-expiry")
    assert completed.returncode == 0, completed
    assert completed.stderr == ""
    tokens = TOKEN_PATTERN.findall(completed.stdout)
    assert len(tokens) == 1
    assert verifies(daemon, tokens[0])["status"] == 1
    assert 'Created the API token "ci", which never expires.' in completed.stdout
    assert "cannot be shown again" in completed.stdout
    assert "Treat it like a password" in completed.stdout


def test_create_quiet_prints_only_token(daemon: Daemon) -> None:
    completed = run_apitokens(daemon.socket_path, "create", "ci", "--quiet")
    assert completed.returncode == 0, completed
    assert completed.stderr == ""
    token = completed.stdout.removesuffix("\n")
    assert TOKEN_PATTERN.fullmatch(token)
    assert verifies(daemon, token)["data"]["name"] == "ci"


def test_create_json_parsed_back(daemon: Daemon) -> None:
    created = parse_json(run_apitokens(daemon.socket_path, "create", "ci", "--json"))
    assert set(created) == {"create_time", "token", "name", "expires_at"}
    assert created["name"] == "ci"
    assert created["expires_at"] is None
    assert verifies(daemon, created["token"])["status"] == 1
    assert listed(daemon)["ci"]["create_time"] == created["create_time"]


def test_create_without_terminal_never_expires(daemon: Daemon) -> None:
    completed = run_apitokens(daemon.socket_path, "create", "ci")
    assert completed.returncode == 0, completed
    assert "Expiry date" not in completed.stdout + completed.stderr
    assert listed(daemon)["ci"]["expires_at"] is None


def test_create_expires_date(daemon: Daemon) -> None:
    completed = run_apitokens(daemon.socket_path, "create", "ci", "--expires", "2031-05-17")
    assert completed.returncode == 0, completed
    assert listed(daemon)["ci"]["expires_at"] == end_of_day(date(2031, 5, 17))
    assert "which expires at 2031-05-17T23:59:59" in completed.stdout


def test_create_expires_in_days(daemon: Daemon) -> None:
    before = date.today()
    completed = run_apitokens(daemon.socket_path, "create", "ci", "--expires-in", "7")
    after = date.today()
    assert completed.returncode == 0, completed
    expires_at = listed(daemon)["ci"]["expires_at"]
    assert expires_at in {end_of_day(before + timedelta(7)), end_of_day(after + timedelta(7))}


def test_create_expires_in_zero_is_today(daemon: Daemon) -> None:
    before = date.today()
    completed = run_apitokens(daemon.socket_path, "create", "ci", "--expires-in", "0")
    after = date.today()
    assert completed.returncode == 0, completed
    assert listed(daemon)["ci"]["expires_at"] in {end_of_day(before), end_of_day(after)}


# POSIX TZ strings, which need no time zone database: 26 hours apart, so that the two
# sides never share a calendar day.
CLIENT_TZ = "XXT-14"  # UTC+14
DAEMON_TZ = "YYT+12"  # UTC-12
CLIENT_OFFSET = timezone(timedelta(hours=14))


@pytest.fixture
def far_west_daemon(workdir: Path) -> Iterator[Daemon]:
    """A daemon whose local time zone is UTC-12, far from the client's CLIENT_TZ."""
    daemon = Daemon(workdir / "far-west")
    daemon.start(env={"TZ": DAEMON_TZ})
    yield daemon
    daemon.close()


def client_end_of_day(day: date) -> int:
    """Return the Unix time of 23:59:59 on `day` in CLIENT_TZ."""
    return int(datetime.combine(day, clock_time(23, 59, 59), CLIENT_OFFSET).timestamp())


def test_create_expires_date_in_client_zone(far_west_daemon: Daemon) -> None:
    completed = run_apitokens(
        far_west_daemon.socket_path,
        "create",
        "ci",
        "--expires",
        "2031-05-17",
        env={"TZ": CLIENT_TZ},
    )
    assert completed.returncode == 0, completed
    assert listed(far_west_daemon)["ci"]["expires_at"] == client_end_of_day(date(2031, 5, 17))
    assert "which expires at 2031-05-17T23:59:59+14:00" in completed.stdout


@pytest.mark.parametrize("days", [0, 7])
def test_create_expires_in_client_zone(far_west_daemon: Daemon, days: int) -> None:
    before = datetime.now(CLIENT_OFFSET).date()
    completed = run_apitokens(
        far_west_daemon.socket_path,
        "create",
        "ci",
        "--expires-in",
        str(days),
        env={"TZ": CLIENT_TZ},
    )
    after = datetime.now(CLIENT_OFFSET).date()
    assert completed.returncode == 0, completed
    expected = {
        client_end_of_day(before + timedelta(days)),
        client_end_of_day(after + timedelta(days)),
    }
    assert listed(far_west_daemon)["ci"]["expires_at"] in expected


def test_create_duplicate_name_fails(daemon: Daemon) -> None:
    daemon.call("create_full_access", name="ci")
    completed = run_apitokens(daemon.socket_path, "create", "ci", "--no-expiry")
    assert_one_line_error(completed, cli.EXIT_FAILED)
    assert 'already has a token named "ci"' in completed.stderr


def test_create_invalid_name_fails(daemon: Daemon) -> None:
    completed = run_apitokens(daemon.socket_path, "create", "bad name", "--no-expiry")
    assert_one_line_error(completed, cli.EXIT_FAILED)
    assert "bad name" in completed.stderr
    assert listed(daemon) == {}


def test_create_past_date_fails(daemon: Daemon) -> None:
    completed = run_apitokens(daemon.socket_path, "create", "ci", "--expires", "2001-01-01")
    assert_one_line_error(completed, cli.EXIT_FAILED)
    assert "2001-01-01 is in the past" in completed.stderr
    assert listed(daemon) == {}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--expires", "2031-02-30"], "not a date in the calendar"),
        (["--expires", "20310101"], "not a date of the form YYYY-MM-DD"),
        (["--expires-in", "-1"], "not a whole number of days"),
        (["--expires-in", "99999999"], "after the year 9999"),
        (["--expires", "2031-01-01", "--no-expiry"], "not allowed with"),
        (["--quiet", "--json"], "not allowed with"),
    ],
)
def test_create_invalid_options_exit_2(daemon: Daemon, arguments: list[str], message: str) -> None:
    completed = run_apitokens(daemon.socket_path, "create", "ci", *arguments)
    assert_one_line_error(completed, cli.EXIT_USAGE)
    assert message in completed.stderr
    assert listed(daemon) == {}


# list


def make_tokens(daemon: Daemon) -> None:
    """Create tokens that expire later, soon, already, and never, by name."""
    now = int(time.time())
    daemon.call("create_full_access", name="later", expires_at=now + 30 * 86400)
    daemon.call("create_full_access", name="soon", expires_at=now + 2 * 3600)
    daemon.call("create_full_access", name="gone", expires_at=now + 3600)
    daemon.call("create_full_access", name="never")
    set_expiry(daemon, "gone", now - 60)


def listed_names(daemon: Daemon, *arguments: str) -> list[str]:
    page = parse_json(run_apitokens(daemon.socket_path, "list", "--json", *arguments))
    return [entry["name"] for entry in page["tokens"]]


def test_list_json_matches_daemon(daemon: Daemon) -> None:
    make_tokens(daemon)
    page = parse_json(run_apitokens(daemon.socket_path, "list", "--json"))
    assert page["tokens"] == daemon.call("list")["data"]
    assert page["paginate"] == {
        "current_page": 1,
        "results_per_page": 20,
        "start_result": 1,
        "total_pages": 1,
        "total_results": 4,
    }


def test_list_table_plain_without_terminal(daemon: Daemon) -> None:
    make_tokens(daemon)
    completed = run_apitokens(daemon.socket_path, "list")
    assert completed.returncode == 0, completed
    assert completed.stderr == ""
    assert "\x1b" not in completed.stdout
    lines = completed.stdout.splitlines()
    assert lines[0].split() == ["Name", "Created", "Expires", "Status"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert list(rows) == ["gone", "later", "never", "soon"]
    assert rows["gone"][2] == "expired"
    assert rows["soon"][2:] == ["expires", "soon"]
    assert rows["later"][2] == "active"
    assert rows["never"][1:] == ["never", "active"]


def test_list_plain_table_is_tidy(daemon: Daemon) -> None:
    """Without a terminal: no rule line, no trailing spaces, columns aligned to the header."""
    make_tokens(daemon)
    completed = run_apitokens(daemon.socket_path, "list")
    assert completed.returncode == 0, completed
    lines = completed.stdout.splitlines()
    assert len(lines) == 5
    assert "─" not in completed.stdout
    for line in lines:
        assert line == line.rstrip(), repr(line)

    header = lines[0]
    for heading in ("Created", "Expires", "Status"):
        column = header.index(heading)
        for line in lines[1:]:
            assert line[column - 1] == " ", (heading, line)
            assert line[column] != " ", (heading, line)


def test_list_times_are_local_iso_8601(daemon: Daemon) -> None:
    daemon.call("create_full_access", name="ci", expires_at="2031-05-17")
    completed = run_apitokens(daemon.socket_path, "list")
    created, expires = completed.stdout.splitlines()[1].split()[1:3]
    entry = listed(daemon)["ci"]
    assert datetime.fromisoformat(created).timestamp() == entry["create_time"]
    assert datetime.fromisoformat(expires).timestamp() == entry["expires_at"]
    assert expires.startswith("2031-05-17T23:59:59")
    assert datetime.fromisoformat(expires).utcoffset() is not None


def test_list_empty_says_how_to_create(daemon: Daemon) -> None:
    completed = run_apitokens(daemon.socket_path, "list")
    assert completed.returncode == 0, completed
    assert "apitokens create NAME" in completed.stdout


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--expiring"], ["soon"]),
        (["--expired"], ["gone"]),
        (["--expiring", "--expired"], ["gone", "soon"]),
        (["--search", "O"], ["gone", "soon"]),
        (["--search", "on", "--expired"], ["gone"]),
        (["--search", "ev", "--expiring", "--expired"], []),
        (["--sort", "expires"], ["gone", "soon", "later", "never"]),
        (["--sort", "expires", "--reverse"], ["never", "later", "soon", "gone"]),
    ],
)
def test_list_filters_and_order(daemon: Daemon, arguments: list[str], expected: list[str]) -> None:
    make_tokens(daemon)
    assert listed_names(daemon, *arguments) == expected


def test_list_sort_created(daemon: Daemon) -> None:
    for name in ("a", "b", "c"):
        daemon.call("create_full_access", name=name)
    # Tokens made within one second share a create_time, so the test spreads them out.
    with sqlite3.connect(daemon.database_path) as db:
        for name, create_time in (("a", 3000), ("b", 1000), ("c", 2000)):
            db.execute("UPDATE tokens SET create_time = ? WHERE name = ?", (create_time, name))
    assert listed_names(daemon, "--sort", "created") == ["b", "c", "a"]
    assert listed_names(daemon, "--sort", "created", "--reverse") == ["a", "c", "b"]


def test_list_no_match_says_so(daemon: Daemon) -> None:
    make_tokens(daemon)
    completed = run_apitokens(daemon.socket_path, "list", "--search", "zzz")
    assert completed.returncode == 0, completed
    assert completed.stdout == "No token matches.\n"


def test_list_pages(daemon: Daemon) -> None:
    for number in range(45):
        daemon.call("create_full_access", name=f"t{number:02}")
    page = parse_json(run_apitokens(daemon.socket_path, "list", "--json", "--page", "3"))
    assert [entry["name"] for entry in page["tokens"]] == [f"t{n}" for n in range(40, 45)]
    assert page["paginate"]["current_page"] == 3
    assert page["paginate"]["total_pages"] == 3
    assert page["paginate"]["start_result"] == 41
    assert page["paginate"]["total_results"] == 45

    completed = run_apitokens(daemon.socket_path, "list", "--page", "2")
    assert completed.returncode == 0, completed
    assert "t20" in completed.stdout
    assert "t39" in completed.stdout
    assert "t40" not in completed.stdout
    assert "Page 2 of 3, tokens 21-40 of 45." in completed.stdout

    page = parse_json(run_apitokens(daemon.socket_path, "list", "--json", "--per-page", "100"))
    assert len(page["tokens"]) == 45


def test_list_pages_with_two_conditions(daemon: Daemon) -> None:
    now = int(time.time())
    for number in range(23):
        daemon.call("create_full_access", name=f"soon{number:02}", expires_at=now + 3600)
    daemon.call("create_full_access", name="gone", expires_at=now + 3600)
    daemon.call("create_full_access", name="never")
    set_expiry(daemon, "gone", now - 60)

    arguments = ("--expiring", "--expired", "--page", "2")
    page = parse_json(run_apitokens(daemon.socket_path, "list", "--json", *arguments))
    assert [entry["name"] for entry in page["tokens"]] == ["soon19", "soon20", "soon21", "soon22"]
    assert page["paginate"] == {
        "current_page": 2,
        "results_per_page": 20,
        "start_result": 21,
        "total_pages": 2,
        "total_results": 24,
    }


def test_list_page_past_end_fails(daemon: Daemon) -> None:
    make_tokens(daemon)
    completed = run_apitokens(daemon.socket_path, "list", "--page", "2")
    assert_one_line_error(completed, cli.EXIT_FAILED)
    assert "no page 2" in completed.stderr


@pytest.mark.parametrize("arguments", [["--per-page", "50"], ["--page", "0"], ["--sort", "x"]])
def test_list_invalid_options_exit_2(daemon: Daemon, arguments: list[str]) -> None:
    completed = run_apitokens(daemon.socket_path, "list", *arguments)
    assert_one_line_error(completed, cli.EXIT_USAGE)


# show


def test_show_prints_details(daemon: Daemon) -> None:
    make_tokens(daemon)
    completed = run_apitokens(daemon.socket_path, "show", "gone")
    assert completed.returncode == 0, completed
    lines = dict(line.split(":", 1) for line in completed.stdout.splitlines())
    assert lines["Name"].strip() == "gone"
    assert lines["Status"].strip() == "expired"
    assert lines["Access"].strip() == "full access to the account"
    assert "\x1b" not in completed.stdout


def test_show_json_is_list_entry(daemon: Daemon) -> None:
    make_tokens(daemon)
    entry = parse_json(run_apitokens(daemon.socket_path, "show", "soon", "--json"))
    assert entry == listed(daemon)["soon"]


def test_show_name_matches_exactly(daemon: Daemon) -> None:
    daemon.call("create_full_access", name="Deploy")
    daemon.call("create_full_access", name="deploy")
    entry = parse_json(run_apitokens(daemon.socket_path, "show", "deploy", "--json"))
    assert entry["name"] == "deploy"


def test_show_unknown_token_fails(daemon: Daemon) -> None:
    completed = run_apitokens(daemon.socket_path, "show", "nope")
    assert_one_line_error(completed, cli.EXIT_FAILED)
    assert 'no token named "nope"' in completed.stderr


# rename


def test_rename_keeps_token(daemon: Daemon) -> None:
    token = daemon.call("create_full_access", name="old")["data"]["token"]
    completed = run_apitokens(daemon.socket_path, "rename", "old", "new")
    assert completed.returncode == 0, completed
    assert completed.stdout == 'Renamed the API token "old" to "new".\n'
    assert list(listed(daemon)) == ["new"]
    assert verifies(daemon, token)["data"]["name"] == "new"


def test_rename_quiet_prints_nothing(daemon: Daemon) -> None:
    daemon.call("create_full_access", name="old")
    completed = run_apitokens(daemon.socket_path, "rename", "old", "new", "--quiet")
    assert completed.returncode == 0, completed
    assert completed.stdout == ""
    assert list(listed(daemon)) == ["new"]


def test_rename_unknown_token_fails(daemon: Daemon) -> None:
    completed = run_apitokens(daemon.socket_path, "rename", "nope", "new")
    assert_one_line_error(completed, cli.EXIT_FAILED)
    assert 'no token named "nope"' in completed.stderr


def test_rename_to_taken_name_fails(daemon: Daemon) -> None:
    daemon.call("create_full_access", name="a")
    daemon.call("create_full_access", name="b")
    completed = run_apitokens(daemon.socket_path, "rename", "a", "b")
    assert_one_line_error(completed, cli.EXIT_FAILED)
    assert 'already has a token named "b"' in completed.stderr
    assert list(listed(daemon)) == ["a", "b"]


# revoke


def test_revoke_yes_revokes(daemon: Daemon) -> None:
    make_tokens(daemon)
    completed = run_apitokens(daemon.socket_path, "revoke", "soon", "gone", "--yes")
    assert completed.returncode == 0, completed
    assert completed.stderr == ""
    assert completed.stdout == 'Revoked 2 API tokens: "soon", "gone".\n'
    assert list(listed(daemon)) == ["later", "never"]


def test_revoke_quiet_prints_nothing(daemon: Daemon) -> None:
    daemon.call("create_full_access", name="ci")
    completed = run_apitokens(daemon.socket_path, "revoke", "ci", "--yes", "--quiet")
    assert completed.returncode == 0, completed
    assert completed.stdout == ""
    assert listed(daemon) == {}


def test_revoke_unknown_token_fails(daemon: Daemon) -> None:
    completed = run_apitokens(daemon.socket_path, "revoke", "nope", "--yes")
    assert_one_line_error(completed, cli.EXIT_FAILED)
    assert 'no token named "nope"' in completed.stderr


def test_revoke_unknown_among_known(daemon: Daemon) -> None:
    daemon.call("create_full_access", name="ci")
    completed = run_apitokens(daemon.socket_path, "revoke", "ci", "typo", "--yes")
    assert completed.returncode == cli.EXIT_FAILED
    assert completed.stdout == 'Revoked 1 API token: "ci".\n'
    assert completed.stderr == 'apitokens: no token named "typo"; nothing to revoke for it\n'
    assert listed(daemon) == {}


def test_revoke_without_terminal_needs_yes(daemon: Daemon) -> None:
    daemon.call("create_full_access", name="ci")
    completed = run_apitokens(daemon.socket_path, "revoke", "ci")
    assert_one_line_error(completed, cli.EXIT_USAGE)
    assert "--yes" in completed.stderr
    assert list(listed(daemon)) == ["ci"]


@pytest.mark.parametrize("arguments", [["list"], ["list", "--json"], ["show", "ci"]])
def test_closed_stdout_is_no_error(daemon: Daemon, arguments: list[str]) -> None:
    """A reader that closes the pipe early, as `head` does, gets no traceback on stderr."""
    daemon.call("create_full_access", name="ci")
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        completed = subprocess.run(
            [APITOKENS, "--socket", daemon.socket_path, *arguments],
            env=command_env(),
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert completed.returncode == 0, completed
    assert completed.stderr == ""


# --user, --socket and the daemon not running


@pytest.mark.root
def test_user_flag_acts_on_other_account(daemon: Daemon) -> None:
    completed = run_apitokens(
        daemon.socket_path, "--user", OTHER_ACCOUNT, "create", "ci", "--no-expiry"
    )
    assert completed.returncode == 0, completed
    other = daemon.call("list", **{"api.user": OTHER_ACCOUNT})["data"]
    assert [entry["name"] for entry in other] == ["ci"]
    assert listed(daemon) == {}

    # The flag may also follow the command.
    page = parse_json(run_apitokens(daemon.socket_path, "list", "--json", "--user", OTHER_ACCOUNT))
    assert [entry["name"] for entry in page["tokens"]] == ["ci"]


def run_main_captured(argv: list[str]) -> tuple[int, str, str]:
    """Run `apitokens.main(argv)` in this process; return its exit status, stdout and stderr.

    Tests that switch to another account use it, because that account may not be allowed to
    run programs from the test's virtual environment.
    """
    stdout = io.StringIO()
    stderr = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        exit_status = apitokens.main(argv)
    return exit_status, stdout.getvalue(), stderr.getvalue()


@pytest.mark.root
def test_user_flag_rejected_for_others(daemon: Daemon) -> None:
    argv = ["--socket", daemon.socket_path, "--user", "root", "list"]
    exit_status, stdout, stderr = run_as(OTHER_ACCOUNT, run_main_captured, argv)
    assert exit_status == cli.EXIT_FAILED
    assert stdout == ""
    assert stderr.startswith("apitokens: Access denied")
    assert stderr.count("\n") == 1


@pytest.mark.parametrize(
    "arguments",
    [
        ["list"],
        ["show", "ci"],
        ["create", "ci", "--no-expiry"],
        ["rename", "a", "b"],
        ["revoke", "ci", "--yes"],
    ],
)
def test_daemon_not_running_exits_69(tmp_path: Path, arguments: list[str]) -> None:
    socket_path = str(tmp_path / "missing.sock")
    completed = run_apitokens(socket_path, *arguments)
    assert_one_line_error(completed, cli.EXIT_UNAVAILABLE)
    assert socket_path in completed.stderr


def test_socket_flag_after_command(tmp_path: Path) -> None:
    socket_path = str(tmp_path / "after.sock")
    completed = subprocess.run(
        [APITOKENS, "list", "--socket", socket_path],
        env={**command_env(), "TOKEND_SOCKET": str(tmp_path / "environment.sock")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert_one_line_error(completed, cli.EXIT_UNAVAILABLE)
    assert socket_path in completed.stderr


# Help and start-up


def test_help_lists_commands_and_exit_statuses() -> None:
    completed = subprocess.run(
        [APITOKENS, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0
    for text in ("create", "list", "show", "rename", "revoke", "--user", "--socket", "69"):
        assert text in completed.stdout


def test_create_help_states_default_expiry() -> None:
    completed = subprocess.run(
        [APITOKENS, "create", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0
    assert "offering one year from today" in completed.stdout
    assert "the token never expires" in completed.stdout


def test_missing_command_exits_2() -> None:
    completed = subprocess.run([APITOKENS], capture_output=True, text=True, timeout=60, check=False)
    assert_one_line_error(completed, cli.EXIT_USAGE)


def test_help_and_errors_do_not_import_rich(tmp_path: Path) -> None:
    """rich costs more start-up time than the rest of the command, so only tables load it."""
    missing = str(tmp_path / "missing.sock")
    script = (
        "import contextlib, io, sys\n"
        "from tokend_client import apitokens\n"
        "sink = io.StringIO()\n"
        "with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):\n"
        "    apitokens.main(['--help'])\n"
        f"    apitokens.main(['--socket', {missing!r}, 'list'])\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'rich'))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed
    assert completed.stdout == "[]\n"

"""The `apitokens` command on a pseudo-terminal: prompts, confirmation and colours.

Each test starts the installed script with stdin, stdout and stderr on the slave side of a
pty, types answers into the master side and reads what a person would see, escape codes
included. Every wait reads until an expected text arrives or a deadline passes.
"""

from __future__ import annotations

import fcntl
import os
import pty
import pwd
import select
import struct
import subprocess
import termios
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tokend_client import cli
from tokend_client.apitokens_prompt import one_year_after

from .helpers import Daemon
from .test_apitokens import (
    APITOKENS,
    CLIENT_OFFSET,
    CLIENT_TZ,
    DAEMON_TZ,
    client_end_of_day,
    command_env,
    end_of_day,
    listed,
)
from .test_list import set_expiry
from .test_uapi_cli import UAPI

TIMEOUT_S = 30.0
COLUMNS = 200
YELLOW = "\x1b[33m"
RED = "\x1b[31m"
EOF_KEY = b"\x04"


class Terminal:
    """A command whose stdin, stdout and stderr are one pseudo-terminal.

    The command is `apitokens` unless `program` names another one that takes --socket.
    """

    def __init__(
        self,
        socket_path: str,
        *arguments: str,
        env: dict[str, str] | None = None,
        program: str = APITOKENS,
    ):
        self.master, slave = pty.openpty()
        # A wide window, so that rich does not wrap table rows.
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, COLUMNS, 0, 0))
        environment = {**command_env(), "TERM": "xterm"}
        environment.pop("COLORTERM", None)
        self.process = subprocess.Popen(
            [program, "--socket", socket_path, *arguments],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**environment, **(env or {})},
        )
        os.close(slave)
        self.output = ""

    def _read(self, deadline: float) -> bool:
        """Append what the process wrote to `output`; return False at the end of output."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out; the terminal shows:\n{self.output!r}")
        readable, _, _ = select.select([self.master], [], [], remaining)
        if not readable:
            return True
        try:
            data = os.read(self.master, 4096)
        except OSError:
            # Linux reports EIO on the master once every slave descriptor is closed.
            return False
        self.output += data.decode("utf-8", errors="replace")
        return bool(data)

    def expect(self, text: str) -> None:
        """Read until `text` appears on the terminal."""
        deadline = time.monotonic() + TIMEOUT_S
        while text not in self.output:
            if not self._read(deadline):
                raise AssertionError(f"{text!r} never appeared; the terminal shows:\n{self.output}")

    def type_line(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def type_keys(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def finish(self) -> int:
        """Read the rest of the output and return the exit status."""
        deadline = time.monotonic() + TIMEOUT_S
        while self._read(deadline):
            pass
        os.close(self.master)
        return self.process.wait(timeout=TIMEOUT_S)


@pytest.fixture
def terminals() -> Any:
    """Start Terminal objects, and kill any process still running after the test."""
    started: list[Terminal] = []

    def start(
        socket_path: str,
        *arguments: str,
        env: dict[str, str] | None = None,
        program: str = APITOKENS,
    ) -> Terminal:
        terminal = Terminal(socket_path, *arguments, env=env, program=program)
        started.append(terminal)
        return terminal

    yield start
    for terminal in started:
        if terminal.process.poll() is None:
            terminal.process.kill()
            terminal.process.wait()


def line_with(output: str, name: str) -> str:
    """Return the one line of `output` whose first word is the token name `name`."""
    matches = [line for line in output.splitlines() if _first_word(line) == name]
    assert len(matches) == 1, output
    return matches[0]


def _first_word(line: str) -> str:
    plain = line
    for code in (YELLOW, RED, "\x1b[0m", "\x1b[1m"):
        plain = plain.replace(code, "")
    words = plain.split()
    return words[0] if words else ""


# create: the expiry prompt


def test_create_prompt_default_is_one_year(daemon: Daemon, terminals: Any) -> None:
    before = date.today()
    terminal = terminals(daemon.socket_path, "create", "ci")
    terminal.expect(f"[{one_year_after(before).isoformat()}]: ")
    terminal.type_line("")
    assert terminal.finish() == 0, terminal.output
    after = date.today()

    expected = {end_of_day(one_year_after(before)), end_of_day(one_year_after(after))}
    assert listed(daemon)["ci"]["expires_at"] in expected
    assert "cannot be shown again" in terminal.output


def test_create_prompt_date_in_client_zone(workdir: Path, terminals: Any) -> None:
    """The prompt's date is the person's calendar day, whatever the daemon's time zone."""
    far_west_daemon = Daemon(workdir / "far-west")
    far_west_daemon.start(env={"TZ": DAEMON_TZ})
    try:
        before = datetime.now(CLIENT_OFFSET).date()
        terminal = terminals(far_west_daemon.socket_path, "create", "ci", env={"TZ": CLIENT_TZ})
        terminal.expect("Expiry date")
        terminal.type_line("2031-05-17")
        assert terminal.finish() == 0, terminal.output
        after = datetime.now(CLIENT_OFFSET).date()

        defaults = {f"[{one_year_after(day).isoformat()}]" for day in (before, after)}
        assert any(default in terminal.output for default in defaults), terminal.output
        expires_at = listed(far_west_daemon)["ci"]["expires_at"]
        assert expires_at == client_end_of_day(date(2031, 5, 17))
        assert "2031-05-17T23:59:59+14:00" in terminal.output
    finally:
        far_west_daemon.close()


def test_create_prompt_accepts_never(daemon: Daemon, terminals: Any) -> None:
    terminal = terminals(daemon.socket_path, "create", "ci")
    terminal.expect("Expiry date")
    terminal.type_line("never")
    assert terminal.finish() == 0, terminal.output
    assert listed(daemon)["ci"]["expires_at"] is None


def test_create_prompt_asks_again_until_valid(daemon: Daemon, terminals: Any) -> None:
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    terminal = terminals(daemon.socket_path, "create", "ci")
    terminal.expect("Expiry date")
    terminal.type_line("2031-02-30")
    terminal.expect("not a date in the calendar")
    terminal.type_line("next week")
    terminal.expect("not a date of the form YYYY-MM-DD")
    terminal.type_line(yesterday)
    terminal.expect(f"{yesterday} is in the past")
    terminal.type_line("2031-05-17")
    assert terminal.finish() == 0, terminal.output

    assert terminal.output.count("Expiry date") == 4
    assert listed(daemon)["ci"]["expires_at"] == end_of_day(date(2031, 5, 17))


def test_create_prompt_end_of_input_creates_nothing(daemon: Daemon, terminals: Any) -> None:
    terminal = terminals(daemon.socket_path, "create", "ci")
    terminal.expect("Expiry date")
    terminal.type_keys(EOF_KEY)
    assert terminal.finish() == cli.EXIT_FAILED, terminal.output
    assert "nothing was changed" in terminal.output
    assert "Traceback" not in terminal.output
    assert listed(daemon) == {}


def test_create_expiry_flag_skips_prompt(daemon: Daemon, terminals: Any) -> None:
    terminal = terminals(daemon.socket_path, "create", "ci", "--no-expiry", "--quiet")
    assert terminal.finish() == 0, terminal.output
    assert "Expiry date" not in terminal.output
    assert listed(daemon)["ci"]["expires_at"] is None


# revoke: the confirmation


def test_revoke_confirmation_accepted(daemon: Daemon, terminals: Any) -> None:
    for name in ("ci", "deploy", "keep"):
        daemon.call("create_full_access", name=name)
    terminal = terminals(daemon.socket_path, "revoke", "ci", "deploy")
    terminal.expect("Revoke 2 tokens? [y/N] ")
    terminal.type_line("y")
    assert terminal.finish() == 0, terminal.output

    listing = terminal.output.split("Revoke 2 tokens?")[0]
    assert "ci" in listing
    assert "deploy" in listing
    assert "keep" not in listing
    assert 'Revoked 2 API tokens: "ci", "deploy".' in terminal.output
    assert list(listed(daemon)) == ["keep"]


def test_revoke_confirmation_lists_expiry(daemon: Daemon, terminals: Any) -> None:
    make_coloured_tokens(daemon)
    terminal = terminals(daemon.socket_path, "revoke", "gone", "never", "soon")
    terminal.expect("Revoke 3 tokens? [y/N] ")
    terminal.type_line("n")
    assert terminal.finish() == cli.EXIT_FAILED, terminal.output

    assert "expired at" in line_with(terminal.output, "gone")
    assert "never expires" in line_with(terminal.output, "never")
    assert "expires at" in line_with(terminal.output, "soon")


@pytest.mark.parametrize("answer", ["n", "", "nope"])
def test_revoke_confirmation_declined(daemon: Daemon, terminals: Any, answer: str) -> None:
    daemon.call("create_full_access", name="ci")
    terminal = terminals(daemon.socket_path, "revoke", "ci")
    terminal.expect("Revoke 1 token? [y/N] ")
    terminal.type_line(answer)
    assert terminal.finish() == cli.EXIT_FAILED, terminal.output
    assert "Nothing was revoked." in terminal.output
    assert list(listed(daemon)) == ["ci"]


def test_revoke_confirmation_end_of_input_declines(daemon: Daemon, terminals: Any) -> None:
    daemon.call("create_full_access", name="ci")
    terminal = terminals(daemon.socket_path, "revoke", "ci")
    terminal.expect("[y/N] ")
    terminal.type_keys(EOF_KEY)
    assert terminal.finish() == cli.EXIT_FAILED, terminal.output
    assert list(listed(daemon)) == ["ci"]


def test_revoke_confirmation_reports_unknown(daemon: Daemon, terminals: Any) -> None:
    daemon.call("create_full_access", name="ci")
    terminal = terminals(daemon.socket_path, "revoke", "ci", "typo")
    terminal.expect("Revoke 1 token? [y/N] ")
    terminal.type_line("yes")
    assert terminal.finish() == cli.EXIT_FAILED, terminal.output
    assert 'no token named "typo"' in terminal.output
    assert listed(daemon) == {}


def test_revoke_only_unknown_does_not_ask(daemon: Daemon, terminals: Any) -> None:
    terminal = terminals(daemon.socket_path, "revoke", "typo")
    assert terminal.finish() == cli.EXIT_FAILED, terminal.output
    assert "[y/N]" not in terminal.output
    assert 'no token named "typo"' in terminal.output


def test_revoke_yes_skips_confirmation(daemon: Daemon, terminals: Any) -> None:
    daemon.call("create_full_access", name="ci")
    terminal = terminals(daemon.socket_path, "revoke", "ci", "--yes")
    assert terminal.finish() == 0, terminal.output
    assert "[y/N]" not in terminal.output
    assert listed(daemon) == {}


# list: colours


def make_coloured_tokens(daemon: Daemon) -> None:
    now = int(time.time())
    daemon.call("create_full_access", name="soon", expires_at=now + 2 * 3600)
    daemon.call("create_full_access", name="gone", expires_at=now + 3600)
    daemon.call("create_full_access", name="later", expires_at=now + 30 * 86400)
    daemon.call("create_full_access", name="never")
    set_expiry(daemon, "gone", now - 60)


def test_list_colours_by_status(daemon: Daemon, terminals: Any) -> None:
    make_coloured_tokens(daemon)
    terminal = terminals(daemon.socket_path, "list")
    assert terminal.finish() == 0, terminal.output

    soon = line_with(terminal.output, "soon")
    assert f"{YELLOW}soon" in soon
    assert RED not in soon
    gone = line_with(terminal.output, "gone")
    assert f"{RED}gone" in gone
    assert YELLOW not in gone
    for name in ("later", "never"):
        assert "\x1b" not in line_with(terminal.output, name)


def test_list_no_color_has_no_escape_codes(daemon: Daemon, terminals: Any) -> None:
    make_coloured_tokens(daemon)
    terminal = terminals(daemon.socket_path, "list", env={"NO_COLOR": "1"})
    assert terminal.finish() == 0, terminal.output
    assert "\x1b" not in terminal.output
    assert "expired" in line_with(terminal.output, "gone")
    assert "expires soon" in line_with(terminal.output, "soon")


def test_show_colours_status(daemon: Daemon, terminals: Any) -> None:
    make_coloured_tokens(daemon)
    terminal = terminals(daemon.socket_path, "show", "gone")
    assert terminal.finish() == 0, terminal.output
    assert f"{RED}expired" in terminal.output


def test_list_times_shown_in_local_zone(daemon: Daemon, terminals: Any) -> None:
    # A POSIX TZ rule needs no time zone database: "TEST-8" is 8 hours east of UTC.
    daemon.call("create_full_access", name="ci", expires_at="2031-05-17")
    terminal = terminals(daemon.socket_path, "list", env={"TZ": "TEST-8"})
    assert terminal.finish() == 0, terminal.output
    expires = line_with(terminal.output, "ci").split()[2]
    expires_at = listed(daemon)["ci"]["expires_at"]
    assert expires.endswith("+08:00")
    assert datetime.fromisoformat(expires).timestamp() == expires_at


# `uapi --stdin` on a terminal.


def test_uapi_stdin_reads_without_echo(daemon: Daemon, terminals: Any) -> None:
    token = daemon.call("create_full_access", name="checked")["data"]["token"]
    account = pwd.getpwuid(os.getuid()).pw_name
    arguments = ("--output=json", "--stdin=token", "Tokens", "verify", f"user={account}")
    terminal = terminals(daemon.socket_path, *arguments, program=UAPI)
    terminal.expect("token: ")
    terminal.type_line(token)
    assert terminal.finish() == cli.EXIT_OK
    assert '"status": 1' in terminal.output
    assert token not in terminal.output

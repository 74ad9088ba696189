"""The command line of `apitokens`: its commands, options, help texts and checks.

It uses argparse, which raises here instead of exiting, so that `apitokens.main` turns
every usage error into one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from . import apitokens_prompt as prompt
from . import apitokens_query as query
from . import protocol
from .cli import EXIT_FAILED, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE

# mypy treats a name TYPE_CHECKING as true wherever it comes from. Importing `typing` at run
# time would slow the command's start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

PROGRAM = "apitokens"

DESCRIPTION = """\
Create, list, rename and revoke the API tokens of your account, as cPanel's
Manage API Tokens screen does. Run 'apitokens COMMAND --help' for a command's
options."""

EPILOG = f"""\
exit status:
  {EXIT_OK}   success
  {EXIT_FAILED}   the daemon rejected the request (the reason is on stderr), a token
      to revoke or show was not found, or a confirmation was declined
  {EXIT_USAGE}   invalid command line
  {EXIT_UNAVAILABLE}  the daemon cannot be reached"""

CREATE_EPILOG = """\
Without an expiry option, the command prompts for a date when stdin is a
terminal, offering one year from today. When stdin is not a terminal it sends no
expiry, so the token never expires; pass --expires or --expires-in in
scripts that want one. A date means 23:59:59 of that day in your local time
zone (TZ), and "today" is today there too; the command sends that moment as
Unix time, so the daemon's time zone does not matter."""

REVOKE_EPILOG = """\
Revoking is immediate: programs that use a revoked token lose access at once.
On a terminal the command lists the tokens and prompts for confirmation. When
stdin is not a terminal it needs --yes."""


class UsageError(Exception):
    """The command line is invalid; the message names the argument and the problem."""


class ParserExit(Exception):
    """argparse finished the command itself, after printing the help."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _ArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of exiting, so that `main` returns the status."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise ParserExit(status)


def build_parser() -> argparse.ArgumentParser:
    """Build the parser of the command line; `command` names the command given."""
    parser = _ArgumentParser(
        prog=PROGRAM,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_connection_options(parser, None)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    create = _add_command(commands, "create", "create a token and show it once", CREATE_EPILOG)
    create.add_argument("name", metavar="NAME", help="1 to 50 characters from A-Z a-z 0-9 _ -")
    expiry = create.add_mutually_exclusive_group()
    expiry.add_argument(
        "--expires",
        metavar="YYYY-MM-DD",
        type=_date_argument,
        help="expire at 23:59:59 local time on this day",
    )
    expiry.add_argument(
        "--expires-in",
        metavar="DAYS",
        type=_days_argument,
        help="expire at 23:59:59 local time, DAYS days from today (0 is today)",
    )
    expiry.add_argument("--no-expiry", action="store_true", help="the token never expires")
    _add_output_options(create, quiet_help="print only the token, for a file or a pipe")
    create.set_defaults(command="create")

    listing = _add_command(commands, "list", "list tokens in a table, a page at a time")
    listing.add_argument(
        "--expiring",
        action="store_true",
        help="only tokens that expire within the daemon's expiring-soon window (24 hours "
        "by default); with --expired, tokens that are either",
    )
    listing.add_argument("--expired", action="store_true", help="only expired tokens")
    listing.add_argument(
        "--search", metavar="TEXT", help="only tokens whose name contains TEXT, ignoring case"
    )
    listing.add_argument(
        "--sort", choices=tuple(query.SORT_COLUMNS), default="name", help="order (default: name)"
    )
    listing.add_argument("--reverse", action="store_true", help="sort in descending order")
    listing.add_argument(
        "--page", metavar="N", type=_positive_argument, default=1, help="page number (default: 1)"
    )
    listing.add_argument(
        "--per-page",
        type=int,
        choices=query.PAGE_SIZES,
        default=query.PAGE_SIZES[0],
        help=f"tokens per page (default: {query.PAGE_SIZES[0]})",
    )
    listing.add_argument(
        "--json", action="store_true", help="print the page as JSON: {tokens, paginate}"
    )
    listing.set_defaults(command="list")

    show = _add_command(commands, "show", "show one token's details")
    show.add_argument("name", metavar="NAME")
    show.add_argument("--json", action="store_true", help="print the token's entry as JSON")
    show.set_defaults(command="show")

    rename = _add_command(commands, "rename", "rename a token; its value and expiry stay")
    rename.add_argument("name", metavar="OLD")
    rename.add_argument("new_name", metavar="NEW", help="1 to 50 characters from A-Z a-z 0-9 _ -")
    rename.add_argument("--quiet", action="store_true", help="print nothing on success")
    rename.set_defaults(command="rename")

    revoke = _add_command(commands, "revoke", "revoke tokens after a confirmation", REVOKE_EPILOG)
    revoke.add_argument("names", metavar="NAME", nargs="+")
    revoke.add_argument("--yes", action="store_true", help="revoke without asking")
    revoke.add_argument("--quiet", action="store_true", help="print nothing on success")
    revoke.set_defaults(command="revoke")
    return parser


def _add_command(
    commands: argparse._SubParsersAction[_ArgumentParser],
    name: str,
    summary: str,
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    command = commands.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # SUPPRESS keeps a value given before the command when none is given after it.
    _add_connection_options(command, argparse.SUPPRESS)
    return command


def _add_connection_options(parser: argparse.ArgumentParser, default: str | None) -> None:
    parser.add_argument(
        "--user",
        metavar="NAME",
        default=default,
        help=f"act on this account's tokens (sends {protocol.API_USER}); only root may name "
        "an account other than its own",
    )
    parser.add_argument(
        "--socket",
        metavar="PATH",
        default=default,
        help=f"the daemon's socket (default: ${protocol.ENV_SOCKET}, else "
        f"{protocol.default_socket_path()} when this account runs its own daemon, else "
        f"{protocol.ROOT_SOCKET_PATH})",
    )


def _add_output_options(parser: argparse.ArgumentParser, quiet_help: str) -> None:
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--quiet", action="store_true", help=quiet_help)
    output.add_argument("--json", action="store_true", help="print the result as JSON")


def _date_argument(text: str) -> date:
    try:
        return prompt.parse_date(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _days_argument(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days of 0 or more")
    return int(text)


def _positive_argument(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)

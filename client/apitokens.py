"""The `apitokens` command: cPanel's Manage API Tokens screen, for a person at a terminal.

    apitokens [--user NAME] [--socket PATH] COMMAND ...

    create NAME [--expires YYYY-MM-DD | --expires-in DAYS | --no-expiry] [--quiet | --json]
    list [--expiring] [--expired] [--search TEXT] [--sort name|created|expires] [--reverse]
         [--page N] [--per-page 20|100|500] [--json]
    show NAME [--json]
    rename OLD NEW [--quiet]
    revoke NAME... [--yes] [--quiet]

It calls the daemon through `tokend_client.client.Client`, as `uapi` does, and has the same
exit statuses. Every failure becomes one line on stderr and an exit status in `main`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import date

from . import apitokens_prompt as prompt
from . import apitokens_query as query
from . import apitokens_view as view
from .apitokens_args import PROGRAM, ParserExit, UsageError, build_parser
from .cli import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    report,
    report_protocol_error,
)
from .client import Client
from .errors import DaemonUnavailable, ProtocolError, UAPIError

# mypy treats a name TYPE_CHECKING as true wherever it comes from. Importing `typing` at run
# time would slow the command's start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from argparse import Namespace
    from collections.abc import Callable, Sequence

    from .results import TokenInfo

COPY_NOW_WARNING = """\
Copy the token now: it cannot be shown again. Treat it like a password, because
anyone who has it can use the API as this account."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with `argv` (default: `sys.argv[1:]`) and return its exit status.

    Every failure becomes one line on stderr and an exit status here, never a traceback.
    """
    try:
        arguments = build_parser().parse_args(argv)
        run_command = COMMANDS[arguments.command]
        return run_command(Client(arguments.socket), arguments)
    except ParserExit as parser_exit:
        return parser_exit.status
    except UsageError as error:
        _report(f"{error}. Run '{PROGRAM} --help' for usage")
        return EXIT_USAGE
    except UAPIError as error:
        _report(" ".join(error.errors) or str(error))
        return EXIT_FAILED
    except DaemonUnavailable as error:
        _report(str(error))
        return EXIT_UNAVAILABLE
    except ProtocolError as error:
        return _report_protocol_error(error)
    except prompt.Aborted:
        _report("input ended before an answer; nothing was changed")
        return EXIT_FAILED
    except KeyboardInterrupt:
        # Ends the prompt's line, so that the shell's prompt starts on a line of its own.
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout (such as `head`) closed the pipe. `uapi` exits 0 then too.
        # Pointing stdout at /dev/null keeps Python's flush at exit from raising again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def create_token(client: Client, arguments: Namespace) -> int:
    """Create a token and print it once, with the warning, alone, or as JSON."""
    expiry = _chosen_expiry(arguments)
    expires_at = None
    if expiry is not None:
        expires_at = prompt.end_of_day(expiry)
        # The daemon would reject it too, but its message names the Unix time, not the date.
        if expires_at < time.time():
            _report(
                f"{expiry.isoformat()} is in the past: its end, "
                f"{view.format_time(expires_at)}, has passed. Give today's date or a later one"
            )
            return EXIT_FAILED
    created = client.create_full_access(arguments.name, expires_at, user=arguments.user)

    if arguments.json:
        _print_json(created)
    elif arguments.quiet:
        print(created["token"])
    else:
        expiry_words = view.describe_expiry(created["expires_at"])
        print(f'Created the API token "{created["name"]}", which {expiry_words}.')
        print(f"\n    {created['token']}\n")
        print(COPY_NOW_WARNING)
    return EXIT_OK


def _chosen_expiry(arguments: Namespace) -> date | None:
    if arguments.no_expiry:
        return None
    if arguments.expires is not None:
        expires: date = arguments.expires
        return expires
    today = date.today()
    if arguments.expires_in is not None:
        try:
            return prompt.date_in_days(arguments.expires_in, today)
        except ValueError as error:
            raise UsageError(f"argument --expires-in: {error}") from None
    if prompt.is_interactive():
        return prompt.ask_expiry(prompt.one_year_after(today), today)
    return None


def list_tokens(client: Client, arguments: Namespace) -> int:
    """Print one page of tokens as a table, or as JSON."""
    statuses = []
    if arguments.expiring:
        statuses.append(query.EXPIRING)
    if arguments.expired:
        statuses.append(query.EXPIRED)
    list_query = query.ListQuery(
        statuses=statuses,
        search=arguments.search,
        sort=arguments.sort,
        reverse=arguments.reverse,
        page=arguments.page,
        per_page=arguments.per_page,
    )
    page = query.fetch_page(client, list_query, arguments.user)
    if not page.exists:
        total_pages = page.paginate["total_pages"]
        _report(f"there is no page {arguments.page}: the list has {total_pages} page(s)")
        return EXIT_FAILED

    if arguments.json:
        _print_json({"tokens": page.tokens, "paginate": page.paginate})
    elif not page.tokens and list_query.is_filtered:
        print("No token matches.")
    elif not page.tokens:
        print(f"No API tokens yet. Create one with '{PROGRAM} create NAME'.")
    else:
        view.print_table(page, view.make_console())
        if page.paginate["total_pages"] > 1:
            print(f"{view.page_summary(page)} Use --page N for another page.")
    return EXIT_OK


def show_token(client: Client, arguments: Namespace) -> int:
    """Print one token's details, or its list entry as JSON."""
    token = query.find_token(client, arguments.name, arguments.user)
    if token is None:
        _report(f"no token named \"{arguments.name}\". Run '{PROGRAM} list' for the names")
        return EXIT_FAILED
    if arguments.json:
        _print_json(token)
    else:
        view.print_details(token, view.make_console())
    return EXIT_OK


def rename_token(client: Client, arguments: Namespace) -> int:
    """Rename a token; the daemon rejects an unknown name or a name already taken."""
    client.rename(arguments.name, arguments.new_name, user=arguments.user)
    if not arguments.quiet:
        print(f'Renamed the API token "{arguments.name}" to "{arguments.new_name}".')
    return EXIT_OK


def revoke_tokens(client: Client, arguments: Namespace) -> int:
    """Revoke tokens, after listing them and asking unless --yes is given.

    Names that do not exist are reported on stderr and make the exit status 1, while the
    others are still revoked, so that a mistyped name is never taken for success.
    """
    names = list(dict.fromkeys(arguments.names))
    if arguments.yes:
        to_revoke = names
    elif prompt.is_interactive():
        found = query.find_tokens(client, names, arguments.user)
        to_revoke = [name for name in names if name in found]
        if to_revoke and not _confirm_revoke([found[name] for name in to_revoke]):
            print("Nothing was revoked.", file=sys.stderr)
            return EXIT_FAILED
    else:
        raise UsageError(
            "stdin is not a terminal, so revoke cannot ask for confirmation; "
            "add --yes to revoke without asking"
        )

    revoked = client.revoke(to_revoke, user=arguments.user) if to_revoke else []
    missing = [name for name in names if name not in revoked]
    for name in missing:
        _report(f'no token named "{name}"; nothing to revoke for it')
    if revoked and not arguments.quiet:
        listed = ", ".join(f'"{name}"' for name in revoked)
        print(f"Revoked {_count(len(revoked), 'API token')}: {listed}.")
    return EXIT_FAILED if missing else EXIT_OK


def _confirm_revoke(tokens: list[TokenInfo]) -> bool:
    width = max(len(token["name"]) for token in tokens)
    print(
        "These tokens will be revoked, and programs that use them lose access at once:",
        file=sys.stderr,
    )
    for token in tokens:
        expiry = view.describe_expiry(token["expires_at"], expired=bool(token["expired"]))
        print(f"  {token['name']:<{width}}  {expiry}", file=sys.stderr)
    return prompt.confirm(f"Revoke {_count(len(tokens), 'token')}?")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


COMMANDS: dict[str, Callable[[Client, Namespace], int]] = {
    "create": create_token,
    "list": list_tokens,
    "show": show_token,
    "rename": rename_token,
    "revoke": revoke_tokens,
}


def _report_protocol_error(error: ProtocolError) -> int:
    return report_protocol_error(PROGRAM, error)


def _report(message: str) -> None:
    report(PROGRAM, message)


if __name__ == "__main__":
    sys.exit(main())

"""How `apitokens` shows tokens: the coloured table, one token's details, and the times.

Times are ISO 8601 in the local time zone. On a terminal, a token that expires within the
daemon's expiring-soon window (24 hours by default) is yellow and an expired one red. The
status column shows the same in words, so nothing depends on colour alone. Output that is
not a terminal has no colour, and its table is plain text without a rule line. `NO_COLOR`
(any non-empty value) turns off every escape code, bold included. rich is imported only here
and only when a table or details are printed, because it takes longer to import than the
rest of the command.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime

# mypy treats a name TYPE_CHECKING as true wherever it comes from. Importing `typing` at run
# time would slow the command's start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

    from rich.console import Console

    from .apitokens_query import Page
    from .results import TokenInfo

NEVER = "never"

ACTIVE = "active"
EXPIRING_SOON = "expires soon"
EXPIRED = "expired"

STATUS_STYLES = {ACTIVE: "", EXPIRING_SOON: "yellow", EXPIRED: "red"}
"""The rich style of a table row by the token's status."""

TABLE_HEADINGS = ("Name", "Created", "Expires", "Status")
# The space between plain-text columns, as wide as between the columns of rich's table.
COLUMN_GAP = "   "

# A width no table reaches, so that output to a file or pipe is never wrapped. A table that
# is not expanded takes only the width its cells need.
UNWRAPPED_WIDTH = 10_000


def format_time(seconds: int | None) -> str:
    """Return Unix time `seconds` as local ISO 8601 with the UTC offset, or "never" for None."""
    if seconds is None:
        return NEVER
    return datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")


def token_status(token: TokenInfo) -> str:
    """Return ACTIVE, EXPIRING_SOON or EXPIRED from the daemon's flags on a list entry."""
    if token["expired"]:
        return EXPIRED
    if token["expiring_soon"]:
        return EXPIRING_SOON
    return ACTIVE


def describe_expiry(expires_at: int | None, *, expired: bool = False) -> str:
    """Return "expires at TIME", "expired at TIME" or "never expires", for sentences."""
    if expires_at is None:
        return "never expires"
    if expired:
        return f"expired at {format_time(expires_at)}"
    return f"expires at {format_time(expires_at)}"


def make_console(file: TextIO | None = None) -> Console:
    """Return a rich console on `file` (default: stdout) that honours NO_COLOR fully.

    rich itself keeps bold and underline under NO_COLOR. A colour system of None makes it
    write no escape code at all. Off a terminal, lines are never wrapped.
    """
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # rich (15.0) exits with status 1 here. Raising hands the closed pipe to
            # `apitokens.main`, which handles it the same way for every kind of output.
            self.quiet = True
            raise BrokenPipeError

    target = sys.stdout if file is None else file
    no_color = os.environ.get("NO_COLOR", "") != ""
    width = None if target.isatty() else UNWRAPPED_WIDTH
    if no_color:
        return _Console(file=target, color_system=None, highlight=False, width=width)
    return _Console(file=target, highlight=False, width=width)


def print_table(page: Page, console: Console) -> None:
    """Print the tokens of `page` as a table, one row each.

    On a terminal it is rich's table, with a rule under the headings and rows coloured by
    status. Anywhere else it is plain text for tools such as awk and cut: the same columns,
    without the rule or trailing spaces.
    """
    rows = [
        (
            token["name"],
            format_time(token["create_time"]),
            format_time(token["expires_at"]),
            token_status(token),
        )
        for token in page.tokens
    ]
    if not console.is_terminal:
        console.file.write(plain_table([TABLE_HEADINGS, *rows]))
        return

    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for heading in TABLE_HEADINGS:
        table.add_column(heading, no_wrap=True)
    for row in rows:
        table.add_row(*row, style=STATUS_STYLES[row[-1]])
    console.print(table)


def plain_table(rows: list[tuple[str, ...]]) -> str:
    """Return `rows` as lines of columns aligned with spaces, the last column unpadded."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        padded = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append(COLUMN_GAP.join([*padded, row[-1]]).rstrip() + "\n")
    return "".join(lines)


def print_details(token: TokenInfo, console: Console) -> None:
    """Print one token's fields as labelled lines, the status coloured as in the table."""
    from rich.text import Text

    status = token_status(token)
    access = "full access to the account" if token["has_full_access"] else "limited"
    rows = [
        ("Name", Text(token["name"])),
        ("Created", Text(format_time(token["create_time"]))),
        ("Expires", Text(format_time(token["expires_at"]))),
        ("Status", Text(status, style=STATUS_STYLES[status])),
        ("Access", Text(access)),
    ]
    for label, value in rows:
        console.print(Text(f"{label + ':':<9}"), value, sep="")


def page_summary(page: Page) -> str:
    """Return a line such as "Page 2 of 3, tokens 21-40 of 45." for a page that has tokens."""
    paginate = page.paginate
    first = paginate["start_result"]
    last = first + len(page.tokens) - 1
    return (
        f"Page {paginate['current_page']} of {paginate['total_pages']}, "
        f"tokens {first}-{last} of {paginate['total_results']}."
    )

"""Questions that `apitokens` asks a person at a terminal: an expiry date and a confirmation.

Questions are written to stderr and answers read from stdin, so that stdout can go to a
file (`apitokens create ci --quiet > ci.token`) while the person still sees the question.
The command asks only when stdin is a terminal.
"""

from __future__ import annotations

import re
import sys
from datetime import date, datetime, time, timedelta

DATE_FORMAT = "YYYY-MM-DD"
NEVER_ANSWERS = ("never", "0")
YES_ANSWERS = ("y", "yes")

_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})\Z")


class Aborted(Exception):
    """The person ended input (Ctrl-D) instead of answering a question."""


def is_interactive() -> bool:
    """Whether stdin is a terminal, so that the command may ask questions."""
    return sys.stdin.isatty()


def parse_date(text: str) -> date:
    """Parse a calendar date written YYYY-MM-DD; raise ValueError naming `text` if invalid.

    `date.fromisoformat` is not used because it also takes forms such as 20300101 and
    2030-W01-1, which the daemon rejects.
    """
    match = _DATE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a date of the form {DATE_FORMAT}")
    year, month, day = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"{text!r} is not a date in the calendar") from None


def end_of_day(day: date) -> int:
    """Return the Unix time of 23:59:59 on `day` in this process's local time zone.

    The command sends this number instead of the date, because the daemon reads a date as
    the end of the day in its own time zone, which may differ from the person's.
    """
    return int(datetime.combine(day, time(23, 59, 59)).timestamp())


def date_in_days(days: int, today: date) -> date:
    """Return the date `days` days after `today`; raise ValueError past the year 9999."""
    try:
        return today + timedelta(days=days)
    except OverflowError:
        raise ValueError(f"{days} days from today is after the year 9999") from None


def one_year_after(day: date) -> date:
    """Return the same day one year later; February 29 becomes February 28."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def ask_expiry(default: date, today: date) -> date | None:
    """Ask for the expiry date until the answer is valid; return None for "never".

    An empty answer takes `default`. A date before `today` is asked again, because the
    daemon would reject it. Raises Aborted at the end of input.
    """
    question = f"Expiry date ({DATE_FORMAT}, or 'never') [{default.isoformat()}]: "
    while True:
        answer = _ask(question).strip()
        if not answer:
            return default
        if answer.lower() in NEVER_ANSWERS:
            return None
        try:
            chosen = parse_date(answer)
        except ValueError as error:
            _say(f"{error}. Enter a date such as {default.isoformat()}, or 'never'.")
            continue
        if chosen < today:
            _say(f"{answer} is in the past. Enter today's date or a later one, or 'never'.")
            continue
        return chosen


def confirm(question: str) -> bool:
    """Ask a yes/no question whose default is no; return True only for y or yes.

    The end of input counts as no.
    """
    try:
        answer = _ask(f"{question} [y/N] ")
    except Aborted:
        _say("")
        return False
    return answer.strip().lower() in YES_ANSWERS


def _ask(question: str) -> str:
    sys.stderr.write(question)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise Aborted
    return line


def _say(line: str) -> None:
    print(line, file=sys.stderr)

"""Rules for token names, expiry times and the scalar parameter values that carry them.

Parameters arrive as JSON strings or numbers, because the `uapi` command sends every value as a
string. These functions turn one raw value into a checked Python value or raise
`InvalidParameterError` that names the parameter and the rule.
"""

from __future__ import annotations

import re
import time
from datetime import date

from tokend_client.protocol import NAME_RULE

from .errors import InvalidParameterError

NAME_MAX_LENGTH = 50
# \Z, not $, because $ also matches before a trailing newline.
_NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,50}\Z")
_DIGITS_PATTERN = re.compile(r"[0-9]+\Z")
_DATE_PATTERN = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})\Z")

# 9999-12-31 23:59:59 UTC, the last second that a four-digit year can express.
MAX_EXPIRES_AT = 253402300799

EXPIRY_RULE = (
    "use a whole number of seconds since the Unix epoch that is not in the past, "
    "a date YYYY-MM-DD, or 0 for a token that never expires"
)


def scalar_text(param: str, value: object, rule: str) -> str:
    """Return a string or integer parameter value as text; reject other JSON types."""
    if isinstance(value, str):
        return value
    # bool is a subclass of int, but true/false is never a valid name or number here.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise InvalidParameterError(param, value, rule)


def check_name(param: str, value: object) -> str:
    """Return `value` as a valid token name or raise `InvalidParameterError`."""
    name = scalar_text(param, value, NAME_RULE)
    if not _NAME_PATTERN.match(name):
        raise InvalidParameterError(param, name, NAME_RULE)
    return name


def parse_expires_at(value: object, now: int) -> int | None:
    """Parse `expires_at` into Unix seconds, or None for a token that never expires.

    Accepts a JSON integer, a string of ASCII digits, or a date `YYYY-MM-DD`, which means
    23:59:59 of that day in the daemon's local time zone. `0` means never. A time before
    `now` is rejected; `now` itself is accepted.
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidParameterError("expires_at", value, EXPIRY_RULE)

    if isinstance(value, int):
        seconds = value
    elif _DIGITS_PATTERN.match(value):
        # Cap the length before int() so that a huge digit string costs nothing.
        if len(value) > 20:
            raise InvalidParameterError("expires_at", value, _too_late_rule())
        seconds = int(value)
    else:
        seconds = _parse_date(value)

    if seconds == 0:
        return None
    if seconds < 0:
        raise InvalidParameterError("expires_at", value, EXPIRY_RULE)
    if seconds > MAX_EXPIRES_AT:
        raise InvalidParameterError("expires_at", value, _too_late_rule())
    if seconds < now:
        raise InvalidParameterError(
            "expires_at", value, f"this time is in the past (now is {now}); {EXPIRY_RULE}"
        )
    return seconds


def _parse_date(text: str) -> int:
    match = _DATE_PATTERN.match(text)
    if match is None:
        raise InvalidParameterError("expires_at", text, EXPIRY_RULE)
    year, month, day = (int(part) for part in match.groups())
    try:
        day_value = date(year, month, day)
    except ValueError:
        raise InvalidParameterError(
            "expires_at", text, "this date does not exist in the calendar"
        ) from None
    # mktime with tm_isdst=-1 lets the C library decide whether daylight saving time applies.
    local = (day_value.year, day_value.month, day_value.day, 23, 59, 59, 0, 0, -1)
    try:
        return int(time.mktime(local))
    except (OverflowError, ValueError):
        raise InvalidParameterError("expires_at", text, _too_late_rule()) from None


def _too_late_rule() -> str:
    return "the latest accepted expiry is 253402300799 (9999-12-31 23:59:59 UTC)"

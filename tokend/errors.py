"""Exceptions raised by tokend.

Every exception here derives from `TokendError` and builds its message from the values it is
given. A message goes to the caller as it is, so it must never contain a token value, a secret
hash or any other secret.

`UapiError` subclasses are function-level failures: the RPC layer turns them into a UAPI result
with `status: 0` and the message in `errors`. `ConfigError` and `StartupError` stop the daemon
before it serves anything.
"""

from __future__ import annotations

import datetime
import json
import math


class TokendError(Exception):
    """Base class of all tokend errors."""


class UapiError(TokendError):
    """A function-level failure, returned to the caller as `status: 0`."""


class InvalidParameterError(UapiError, ValueError):
    """A parameter has a value that the function does not accept."""

    def __init__(self, param: str, value: object, rule: str) -> None:
        self.param = param
        super().__init__(f'Invalid value {_show(value)} for the parameter "{param}": {rule}.')


class MissingParameterError(UapiError, ValueError):
    """A required parameter is absent."""

    def __init__(self, param: str, rule: str) -> None:
        self.param = param
        super().__init__(f'The parameter "{param}" is required: {rule}.')


class UnknownParameterError(UapiError, ValueError):
    """The call names parameters that the function does not take."""

    def __init__(self, function: str, unknown: list[str], accepted: list[str]) -> None:
        self.unknown = unknown
        names = ", ".join(f'"{name}"' for name in unknown)
        noun = "parameter" if len(unknown) == 1 else "parameters"
        super().__init__(
            f"Unknown {noun} {names} for {function}. "
            f"Check the spelling; accepted parameters: {', '.join(accepted)}."
        )


class DuplicateNameError(UapiError):
    """The account already has a token with this name."""

    def __init__(self, account: str, name: str) -> None:
        super().__init__(
            f'The account "{account}" already has a token named "{name}". '
            "Choose another name, or revoke or rename the existing token first."
        )


class TokenNotFoundError(UapiError):
    """The account has no token with this name."""

    def __init__(self, account: str, name: str) -> None:
        super().__init__(
            f'The account "{account}" has no token named "{name}". '
            "Call Tokens::list to see the account's token names."
        )


class TokenLimitError(UapiError):
    """The account already has as many tokens as one account may have."""

    def __init__(self, account: str, limit: int) -> None:
        super().__init__(
            f'The account "{account}" already has {limit} tokens, the most one account may '
            "have. Revoke tokens it no longer needs, then try again."
        )


class AccessDeniedError(UapiError):
    """The caller may not act on another account's tokens."""

    def __init__(self, caller: str, account: str) -> None:
        super().__init__(
            f'Access denied: the account "{caller}" may not act on the tokens of '
            f'"{account}". Only root may use api.user for another account.'
        )


class NoSuchAccountError(UapiError):
    """The named account does not exist in the passwd database."""

    def __init__(self, account: str) -> None:
        super().__init__(
            f'The account "{account}" does not exist on this server. '
            "Check the name with `getent passwd`."
        )


class StorageUnavailableError(UapiError):
    """The database could not be written, so nothing was changed."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"The token store could not be written ({reason}); nothing was changed. "
            "Ask the server's administrator to check the database's disk and permissions, "
            "then try again."
        )


class ConfigError(TokendError):
    """The configuration is invalid; the daemon does not start."""

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        super().__init__(f"{source}: {message}")


class StartupError(TokendError):
    """The daemon cannot start, for a reason outside its configuration."""


def _show(value: object) -> str:
    """Render a rejected value for a message, short enough for one line."""
    # JSON notation, because callers send JSON: true and null, not Python's True and None.
    try:
        text = json.dumps(
            value[:57] + "..." if isinstance(value, str) and len(value) > 60 else value
        )
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class InvalidTokenError(UapiError):
    """Verification failed. One message for every cause, so a guesser learns nothing."""

    def __init__(self) -> None:
        super().__init__(
            "Invalid token: the account name or the token is wrong, or the token was revoked."
        )


class TokenExpiredError(UapiError):
    """The presented token matched, but its expiry time has passed."""

    def __init__(self, account: str, name: str, expires_at: int) -> None:
        super().__init__(
            f'The token "{name}" of the account "{account}" expired at {expires_at} '
            f"({_utc(expires_at)}). Create a new token, or ask the account to."
        )


class RateLimitedError(UapiError):
    """Too many failed verifications; the attempt was refused without checking the token."""

    def __init__(self, subject: str, retry_after_s: float) -> None:
        seconds = max(1, math.ceil(retry_after_s))
        unit = "second" if seconds == 1 else "seconds"
        super().__init__(
            f"Too many failed verifications for {subject}; this attempt was refused without "
            f"checking the token. Retry in {seconds} {unit}."
        )


def _utc(timestamp: int) -> str:
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")

"""Types of the objects that the Tokens functions return, for type checkers.

The clients import this module only while type checking, so it may import `typing`.
"""

from __future__ import annotations

from typing import Any, TypedDict


class UAPIResult(TypedDict):
    """The UAPI result object that every Tokens function returns."""

    data: Any
    errors: list[str] | None
    messages: list[str] | None
    metadata: dict[str, Any]
    status: int
    warnings: list[str] | None


class CreatedToken(TypedDict):
    """The `data` of `Tokens::create_full_access`; `token` is shown only this once."""

    create_time: int
    token: str
    name: str
    expires_at: int | None


class TokenInfo(TypedDict):
    """One token as `Tokens::list` lists it and `Tokens::verify` returns it."""

    name: str
    create_time: int
    expires_at: int | None
    has_full_access: int
    features: list[str]
    expired: int
    expiring_soon: int

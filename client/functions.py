"""Definitions of the Tokens functions and their parameters.

The daemon checks calls against these definitions and `uapi Tokens --help` prints them.
They live apart from `protocol` because `dataclasses` imports `inspect`, which takes about
as long as starting Python itself, and the `uapi` command needs them only for its help.
`protocol` still exports every name defined here, loaded on first use.
"""

from __future__ import annotations

from dataclasses import dataclass

from .protocol import API_USER, CREATE, LIST, RENAME, REVOKE, VERIFY, method_name


@dataclass(frozen=True)
class Param:
    """One parameter of a UAPI function, as the daemon checks it and `uapi --help` shows it."""

    name: str
    description: str
    required: bool = False
    repeatable: bool = False


@dataclass(frozen=True)
class Function:
    """One UAPI function of the Tokens module with the parameters it accepts."""

    name: str
    summary: str
    params: tuple[Param, ...]
    generic_params: tuple[Param, ...] = ()

    @property
    def method(self) -> str:
        return method_name(self.name)


USER_PARAM = Param(
    API_USER,
    "act on this account's tokens; only root may name an account other than its own",
)

LIST_GENERIC_PARAMS = (
    USER_PARAM,
    Param("api.sort_column", "sort by this field (default: name)"),
    Param("api.sort_reverse", "1 to sort in descending order, 0 (default) ascending"),
    Param("api.paginate_size", "number of records per page"),
    Param("api.paginate_start", "1-based index of the first record to return"),
    Param("api.filter_column", "field to filter on"),
    Param("api.filter_type", "contains (default), eq, begins, lt or gt"),
    Param("api.filter_term", "value to compare the field with"),
)

NAME_RULE = "1 to 50 characters from A-Z a-z 0-9 _ -"

FUNCTIONS: dict[str, Function] = {
    CREATE: Function(
        CREATE,
        "Create a token with full access to the account; its value is shown only once.",
        (
            Param("name", f"the token's name: {NAME_RULE}, unique in the account", True),
            Param(
                "expires_at",
                "expiry as Unix time in seconds or a date YYYY-MM-DD; 0 or absent: never",
            ),
        ),
        (USER_PARAM,),
    ),
    LIST: Function(
        LIST,
        "List the account's tokens, by name unless a sort column is given.",
        (),
        LIST_GENERIC_PARAMS,
    ),
    RENAME: Function(
        RENAME,
        "Rename a token; its value, creation time and expiry stay the same.",
        (
            Param("name", "the token's current name", True),
            Param("new_name", f"the new name: {NAME_RULE}, not already taken", True),
        ),
        (USER_PARAM,),
    ),
    REVOKE: Function(
        REVOKE,
        "Revoke one or more tokens; names that do not exist are reported as warnings.",
        (
            Param(
                "name",
                "a token to revoke; repeat it (or use name-0, name-1, ...) for several",
                True,
                True,
            ),
        ),
        (USER_PARAM,),
    ),
    VERIFY: Function(
        VERIFY,
        "Check a token presented by a client; return its list entry when it is valid.",
        (
            Param("user", "the account that the token is said to belong to", True),
            Param("token", "the 32-character token value", True),
        ),
        (),
    ),
}
"""The Tokens functions by UAPI function name."""

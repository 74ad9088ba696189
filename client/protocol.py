"""Protocol constants shared by the tokend daemon and its clients.

The daemon and the client both import this module, so that method names, error codes,
parameter definitions and default paths are written down once. It imports only the
standard library's `os`, because the `uapi` command loads it on every call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

MODULE = "Tokens"
"""The UAPI module that tokend implements."""

METHOD_SEPARATOR = "::"

CREATE = "create_full_access"
LIST = "list"
RENAME = "rename"
REVOKE = "revoke"
VERIFY = "verify"


def method_name(function: str, module: str = MODULE) -> str:
    """Return the JSON-RPC method name for a UAPI function, such as `Tokens::list`."""
    return f"{module}{METHOD_SEPARATOR}{function}"


# JSON-RPC 2.0 error codes. The -32000 to -32099 range is for the server's own errors.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
REQUEST_TOO_LARGE = -32000
UNKNOWN_CALLER = -32001
REQUEST_TIMEOUT = -32002
SERVER_SHUTTING_DOWN = -32003

# Environment variables read by the daemon and the clients.
ENV_SOCKET = "TOKEND_SOCKET"
ENV_DATABASE = "TOKEND_DATABASE"
ENV_CONFIG = "TOKEND_CONFIG"

ROOT_SOCKET_PATH = "/run/tokend/tokend.sock"
SOCKET_DIR_NAME = "tokend"
SOCKET_FILE_NAME = "tokend.sock"

# The prefix of UAPI's generic parameters, such as `api.user`.
GENERIC_PREFIX = "api."
API_USER = "api.user"


def default_socket_path() -> str:
    """Return the socket path used when neither a flag nor `TOKEND_SOCKET` names one.

    Root uses `/run/tokend/tokend.sock`. Any other user uses
    `$XDG_RUNTIME_DIR/tokend/tokend.sock`, or `tokend-UID/tokend.sock` under the system
    temporary directory (`$TMPDIR`, else `/tmp`) when `XDG_RUNTIME_DIR` is unset.
    """
    uid = os.geteuid()
    if uid == 0:
        return ROOT_SOCKET_PATH
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    if runtime_dir:
        return os.path.join(runtime_dir, SOCKET_DIR_NAME, SOCKET_FILE_NAME)
    temp_dir = os.environ.get("TMPDIR") or "/tmp"  # noqa: S108 - a private per-uid directory
    return os.path.join(temp_dir, f"{SOCKET_DIR_NAME}-{uid}", SOCKET_FILE_NAME)


def resolve_socket_path(explicit: str | None = None) -> str:
    """Return the socket path: `explicit` if given, else `TOKEND_SOCKET`, else the default."""
    if explicit:
        return explicit
    return os.environ.get(ENV_SOCKET) or default_socket_path()


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

RESULT_KEYS = ("data", "errors", "messages", "metadata", "status", "warnings")
"""The keys of every UAPI result object."""

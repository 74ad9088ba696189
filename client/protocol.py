"""Protocol constants shared by the tokend daemon and its clients.

The daemon and the client both import this module, so that method names, error codes,
parameter definitions and default paths are written down once. It imports only the
standard library's `os`, because the `uapi` command loads it on every call.
"""

from __future__ import annotations

import os

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


def resolve_socket_path(
    explicit: str | None = None, *, system_socket: str = ROOT_SOCKET_PATH
) -> str:
    """Return the socket a client should use: `explicit`, else `TOKEND_SOCKET`, else a default.

    The default is `default_socket_path()`, except that an account other than root whose own
    socket does not exist uses the system daemon's socket when that one exists. So on a
    server where systemd runs tokend, every account reaches it without setting anything,
    while a personal daemon started with `make run` still wins for its user.
    """
    if explicit:
        return explicit
    from_environment = os.environ.get(ENV_SOCKET)
    if from_environment:
        return from_environment
    personal = default_socket_path()
    if os.path.exists(personal) or not os.path.exists(system_socket):
        return personal
    return system_socket


# Param, Function and the function table are defined in `functions`, which `protocol`
# imports on the first access to one of them, so that the `uapi` command does not pay for
# importing `dataclasses` on every call.
_FUNCTION_NAMES = frozenset(
    {"Param", "Function", "USER_PARAM", "LIST_GENERIC_PARAMS", "NAME_RULE", "FUNCTIONS"}
)

# mypy treats a name TYPE_CHECKING as true wherever it comes from, so this block gives it the
# types without importing `typing` at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from .functions import FUNCTIONS as FUNCTIONS
    from .functions import LIST_GENERIC_PARAMS as LIST_GENERIC_PARAMS
    from .functions import NAME_RULE as NAME_RULE
    from .functions import USER_PARAM as USER_PARAM
    from .functions import Function as Function
    from .functions import Param as Param


def __getattr__(name: str) -> object:
    if name in _FUNCTION_NAMES:
        from . import functions

        return getattr(functions, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


RESULT_KEYS = ("data", "errors", "messages", "metadata", "status", "warnings")
"""The keys of every UAPI result object."""

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
    socket is missing or fails `personal_socket_problem` uses the system daemon's socket when
    that one exists. So on a server where systemd runs tokend, every account reaches it
    without setting anything, while a personal daemon started with `make run` still wins for
    its user. When neither socket can be used, the personal path is returned, and the
    clients' check before connecting reports what is wrong with it.
    """
    if explicit:
        return explicit
    from_environment = os.environ.get(ENV_SOCKET)
    if from_environment:
        return from_environment
    personal = default_socket_path()
    if _is_usable(personal) or not os.path.exists(system_socket):
        return personal
    return system_socket


def _is_usable(personal: str) -> bool:
    if not is_personal_socket_path(personal):
        return os.path.exists(personal)
    try:
        return personal_socket_problem(personal) is None
    except OSError:
        return False


def is_personal_socket_path(path: str) -> bool:
    """Return whether `path` is the caller's personal default socket, which clients check.

    Root's default is the system socket under /run, which only root can create, so only
    accounts other than root have a personal socket.
    """
    return os.geteuid() != 0 and path == default_socket_path()


# File type and permission bits of st_mode, as in the `stat` module, which this module does
# not import so that it stays cheap to load.
_FILE_TYPE_MASK = 0o170000
_DIRECTORY_TYPE = 0o040000
_LINK_TYPE = 0o120000
_GROUP_OR_OTHER_WRITE = 0o022
_STICKY = 0o1000


def personal_socket_problem(path: str) -> str | None:
    """Return why a client must not connect to the personal socket `path`, or None.

    The personal socket's directory, such as /tmp/tokend-UID, may sit where every account
    can create files. Another account could create it first, or a symbolic link in its
    place, and serve a socket there to collect the tokens that clients send. The socket is
    trusted only when the caller's effective uid owns the socket and its directory, the
    directory is a real directory (not a symbolic link) that group and others cannot write,
    and the parent directory belongs to root or the caller and, when others can write it,
    has the sticky bit. The last rule keeps other accounts from renaming the checked
    directory away between this check and the connection.

    Raises OSError, such as FileNotFoundError, when the socket or a directory is missing or
    cannot be examined.
    """
    uid = os.geteuid()
    directory = os.path.dirname(path)
    parent = os.path.dirname(directory)

    # NOTE: os.stat follows a symbolic link, so a TMPDIR or XDG_RUNTIME_DIR that passes
    # through a link that another account owns, and could re-point, is not caught here.
    parent_info = os.stat(parent)
    if parent_info.st_uid not in (0, uid):
        return (
            f"{parent}, which contains {directory}, is owned by uid {parent_info.st_uid}, "
            f"not by root or you (uid {uid})"
        )
    shared = parent_info.st_mode & _GROUP_OR_OTHER_WRITE
    if shared and not parent_info.st_mode & _STICKY:
        return (
            f"{parent}, which contains {directory}, is writable by group or others without "
            f"the sticky bit (mode {parent_info.st_mode & 0o7777:04o}), so they could "
            "replace it"
        )

    directory_info = os.lstat(directory)
    file_type = directory_info.st_mode & _FILE_TYPE_MASK
    if file_type == _LINK_TYPE:
        return f"{directory} is a symbolic link, not a directory of your own"
    if file_type != _DIRECTORY_TYPE:
        return f"{directory} is not a directory"
    if directory_info.st_uid != uid:
        return f"{directory} is owned by uid {directory_info.st_uid}, not by you (uid {uid})"
    if directory_info.st_mode & _GROUP_OR_OTHER_WRITE:
        return (
            f"{directory} is writable by group or others "
            f"(mode {directory_info.st_mode & 0o7777:04o})"
        )

    socket_info = os.lstat(path)
    if socket_info.st_uid != uid:
        return f"{path} is owned by uid {socket_info.st_uid}, not by you (uid {uid})"
    return None


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

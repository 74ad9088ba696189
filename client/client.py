"""Synchronous client of the tokend daemon, on the standard library alone.

    from tokend_client.client import Client

    client = Client()  # --socket, else TOKEND_SOCKET, else the default path
    created = client.create_full_access("deploy", expires_at="2030-01-01")
    print(created["token"])  # shown only this once
    for token in client.list_tokens():
        print(token["name"], token["expires_at"])

Every method raises a `tokend_client.errors.TokendClientError`: DaemonUnavailable (or
its subclasses DaemonTimeout and UntrustedSocket) when the daemon cannot be reached or its
socket fails the ownership check, ProtocolError for a JSON-RPC error, and, from the typed
helpers, UAPIError when the function fails (status 0).
"""

from __future__ import annotations

from . import jsonrpc, protocol, unixhttp
from .errors import DaemonUnavailable, UntrustedSocket

# mypy treats a name TYPE_CHECKING as true wherever it comes from. The `uapi` command imports
# this module on every call, and importing `typing` at run time would slow its start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

    from .results import CreatedToken, TokenInfo, UAPIResult

DEFAULT_TIMEOUT_S = 30.0
"""Time allowed for one call, from connecting to the end of the reply, in seconds."""


class Client:
    """A connection-per-call client of the tokend daemon on a Unix socket.

    `socket_path` None means `TOKEND_SOCKET`, else the default path for this user.
    The client keeps no connection open, so one instance may serve a whole program, but
    it is not safe to share between threads because of its request id counter.
    """

    def __init__(
        self, socket_path: str | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.socket_path = protocol.resolve_socket_path(socket_path)
        self.timeout_s = timeout_s
        self._last_id = 0
        self._check_owner = protocol.is_personal_socket_path(self.socket_path)

    def call(self, method: str, params: Mapping[str, Any] | list[Any] | None = None) -> Any:
        """Send one JSON-RPC request and return its `result`.

        For the Tokens methods the result is the UAPI result object, returned as it is even
        when its status is 0. Raises DaemonUnavailable or ProtocolError.
        """
        if self._check_owner:
            check_personal_socket(self.socket_path)
        self._last_id += 1
        body = jsonrpc.encode_request(method, params, self._last_id)
        http_status, reply = unixhttp.post(self.socket_path, body, self.timeout_s)
        return jsonrpc.decode_reply(reply, http_status, self._last_id)

    def call_function(self, function: str, params: Mapping[str, Any] | None = None) -> UAPIResult:
        """Call the Tokens function `function` (such as "list") and return its UAPI result.

        Use it for parameters that the typed helpers do not take, such as pagination.
        Raises UAPIError when the result has status 0, besides the errors of `call`.
        """
        method = protocol.method_name(function)
        return jsonrpc.check_uapi_result(method, self.call(method, params))

    def create_full_access(
        self, name: str, expires_at: int | str | None = None, *, user: str | None = None
    ) -> CreatedToken:
        """Create a token; `expires_at` is Unix time, a date "YYYY-MM-DD" or None (never)."""
        params = jsonrpc.named_params({"name": name, "expires_at": expires_at}, user)
        created: CreatedToken = self.call_function(protocol.CREATE, params)["data"]
        return created

    def list_tokens(self, *, user: str | None = None) -> list[TokenInfo]:
        """Return the account's tokens, ordered by name."""
        params = jsonrpc.named_params({}, user)
        tokens: list[TokenInfo] = self.call_function(protocol.LIST, params)["data"]
        return tokens

    def rename(self, name: str, new_name: str, *, user: str | None = None) -> None:
        """Rename a token; its value, creation time and expiry stay the same."""
        params = jsonrpc.named_params({"name": name, "new_name": new_name}, user)
        self.call_function(protocol.RENAME, params)

    def revoke(self, names: str | Iterable[str], *, user: str | None = None) -> list[str]:
        """Revoke one or more tokens in one transaction; return the names actually removed.

        Names that did not exist are not an error, because revoking is safe to repeat.
        """
        name_list = [names] if isinstance(names, str) else list(names)
        params = jsonrpc.named_params({"name": name_list}, user)
        result = self.call_function(protocol.REVOKE, params)
        revoked: list[str] = result["metadata"].get("revoked", [])
        return revoked

    def verify(self, user: str, token: str) -> TokenInfo:
        """Return the list entry of `user`'s token `token`; raise UAPIError if it is invalid.

        The daemon returns the same error for an unknown account, a malformed token, an
        unknown token and a wrong secret. It rejects further attempts on a lookup id after
        too many failures, with an error that states when to retry.
        """
        params = {"user": user, "token": token}
        info: TokenInfo = self.call_function(protocol.VERIFY, params)["data"]
        return info


def check_personal_socket(socket_path: str) -> None:
    """Raise unless the personal socket `socket_path` exists and belongs to the caller.

    Raises UntrustedSocket when `protocol.personal_socket_problem` finds a problem, and
    DaemonUnavailable when the socket or its directory is missing, so that the client never
    connects to a socket that another account created after the check.
    """
    try:
        problem = protocol.personal_socket_problem(socket_path)
    except OSError as error:
        raise DaemonUnavailable(socket_path, error.strerror or str(error)) from None
    if problem is not None:
        raise UntrustedSocket(socket_path, problem)

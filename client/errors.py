"""Exceptions raised by the tokend clients.

Every exception derives from `TokendClientError`, so a caller can catch the whole family in
one clause. Each class builds its message from the values it is given. No message contains a
token value: the clients put none into an exception, and the daemon's messages leave them out.
"""

from __future__ import annotations


class TokendClientError(Exception):
    """Base class of every error that the tokend clients raise."""


class DaemonUnavailable(TokendClientError):
    """The daemon cannot be reached on its socket: no socket, nothing listening, or no reply.

    `socket_path` is the path that was tried and `reason` the operating system's explanation,
    such as "No such file or directory".
    """

    def __init__(self, socket_path: str, reason: str) -> None:
        self.socket_path = socket_path
        self.reason = reason
        super().__init__(self._describe())

    def _describe(self) -> str:
        return (
            f"cannot reach the tokend daemon at {self.socket_path}: {self.reason}. Start it "
            "with 'systemctl start tokend.socket' (or run 'tokend'), or give its socket "
            "with --socket or TOKEND_SOCKET"
        )


class DaemonTimeout(DaemonUnavailable):
    """The daemon accepted the connection but did not reply within the client's timeout."""

    def __init__(self, socket_path: str, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        super().__init__(socket_path, f"no reply within {timeout_s:g} s")

    def _describe(self) -> str:
        return (
            f"timed out after {self.timeout_s:g} s waiting for the tokend daemon at "
            f"{self.socket_path} to reply. Check its log, then try again"
        )


class UntrustedSocket(DaemonUnavailable):
    """The personal default socket, or its directory, may belong to another account.

    The client does not connect, because a server set up there by another account would
    receive the tokens that the client sends. `reason` names the path and the owner or mode
    that failed the check.
    """

    def _describe(self) -> str:
        return (
            f"did not connect to the tokend socket at {self.socket_path}, because "
            f"{self.reason}. Another account may have set it up to collect your tokens. "
            "Remove it if you did not create it, then start your own daemon, or give the "
            "daemon's socket with --socket or TOKEND_SOCKET"
        )


class ProtocolError(TokendClientError):
    """The daemon returned a JSON-RPC error object, or a reply that is not valid JSON-RPC.

    `code` is the JSON-RPC error code (see `tokend_client.protocol`), or None when the reply
    itself was malformed. `http_status` is the HTTP status of the reply.
    """

    def __init__(self, message: str, code: int | None = None, http_status: int = 200) -> None:
        self.message = message
        self.code = code
        self.http_status = http_status
        if code is None:
            super().__init__(message)
        else:
            super().__init__(f"{message} (JSON-RPC error {code})")


class UAPIError(TokendClientError):
    """A UAPI function failed: its result has status 0.

    `errors` and `warnings` are the result's lists (empty when the daemon sent null) and
    `result` is the whole UAPI result object.
    """

    def __init__(self, method: str, result: dict[str, object]) -> None:
        self.method = method
        self.result = result
        self.errors = _strings(result.get("errors"))
        self.warnings = _strings(result.get("warnings"))
        detail = " ".join(self.errors) or "no error message"
        super().__init__(f"{method} failed: {detail}")


def _strings(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(item) for item in value]

"""JSON-RPC 2.0 requests and replies as both tokend clients send and read them."""

from __future__ import annotations

import json

from . import protocol
from .errors import ProtocolError, UAPIError

# mypy treats a name TYPE_CHECKING as true wherever it comes from. The `uapi` command imports
# this module on every call, and importing `typing` at run time would slow its start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from .results import UAPIResult


def encode_request(method: str, params: object, request_id: int) -> bytes:
    """Encode one JSON-RPC 2.0 request; `params` None leaves the member out."""
    request: dict[str, object] = {"jsonrpc": "2.0", "method": method, "id": request_id}
    if params is not None:
        request["params"] = params
    return json.dumps(request).encode("utf-8")


def decode_reply(body: bytes, http_status: int, request_id: int) -> Any:
    """Return the `result` member of the JSON-RPC reply to request `request_id`.

    Raises ProtocolError carrying the code and message of a JSON-RPC error object, or with
    code None when the body is not a JSON-RPC 2.0 response to this request.
    """
    try:
        reply = json.loads(body)
    except ValueError:
        raise ProtocolError(
            f"the daemon's reply is not JSON (HTTP status {http_status})", None, http_status
        ) from None
    if not isinstance(reply, dict) or reply.get("jsonrpc") != "2.0":
        raise ProtocolError("the daemon's reply is not a JSON-RPC 2.0 response", None, http_status)

    error = reply.get("error")
    if error is not None:
        raise _error_from_object(error, http_status)
    if reply.get("id") != request_id or "result" not in reply:
        raise ProtocolError(
            f"the daemon's reply has no result for request id {request_id}", None, http_status
        )
    if http_status != 200:
        raise ProtocolError(f"the daemon replied with HTTP status {http_status}", None, http_status)
    return reply["result"]


def _error_from_object(error: object, http_status: int) -> ProtocolError:
    if not isinstance(error, dict):
        return ProtocolError("the daemon's reply has an invalid error member", None, http_status)
    code = error.get("code")
    message = error.get("message")
    if not isinstance(code, int) or isinstance(code, bool) or not isinstance(message, str):
        return ProtocolError("the daemon's reply has an invalid error member", None, http_status)
    return ProtocolError(message, code, http_status)


def expect_uapi_result(method: str, result: Any) -> UAPIResult:
    """Return `result` if it has the shape of a UAPI result object; raise ProtocolError if not."""
    if not _has_result_keys(result):
        raise ProtocolError(f"{method} returned something other than a UAPI result object")
    uapi_result: UAPIResult = result
    if uapi_result["status"] not in (0, 1):
        raise ProtocolError(f"{method} returned an invalid status: {uapi_result['status']!r}")
    return uapi_result


def _has_result_keys(value: object) -> bool:
    return isinstance(value, dict) and set(protocol.RESULT_KEYS) <= value.keys()


def check_uapi_result(method: str, result: Any) -> UAPIResult:
    """Return the UAPI result object of a successful call; raise UAPIError for status 0."""
    uapi_result = expect_uapi_result(method, result)
    if uapi_result["status"] != 1:
        raise UAPIError(method, dict(uapi_result))
    return uapi_result


def named_params(values: Mapping[str, object], user: str | None) -> dict[str, object]:
    """Return the params object of a typed helper: `values` without the None ones, and
    `api.user` when `user` is given."""
    params = {name: value for name, value in values.items() if value is not None}
    if user is not None:
        params[protocol.API_USER] = user
    return params

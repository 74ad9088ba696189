"""JSON-RPC 2.0 over the UAPI functions.

The body is parsed and each call's envelope validated here, so that a malformed element of a
batch gets its own error while the others run, as JSON-RPC 2.0 requires. A function's failure
becomes a `status: 0` UAPI result; anything unexpected becomes "Internal error" without the
exception's text, after the traceback is logged. A notification (a call without `id`) runs
and gets no reply, which the server sends as HTTP 204.

Calls go straight to the functions, not through jsonrpcserver's dispatcher. That dispatcher
creates a task and reads the method's signature for every call, which cost about 50 us per
call on a 2-core test machine, and the checks here already cover what it checks.

Batch elements run one after another, in order, so a batch that creates then renames a token
behaves like the same calls sent separately.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from tokend_client import protocol

from .errors import UapiError
from .uapi import Caller, Params, TokenFunctions, UapiResult

logger = logging.getLogger(__name__)

Function = Callable[[Caller, Params], Awaitable[UapiResult]]
Reply = dict[str, Any] | list[dict[str, Any]] | None

_REQUEST_KEYS = frozenset(("jsonrpc", "method", "params", "id"))


class RequestError(Exception):
    """A JSON-RPC error detected before dispatch, with the id to answer it under."""

    def __init__(self, code: int, message: str, request_id: object = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


def error_reply(code: int, message: str, request_id: object = None) -> dict[str, Any]:
    """Build a JSON-RPC error response object."""
    return {"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": request_id}


class Dispatcher:
    """Turns a request body into the JSON-RPC reply for the identified caller."""

    def __init__(self, functions: TokenFunctions, max_batch_size: int) -> None:
        self._max_batch_size = max_batch_size
        table: dict[str, Function] = {
            protocol.CREATE: functions.create_full_access,
            protocol.LIST: functions.list,
            protocol.RENAME: functions.rename,
            protocol.REVOKE: functions.revoke,
            protocol.VERIFY: functions.verify,
        }
        self._methods = {protocol.method_name(name): function for name, function in table.items()}

    async def dispatch(self, body: bytes, caller: Caller) -> Reply:
        """Return the reply to `body`, or None when it holds only notifications."""
        try:
            document = parse_body(body)
        except RequestError as error:
            logger.info("event=request_rejected account=%s reason=%s", caller.account, error.code)
            return error_reply(error.code, error.message, error.request_id)

        if not isinstance(document, list):
            return await self._dispatch_one(document, caller)

        if not document:
            return error_reply(protocol.INVALID_REQUEST, "Invalid request: the batch is empty.")
        if len(document) > self._max_batch_size:
            return error_reply(
                protocol.INVALID_REQUEST,
                f"Invalid request: the batch has {len(document)} calls and the limit is "
                f"{self._max_batch_size}. Split it into smaller batches.",
            )
        replies = []
        for element in document:
            reply = await self._dispatch_one(element, caller)
            if reply is not None:
                replies.append(reply)
        return replies or None

    async def _dispatch_one(self, element: object, caller: Caller) -> dict[str, Any] | None:
        try:
            request = self._validate(element)
        except RequestError as error:
            logger.info("event=request_rejected account=%s reason=%s", caller.account, error.code)
            return error_reply(error.code, error.message, error.request_id)

        method = request["method"]
        result = await _call(method, self._methods[method], caller, request["params"])
        if "id" not in request:
            return None
        if result is None:
            return error_reply(protocol.INTERNAL_ERROR, "Internal error", request["id"])
        return {"jsonrpc": "2.0", "result": result, "id": request["id"]}

    def _validate(self, element: object) -> dict[str, Any]:
        """Check one call's envelope; return it with `params` as an object."""
        if not isinstance(element, dict):
            raise RequestError(
                protocol.INVALID_REQUEST, "Invalid request: each call must be a JSON object."
            )
        request_id = element.get("id")
        if not _is_valid_id(request_id):
            raise RequestError(
                protocol.INVALID_REQUEST,
                'Invalid request: "id" must be a string, a number or null.',
            )
        extra = sorted(set(element) - _REQUEST_KEYS)
        if extra:
            raise RequestError(
                protocol.INVALID_REQUEST,
                f"Invalid request: unknown members {', '.join(extra)}; a call has only "
                "jsonrpc, method, params and id.",
                request_id,
            )
        if element.get("jsonrpc") != "2.0":
            raise RequestError(
                protocol.INVALID_REQUEST,
                'Invalid request: "jsonrpc" must be "2.0".',
                request_id,
            )
        method = element.get("method")
        if not isinstance(method, str):
            raise RequestError(
                protocol.INVALID_REQUEST,
                'Invalid request: "method" must be a string.',
                request_id,
            )
        if method not in self._methods:
            raise RequestError(
                protocol.METHOD_NOT_FOUND,
                f"Method not found: {method[:80]!r}. Methods: {', '.join(self._methods)}.",
                request_id,
            )
        params = element.get("params", {})
        if not isinstance(params, dict):
            raise RequestError(
                protocol.INVALID_PARAMS,
                'Invalid params: "params" must be a JSON object of named parameters.',
                request_id,
            )
        return {**element, "params": params}


def _is_valid_id(request_id: object) -> bool:
    if isinstance(request_id, bool):
        return False
    return request_id is None or isinstance(request_id, (str, int, float))


def parse_body(body: bytes) -> object:
    """Decode a request body as UTF-8 JSON; raise `RequestError` with a parse error."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RequestError(
            protocol.PARSE_ERROR,
            f"Parse error: the request body is not valid UTF-8 (byte {error.start}).",
        ) from None
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise RequestError(
            protocol.PARSE_ERROR,
            f"Parse error: the request body is not valid JSON ({error.msg} at line "
            f"{error.lineno} column {error.colno}).",
        ) from None
    except _AmbiguousJsonError as error:
        raise RequestError(protocol.PARSE_ERROR, f"Parse error: {error}.") from None
    except RecursionError:
        raise RequestError(
            protocol.PARSE_ERROR, "Parse error: the request body is nested too deeply."
        ) from None


class _AmbiguousJsonError(ValueError):
    """JSON that parses but that tokend does not accept: duplicate keys, NaN or Infinity."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            # Two values for one key are ambiguous: a parameter could be read either way.
            raise _AmbiguousJsonError(f"duplicate key {key[:40]!r} in a JSON object")
        result[key] = value
    return result


def _no_constant(name: str) -> object:
    raise _AmbiguousJsonError(f"{name} is not a valid JSON number")


async def _call(
    method: str, function: Function, caller: Caller, params: Params
) -> dict[str, Any] | None:
    """Run one UAPI function; return its result object, or None after an unexpected error."""
    try:
        result = await function(caller, params)
    except UapiError as error:
        param = getattr(error, "param", None)
        logger.info(
            "event=call_failed method=%s account=%s error=%s%s",
            method,
            caller.account,
            type(error).__name__,
            f" param={param}" if param else "",
        )
        result = UapiResult.failure(str(error))
    except Exception:
        logger.exception("event=internal_error method=%s account=%s", method, caller.account)
        return None
    return result.to_json()

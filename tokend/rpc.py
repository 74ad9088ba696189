"""JSON-RPC 2.0 over the UAPI functions, dispatched with jsonrpcserver.

jsonrpcserver 5 has three habits that this module works around. It sends `str(exception)` to
the caller when a method raises, so every method catches first and maps errors through one
table. It rejects a whole batch when one element is malformed, so the body is parsed and each
element validated here, and only well-formed calls reach the library, one at a time. It returns
nothing for a notification, which the server sends as HTTP 204.

Batch elements run one after another, in order, so a batch that creates then renames a token
behaves like the same calls sent separately.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from jsonrpcserver import Success
from jsonrpcserver.async_dispatcher import call as jsonrpc_call
from jsonrpcserver.dispatcher import create_request, to_response
from jsonrpcserver.exceptions import JsonRpcError
from jsonrpcserver.response import to_serializable_one
from jsonrpcserver.sentinels import NOID

from tokend_client import protocol

from .errors import InvalidTokenError, RateLimitedError, TokenExpiredError, UapiError
from .rejections import RejectionLog
from .uapi import Caller, Params, TokenFunctions, UapiResult

logger = logging.getLogger(__name__)

Function = Callable[[Caller, Params], Awaitable[UapiResult]]
Reply = dict[str, Any] | list[dict[str, Any]] | None

VerificationFailure = (InvalidTokenError, TokenExpiredError, RateLimitedError)

_REQUEST_KEYS = frozenset(("jsonrpc", "method", "params", "id"))
_MAX_INTEGER_DIGITS = 100


class RequestError(Exception):
    """A JSON-RPC error detected before dispatch, with the request id for its response."""

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
        self.rejections = RejectionLog()
        self.stop_by: float | None = None
        """Event loop time set on SIGTERM. Calls not started by then get a not-run error, and
        calls still running then an interrupted error, so that every reply is sent before the
        drain ends."""
        table: dict[str, Function] = {
            protocol.CREATE: functions.create_full_access,
            protocol.LIST: functions.list,
            protocol.RENAME: functions.rename,
            protocol.REVOKE: functions.revoke,
            protocol.VERIFY: functions.verify,
        }
        self._methods = {
            protocol.method_name(name): _json_rpc_method(
                protocol.method_name(name), function, self.rejections
            )
            for name, function in table.items()
        }

    async def dispatch(self, body: bytes, caller: Caller, deadline: float) -> Reply:
        """Return the reply to `body`, or None when it holds only notifications.

        `deadline` is the event loop time by which the reply is due. A call still running then
        gets a timeout error (its write may still commit). A later call of a batch is not
        started, so every call that ran gets its own result.
        """
        try:
            document = parse_body(body)
        except RequestError as error:
            self.rejections.note(
                caller.account,
                "event=request_rejected account=%s reason=%s",
                caller.account,
                error.code,
            )
            return error_reply(error.code, error.message, error.request_id)

        if not isinstance(document, list):
            return await self._dispatch_in_time(document, caller, deadline)

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
            reply = await self._dispatch_in_time(element, caller, deadline)
            if reply is not None:
                replies.append(reply)
        return replies or None

    async def _dispatch_in_time(
        self, element: object, caller: Caller, deadline: float
    ) -> dict[str, Any] | None:
        request_id = element.get("id") if isinstance(element, dict) else None
        if not _is_valid_id(request_id):
            request_id = None
        is_notification = isinstance(element, dict) and "id" not in element

        now = asyncio.get_running_loop().time()
        stop_by = self.stop_by if self.stop_by is not None else math.inf
        if now >= stop_by:
            reason, code = "shutting_down", protocol.SERVER_SHUTTING_DOWN
            message = "The daemon is shutting down; this call was not run. Send it again."
        elif now >= deadline:
            reason, code = "timed_out", protocol.REQUEST_TIMEOUT
            message = "Request timed out before this call could run; it was not run."
        else:
            try:
                async with asyncio.timeout_at(min(deadline, stop_by)):
                    return await self._dispatch_one(element, caller)
            except TimeoutError:
                # NOTE: a write already under way still commits; only this reply is lost.
                stopped = self.stop_by is not None and self.stop_by <= deadline
                reason = "shutting_down" if stopped else "timed_out"
                code = protocol.SERVER_SHUTTING_DOWN if stopped else protocol.REQUEST_TIMEOUT
                message = (
                    "The call did not finish in time; a write it made may still have been "
                    "committed, so list the tokens to see its effect."
                )

        self.rejections.note(
            caller.account, "event=call_not_completed account=%s reason=%s", caller.account, reason
        )
        return None if is_notification else error_reply(code, message, request_id)

    async def _dispatch_one(self, element: object, caller: Caller) -> dict[str, Any] | None:
        try:
            request = self._validate(element)
        except RequestError as error:
            self.rejections.note(
                caller.account,
                "event=request_rejected account=%s reason=%s",
                caller.account,
                error.code,
            )
            notification = isinstance(element, dict) and "id" not in element
            if notification and error.code in (protocol.METHOD_NOT_FOUND, protocol.INVALID_PARAMS):
                # A well-formed notification never gets a reply, not even an error.
                return None
            return error_reply(error.code, error.message, error.request_id)

        # The envelope is checked and the method found above, so this uses only the library's
        # call and response steps. Its full pipeline would bind the method's signature and
        # start a task for every call, about 30 microseconds that checked nothing here.
        call = create_request(request)
        if call.id is NOID and call.method == protocol.method_name(protocol.CREATE):
            # A notification gets no reply, so the new token's value could never be shown.
            self.rejections.note(
                caller.account,
                "event=request_rejected account=%s reason=create_as_notification",
                caller.account,
            )
            return None
        result = await jsonrpc_call(call, caller, self._methods[call.method])
        if call.id is NOID:
            return None
        response = to_serializable_one(to_response(call, result))
        assert isinstance(response, dict)
        return response

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
        return json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constant,
            parse_int=_bounded_int,
            parse_float=_finite_float,
        )
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
    """JSON that parses but that tokend does not accept.

    That is a duplicate key, NaN or Infinity, an integer of more than `_MAX_INTEGER_DIGITS`
    digits, or a number too large for a float, such as 1e400.
    """


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


def _bounded_int(text: str) -> int:
    # Python 3.11 raises a bare ValueError for integers of more than 4300 digits (its default
    # int_max_str_digits), and no parameter or id needs more than a few dozen.
    if len(text.lstrip("-")) > _MAX_INTEGER_DIGITS:
        raise _AmbiguousJsonError(
            f"an integer has {len(text.lstrip('-'))} digits and the limit is {_MAX_INTEGER_DIGITS}"
        )
    return int(text)


def _finite_float(text: str) -> float:
    # float() turns 1e400 into inf, which json.dumps would send back as the bare word Infinity.
    value = float(text)
    if not math.isfinite(value):
        raise _AmbiguousJsonError(f"the number {text[:40]} is too large for a float")
    return value


def _json_rpc_method(
    method: str, function: Function, rejections: RejectionLog
) -> Callable[..., Awaitable[object]]:
    """Wrap a UAPI function as a jsonrpcserver method that never leaks exception text."""

    async def call(caller: Caller, /, **params: object) -> object:
        try:
            result = await function(caller, params)
        except VerificationFailure as error:
            # The verifier logs these itself, once per account and window plus a count, so
            # that a guesser cannot flood the log.
            result = UapiResult.failure(str(error))
        except UapiError as error:
            param = getattr(error, "param", None)
            rejections.note(
                caller.account,
                "event=call_failed method=%s account=%s error=%s%s",
                method,
                caller.account,
                type(error).__name__,
                f" param={param}" if param else "",
            )
            result = UapiResult.failure(str(error))
        except Exception:
            logger.exception("event=internal_error method=%s account=%s", method, caller.account)
            raise JsonRpcError(protocol.INTERNAL_ERROR, "Internal error") from None
        return Success(result.to_json())

    return call

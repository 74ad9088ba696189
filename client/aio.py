"""asyncio client of the tokend daemon, on aiohttp's UnixConnector.

    from tokend_client.aio import AsyncClient

    async with AsyncClient() as client:  # TOKEND_SOCKET, else the default path
        info = await client.verify("alice", presented_token)

The methods and exceptions are those of `tokend_client.client.Client`. The client keeps
one aiohttp session with its pool of keep-alive connections, so open it once for the life
of a service and close it (or leave the `async with` block) on shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

import aiohttp

from . import jsonrpc, protocol
from .client import DEFAULT_TIMEOUT_S, check_personal_socket
from .errors import DaemonTimeout, DaemonUnavailable, ProtocolError
from .results import CreatedToken, TokenInfo, UAPIResult
from .unixhttp import MAX_BODY_BYTES

# aiohttp needs a URL; the host part is ignored on a Unix socket except in the Host header.
_URL = "http://localhost/"
_READ_SIZE = 64 * 1024


class AsyncClient:
    """An asyncio client of the tokend daemon on a Unix socket.

    `socket_path` None means `TOKEND_SOCKET`, else the default path for this user.
    `timeout_s` bounds each call, from connecting to the end of the reply.
    """

    def __init__(
        self, socket_path: str | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.socket_path = protocol.resolve_socket_path(socket_path)
        self.timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None
        self._last_id = 0
        self._check_owner = protocol.is_personal_socket_path(self.socket_path)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session and its connections; a later call opens a new session."""
        if self._session is not None:
            await self._session.close()
            self._session = None
            # Closing a transport schedules its cleanup on the loop. One pass of the loop
            # runs it, so that no socket is left open if the caller closes the loop next.
            await asyncio.sleep(0)

    def _open_session(self) -> aiohttp.ClientSession:
        # The session is created on first use because aiohttp binds it to the running loop.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.UnixConnector(path=self.socket_path),
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            )
        return self._session

    async def call(self, method: str, params: Mapping[str, Any] | list[Any] | None = None) -> Any:
        """Send one JSON-RPC request and return its `result`.

        For the Tokens methods the result is the UAPI result object, returned as it is even
        when its status is 0. Raises DaemonUnavailable or ProtocolError.
        """
        if self._check_owner:
            # Three lstat calls, cheap enough to make on the event loop before every call.
            check_personal_socket(self.socket_path)
        self._last_id += 1
        request_id = self._last_id
        body = jsonrpc.encode_request(method, params, request_id)
        http_status, reply = await self._post(body)
        return jsonrpc.decode_reply(reply, http_status, request_id)

    async def _post(self, body: bytes) -> tuple[int, bytes]:
        session = self._open_session()
        headers = {"Content-Type": "application/json"}
        try:
            async with session.post(_URL, data=body, headers=headers) as response:
                return response.status, await _read_body(response)
        except TimeoutError:
            raise DaemonTimeout(self.socket_path, self.timeout_s) from None
        except aiohttp.ClientConnectorError as error:
            reason = error.os_error.strerror or str(error.os_error)
            raise DaemonUnavailable(self.socket_path, reason) from None
        except aiohttp.ClientError as error:
            raise DaemonUnavailable(self.socket_path, str(error) or type(error).__name__) from None

    async def call_function(
        self, function: str, params: Mapping[str, Any] | None = None
    ) -> UAPIResult:
        """Call the Tokens function `function` (such as "list") and return its UAPI result.

        Use it for parameters that the typed helpers do not take, such as pagination.
        Raises UAPIError when the result has status 0, besides the errors of `call`.
        """
        method = protocol.method_name(function)
        return jsonrpc.check_uapi_result(method, await self.call(method, params))

    async def create_full_access(
        self, name: str, expires_at: int | str | None = None, *, user: str | None = None
    ) -> CreatedToken:
        """Create a token; `expires_at` is Unix time, a date "YYYY-MM-DD" or None (never)."""
        params = jsonrpc.named_params({"name": name, "expires_at": expires_at}, user)
        result = await self.call_function(protocol.CREATE, params)
        created: CreatedToken = result["data"]
        return created

    async def list_tokens(self, *, user: str | None = None) -> list[TokenInfo]:
        """Return the account's tokens, ordered by name."""
        result = await self.call_function(protocol.LIST, jsonrpc.named_params({}, user))
        tokens: list[TokenInfo] = result["data"]
        return tokens

    async def rename(self, name: str, new_name: str, *, user: str | None = None) -> None:
        """Rename a token; its value, creation time and expiry stay the same."""
        params = jsonrpc.named_params({"name": name, "new_name": new_name}, user)
        await self.call_function(protocol.RENAME, params)

    async def revoke(self, names: str | Iterable[str], *, user: str | None = None) -> list[str]:
        """Revoke one or more tokens in one transaction; return the names actually removed."""
        name_list = [names] if isinstance(names, str) else list(names)
        params = jsonrpc.named_params({"name": name_list}, user)
        result = await self.call_function(protocol.REVOKE, params)
        revoked: list[str] = result["metadata"].get("revoked", [])
        return revoked

    async def verify(self, user: str, token: str) -> TokenInfo:
        """Return the list entry of `user`'s token `token`; raise UAPIError if it is invalid."""
        result = await self.call_function(protocol.VERIFY, {"user": user, "token": token})
        info: TokenInfo = result["data"]
        return info


async def _read_body(response: aiohttp.ClientResponse) -> bytes:
    body = bytearray()
    async for chunk in response.content.iter_chunked(_READ_SIZE):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ProtocolError(f"the reply is longer than {MAX_BODY_BYTES} bytes")
    return bytes(body)

"""HTTP/1.1 `POST /` over a Unix socket for the synchronous client.

`http.client` would do this too, but importing it (with `email` and `ssl`) takes about twice
as long as starting Python, and the `uapi` command pays every import on every call. The
client sends one request per connection with `Connection: close`, so this module needs
only to write that request and read a reply framed by Content-Length, chunked encoding or
the end of the connection.
"""

from __future__ import annotations

import socket
import time

from .errors import DaemonTimeout, DaemonUnavailable, ProtocolError

MAX_HEADER_BYTES = 64 * 1024
# A reply larger than this is rejected, so that a wrong socket cannot make the client buffer
# without end. A list reply takes roughly 200 bytes a token (an estimate), so this allows
# hundreds of thousands of tokens.
MAX_BODY_BYTES = 64 * 1024 * 1024

_RECEIVE_SIZE = 64 * 1024
_HEX_DIGITS = b"0123456789abcdefABCDEF"


def post(socket_path: str, body: bytes, timeout_s: float) -> tuple[int, bytes]:
    """Send `body` as `POST /` to the server on `socket_path`; return the HTTP status and body.

    `timeout_s` bounds the whole exchange, from connecting to the last byte of the reply.
    Raises DaemonUnavailable when the socket cannot be connected to or closes without a
    reply, DaemonTimeout when the time runs out, and ProtocolError for a reply that is not
    HTTP/1.x.
    """
    deadline = time.monotonic() + timeout_s
    request = _request_head(len(body)) + body
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.settimeout(timeout_s)
            sock.connect(socket_path)
            _send(sock, request)
            return _read_reply(_Reader(sock, deadline))
        except TimeoutError:
            raise DaemonTimeout(socket_path, timeout_s) from None
        except OSError as error:
            raise DaemonUnavailable(socket_path, error.strerror or str(error)) from None
        except _ClosedEarly:
            raise DaemonUnavailable(socket_path, "the connection closed before a reply") from None


def _request_head(content_length: int) -> bytes:
    return (
        "POST / HTTP/1.1\r\n"
        "Host: localhost\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {content_length}\r\n"
        "Connection: close\r\n"
        "\r\n"
    ).encode("ascii")


def _send(sock: socket.socket, request: bytes) -> None:
    # contextlib.suppress would cost the command another import.
    try:  # noqa: SIM105
        sock.sendall(request)
    except (BrokenPipeError, ConnectionResetError):
        # A server that rejects a request early (HTTP 413 for an oversize body) may close
        # its side before reading all of it, and its reply may still be waiting to be read.
        pass


class _ClosedEarly(Exception):
    """The server closed the connection before the reply was complete."""


class _Reader:
    """Buffered reads from a socket, each bounded by one deadline for the whole reply."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._buffer = bytearray()

    def _fill(self) -> bool:
        remaining_s = self._deadline - time.monotonic()
        if remaining_s <= 0:
            raise TimeoutError
        self._sock.settimeout(remaining_s)
        chunk = self._sock.recv(_RECEIVE_SIZE)
        self._buffer += chunk
        return bool(chunk)

    def read_until(self, delimiter: bytes, limit: int) -> bytes:
        """Return the bytes up to and including `delimiter`."""
        while True:
            index = self._buffer.find(delimiter)
            if index >= 0:
                return self._take(index + len(delimiter))
            if len(self._buffer) > limit:
                raise ProtocolError(f"the reply's header is longer than {limit} bytes")
            if not self._fill():
                raise _ClosedEarly

    def read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            if not self._fill():
                raise _ClosedEarly
        return self._take(size)

    def read_to_end(self, limit: int) -> bytes:
        while self._fill():
            if len(self._buffer) > limit:
                raise ProtocolError(f"the reply is longer than {limit} bytes")
        return self._take(len(self._buffer))

    def _take(self, size: int) -> bytes:
        head = bytes(self._buffer[:size])
        del self._buffer[:size]
        return head


def _read_reply(reader: _Reader) -> tuple[int, bytes]:
    head = reader.read_until(b"\r\n\r\n", MAX_HEADER_BYTES)
    status, headers = _parse_head(head)
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return status, _read_chunked(reader)
    length_text = headers.get("content-length")
    if length_text is None:
        return status, reader.read_to_end(MAX_BODY_BYTES)
    if not length_text.isdigit() or not length_text.isascii():
        raise ProtocolError(f"the reply has an invalid Content-Length: {length_text!r}")
    length = int(length_text)
    if length > MAX_BODY_BYTES:
        raise ProtocolError(f"the reply is longer than {MAX_BODY_BYTES} bytes")
    return status, reader.read_exactly(length)


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    status_text = rest[:3]
    if not version.startswith("HTTP/1.") or not status_text.isdigit():
        raise ProtocolError(f"the reply is not HTTP/1.x: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, separator, value = line.partition(":")
        if separator:
            headers[name.strip().lower()] = value.strip()
    return int(status_text), headers


def _read_chunked(reader: _Reader) -> bytes:
    body = bytearray()
    while True:
        size_line = reader.read_until(b"\r\n", MAX_HEADER_BYTES)
        size_text = size_line.split(b";", 1)[0].strip()
        if not size_text or size_text.strip(_HEX_DIGITS):
            raise ProtocolError(f"the reply has an invalid chunk size: {size_text!r}")
        size = int(size_text, 16)
        if size == 0:
            # Trailer fields, if any, end with an empty line, as the header block does.
            trailer = reader.read_until(b"\r\n", MAX_HEADER_BYTES)
            while trailer != b"\r\n":
                trailer = reader.read_until(b"\r\n", MAX_HEADER_BYTES)
            return bytes(body)
        if len(body) + size > MAX_BODY_BYTES:
            raise ProtocolError(f"the reply is longer than {MAX_BODY_BYTES} bytes")
        body += reader.read_exactly(size)
        reader.read_exactly(2)

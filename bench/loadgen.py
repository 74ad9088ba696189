"""Closed-loop HTTP load over a Unix socket with aiohttp, from one or several processes.

Each simulated client keeps one keep-alive connection and sends its next request as soon as
the previous reply has been read. Every client sends one request before the clock starts, so
connection set-up is not counted. Throughput is completed requests divided by the time from
the common start to the last reply. Latency is measured per request, from send to the end of
the reply body.

A body may hold the marker `@N@`, which is replaced by a string unique across processes,
clients and requests (letters, digits and `_`), so that a benchmark can create tokens with
distinct names.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp

UNIQUE_MARKER = b"@N@"
URL = "http://localhost/"
HEADERS = {"Content-Type": "application/json"}
# Every reply must contain this to count as a success: the UAPI result's `status: 1`, which
# the bare baseline's fixed body contains too. A substring test keeps the client's CPU cost low.
SUCCESS = b'"status": 1'
# Several processes wait until this long after the parent's call, so all start measuring together.
START_DELAY_S = 0.5


@dataclass
class LoadResult:
    """The outcome of a load run: completed requests, their latencies and the client's CPU."""

    requests: int = 0
    failures: int = 0
    elapsed_s: float = 0.0
    client_cpu_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    failure_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def throughput(self) -> float:
        """Completed requests per second."""
        return self.requests / self.elapsed_s if self.elapsed_s else 0.0

    def percentile_ms(self, fraction: float) -> float:
        """Return the latency below which `fraction` of the requests finished, in ms."""
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        index = min(len(ordered) - 1, int(fraction * len(ordered)))
        return ordered[index] * 1000

    def merge(self, other: LoadResult) -> None:
        self.requests += other.requests
        self.failures += other.failures
        self.elapsed_s = max(self.elapsed_s, other.elapsed_s)
        self.client_cpu_s += other.client_cpu_s
        self.latencies_s.extend(other.latencies_s)
        self.failure_reasons.update(other.failure_reasons)


@dataclass(frozen=True)
class LoadSpec:
    """One load run: where to send which body, from how many clients, for how long."""

    socket_path: str
    body: bytes | tuple[bytes, ...]
    """One body for every client, or one body per client index (taken in turn)."""
    clients: int
    duration_s: float
    processes: int = 1


def run_load(spec: LoadSpec) -> LoadResult:
    """Run `spec` and return the combined result of all client processes."""
    shares = _split(spec.clients, spec.processes)
    if len(shares) == 1:
        return asyncio.run(_load(spec, 0, shares[0], time.time()))

    start_at = time.time() + START_DELAY_S

    # fork: the children need the parent's loaded modules, not a fresh interpreter.
    context = multiprocessing.get_context("fork")
    with context.Pool(len(shares)) as pool:
        arguments = [(spec, index, share, start_at) for index, share in enumerate(shares)]
        parts = pool.starmap(_load_in_process, arguments)
    combined = LoadResult()
    for part in parts:
        combined.merge(part)
    return combined


def _split(clients: int, processes: int) -> list[int]:
    processes = max(1, min(processes, clients))
    base, extra = divmod(clients, processes)
    return [base + (1 if index < extra else 0) for index in range(processes)]


def _load_in_process(
    spec: LoadSpec, process_index: int, clients: int, start_at: float
) -> LoadResult:
    return asyncio.run(_load(spec, process_index, clients, start_at))


async def _load(spec: LoadSpec, process_index: int, clients: int, start_at: float) -> LoadResult:
    connector = aiohttp.UnixConnector(path=spec.socket_path, limit=clients)
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        bodies = _BodySource(spec.body, process_index)
        warm_up = (_send(session, bodies.next(index)) for index in range(clients))
        await asyncio.gather(*warm_up)

        await asyncio.sleep(max(0.0, start_at - time.time()))
        cpu_before = time.process_time()
        started = time.perf_counter()
        deadline = started + spec.duration_s
        workers = [_client(session, bodies, index, deadline) for index in range(clients)]
        parts = await asyncio.gather(*workers)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_before

    result = LoadResult(elapsed_s=elapsed, client_cpu_s=cpu)
    for latencies, failures in parts:
        result.requests += len(latencies)
        result.failures += failures
        result.latencies_s.extend(latencies)
    return result


async def _client(
    session: aiohttp.ClientSession, bodies: _BodySource, index: int, deadline: float
) -> tuple[list[float], int]:
    latencies: list[float] = []
    failures = 0
    while time.perf_counter() < deadline:
        body = bodies.next(index)
        sent = time.perf_counter()
        if await _send(session, body) is None:
            latencies.append(time.perf_counter() - sent)
        else:
            failures += 1
    return latencies, failures


async def _send(session: aiohttp.ClientSession, body: bytes) -> str | None:
    """Send one request; return None on success, else why it failed."""
    async with session.post(URL, data=body, headers=HEADERS) as response:
        reply = await response.read()
    if response.status != 200:
        return f"HTTP {response.status}"
    if SUCCESS not in reply:
        return "UAPI status 0"
    return None


class _BodySource:
    """Request bodies, with `@N@` replaced by a unique string where the template has it."""

    def __init__(self, template: bytes | tuple[bytes, ...], process_index: int) -> None:
        self._per_client = template if isinstance(template, tuple) else None
        self._template = template if isinstance(template, bytes) else b""
        self._unique = UNIQUE_MARKER in self._template
        self._prefix = f"p{process_index}c"
        self._counter = 0

    def next(self, client_index: int) -> bytes:
        if self._per_client is not None:
            return self._per_client[client_index % len(self._per_client)]
        if not self._unique:
            return self._template
        self._counter += 1
        unique = f"{self._prefix}{client_index}_{self._counter}".encode()
        return self._template.replace(UNIQUE_MARKER, unique)


async def burst(socket_path: str, bodies: tuple[bytes, ...], count: int) -> LoadResult:
    """Send `count` requests at once, each on its own connection, and wait for all replies.

    Request `i` carries `bodies[i % len(bodies)]`.

    A request whose connection fails, or whose reply is not a success, counts as a failure.
    """
    connector = aiohttp.UnixConnector(path=socket_path, limit=count)
    timeout = aiohttp.ClientTimeout(total=None)
    result = LoadResult()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(body: bytes) -> None:
            sent = time.perf_counter()
            try:
                failure = await _send(session, body)
            except (aiohttp.ClientError, OSError) as error:
                # Counted, not raised: how many calls of a burst fail is part of the result.
                failure = type(error).__name__
            if failure is None:
                result.latencies_s.append(time.perf_counter() - sent)
            else:
                result.failures += 1
                result.failure_reasons[failure] += 1

        started = time.perf_counter()
        await asyncio.gather(*(one(bodies[index % len(bodies)]) for index in range(count)))
        result.elapsed_s = time.perf_counter() - started
    result.requests = len(result.latencies_s)
    return result


async def post_once(socket_path: str, body: bytes) -> bytes:
    """Send one request on a fresh connection and return the reply body."""
    connector = aiohttp.UnixConnector(path=socket_path)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.post(URL, data=body, headers=HEADERS) as response,
    ):
        return await response.read()

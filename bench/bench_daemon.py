"""Benchmark the tokend daemon against the limits of its stack, measured in the same run.

Usage: `.venv/bin/python bench/bench_daemon.py [--quick] [--write bench/RESULTS.md]`

The script starts the real daemon (`python -m tokend`) and a bare aiohttp server as
subprocesses on temporary Unix sockets and loads them from aiohttp clients. It reports each
figure as a ratio to a baseline: JSON-RPC calls against the bare handler, uncached
verifications against raw argon2, token creation against raw SQLite inserts, and the latency
of a store with 100,000 tokens against one with 100. Every measurement is repeated
`rounds` times, interleaved with its baseline; tables show medians.

It must run as root: the benchmark calls as root, which may act on any account, and the scale
test starts the daemon in its own mount namespace with a generated passwd file. Nothing is
sent to any socket other than the ones it creates under a temporary directory, which it
removes at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import baselines
import loadgen
import report
import scale
from processes import BareServerProcess, DaemonProcess, ServerProcess, cpu_seconds, memory_kib

from tokend.hashing import DEFAULT_PROFILE, PROFILES
from tokend_client import protocol

BURST_SAMPLE_INTERVAL_S = 0.01
# The cache lifetime that makes every verification run argon2: a microsecond, the smallest
# value the configuration accepts in practice (it must be greater than 0).
UNCACHED_TTL_S = 1e-6
# Different tokens presented in the uncached runs and bursts (100 owasp hashes, about 2 s).
BURST_TOKENS = 100


@dataclass(frozen=True)
class Settings:
    """The sizes of one benchmark run."""

    rounds: int
    duration_s: float
    clients: tuple[int, ...]
    client_processes: int
    uncached_clients: int
    argon2_duration_s: float
    create_clients: tuple[int, ...]
    bursts: tuple[int, ...]
    # Tokens and accounts of the small and the large store of the scale test.
    scale_small: tuple[int, int]
    scale_large: tuple[int, int]


FULL = Settings(
    rounds=3,
    duration_s=2.0,
    clients=(1, 8, 64),
    # One aiohttp client process limited the bare handler by about a quarter in a trial run
    # on the 2-core test machine, so the full run uses two.
    client_processes=2,
    uncached_clients=8,
    argon2_duration_s=3.0,
    create_clients=(1, 8),
    bursts=(100, 1000),
    scale_small=(100, 10),
    scale_large=(100_000, 10_000),
)
QUICK = Settings(
    rounds=1,
    duration_s=0.2,
    clients=(1, 8),
    client_processes=1,
    uncached_clients=2,
    argon2_duration_s=0.3,
    create_clients=(2,),
    bursts=(20,),
    scale_small=(100, 10),
    scale_large=(1_000, 100),
)


@dataclass(frozen=True)
class Measure:
    """One load run reduced to numbers; CPU is seconds of CPU per second of wall time."""

    rate: float
    p50_ms: float
    p99_ms: float
    server_cpu: float
    client_cpu: float
    failures: int


@dataclass
class Results:
    """Every measurement of a run, keyed by a short label, one entry per round."""

    series: dict[str, list[Measure]] = field(default_factory=dict)
    numbers: dict[str, list[float]] = field(default_factory=dict)

    def add(self, key: str, measure: Measure) -> None:
        self.series.setdefault(key, []).append(measure)

    def add_number(self, key: str, value: float) -> None:
        self.numbers.setdefault(key, []).append(value)

    def median(self, key: str, attribute: str = "rate") -> float:
        return statistics.median(self.values(key, attribute))

    def ratio(self, key: str, baseline: str, attribute: str = "rate") -> float:
        """Return the median over rounds of `key` divided by `baseline` in the same round."""
        pairs = zip(self.values(key, attribute), self.values(baseline, attribute), strict=True)
        return statistics.median(value / base for value, base in pairs)

    def values(self, key: str, attribute: str = "rate") -> list[float]:
        """Return one value per round: a number, or a `Measure` attribute such as `p50_ms`."""
        if key in self.numbers:
            return self.numbers[key]
        return [float(getattr(measure, attribute)) for measure in self.series[key]]


def request_body(function: str, params: dict[str, object]) -> bytes:
    method = protocol.method_name(function)
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()


def call(server: ServerProcess, function: str, **params: object) -> dict[str, object]:
    """Make one call and return its UAPI result; raise unless its status is 1."""
    return call_body(server, request_body(function, params))


def call_body(server: ServerProcess, body: bytes) -> dict[str, object]:
    """Send one request body and return the UAPI result; raise unless its status is 1."""
    reply = json.loads(asyncio.run(loadgen.post_once(server.socket_path, body)))
    result = reply.get("result")
    if not isinstance(result, dict) or result["status"] != 1:
        raise RuntimeError(f"a call to {server.name} failed: {reply}")
    return result


def create_token(server: ServerProcess, name: str, **params: object) -> str:
    data = call(server, protocol.CREATE, name=name, **params)["data"]
    assert isinstance(data, dict)
    return str(data["token"])


def measure(server: ServerProcess, spec: loadgen.LoadSpec) -> Measure:
    """Run `spec` against `server` and measure the server's CPU time alongside."""
    cpu_before = cpu_seconds(server.pid)
    result = loadgen.run_load(spec)
    server_cpu = cpu_seconds(server.pid) - cpu_before
    if result.requests == 0:
        raise RuntimeError(f"no request to {server.name} succeeded; see {server.log_path}")
    # The server's CPU counter includes the start delay, in which it is idle.
    return Measure(
        rate=result.throughput,
        p50_ms=result.percentile_ms(0.50),
        p99_ms=result.percentile_ms(0.99),
        server_cpu=server_cpu / result.elapsed_s,
        client_cpu=result.client_cpu_s / result.elapsed_s,
        failures=result.failures,
    )


class Bench:
    """One benchmark run: its servers, settings and results."""

    def __init__(self, settings: Settings, workdir: Path, log: Callable[[str], None]) -> None:
        self.settings = settings
        self.workdir = workdir
        self.log = log
        self.results = Results()
        self.facts: dict[str, str] = {}
        self._started: list[ServerProcess] = []

    @contextmanager
    def running(self, server: ServerProcess) -> Iterator[ServerProcess]:
        self._started.append(server)
        server.start()
        try:
            yield server
        finally:
            server.stop()

    def kill_all(self) -> None:
        for server in self._started:
            server.kill()

    def spec(self, server: ServerProcess, body: bytes, clients: int) -> loadgen.LoadSpec:
        settings = self.settings
        return loadgen.LoadSpec(
            server.socket_path, body, clients, settings.duration_s, settings.client_processes
        )

    def run(self) -> Results:
        self.throughput()
        self.uncached_and_memory()
        self.creates()
        self.scale()
        return self.results

    def throughput(self) -> None:
        """Measure list and cached verify against the bare handler, interleaved per round."""
        bare = BareServerProcess(self.workdir, "bare")
        daemon = DaemonProcess(self.workdir, "cached", {"hash_profile": DEFAULT_PROFILE})
        with self.running(bare), self.running(daemon):
            tokens = [
                create_token(daemon, f"token{index:02d}")
                for index in range(scale.TOKENS_PER_ACCOUNT)
            ]
            verify = request_body(protocol.VERIFY, {"user": "root", "token": tokens[0]})
            call(daemon, protocol.VERIFY, user="root", token=tokens[0])
            bodies = {
                "bare": (bare, request_body(protocol.LIST, {})),
                "list": (daemon, request_body(protocol.LIST, {})),
                "verify_cached": (daemon, verify),
            }
            for round_index in range(self.settings.rounds):
                for clients in self.settings.clients:
                    for label, (server, body) in bodies.items():
                        self.log(f"round {round_index + 1}: {label}, {clients} clients")
                        self.results.add(
                            f"{label}/{clients}", measure(server, self.spec(server, body, clients))
                        )
            self.client_check(bare, bodies["bare"][1])

    def client_check(self, bare: ServerProcess, body: bytes) -> None:
        """Measure the bare handler from two client processes, to see if one is the limit."""
        clients = max(self.settings.clients)
        for round_index in range(self.settings.rounds):
            self.log(f"round {round_index + 1}: bare, {clients} clients in 2 processes")
            spec = loadgen.LoadSpec(bare.socket_path, body, clients, self.settings.duration_s, 2)
            self.results.add(f"bare_2proc/{clients}", measure(bare, spec))

    def uncached_and_memory(self) -> None:
        """Measure uncached verify against raw argon2, then memory under bursts."""
        profile = PROFILES[DEFAULT_PROFILE]
        threads = os.cpu_count() or 1
        self.facts["hash_workers"] = str(threads)
        config = {
            "hash_profile": profile.name,
            "verify_cache_ttl_s": UNCACHED_TTL_S,
            "hash_workers": threads,
        }
        daemon = DaemonProcess(self.workdir, "uncached", config)
        with self.running(daemon):
            self.results.add_number("rss_idle", memory_kib(daemon.pid)["VmRSS"])
            # Concurrent checks of one token share one argon2 run, so every client and every
            # burst slot presents a token of its own, up to BURST_TOKENS different tokens.
            bodies = tuple(
                request_body(
                    protocol.VERIFY, {"user": "root", "token": create_token(daemon, f"u{index}")}
                )
                for index in range(BURST_TOKENS)
            )
            clients = self.settings.uncached_clients
            body = bodies[:clients]
            for round_index in range(self.settings.rounds):
                self.log(f"round {round_index + 1}: raw argon2 in {threads} threads")
                rate = baselines.argon2_verifications_per_s(
                    profile, threads, self.settings.argon2_duration_s
                )
                self.results.add_number("argon2", rate)
                self.log(f"round {round_index + 1}: uncached verify, {clients} clients")
                spec = loadgen.LoadSpec(
                    daemon.socket_path, body, clients, self.settings.argon2_duration_s
                )
                self.results.add("verify_uncached", measure(daemon, spec))
            self.results.add_number("rss_warm", memory_kib(daemon.pid)["VmRSS"])
            for size in self.settings.bursts:
                self.burst(daemon, bodies, size)
            self.results.add_number("rss_hwm", memory_kib(daemon.pid)["VmHWM"])

    def burst(self, daemon: ServerProcess, bodies: tuple[bytes, ...], size: int) -> None:
        self.log(f"burst of {size} concurrent uncached verifications")
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(BURST_SAMPLE_INTERVAL_S):
                peak = max(peak, memory_kib(daemon.pid)["VmRSS"])

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            result = asyncio.run(loadgen.burst(daemon.socket_path, bodies, size))
        finally:
            done.set()
            sampler.join()
        self.results.add_number(f"burst_peak/{size}", peak)
        self.results.add_number(f"burst_after/{size}", memory_kib(daemon.pid)["VmRSS"])
        self.results.add_number(f"burst_seconds/{size}", result.elapsed_s)
        self.results.add_number(f"burst_failures/{size}", result.failures)
        reasons = ", ".join(f"{count} {reason}" for reason, count in result.failure_reasons.items())
        self.facts[f"burst_failures/{size}"] = reasons or "none"

    def creates(self) -> None:
        """Measure durable token creation against raw SQLite inserts with the same pragmas."""
        # The runs create thousands of tokens in one account, past the default cap.
        many = {"max_tokens_per_account": 10_000_000}
        fast = DaemonProcess(self.workdir, "writes", {"hash_profile": "test-only-fast", **many})
        owasp = DaemonProcess(
            self.workdir, "writes-owasp", {"hash_profile": DEFAULT_PROFILE, **many}
        )
        body = request_body(protocol.CREATE, {"name": loadgen.UNIQUE_MARKER.decode()})
        raw_path = self.workdir / "raw-inserts.db"
        with self.running(fast), self.running(owasp):
            for round_index in range(self.settings.rounds):
                self.log(f"round {round_index + 1}: raw SQLite inserts")
                self.results.add_number(
                    "sqlite", baselines.sqlite_inserts_per_s(raw_path, self.settings.duration_s)
                )
                for clients in self.settings.create_clients:
                    self.log(f"round {round_index + 1}: create_full_access, {clients} clients")
                    self.results.add(
                        f"create_fast/{clients}", measure(fast, self.spec(fast, body, clients))
                    )
                clients = max(self.settings.create_clients)
                self.log(f"round {round_index + 1}: create_full_access (owasp), {clients} clients")
                self.results.add(
                    f"create_owasp/{clients}", measure(owasp, self.spec(owasp, body, clients))
                )

    def scale(self) -> None:
        """Measure list and cached verify latency in a large store against a small one."""
        secret, secret_hash = scale.owasp_secret()
        daemons: dict[str, DaemonProcess] = {}
        bodies: dict[str, dict[str, bytes]] = {}
        for label, (_, accounts) in self.scale_sizes().items():
            passwd = self.workdir / f"passwd-{label}"
            scale.write_passwd(passwd, accounts)
            config: dict[str, object] = {"hash_profile": DEFAULT_PROFILE}
            daemon = DaemonProcess(self.workdir, f"scale-{label}", config, passwd)
            # The daemon's own migrations create the schema on its first start.
            with self.running(daemon):
                call(daemon, protocol.LIST)
            self.log(f"filling the {label} store: {accounts} accounts")
            lookup_id = scale.fill(daemon.database_path, accounts, secret_hash)
            self.results.add_number(f"db_bytes/{label}", daemon.database_bytes())
            account = scale.measured_account(accounts)
            daemons[label] = daemon
            bodies[label] = {
                "list": request_body(protocol.LIST, {protocol.API_USER: account}),
                "verify": request_body(
                    protocol.VERIFY, {"user": account, "token": lookup_id + secret}
                ),
            }

        with self.running(daemons["small"]), self.running(daemons["large"]):
            for label, daemon in daemons.items():
                self.results.add_number(f"scale_rss/{label}", memory_kib(daemon.pid)["VmRSS"])
                # The first verification runs argon2 and fills the cache for the timed ones.
                call_body(daemon, bodies[label]["verify"])
            for round_index in range(self.settings.rounds):
                for label, daemon in daemons.items():
                    self.log(f"round {round_index + 1}: {label} store latency")
                    for kind, body in bodies[label].items():
                        spec = self.spec(daemon, body, 1)
                        self.results.add(f"scale_{kind}/{label}", measure(daemon, spec))

    def scale_sizes(self) -> dict[str, tuple[int, int]]:
        return {"small": self.settings.scale_small, "large": self.settings.scale_large}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="run tiny sizes for a smoke test (seconds, not minutes)",
    )
    parser.add_argument(
        "--write",
        type=Path,
        metavar="FILE",
        help="replace the Daemon section of this Markdown file with the results",
    )
    parser.add_argument(
        "--client-processes",
        type=int,
        default=None,
        metavar="N",
        help="client processes per load run (default 1)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print(
            "bench_daemon.py: run as root; the scale test mounts its own passwd file",
            file=sys.stderr,
        )
        return 2
    settings = QUICK if args.quick else FULL
    if args.client_processes is not None:
        settings = dataclasses.replace(settings, client_processes=args.client_processes)

    started = time.time()
    workdir = Path(tempfile.mkdtemp(prefix="tokend-bench-"))
    bench = Bench(
        settings,
        workdir,
        lambda line: print(f"[{time.time() - started:6.1f} s] {line}", file=sys.stderr),
    )
    try:
        results = bench.run()
    finally:
        bench.kill_all()
        shutil.rmtree(workdir, ignore_errors=True)

    section = report.render(
        results,
        settings,
        bench.facts,
        command=report.command_line(argv),
        elapsed_s=time.time() - started,
    )
    if args.write is not None:
        report.write_section(args.write, section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())

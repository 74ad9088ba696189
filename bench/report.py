"""The Markdown section that `bench_daemon.py` writes: machine, command and tables of ratios.

The section sits between two HTML comment markers under the heading `## Daemon`. Rewriting a
results file replaces only the text between the markers, so notes written by hand around them
and sections written by other benchmarks stay as they are.
"""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import bare_server

if TYPE_CHECKING:
    from bench_daemon import Results, Settings

HEADING = "## Daemon"
BEGIN = "<!-- begin bench_daemon.py output: rerun the command below to replace it -->"
END = "<!-- end bench_daemon.py output -->"
PACKAGES = ("aiohttp", "aiosqlite", "argon2-cffi", "argon2-cffi-bindings")
MIB = 1024


def command_line(argv: Sequence[str] | None) -> str:
    """Return the command that produced the run, with the interpreter as the project runs it."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    return shlex.join([".venv/bin/python", "bench/bench_daemon.py", *arguments])


def write_section(path: Path, section: str) -> None:
    """Replace the generated block in `path`, or append a Daemon section holding it."""
    block = f"{BEGIN}\n{section.strip()}\n{END}\n"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if BEGIN in text and END in text:
        before, _, rest = text.partition(BEGIN)
        _, _, after = rest.partition(END)
        text = before + block.rstrip("\n") + after
    else:
        text = text.rstrip("\n") + f"\n\n{HEADING}\n\n{block}"
    path.write_text(text)


def render(
    results: Results, settings: Settings, facts: dict[str, str], command: str, elapsed_s: float
) -> str:
    """Return the Markdown tables of one run."""
    parts = [
        _header(command, elapsed_s, settings),
        _calls_table(results, settings),
        _client_check(results, settings),
        _uncached_table(results, settings, facts),
        _writes_table(results, settings),
        _scale_table(results, settings),
        _memory_table(results, settings, facts),
    ]
    return "\n\n".join(part.strip() for part in parts) + "\n"


def _header(command: str, elapsed_s: float, settings: Settings) -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in PACKAGES)
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    lines = [
        f"Command: `{command}` (as root, from the repository root), {now}, {elapsed_s:.0f} s.",
        "",
        f"- Machine: {_cpu_model()}, {os.cpu_count()} CPUs, Linux {platform.release()}, "
        f"temporary files on {_filesystem(Path(tempfile.gettempdir()))}. The client processes "
        "and the server under test share these CPUs.",
        f"- Software: Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{versions}, tokend {_tokend_revision()}.",
        f"- Each figure is the median of {settings.rounds} rounds of {settings.duration_s:g} s, "
        "and each ratio is the median of per-round ratios, with the lowest and highest in "
        "brackets. Other jobs on the machine also use the CPUs, so single rounds vary; load "
        f"average at the end: {load}.",
    ]
    return "\n".join(lines)


def _calls_table(results: Results, settings: Settings) -> str:
    lines = [
        "### JSON-RPC calls against a bare aiohttp handler",
        "",
        "Closed-loop clients, each on one keep-alive connection. `Tokens::list` lists 10 "
        "tokens; `Tokens::verify` presents a token that is in the verification cache. The "
        f"bare handler returns a fixed {len(bare_server.BODY)}-byte JSON body. Aim: at least "
        "0.50 of the bare handler's calls per second.",
        "",
        "| Call | Clients | Calls/s | p50 ms | p99 ms | Bare calls/s | Ratio | Aim met | "
        "Server CPU | Client CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for label, title in (("list", "Tokens::list"), ("verify_cached", "Tokens::verify, cached")):
        for clients in settings.clients:
            key, bare = f"{label}/{clients}", f"bare/{clients}"
            ratio = results.ratio(key, bare)
            lines.append(
                f"| {title} | {clients} | {results.median(key):,.0f} | "
                f"{results.median(key, 'p50_ms'):.2f} | {results.median(key, 'p99_ms'):.2f} | "
                f"{results.median(bare):,.0f} | {_ratio(results, key, bare)} | "
                f"{_yes(ratio >= 0.5)} | {_cpu(results, key)} | {_cpu(results, key, 'client')} |"
            )
    lines.append("")
    lines.append(
        "CPU columns are CPU seconds per second of wall time (1.00 = one core busy): the server "
        "is the daemon process with its threads, the client is all client processes."
    )
    return "\n".join(lines)


def _client_check(results: Results, settings: Settings) -> str:
    clients = max(settings.clients)
    one, two = f"bare/{clients}", f"bare_2proc/{clients}"
    return f"""
### Is one client process the limit?

| Bare handler, {clients} clients | Calls/s | Server CPU | Client CPU |
|---|---:|---:|---:|
{_client_row(results, "1 client process", one)}
{_client_row(results, "2 client processes", two)}

Ratio of 2 processes to 1: {_ratio(results, two, one)}. The other tables use
{settings.client_processes} client processes per load run.
"""


def _client_row(results: Results, title: str, key: str) -> str:
    return f"| {title} | {results.median(key):,.0f} | {_cpu(results, key)} | " + (
        f"{_cpu(results, key, 'client')} |"
    )


def _ms(results: Results, key: str) -> str:
    return f"{results.median(key, 'p50_ms'):.1f} | {results.median(key, 'p99_ms'):.1f}"


def _uncached_table(results: Results, settings: Settings, facts: dict[str, str]) -> str:
    threads = facts.get("hash_workers", "?")
    key = "verify_uncached"
    ratio = results.ratio(key, "argon2")
    return f"""
### Uncached Tokens::verify against raw argon2

Profile `owasp` (argon2id, m=19 MiB, t=2, p=1). The daemon runs with `hash_workers = {threads}`
and `verify_cache_ttl_s = 1e-6`, so every call runs argon2; {settings.uncached_clients} clients
send calls. The baseline verifies one hash in {threads} threads of the benchmark process for
{settings.argon2_duration_s:g} s. Aim: at least 0.80 of the raw rate.

| Measure | Per second | p50 ms | p99 ms |
|---|---:|---:|---:|
| raw argon2 verifications, {threads} threads | {results.median("argon2"):,.1f} | | |
| Tokens::verify, uncached | {results.median(key):,.1f} | {_ms(results, key)} |

Ratio: {_ratio(results, key, "argon2")}; aim met: {_yes(ratio >= 0.8)}.
"""


def _writes_table(results: Results, settings: Settings) -> str:
    lines = [
        "### Durable token creation against raw SQLite inserts",
        "",
        "The baseline inserts tokend's row into tokend's table in the benchmark process, one "
        "`BEGIN IMMEDIATE ... COMMIT` per row, with `journal_mode=WAL` and `synchronous=FULL`. "
        "`Tokens::create_full_access` does the same write plus its checks, after hashing the new "
        "secret; with the `test-only-fast` profile the hash costs microseconds, so that row "
        "shows the write path, while the `owasp` row shows what a production daemon does.",
        "",
        "| Operation | Clients | Per second | Ratio to raw inserts |",
        "|---|---:|---:|---:|",
        f"| raw SQLite inserts | 1 | {results.median('sqlite'):,.0f} | 1.00 |",
    ]
    for clients in settings.create_clients:
        key = f"create_fast/{clients}"
        lines.append(
            f"| create_full_access, `test-only-fast` | {clients} | {results.median(key):,.0f} | "
            f"{_ratio(results, key, 'sqlite')} |"
        )
    key = f"create_owasp/{max(settings.create_clients)}"
    lines.append(
        f"| create_full_access, `owasp` | {max(settings.create_clients)} | "
        f"{results.median(key):,.1f} | {_ratio(results, key, 'sqlite')} |"
    )
    return "\n".join(lines)


def _scale_table(results: Results, settings: Settings) -> str:
    small, large = settings.scale_small, settings.scale_large
    lines = [
        "### Scale: a large store against a small one",
        "",
        f"The small store holds {small[0]:,} tokens over {small[1]:,} accounts, the large one "
        f"{large[0]:,} over {large[1]:,}, 10 per account. Rows are inserted with sqlite3 into "
        "the schema the daemon created, all with one real `owasp` hash. Each daemon runs in "
        "its own mount namespace with a passwd file that lists the host's accounts and then "
        "one line per account of its store, as a hosting server's /etc/passwd would. One "
        "client calls as root on behalf of the account halfway down that file "
        "(`api.user` for the list). `Tokens::verify` presents a token that is in the cache, "
        "so it times the lookups, not argon2. Aim: large within 1.5 times small.",
        "",
        f"| Measure | {small[0]:,} tokens | {large[0]:,} tokens | Ratio | Aim met |",
        "|---|---:|---:|---:|---|",
    ]
    for label, title in (("scale_list", "Tokens::list"), ("scale_verify", "Tokens::verify")):
        for attribute in ("p50_ms", "p99_ms"):
            small_key, large_key = f"{label}/small", f"{label}/large"
            ratio = results.ratio(large_key, small_key, attribute)
            lines.append(
                f"| {title} {attribute.removesuffix('_ms')} ms | "
                f"{results.median(small_key, attribute):.2f} | "
                f"{results.median(large_key, attribute):.2f} | "
                f"{_ratio(results, large_key, small_key, attribute)} | {_yes(ratio <= 1.5)} |"
            )
    for key, title in (("db_bytes", "database file, MiB"), ("scale_rss", "daemon RSS idle, MiB")):
        unit = MIB * MIB if key == "db_bytes" else MIB
        lines.append(
            f"| {title} | {results.median(f'{key}/small') / unit:.2f} | "
            f"{results.median(f'{key}/large') / unit:.2f} | "
            f"{results.median(f'{key}/large') / results.median(f'{key}/small'):.2f} | |"
        )
    return "\n".join(lines)


def _memory_table(results: Results, settings: Settings, facts: dict[str, str]) -> str:
    lines = [
        "### Daemon memory under bursts of concurrent uncached verifications",
        "",
        "RSS (`VmRSS` in /proc/PID/status) of the uncached daemon above, sampled every 10 ms "
        "during each burst. Each burst opens one connection per call and sends all calls at "
        "once; argon2 runs in at most `hash_workers` threads, each with its 19 MiB buffer.",
        "",
        "| Moment | RSS MiB |",
        "|---|---:|",
        f"| idle, after start | {results.median('rss_idle') / MIB:.1f} |",
        f"| after the uncached runs above | {results.median('rss_warm') / MIB:.1f} |",
    ]
    for size in settings.bursts:
        seconds = results.median(f"burst_seconds/{size}")
        failures = results.median(f"burst_failures/{size}")
        lines.append(
            f"| peak during a burst of {size:,} ({seconds:.1f} s, {failures:.0f} failed calls) | "
            f"{results.median(f'burst_peak/{size}') / MIB:.1f} |"
        )
        lines.append(f"| after that burst | {results.median(f'burst_after/{size}') / MIB:.1f} |")
    reasons = [f"{size:,}: {facts.get(f'burst_failures/{size}', '?')}" for size in settings.bursts]
    lines.append(f"| peak since start (`VmHWM`) | {results.median('rss_hwm') / MIB:.1f} |")
    lines.append("")
    lines.append(f"Failed calls by reason, per burst size: {'; '.join(reasons)}.")
    return "\n".join(lines)


def _ratio(results: Results, key: str, baseline: str, attribute: str = "rate") -> str:
    values = [
        value / base
        for value, base in zip(
            results.values(key, attribute), results.values(baseline, attribute), strict=True
        )
    ]
    middle = results.ratio(key, baseline, attribute)
    if len(values) == 1:
        return f"{middle:.2f}"
    return f"{middle:.2f} ({min(values):.2f} to {max(values):.2f})"


def _cpu(results: Results, key: str, side: str = "server") -> str:
    return f"{results.median(key, f'{side}_cpu'):.2f}"


def _yes(met: bool) -> str:
    return "yes" if met else "**no**"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass  # Not Linux, or /proc is not mounted: the model is left out.
    return platform.processor() or "unknown CPU"


def _filesystem(path: Path) -> str:
    """Return the type of the file system that contains `path`, from /proc/mounts."""
    best, kind = "", "an unknown file system"
    resolved = str(path.resolve())
    with open("/proc/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            mount_point, fs_type = fields[1], fields[2]
            inside = resolved == mount_point or resolved.startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) > len(best):
                best, kind = mount_point, fs_type
    return kind


def _tokend_revision() -> str:
    """Return the checkout's commit, marked when the working tree has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "tokend", "client"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "(commit unknown)"
    return f"commit {commit}" + (" with uncommitted changes" if dirty else "")

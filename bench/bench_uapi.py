"""Measure `uapi Tokens list` end to end against bare Python start-up.

    .venv/bin/python bench/bench_uapi.py [--runs N] [--tokens N] [--importtime]

The script starts its own daemon on a temporary socket and database with the test suite's
`Daemon` helper, and creates some tokens. Then it runs three commands in turn, N times each,
all with the interpreter of this environment: `python -c pass`, `uapi --output=json Tokens
list` and `uapi Tokens list` (YAML). It prints the median wall time of each command and
its ratio to bare start-up. The commands run interleaved, so that a change in machine load
during the run affects all three alike. `--importtime` also lists the slowest imports of
each `uapi` run, from `python -X importtime`.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from tests.helpers import Daemon  # noqa: E402 - needs the repository on sys.path first
from tokend_client.client import Client  # noqa: E402

PYTHON = sys.executable
UAPI = str(Path(sys.executable).with_name("uapi"))
MIN_RUNS = 20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help=f"runs per command (min {MIN_RUNS})")
    parser.add_argument("--tokens", type=int, default=10, help="tokens in the listed account")
    parser.add_argument("--importtime", action="store_true", help="list the slowest imports")
    options = parser.parse_args()
    if options.runs < MIN_RUNS:
        parser.error(f"--runs must be at least {MIN_RUNS}, so that the median is stable")

    workdir = Path(tempfile.mkdtemp(prefix="tokend-bench-"))
    daemon = Daemon(workdir)
    daemon.start()
    try:
        client = Client(daemon.socket_path)
        for index in range(options.tokens):
            client.create_full_access(f"bench-{index:04d}")
        commands = {
            "python -c pass": [PYTHON, "-c", "pass"],
            "uapi --output=json Tokens list": [UAPI, "--output=json", "Tokens", "list"],
            "uapi Tokens list (YAML)": [UAPI, "Tokens", "list"],
        }
        env = {**os.environ, "TOKEND_SOCKET": daemon.socket_path}
        medians = measure(commands, options.runs, env)
        report(medians, options.runs, options.tokens)
        if options.importtime:
            for arguments in list(commands.values())[1:]:
                print_slowest_imports(arguments, env)
    finally:
        daemon.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def measure(commands: dict[str, list[str]], runs: int, env: dict[str, str]) -> dict[str, float]:
    """Return the median wall time of each command in seconds, running them interleaved."""
    times: dict[str, list[float]] = {label: [] for label in commands}
    for arguments in commands.values():
        run_once(arguments, env)  # warm the page cache before timing
    for _ in range(runs):
        for label, arguments in commands.items():
            started = time.perf_counter()
            run_once(arguments, env)
            times[label].append(time.perf_counter() - started)
    return {label: statistics.median(samples) for label, samples in times.items()}


def run_once(arguments: list[str], env: dict[str, str]) -> None:
    subprocess.run(arguments, env=env, stdout=subprocess.DEVNULL, check=True)


def report(medians: dict[str, float], runs: int, tokens: int) -> None:
    baseline = medians["python -c pass"]
    print(f"machine: {machine_description()}")
    print(f"python: {platform.python_version()} ({PYTHON}); libyaml: {has_libyaml()}")
    print(f"runs per command: {runs}; tokens listed: {tokens}\n")
    print("| command | median | ratio to python -c pass |")
    print("| --- | --- | --- |")
    for label, median_s in medians.items():
        print(f"| `{label}` | {median_s * 1000:.1f} ms | {median_s / baseline:.2f} |")


def machine_description() -> str:
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    return f"{model}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"


def has_libyaml() -> bool:
    import yaml

    return bool(getattr(yaml, "__with_libyaml__", False))


def print_slowest_imports(arguments: list[str], env: dict[str, str], count: int = 12) -> None:
    completed = subprocess.run(
        [PYTHON, "-X", "importtime", *arguments],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    rows = []
    for line in completed.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) == 3 and fields[1].strip().isdigit():
            rows.append((int(fields[1]), fields[2].rstrip()))
    print(f"\nslowest imports (cumulative microseconds) of: uapi {' '.join(arguments[1:])}")
    for cumulative_us, name in sorted(rows, reverse=True)[:count]:
        print(f"{cumulative_us:>8}  {name}")


if __name__ == "__main__":
    sys.exit(main())

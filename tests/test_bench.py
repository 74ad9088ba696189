"""The daemon benchmark in its smallest mode, so that the script keeps working as tokend changes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH_SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "bench_daemon.py"
TIMEOUT_S = 300


@pytest.mark.root
def test_quick_bench_writes_daemon_section(workdir: Path) -> None:
    results = workdir / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Other\n\nkept\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("TOKEND_")}
    completed = subprocess.run(
        [sys.executable, str(BENCH_SCRIPT), "--quick", "--write", str(results)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=env,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    text = results.read_text()
    assert "## Other\n\nkept\n" in text
    assert "## Daemon" in text
    for title in ("bare aiohttp handler", "raw argon2", "raw SQLite inserts", "Scale", "memory"):
        assert title in text
    assert "nan" not in text

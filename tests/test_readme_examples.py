"""The README's `uapi` examples and client-library examples, run top to bottom on one daemon.

A reader who tries the `uapi` examples and then the library examples on the same account
must not hit a name that is already taken or a variable that was never defined. The English
and Chinese READMEs carry the same code, so both are run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tokend_client import cli, protocol

from .helpers import Daemon

REPOSITORY = Path(__file__).resolve().parent.parent
BIN_DIR = str(Path(sys.executable).parent)

# The heading of the `uapi` section and of the client-library section, per README.
SECTIONS = {
    "README.md": ("## The `uapi` command", "## The client library"),
    "README.zh-CN.md": ("## `uapi` 命令", "## 客户端库"),
}


def section(readme: str, heading: str) -> list[str]:
    """Return the lines of the section under `heading`, up to the next `## ` heading."""
    lines = (REPOSITORY / readme).read_text(encoding="utf-8").splitlines()
    start = lines.index(heading) + 1
    end = next(
        (index for index in range(start, len(lines)) if lines[index].startswith("## ")),
        len(lines),
    )
    return lines[start:end]


def code_blocks(lines: list[str], language: str) -> list[str]:
    """Return the fenced blocks of `language` that start at the left margin, in order."""
    blocks: list[str] = []
    current: list[str] | None = None
    for line in lines:
        if current is None and line == f"```{language}":
            current = []
        elif current is not None and line == "```":
            blocks.append("\n".join(current) + "\n")
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def example_environment(socket_path: str) -> dict[str, str]:
    return {
        **os.environ,
        protocol.ENV_SOCKET: socket_path,
        "PATH": BIN_DIR + os.pathsep + os.environ.get("PATH", ""),
    }


def run_example(command: list[str], environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        env=environ,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("readme", list(SECTIONS))
def test_examples_run_in_order(daemon: Daemon, readme: str) -> None:
    uapi_heading, library_heading = SECTIONS[readme]
    environ = example_environment(daemon.socket_path)

    # The uapi examples: each command line on its own, as a reader would paste it. Some
    # are meant to fail (an account that does not exist), but none is a usage error.
    shell_block = code_blocks(section(readme, uapi_heading), "sh")[0]
    commands = [line for line in shell_block.splitlines() if line and not line.startswith("#")]
    assert any("create_full_access" in command for command in commands)
    for command in commands:
        completed = run_example(["bash", "-c", command], environ)
        assert completed.returncode in (cli.EXIT_OK, cli.EXIT_FAILED), (command, completed)
        assert "Traceback" not in completed.stderr, command

    # The client-library examples, all blocks in one program, after the uapi examples.
    program = "".join(code_blocks(section(readme, library_heading), "python"))
    completed = run_example([sys.executable, "-c", program], environ)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    assert "nightly" in completed.stdout

"""Command-line entry point: `tokend [--socket PATH] [--database PATH] [--config FILE]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from . import __version__
from .config import LOG_LEVELS, load_config
from .errors import ConfigError, StartupError
from .server import serve

logger = logging.getLogger("tokend")

EXIT_STARTUP_FAILED = 1
EXIT_BAD_CONFIG = 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="tokend",
        description="Serve per-account API tokens over JSON-RPC on a Unix socket.",
    )
    parser.add_argument(
        "--socket",
        dest="socket_path",
        metavar="PATH",
        help="Unix socket to listen on (env TOKEND_SOCKET)",
    )
    parser.add_argument(
        "--database",
        dest="database_path",
        metavar="PATH",
        help="SQLite database file (env TOKEND_DATABASE)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="TOML configuration file (env TOKEND_CONFIG; default "
        "/etc/tokend/tokend.toml when it exists)",
    )
    parser.add_argument(
        "--log-level",
        dest="log_level",
        metavar="LEVEL",
        choices=LOG_LEVELS,
        type=str.upper,
        help=f"logging threshold: {', '.join(LOG_LEVELS)} (default INFO)",
    )
    parser.add_argument("--version", action="version", version=f"tokend {__version__}")
    return parser.parse_args(argv)


class ClientErrorFilter(logging.Filter):
    """Log aiohttp's tracebacks for malformed HTTP from a client as one INFO line.

    Any local account can send a request that aiohttp cannot parse or decode. aiohttp answers
    it with a plain-text 400 and logs an ERROR with a traceback that quotes the offending
    header, which would let any account fill the log with errors.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, (HttpProcessingError, RequestPayloadError)):
            record.levelno = logging.INFO
            record.levelname = logging.getLevelName(logging.INFO)
            record.msg = "event=request_rejected reason=malformed_http error=%s"
            record.args = (type(error).__name__,)
            record.exc_info = None
            record.exc_text = None
        return True


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("aiohttp.server").addFilter(ClientErrorFilter())
    # aiosqlite logs SQL statements with their parameters at DEBUG, and those may hold hashes.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLevelName(level)))


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, load the configuration and run the daemon; return the exit status."""
    args = parse_args(argv)
    flags = {
        "socket_path": args.socket_path,
        "database_path": args.database_path,
        "log_level": args.log_level,
    }
    try:
        config = load_config(flags, os.environ, args.config)
    except ConfigError as error:
        print(f"tokend: configuration error: {error}", file=sys.stderr)
        return EXIT_BAD_CONFIG

    configure_logging(config.log_level)
    # Directories created on the way to the socket or database must never be group or world
    # writable, whatever umask the daemon was started under.
    os.umask(os.umask(0) | 0o022)
    try:
        asyncio.run(serve(config))
    except StartupError as error:
        logger.error("event=start_failed reason=%s", error)
        return EXIT_STARTUP_FAILED
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()

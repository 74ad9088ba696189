"""The daemon's configuration: one frozen dataclass loaded from flags, environment and TOML.

Precedence, highest first: command-line flag, environment variable, TOML file, built-in
default. The TOML file is `--config`, else `TOKEND_CONFIG`, else `/etc/tokend/tokend.toml`
when that file exists. Its keys are the field names of `Config`; an unknown key is an error
that names the key and the file, so that a typo never silently leaves a default in force.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokend_client import protocol

from .errors import ConfigError
from .hashing import DEFAULT_PROFILE, PROFILES

SYSTEM_CONFIG_PATH = Path("/etc/tokend/tokend.toml")
ROOT_DATABASE_PATH = Path("/var/lib/tokend/tokens.db")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def default_database_path() -> Path:
    """Return `/var/lib/tokend/tokens.db` for root, else `~/.local/state/tokend/tokens.db`."""
    if os.geteuid() == 0:
        return ROOT_DATABASE_PATH
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home) / "tokend" / "tokens.db"


@dataclass(frozen=True)
class Config:
    """Settings of one daemon process. Times are in seconds, sizes in bytes."""

    socket_path: Path = field(default_factory=lambda: Path(protocol.default_socket_path()))
    database_path: Path = field(default_factory=default_database_path)
    socket_mode: int = 0o666
    socket_group: str | None = None
    log_level: str = "INFO"
    hash_profile: str = DEFAULT_PROFILE
    hash_workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    max_request_bytes: int = 256 * 1024
    max_batch_size: int = 100
    request_timeout_s: float = 30.0
    keepalive_timeout_s: float = 15.0
    shutdown_timeout_s: float = 10.0
    expiring_soon_s: int = 24 * 60 * 60
    verify_cache_ttl_s: float = 60.0
    verify_cache_max_entries: int = 100_000
    verify_failure_window_s: float = 60.0
    verify_failure_limit: int = 10
    verify_failure_limit_per_uid: int = 60
    account_cache_ttl_s: float = 5.0
    max_tokens_per_account: int = 1000


def _path(value: object) -> Path:
    if not isinstance(value, str) or not value:
        raise ValueError("expected a non-empty path string")
    return Path(value)


def _mode(value: object) -> int:
    if isinstance(value, str):
        try:
            value = int(value, 8)
        except ValueError:
            raise ValueError('expected an octal mode such as "0660"') from None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0o777:
        raise ValueError(
            'expected permission bits written in octal, as a string such as "0660" or as a '
            "TOML octal number such as 0o660 (a plain 660 is decimal)"
        )
    return value


def _optional_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _log_level(value: object) -> str:
    if not isinstance(value, str) or value.upper() not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
    return value.upper()


def _profile(value: object) -> str:
    if not isinstance(value, str) or value not in PROFILES:
        raise ValueError(f"expected one of {', '.join(sorted(PROFILES))}")
    return value


def _positive_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("expected a whole number of at least 1")
    return value


def _positive_seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("expected a number of seconds greater than 0")
    if not math.isfinite(value) or value <= 0:
        raise ValueError("expected a finite number of seconds greater than 0")
    return float(value)


_CONVERTERS: dict[str, Callable[[object], Any]] = {
    "socket_path": _path,
    "database_path": _path,
    "socket_mode": _mode,
    "socket_group": _optional_text,
    "log_level": _log_level,
    "hash_profile": _profile,
    "hash_workers": _positive_int,
    "max_request_bytes": _positive_int,
    "max_batch_size": _positive_int,
    "request_timeout_s": _positive_seconds,
    "keepalive_timeout_s": _positive_seconds,
    "shutdown_timeout_s": _positive_seconds,
    "expiring_soon_s": _positive_int,
    "verify_cache_ttl_s": _positive_seconds,
    "verify_cache_max_entries": _positive_int,
    "verify_failure_window_s": _positive_seconds,
    "verify_failure_limit": _positive_int,
    "verify_failure_limit_per_uid": _positive_int,
    "account_cache_ttl_s": _positive_seconds,
    "max_tokens_per_account": _positive_int,
}

_ENVIRONMENT = {
    protocol.ENV_SOCKET: "socket_path",
    protocol.ENV_DATABASE: "database_path",
}


def load_config(
    flags: Mapping[str, object],
    environ: Mapping[str, str],
    config_file: Path | None = None,
) -> Config:
    """Build the configuration from flags (already named by field), environment and TOML.

    `config_file` is the `--config` flag. Raises `ConfigError` naming the file or flag and
    the key when a value is invalid or a key unknown.
    """
    values: dict[str, Any] = {}

    path = config_file or _path_from_env(environ)
    if path is None and SYSTEM_CONFIG_PATH.exists():
        path = SYSTEM_CONFIG_PATH
    if path is not None:
        values.update(_read_toml(path))

    for variable, key in _ENVIRONMENT.items():
        if environ.get(variable):
            values[key] = _convert(variable, key, environ[variable])

    for key, value in flags.items():
        if value is not None:
            values[key] = _convert(f"--{key}", key, value)

    return Config(**values)


def _path_from_env(environ: Mapping[str, str]) -> Path | None:
    value = environ.get(protocol.ENV_CONFIG)
    return Path(value) if value else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            _check_config_owner(path, os.fstat(stream.fileno()))
            document = tomllib.load(stream)
    except FileNotFoundError:
        raise ConfigError(str(path), "the configuration file does not exist") from None
    except OSError as error:
        raise ConfigError(str(path), f"cannot read the file: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(str(path), f"invalid TOML: {error}") from None

    known = {item.name for item in dataclasses.fields(Config)}
    values = {}
    for key, value in document.items():
        if key not in known:
            raise ConfigError(
                str(path),
                f'unknown key "{key}". Known keys: {", ".join(sorted(known))}.',
            )
        values[key] = _convert(f'{path}: key "{key}"', key, value)
    return values


def _check_config_owner(path: Path, info: os.stat_result) -> None:
    # The file sets the rate limits, the hash profile and the socket's mode, so an account that
    # could write it could weaken all of them.
    if info.st_uid not in (0, os.geteuid()):
        raise ConfigError(
            str(path), f"the file belongs to uid {info.st_uid}, not to root or this user"
        )
    if info.st_mode & 0o022:
        raise ConfigError(
            str(path), f"the file is writable by group or others; run `chmod go-w {path}`"
        )


def _convert(source: str, key: str, value: object) -> Any:
    try:
        return _CONVERTERS[key](value)
    except ValueError as error:
        raise ConfigError(source, f"invalid value {value!r}: {error}") from None

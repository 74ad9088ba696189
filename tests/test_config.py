"""Configuration loading and start-up checks, through the real tokend command."""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tokend.config import Config, load_config
from tokend.errors import ConfigError

from .helpers import Daemon


def run_tokend(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokend", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={key: value for key, value in os.environ.items() if not key.startswith("TOKEND_")},
    )


def test_unknown_config_key_stops_startup(workdir: Path) -> None:
    config = workdir / "bad.toml"
    config.write_text('socket_mod = "0660"\n')
    completed = run_tokend(
        "--config",
        str(config),
        "--socket",
        str(workdir / "s"),
        "--database",
        str(workdir / "db" / "t.db"),
    )
    assert completed.returncode != 0
    assert 'unknown key "socket_mod"' in completed.stderr
    assert str(config) in completed.stderr
    assert "Traceback" not in completed.stderr


def test_invalid_config_value_names_key(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("max_batch_size = 0\n")
    with pytest.raises(ConfigError, match="max_batch_size"):
        load_config({}, {}, config)


def test_precedence_flag_env_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('socket_path = "/file.sock"\ndatabase_path = "/file.db"\n')
    loaded = load_config(
        {"socket_path": "/flag.sock"},
        {"TOKEND_SOCKET": "/env.sock", "TOKEND_DATABASE": "/env.db"},
        config,
    )
    assert loaded.socket_path == Path("/flag.sock")
    assert loaded.database_path == Path("/env.db")
    from_file = load_config({}, {"TOKEND_CONFIG": str(config)})
    assert from_file.socket_path == Path("/file.sock")


def test_socket_mode_accepts_octal_forms(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('socket_mode = "0660"\n')
    assert load_config({}, {}, config).socket_mode == 0o660
    config.write_text("socket_mode = 0o600\n")
    assert load_config({}, {}, config).socket_mode == 0o600


def test_default_paths_for_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the root defaults apply only to uid 0")
    config = Config()
    assert config.socket_path == Path("/run/tokend/tokend.sock")
    assert config.database_path == Path("/var/lib/tokend/tokens.db")


def test_socket_and_database_modes(daemon: Daemon) -> None:
    assert os.stat(daemon.socket_path).st_mode & 0o777 == 0o666
    assert os.stat(daemon.database_path).st_mode & 0o777 == 0o600
    assert os.stat(Path(daemon.database_path).parent).st_mode & 0o777 == 0o700


def test_shared_database_directory_is_refused(workdir: Path) -> None:
    state = workdir / "state"
    state.mkdir(mode=0o777)
    state.chmod(0o777)
    completed = run_tokend("--socket", str(workdir / "s.sock"), "--database", str(state / "t.db"))
    assert completed.returncode == 1
    assert "writable by group or others" in completed.stderr
    assert not (state / "t.db").exists()


def test_database_symlink_is_refused(workdir: Path) -> None:
    state = workdir / "state"
    state.mkdir(mode=0o700)
    (state / "real.db").touch()
    (state / "t.db").symlink_to(state / "real.db")
    completed = run_tokend("--socket", str(workdir / "s.sock"), "--database", str(state / "t.db"))
    assert completed.returncode == 1
    assert "symbolic link" in completed.stderr


def test_regular_file_at_socket_path_is_kept(workdir: Path) -> None:
    path = workdir / "s.sock"
    path.write_text("keep me")
    completed = run_tokend("--socket", str(path), "--database", str(workdir / "db" / "t.db"))
    assert completed.returncode == 1
    assert "is not a socket" in completed.stderr
    assert path.read_text() == "keep me"


def test_symlink_at_socket_path_is_kept(workdir: Path) -> None:
    target = workdir / "target"
    target.write_text("keep me")
    path = workdir / "s.sock"
    path.symlink_to(target)
    completed = run_tokend("--socket", str(path), "--database", str(workdir / "db" / "t.db"))
    assert completed.returncode == 1
    assert f"{path} exists and is not a socket" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert path.is_symlink()
    assert target.read_text() == "keep me"


def test_stale_socket_is_replaced(daemon_factory: object, workdir: Path) -> None:
    daemon = daemon_factory()  # type: ignore[operator]
    daemon.kill()
    assert Path(daemon.socket_path).exists()
    daemon.start()
    assert daemon.call("list")["status"] == 1


def test_live_socket_is_not_stolen(daemon: Daemon) -> None:
    completed = run_tokend(
        "--socket", daemon.socket_path, "--database", str(Path(daemon.workdir) / "other" / "t.db")
    )
    assert completed.returncode == 1
    assert "already listens" in completed.stderr
    assert daemon.call("list")["status"] == 1
    with socket.socket(socket.AF_UNIX) as probe:
        probe.connect(daemon.socket_path)


def test_shared_socket_directory_is_refused(workdir: Path) -> None:
    run = workdir / "run"
    run.mkdir()
    run.chmod(0o777)
    completed = run_tokend("--socket", str(run / "s.sock"), "--database", str(workdir / "db" / "t"))
    assert completed.returncode == 1
    assert "writable by group or others" in completed.stderr
    assert not (run / "s.sock").exists()


def test_overlong_socket_path_is_explained(workdir: Path) -> None:
    path = workdir / ("x" * 120) / "s.sock"
    completed = run_tokend("--socket", str(path), "--database", str(workdir / "db" / "t.db"))
    assert completed.returncode == 1
    assert "Cannot listen on the socket" in completed.stderr
    assert "None" not in completed.stderr
    assert "Traceback" not in completed.stderr


def _defaults_with(environ: dict[str, str]) -> tuple[str, str]:
    from tokend.config import default_database_path
    from tokend_client.protocol import default_socket_path

    for name in ("XDG_RUNTIME_DIR", "XDG_STATE_HOME", "TMPDIR"):
        os.environ.pop(name, None)
    os.environ.update(environ)
    return default_socket_path(), str(default_database_path())


@pytest.mark.root
def test_default_paths_for_other_users() -> None:
    from .helpers import run_as

    with_runtime = run_as(
        "nobody", _defaults_with, {"XDG_RUNTIME_DIR": "/run/user/65534", "HOME": "/home/n"}
    )
    assert with_runtime == (
        "/run/user/65534/tokend/tokend.sock",
        "/home/n/.local/state/tokend/tokens.db",
    )
    without_runtime = run_as("nobody", _defaults_with, {"HOME": "/home/n"})
    assert without_runtime[0] == "/tmp/tokend-65534/tokend.sock"


@pytest.mark.parametrize("value", ["nan", "inf", "1e400", "-1.0", "0"])
def test_seconds_must_be_finite_and_positive(tmp_path: Path, value: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f"request_timeout_s = {value}\n")
    with pytest.raises(ConfigError, match="request_timeout_s"):
        load_config({}, {}, config)


def test_decimal_socket_mode_is_explained(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("socket_mode = 660\n")
    with pytest.raises(ConfigError, match="0o660"):
        load_config({}, {}, config)


@pytest.mark.root
def test_socket_directory_link_of_other_user_is_refused(workdir: Path) -> None:
    target = workdir / "target"
    target.mkdir(mode=0o755)
    link = workdir / "run"
    link.symlink_to(target)
    nobody = pwd.getpwnam("nobody")
    os.chown(link, nobody.pw_uid, nobody.pw_gid, follow_symlinks=False)
    completed = run_tokend(
        "--socket", str(link / "s.sock"), "--database", str(workdir / "db" / "t")
    )
    assert completed.returncode == 1
    assert "symbolic link owned by uid" in completed.stderr
    assert not (target / "s.sock").exists()


def test_config_writable_by_others_is_refused(workdir: Path) -> None:
    config = workdir / "shared.toml"
    config.write_text("verify_failure_limit = 1000000\n")
    config.chmod(0o666)
    completed = run_tokend(
        "--config",
        str(config),
        "--socket",
        str(workdir / "s.sock"),
        "--database",
        str(workdir / "db" / "t.db"),
    )
    assert completed.returncode == 2
    assert "writable by group or others" in completed.stderr


def test_readable_database_is_made_private(daemon_factory: object, workdir: Path) -> None:
    state = workdir / "daemon0" / "state"
    state.mkdir(parents=True, mode=0o700)
    database = state / "tokens.db"
    database.touch()
    database.chmod(0o644)
    daemon = daemon_factory()  # type: ignore[operator]
    assert daemon.database_path == str(database)
    daemon.call("create_full_access", name="a")
    for path in state.iterdir():
        assert path.stat().st_mode & 0o077 == 0, path

# Quick start: `make run` starts the daemon in the foreground; `make test` runs every check.
# Both create the virtual environment in .venv and install what they need on a fresh clone.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Debian packages the tests drive: curl for the documented curl calls, systemd for
# systemd-socket-activate and systemd-analyze.
SYSTEM_TOOLS := curl:curl systemd-socket-activate:systemd systemd-analyze:systemd

.PHONY: run test stress lint typecheck system-tools

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

run: $(BIN)/python
	$(BIN)/pip install --quiet .
	@$(BIN)/python -c 'import os; from tokend_client.protocol import ENV_SOCKET, default_socket_path as p; s = os.environ.get(ENV_SOCKET) or p(); \
	print(f"tokend is starting on {s} (Ctrl-C stops it). From another shell, try:"); \
	print(f"  curl --unix-socket {s} -d ", end=""); \
	print(chr(39) + "{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"Tokens::create_full_access\", \"params\": {\"name\": \"first\"}}" + chr(39) + " http://localhost/")'
	exec $(BIN)/tokend

system-tools:
	@missing=""; for pair in $(SYSTEM_TOOLS); do \
		command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing Debian packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "note: missing$$missing; the tests that need them are skipped"; \
		fi; \
	fi

test: $(BIN)/python system-tools
	$(BIN)/pip install --quiet '.[test]'
	$(BIN)/ruff check tokend client tests bench
	$(BIN)/ruff format --check tokend client tests bench
	$(BIN)/mypy tokend client tests $(wildcard bench/*.py)
	$(BIN)/python -m pytest

# Longer crash, race and fuzz runs (tests/stress); several minutes on two cores.
stress: $(BIN)/python
	$(BIN)/pip install --quiet '.[test]'
	$(BIN)/python -m pytest -m stress tests/stress

# Lifeboat: `make up` runs the platform on its embedded defaults, `make test` passes the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: setup up down status test test-slow lint fuzz lock bench clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

# The virtualenv, and kube-apiserver built once from Debian's source package (cached).
setup: $(STAMP)
	$(BIN)/python -m deploy.local.servers.kubebuild

up: setup
	$(BIN)/python -m deploy.local.stack up

down:
	$(BIN)/python -m deploy.local.stack down

status:
	$(BIN)/python -m deploy.local.stack status

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

test: lint
	$(BIN)/python -m pytest

# The tests that wait for real minutes (schedules firing on the clock) or start and stop whole
# stacks (make up/down): CI runs them after `make test`.
test-slow: setup
	$(BIN)/python -m pytest -m slow

# Schemathesis against the running api, as a signed-in super admin (tests/fuzz/schemathesis.toml).
fuzz: setup
	$(BIN)/python -m pytest tests/fuzz -m fuzz

# The benchmarks: the data mover against Debian's restic (installed when missing), and lists
# in a catalog of 100,000 backups against the query lists used before pagination.
bench: setup
	command -v restic >/dev/null || (apt-get update -qq && apt-get install -y -qq restic)
	$(BIN)/python tests/bench/bench_mover.py
	$(BIN)/python tests/bench/bench_lists.py

lock:
	$(BIN)/python -m pip install -q uv
	$(BIN)/uv pip compile pyproject.toml --extra dev -o requirements.lock

# Stops the stack and removes its state and the dev catalog (PostgreSQL `lifeboat`), whose
# secrets only the removed state's key decrypts.
clean: setup
	$(BIN)/python -m deploy.local.stack clean

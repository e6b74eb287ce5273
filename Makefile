# Lifeboat: `make up` runs the platform on its embedded defaults, `make test` passes the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: setup up down status test test-slow lint fuzz lock bench clean console console-types browser

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

# The web console: npm ci from the committed lock, then the build the api serves at /.
CONSOLE_SOURCES := $(shell find console/src console/index.html console/vite.config.ts -type f 2>/dev/null)
NODE_STAMP := console/node_modules/.installed
TYPES_FLAGS := --default-non-nullable false

$(NODE_STAMP): console/package.json console/package-lock.json
	cd console && npm ci
	touch $@

console/dist/index.html: $(NODE_STAMP) $(CONSOLE_SOURCES)
	cd console && npx vite build

console: console/dist/index.html

# The console's API types, from the API's OpenAPI (`make lint` fails when they drift apart).
console-types: setup $(NODE_STAMP)
	$(BIN)/lifeboat openapi > console/node_modules/.openapi.json
	cd console && npx openapi-typescript node_modules/.openapi.json $(TYPES_FLAGS) -o src/api/schema.d.ts

browser:
	test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

# The virtualenv, and kube-apiserver built once from Debian's source package (cached).
setup: $(STAMP)
	$(BIN)/python -m deploy.local.servers.kubebuild

up: setup console
	$(BIN)/python -m deploy.local.stack up

down:
	$(BIN)/python -m deploy.local.stack down

status:
	$(BIN)/python -m deploy.local.stack status

lint: setup $(NODE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	cd console && npx tsc --noEmit && npx eslint .
	$(BIN)/lifeboat openapi > console/node_modules/.openapi.json
	cd console && npx openapi-typescript node_modules/.openapi.json $(TYPES_FLAGS) -o node_modules/.schema.d.ts
	@diff -q console/node_modules/.schema.d.ts console/src/api/schema.d.ts >/dev/null || \
	  (echo "console/src/api/schema.d.ts is not the API's OpenAPI any more: run make console-types"; exit 1)

# The browser tests (tests/console) drive Debian's chromium against the built console.
test: lint console browser
	cd console && npx vitest run
	$(BIN)/python -m pytest

# The tests that wait for real minutes (schedules firing on the clock) or start and stop whole
# stacks (make up/down): CI runs them after `make test`.
test-slow: setup
	$(BIN)/python -m pytest -m slow

# Schemathesis against the running api, as a signed-in super admin (tests/fuzz/schemathesis.toml).
fuzz: setup
	$(BIN)/python -m pytest tests/fuzz -m fuzz

# The benchmarks: the data mover against Debian's restic (installed when missing), lists
# in a catalog of 100,000 backups against the query lists used before pagination, six
# namespace backups at once against one alone (on a dev stack of its own), and the
# export of 1,000 to 100,000 ConfigMaps against kubectl (EXPORT_COUNTS=1000,10000 for less).
EXPORT_COUNTS ?= 1000,10000,100000
bench: setup
	command -v restic >/dev/null || (apt-get update -qq && apt-get install -y -qq restic)
	$(BIN)/python tests/bench/bench_mover.py
	$(BIN)/python tests/bench/bench_lists.py
	$(BIN)/python -m tests.bench.bench_concurrency
	$(BIN)/python tests/bench/bench_export.py --counts $(EXPORT_COUNTS)

lock:
	$(BIN)/python -m pip install -q uv
	$(BIN)/uv pip compile pyproject.toml --extra dev -o requirements.lock

# Stops the stack and removes its state and the dev catalog (PostgreSQL `lifeboat`), whose
# secrets only the removed state's key decrypts.
clean: setup
	$(BIN)/python -m deploy.local.stack clean

# ehealth-auth: `make run` serves the demo on SQLite, `make test` runs the whole suite.
# Both install what they need on a fresh machine: the locked Python packages into .venv/, and
# (for the browser test) Debian's Chromium when /usr/bin/chromium is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
UV_VERSION := 0.13.8
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

OIDC_DIR := bench/oidc_provider

.PHONY: install lock run test fuzz lint typecheck browser bench bench-flat-cost bench-tools clean

# Every package, runtime and dev, comes from the lock file with its hashes checked; the project
# itself is installed editable without dependencies (its build backend is in the lock too).
$(STAMP): $(LOCK) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@$(BIN)/python -m pip check || { echo "$(LOCK) is out of date with pyproject.toml: run 'make lock'" >&2; exit 1; }
	touch $(STAMP)

install: $(STAMP)

# Regenerates the lock from pyproject.toml alone (runtime, the dev extra, and the build backend).
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	echo 'setuptools>=69' | $(BIN)/uv pip compile pyproject.toml - --extra dev --universal \
		--python-version 3.11 --generate-hashes --quiet -o $(LOCK)

run: install
	$(BIN)/ehealth-auth migrate
	$(BIN)/ehealth-auth demo
	$(BIN)/ehealth-auth serve --host 127.0.0.1 --port 4000

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

# The browser acceptance test drives Debian's Chromium through Playwright (no browser download).
browser: $(CHROMIUM)

$(CHROMIUM):
	@echo "Chromium is missing: installing Debian's chromium for the browser test" >&2
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-dejavu-core >/dev/null

test: install browser lint typecheck
	$(BIN)/pytest --cov --cov-report=term --cov-fail-under=90

# The long fuzzing run (make test runs the same tier with a few examples per operation).
fuzz: install
	EHEALTH_AUTH_FUZZ_EXAMPLES=$${EHEALTH_AUTH_FUZZ_EXAMPLES:-300} $(BIN)/pytest -s -q tests/acceptance/test_fuzz.py


# wrk from Debian's package when missing; oidc-provider (a benchmark target only, never the
# service's) with npm into the bench's own folder, from its lock file.
bench-tools: $(OIDC_DIR)/node_modules/.package-lock.json
	command -v wrk >/dev/null 2>&1 || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q wrk; }

$(OIDC_DIR)/node_modules/.package-lock.json: $(OIDC_DIR)/package-lock.json $(OIDC_DIR)/package.json
	cd $(OIDC_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

bench: install bench-tools
	$(BIN)/python -m bench.run

# The flat-cost scenario alone: refresh and verify with 10^4 and with 10^7 stored tokens
# (PostgreSQL; the 10^7 database takes about 5 GiB while it runs).
bench-flat-cost: install bench-tools
	BENCH_SCENARIOS=flat-cost BENCH_BACKENDS=postgresql $(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .coverage $(OIDC_DIR)/node_modules

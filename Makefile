# ehealth-auth: `make run` serves the demo on SQLite, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

OIDC_DIR := bench/oidc_provider
# Root installs packages itself; anyone else through sudo.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: install run test lint typecheck bench bench-tools clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/ehealth-auth migrate
	$(BIN)/ehealth-auth demo
	$(BIN)/ehealth-auth serve --host 127.0.0.1 --port 4000

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

test: install lint typecheck
	$(BIN)/pytest --cov --cov-report=term --cov-fail-under=90

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

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .coverage $(OIDC_DIR)/node_modules

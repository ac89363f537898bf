# ehealth-auth: `make run` serves the demo on SQLite, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test fuzz lint typecheck bench clean

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

# The long fuzzing run (make test runs the same tier with a few examples per operation).
fuzz: install
	EHEALTH_AUTH_FUZZ_EXAMPLES=$${EHEALTH_AUTH_FUZZ_EXAMPLES:-300} $(BIN)/pytest -s -q tests/acceptance/test_fuzz.py

bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .coverage

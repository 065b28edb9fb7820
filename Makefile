# Two commands do all the set-up on a fresh machine:
#   make run    install, load data/ into SQLite, serve the API on :8000 with a worker
#   make test   install, type-check (mypy --strict) and run every test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run report test unit integration lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,ops]"
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/store-monitor ingest data
	$(BIN)/store-monitor serve

report: install
	$(BIN)/store-monitor ingest data
	$(BIN)/store-monitor report --out var/report.csv
	@echo "report written to var/report.csv"

lint: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest tests/unit

integration: install
	$(BIN)/pytest tests/integration

test: lint
	$(BIN)/pytest

bench: install
	$(BIN)/python -m benchmarks.bench_report

clean:
	rm -rf var .mypy_cache .pytest_cache .hypothesis

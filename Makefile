# Two commands do all the set-up on a fresh machine:
#   make run    install, load data/ into SQLite, serve the API on :8000 with a worker
#   make test   install, type-check (mypy --strict) and run every test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Compiled modules are kept (in __pycache__, which git ignores) even where the
# environment says not to: a test run starts some 400 processes of the service,
# each of which would compile the project's modules again.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install run report test unit integration lint bench requirements clean

# Exactly the pinned, hash-checked versions of requirements.txt, then the
# project itself on top of them. uv installs them (in seconds, where pip takes
# half a minute); it is itself installed by pip into the same .venv.
UV_VERSION := 0.13.9
UV := VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/uv

$(BIN)/.installed: pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip install --quiet --require-hashes -r requirements.txt
	$(UV) pip install --quiet --no-deps -e .
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

# The suite's tests mostly wait on real services and processes: four test
# processes keep both cores busy. A module's tests run in one of them: they
# share its module-scoped stacks, and those of the machine's RabbitMQ its queue.
# Modules are handed out longest first (tests/integration/conftest.py), not by their number of tests.
TEST_PROCESSES ?= 4

test: lint
	$(BIN)/pytest -n $(TEST_PROCESSES) --dist loadfile --no-loadscope-reorder

bench: install
	$(BIN)/python -m benchmarks.bench_report

# Re-pin every dependency (all extras) after a change to pyproject.toml.
requirements: install
	$(UV) pip compile --quiet --generate-hashes --all-extras --python-version 3.11 \
		--output-file requirements.txt pyproject.toml

clean:
	rm -rf var .mypy_cache .pytest_cache .hypothesis

# adpilot: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
BENCH_OUT ?= bench-results

.PHONY: install test lint typecheck pytest demo bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

# The demo arrives with the agent (issue 5); until then this says so instead of pretending.
demo: install
	@echo "make demo: the end-to-end demo (sandbox + sync + agent) is not built yet; see README 'Status'." >&2
	@exit 2

bench: install
	mkdir -p $(BENCH_OUT)
	$(BIN)/adpilot bench warehouse --json $(BENCH_OUT)/warehouse.json
	$(BIN)/adpilot-sandbox bench --json $(BENCH_OUT)/sandbox.json
	$(BIN)/adpilot bench sync --json $(BENCH_OUT)/sync.json

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache $(BENCH_OUT)

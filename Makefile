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

# The demo market in-process on DuckDB, in its own workspace (.adpilot-demo), emptied first.
DEMO_DIR ?= $(CURDIR)/.adpilot-demo
demo: install
	ADPILOT_DATA_DIR=$(DEMO_DIR) $(BIN)/adpilot demo --reset

bench: install
	mkdir -p $(BENCH_OUT)
	$(BIN)/adpilot bench warehouse --json $(BENCH_OUT)/warehouse.json
	$(BIN)/adpilot-sandbox bench --json $(BENCH_OUT)/sandbox.json
	$(BIN)/adpilot bench sync --json $(BENCH_OUT)/sync.json
	$(BIN)/adpilot bench policies --seeds 20 --json $(BENCH_OUT)/policies.json

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache $(BENCH_OUT) .adpilot-demo

# o2c_pipeline — the two commands a new user needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Local state, shared with the `o2c` CLI run anywhere in this checkout (o2c_pipeline.settings):
# O2C_HOME=/elsewhere make run keeps a second, private state.
export O2C_HOME ?= $(CURDIR)/.o2c
export O2C_SANDBOX_HOME ?= $(O2C_HOME)/sandbox
export O2C_WAREHOUSE ?= $(O2C_HOME)/warehouse.duckdb
export O2C_CHECKPOINT_URL ?= sqlite:///$(O2C_HOME)/checkpoints.sqlite
export DAGSTER_HOME ?= $(O2C_HOME)/dagster_home
# Ports: the sandbox's Salesforce and NetSuite servers (default 47443/47444, or free ones when a
# second checkout's sandbox holds those) and the Dagster UI.
export O2C_SF_PORT O2C_NS_PORT
O2C_UI_PORT ?= 3000
PYTEST_WORKERS ?= 2

.PHONY: run test ui sandbox sandbox-stop lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[sandbox,dev]'
	touch $(STAMP)

## run: set everything up, start the sandbox if none is running, sync its whole history, print a summary
run: $(STAMP) sandbox
	mkdir -p $(DAGSTER_HOME)
	cp -n dagster.yaml $(DAGSTER_HOME)/dagster.yaml 2>/dev/null || true
	eval "$$($(BIN)/o2c sandbox credentials)" && $(BIN)/o2c run --history

## sandbox: start this checkout's sandbox in the background unless it already runs
sandbox: $(STAMP)
	@$(BIN)/python -m o2c_sandbox.ensure_running --state-dir "$(O2C_SANDBOX_HOME)"

sandbox-stop: $(STAMP)
	@$(BIN)/python -m o2c_sandbox.ensure_running --state-dir "$(O2C_SANDBOX_HOME)" --stop

## ui: the sandbox plus the Dagster UI on http://127.0.0.1:$(O2C_UI_PORT)
ui: $(STAMP) sandbox
	mkdir -p $(DAGSTER_HOME)
	cp -n dagster.yaml $(DAGSTER_HOME)/dagster.yaml 2>/dev/null || true
	# from DAGSTER_HOME, so that dagster dev does not warn about the checkout's dagster.yaml template
	eval "$$($(BIN)/o2c sandbox credentials)" && cd $(DAGSTER_HOME) && \
	  PYTHONWARNINGS=ignore::Warning:click.core $(CURDIR)/$(BIN)/dagster dev \
	  -w $(CURDIR)/workspace.yaml -h 127.0.0.1 -p $(O2C_UI_PORT)

## test: the whole suite (what CI runs)
test: $(STAMP)
	$(BIN)/ruff check o2c_pipeline o2c_pipeline_tests o2c_sandbox o2c_sandbox_tests benchmarks
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadscope -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check o2c_pipeline o2c_pipeline_tests o2c_sandbox o2c_sandbox_tests benchmarks
	$(BIN)/ruff format --check o2c_pipeline o2c_pipeline_tests o2c_sandbox o2c_sandbox_tests benchmarks

## bench: the performance benchmarks (large world; minutes)
bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(O2C_HOME) $(VENV)

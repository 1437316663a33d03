# Tenantry developer commands. `make help` lists them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The peer app of bench.peer: its own virtualenv, its pins conflict with ours (pyproject.toml).
PEER_VENV := $(VENV)/peer
PEER_STAMP := $(PEER_VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help run test lint format bench soak lock clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

# The pinned lock of .venv, made by `make lock` from pyproject.toml: the runtime and dev
# dependencies, and bench's on top of them (mypy and two tests import bench/, so .venv has both).
DEV_LOCK := requirements/dev.txt
BENCH_LOCK := requirements/bench.txt
COMPILE := $(BIN)/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --allow-unsafe

$(STAMP): pyproject.toml $(DEV_LOCK) $(BENCH_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(DEV_LOCK) -r $(BENCH_LOCK)
	$(BIN)/python -m pip install --quiet -e . --no-deps
	touch $(STAMP)

$(PEER_STAMP): pyproject.toml | $(STAMP)
	$(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEER_VENV)/bin/python -m pip install --quiet --group bench-peer
	touch $(PEER_STAMP)

run: $(STAMP) ## install, migrate and serve on http://localhost:8000 (embedded SQLite)
	TENANTRY_LOG_JSON=$${TENANTRY_LOG_JSON:-false} $(BIN)/tenantry serve --host 127.0.0.1 --port 8000

lint: $(STAMP) ## ruff check, ruff format --check, mypy --strict
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint ## lint, then the whole test suite on SQLite and PostgreSQL (installs chromium if missing)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium) \
		|| echo 'WARNING: chromium could not be installed; browser tests skip (and fail under CI=true)'
	$(BIN)/pytest -q

format: $(STAMP) ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

bench: $(STAMP) $(PEER_STAMP) ## run the benchmarks, rewrite docs/benchmarks.md (installs wrk if missing)
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench

soak: $(STAMP) ## 10 min of mixed traffic on SQLite, then PostgreSQL; fails on a missed target
	$(BIN)/python -m bench.soak --minutes 10

lock: | $(STAMP) ## re-pin requirements/ from pyproject.toml (LOCK_FLAGS=--upgrade for newer indirect pins)
	$(COMPILE) $(LOCK_FLAGS) --extra dev -o $(DEV_LOCK) pyproject.toml
	$(COMPILE) $(LOCK_FLAGS) --extra bench -c $(DEV_LOCK) -o $(BENCH_LOCK) pyproject.toml

clean: ## remove the virtualenv and local data
	rm -rf $(VENV) .tenantry .pytest_cache .mypy_cache .ruff_cache

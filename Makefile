# Every target honours the environment (HOST, PORT and every setting in .env.example).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install install-node demo run test test-fast lint format clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

# The Cosmos DB tests run against @vercel/cosmosdb-server (Node.js 20+), pinned in package-lock.json.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $(NODE_STAMP)

install: $(STAMP) ## Create .venv and install the project with its test tools

install-node: $(NODE_STAMP) ## Install the Cosmos DB test server (needs Node.js 20+ and npm)

demo: install ## Run the service against the bundled fake Reddit (Ctrl-C stops both)
	$(BIN)/python -m reddit_sentiment demo

run: install ## Run the service against real Reddit (credentials from .env)
	$(BIN)/python -m reddit_sentiment serve

# Without npm the Cosmos DB tests are skipped (each skip says what to install); CI requires them.
test: install $(if $(shell command -v npm),install-node) ## Run the whole test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

FAST := not recorded and not cosmos and not browser and not processes and not slow
test-fast: install ## The tests that need no Node, chromium, ../shared or child processes (< 1 min)
	$(BIN)/python -m pytest -m "$(FAST)" $(PYTEST_ARGS)

.PHONY: load bench soak
load: install ## Load test: locust at 50 then 200 users while collecting; verdict, reports in results/load
	$(BIN)/python -m tests.performance.run_load

bench: install ## Benchmarks as ratios against the machine's limits; writes bench/results.json
	$(BIN)/python -m bench

soak: install ## Soak: 200 one-second cycles, one service; RSS/fds/threads, runs, items; results/soak.json
	$(BIN)/python -m bench.soak

lint: install ## ruff and mypy
	$(BIN)/ruff check backend tests
	$(BIN)/ruff format --check backend tests
	$(BIN)/mypy

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix backend tests
	$(BIN)/ruff format backend tests

clean: ## Remove the venv and local data
	rm -rf $(VENV) node_modules data .pytest_cache .mypy_cache .ruff_cache

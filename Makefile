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

# The fake Reddit (devtools/) is a development tool outside the product wheel; pip cannot name
# it by relative path in the dev extra, so it is installed here beside it.
$(STAMP): pyproject.toml devtools/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]" -e ./devtools
	@touch $(STAMP)

# The Cosmos DB tests run against @vercel/cosmosdb-server (Node.js 20+), pinned in package-lock.json.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $(NODE_STAMP)

install: $(STAMP) ## Create .venv and install the project, its test tools and the fake Reddit

install-node: $(NODE_STAMP) ## Install the Cosmos DB test server (needs Node.js 20+ and npm)

demo: install ## Run the service against the fake Reddit (devtools/) (Ctrl-C stops both)
	$(BIN)/python -m reddit_sentiment demo

run: install ## Run the service against real Reddit (credentials from .env)
	$(BIN)/python -m reddit_sentiment serve

# The suite runs in two phases, both every time: first every test not marked `serial` under
# pytest-xdist, TEST_WORKERS processes (each starts its own Cosmos DB test server and fake
# Reddits on free ports); then the `serial` ones, which assert a wall-clock bound that a busy
# neighbour would break, alone in one process. The target fails with the first failing phase's
# exit code, and with 5 (no test ran) only when neither phase ran a test, so PYTEST_ARGS may
# select tests that are all in one phase. Why 2 workers and worksteal: README, "Tests".
TEST_WORKERS ?= 2
TEST_DIST ?= worksteal
# $(1): the selection both phases share.
define test_phases
	@$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist $(TEST_DIST) --phase parallel $(1) \
	    $(PYTEST_ARGS); parallel=$$?; \
	$(BIN)/python -m pytest --phase serial $(1) $(PYTEST_ARGS); serial=$$?; \
	echo "tests: parallel phase exit $$parallel, serial phase exit $$serial"; \
	for status in $$parallel $$serial; do \
	    case $$status in 0|5) ;; *) exit $$status ;; esac; \
	done; \
	if [ "$$parallel$$serial" = 55 ]; then echo "tests: no test ran" >&2; exit 5; fi
endef

# Without npm the Cosmos DB tests are skipped (each skip says what to install); CI requires them.
test: install $(if $(shell command -v npm),install-node) ## Run the whole test suite
	$(call test_phases,)

FAST := not recorded and not cosmos and not browser and not processes and not slow
test-fast: install ## The tests that need no Node, chromium, ../shared or child processes (< 1 min)
	$(call test_phases,-m "$(FAST)")

.PHONY: load bench soak
load: install ## Load test: locust at 50 then 200 users while collecting; verdict, reports in results/load
	$(BIN)/python -m tests.performance.run_load

bench: install ## Benchmarks as ratios against the machine's limits; writes bench/results.json
	$(BIN)/python -m bench

soak: install ## Soak: 200 one-second cycles, one service; RSS/fds/threads, runs, items; results/soak.json
	$(BIN)/python -m bench.soak

lint: install ## ruff and mypy
	$(BIN)/ruff check backend devtools tests bench
	$(BIN)/ruff format --check backend devtools tests bench
	$(BIN)/mypy

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix backend devtools tests bench
	$(BIN)/ruff format backend devtools tests bench

clean: ## Remove the venv and local data
	rm -rf $(VENV) node_modules data .pytest_cache .mypy_cache .ruff_cache

# Every target honours the environment (HOST, PORT and every setting in .env.example).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install demo run test lint format clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the project with its test tools

demo: install ## Run the service against the bundled fake Reddit (Ctrl-C stops both)
	$(BIN)/python -m reddit_sentiment demo

run: install ## Run the service against real Reddit (credentials from .env)
	$(BIN)/python -m reddit_sentiment serve

test: install ## Run the whole test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install ## ruff and mypy
	$(BIN)/ruff check backend tests
	$(BIN)/ruff format --check backend tests
	$(BIN)/mypy

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix backend tests
	$(BIN)/ruff format backend tests

clean: ## Remove the venv and local data
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache

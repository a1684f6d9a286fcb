# loyalty-ledger developer commands. Every target installs what it needs first.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install demo up down test test-unit lint typecheck schemas bench chaos clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found; install Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)  ## Create .venv and install the project with its dev tools

demo: $(STAMP)  ## Run the main job end to end on the embedded local stack
	$(BIN)/python -m services.devstack demo

up: $(STAMP)  ## Start the local stack in the background and print its ports
	$(BIN)/python -m services.devstack up

down: $(STAMP)  ## Stop the local stack started by 'make up'
	$(BIN)/python -m services.devstack down

test: $(STAMP)  ## Lint, type-check and run every test against real Postgres, broker and SMTP
	$(BIN)/ruff check services schemas tests
	$(BIN)/mypy
	$(BIN)/pytest

test-unit: $(STAMP)  ## Run the unit tests only (no services needed)
	$(BIN)/pytest tests/unit

lint: $(STAMP)  ## Run ruff
	$(BIN)/ruff check services schemas tests

typecheck: $(STAMP)  ## Run mypy in strict mode
	$(BIN)/mypy

schemas: $(STAMP)  ## Regenerate the JSON Schema files from the pydantic models
	$(BIN)/python -m schemas.export

bench: $(STAMP)  ## Measure consumer and rebuild throughput against same-run baselines
	$(BIN)/python -m tests.bench

chaos: $(STAMP)  ## Send 20,000 webhooks while killing consumers; check exactly-once and emails (about 2 min)
	$(BIN)/python -m services.devstack.chaos --emails

clean:  ## Remove the virtualenv, caches and local stack state
	rm -rf $(VENV) .stack .pytest_cache .mypy_cache .ruff_cache .hypothesis

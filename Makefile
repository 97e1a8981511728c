# The two set-up commands (README): `make demo` and `make test`. Each bootstraps .venv itself.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck sqllint pytest clean benchmark-load benchmark-migrate venv chromium

venv: $(STAMP)

$(STAMP): pyproject.toml sandbox/pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e ./sandbox
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/flytt demo

test: $(STAMP) lint typecheck sqllint pytest

lint: $(STAMP)
	$(BIN)/ruff check flytt loaders syncd exposure sandbox benchmarks tests
	$(BIN)/ruff format --check flytt loaders syncd exposure sandbox benchmarks tests

typecheck: $(STAMP)
	$(BIN)/mypy

sqllint: $(STAMP)
	eval "$$($(BIN)/flytt env)" && cd dbt_project && ../$(BIN)/sqlfluff lint --processes 2 models macros tests

pytest: $(STAMP) chromium
	$(BIN)/pytest --basetemp=.pytest-tmp

clean:
	rm -rf $(VENV) .flytt dbt_project/target dbt_project/logs

# The dbt docs test (tests/dbt/test_docs.py) opens the docs site in Debian's headless Chromium.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = "0" ]; then apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; \
		else echo "error: /usr/bin/chromium is missing; run: sudo apt-get install -y chromium"; exit 1; fi; \
	fi

# The two set-up commands (README): `make demo` and `make test`. Each bootstraps .venv itself.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck sqllint pytest clean benchmark-load benchmark-migrate venv chromium test-browser

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

# The browser smoke test of the docs site is left to `make test-browser` (pytest reports it as
# deselected); every other docs check reads dbt's manifest.json and catalog.json.
pytest: $(STAMP)
	$(BIN)/pytest --basetemp=.pytest-tmp -m "not browser"

test-browser: $(STAMP) chromium
	$(BIN)/pytest --basetemp=.pytest-tmp -m browser

clean:
	rm -rf $(VENV) .flytt dbt_project/target dbt_project/logs

# The docs-site smoke test (tests/dbt/test_docs.py, marker `browser`) opens the site in Debian's
# headless Chromium; only `make test-browser` needs it.
chromium:
	@if [ ! -x /usr/bin/chromium ] && ! command -v chromium >/dev/null; then \
		if [ "$$(id -u)" = "0" ]; then apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; \
		else echo "error: /usr/bin/chromium is missing; run: sudo apt-get install -y chromium"; exit 1; fi; \
	fi

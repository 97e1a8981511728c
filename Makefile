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

# The whole suite, browser tests included (marker `browser`: the docs site and the daemon's
# status page in headless Chromium). `chromium` installs Debian's package when it can; without
# it the browser tests are skipped with a hint, except with CI=true, where they fail.
pytest: $(STAMP) chromium
	$(BIN)/pytest --basetemp=.pytest-tmp

test-browser: $(STAMP) chromium
	$(BIN)/pytest --basetemp=.pytest-tmp -m browser

clean:
	rm -rf $(VENV) .flytt dbt_project/target dbt_project/logs

# Debian's Chromium for the browser tests (tests/dbt/test_docs.py, the status page). Installed
# when this runs as root; otherwise (or when apt-get fails) a warning, and pytest skips those
# tests with the same hint (CI=true turns the skip into a failure).
chromium:
	@if [ ! -x /usr/bin/chromium ] && ! command -v chromium >/dev/null; then \
		if [ "$$(id -u)" = "0" ]; then \
			apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } \
			|| echo "warning: apt-get could not install chromium; the browser tests will be skipped"; \
		else echo "warning: /usr/bin/chromium is missing, so the browser tests will be skipped; run: sudo apt-get install -y chromium"; fi; \
	fi

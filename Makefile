# Qiaosi Cloud Cockpit — the two commands a newcomer runs: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV   ?= .venv
PY     := $(VENV)/bin/python
TEST_WORKERS ?= 3
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint bench clean install

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null || \
	  { echo "needs Python 3.11 (python3.11 on PATH, or PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

## Run the cockpit on its embedded default (embedded Redis, SQLite, replayed real feed)
demo: $(STAMP)
	@scripts/ensure-report-deps
	$(VENV)/bin/cockpit demo

## Run every test (unit, integration against Redis/SQLite/PostgreSQL, browser in chromium)
test: $(STAMP)
	@scripts/ensure-test-deps
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -ra -n $(TEST_WORKERS) --dist worksteal

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) bench/ingest.py
	$(PY) bench/latency.py
	$(PY) bench/load.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache

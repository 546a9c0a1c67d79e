# Qiaosi Cloud Cockpit — the two commands a newcomer runs: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint bench clean install

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "needs $(PYTHON) (Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

## Run the cockpit on its embedded default (embedded Redis, SQLite, replayed real feed)
demo: $(STAMP)
	$(VENV)/bin/cockpit demo

## Run every test (unit, integration against Redis/SQLite/PostgreSQL, browser in chromium)
test: $(STAMP)
	@scripts/ensure-test-deps
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -ra

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) bench/ingest.py
	$(PY) bench/latency.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache

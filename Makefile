# Linli: `make run` serves the app with demo data; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app app
STAMP := $(VENV)/.installed
PO := $(wildcard app/translations/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)

.PHONY: run test lint install translations db demo browser-deps extract-messages clean bench bench-deps serve

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

%.mo: %.po $(STAMP)
	$(VENV)/bin/pybabel compile --use-fuzzy -i $< -o $@ >/dev/null

translations: $(MO)

db: install translations
	$(FLASK) db upgrade

demo: db
	$(FLASK) demo-data

run: demo
	@echo "Linli is starting at http://127.0.0.1:5000 (demo log-ins are in README.md)"
	@$(FLASK) scheduler & scheduler=$$!; \
	  trap 'kill $$scheduler 2>/dev/null' EXIT INT TERM; \
	  $(FLASK) run --host 127.0.0.1 --port 5000

# Production (docs/deploy.md): configuration only from the environment (DATABASE_URL, SECRET_KEY, …),
# checked first (one line per problem, nothing started); then `flask db upgrade`, gunicorn serving
# app:create_app() with LINLI_WORKERS workers on LINLI_BIND, and the one scheduler; Ctrl-C stops both.
serve: install translations
	@LINLI_ENV=production $(PY) -m app.serve

# Debian's Chromium for the browser tests (Playwright drives it; no browser download), and
# axe-core from npm (package-lock.json) for their accessibility checks.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }
	@test -f node_modules/axe-core/axe.min.js || { \
	  command -v npm >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }; \
	  npm ci --no-audit --no-fund; }

# ruff, then the import contracts in pyproject.toml (layers app <- providers <- ratings <- billing;
# independent sub-domains) with import-linter.
lint: install
	$(VENV)/bin/ruff check app providers ratings billing tests
	$(VENV)/bin/lint-imports --no-cache

test: install translations browser-deps lint
	$(PY) -m pytest
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
	  echo "=== again on PostgreSQL ($$TEST_DATABASE_URL) ==="; \
	  LINLI_TEST_ON_POSTGRES=1 $(PY) -m pytest; \
	fi

# Every benchmark (docs/performance.md) on PostgreSQL (BENCH_DATABASE_URL, default the local
# linli_bench, dropped and made again) at two sizes (BENCH_SCALES, default "0.1 1"; 1 = 10,000
# providers, 50,000 listings, 1,000,000 bookings): the evaluator, a monthly settlement, catalogue
# search through gunicorn + wrk, booking creation.  Prints the table; writes bench/results.json.
BENCH_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/linli_bench
bench: install translations bench-deps
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) -m bench.run

# gunicorn (a dependency; installed if an older .venv lacks it) and Debian's wrk for make bench.
bench-deps: install
	@$(PY) -c 'import gunicorn' 2>/dev/null || $(PY) -m pip install --quiet gunicorn
	@command -v wrk >/dev/null 2>&1 || { \
	  echo "Installing Debian's wrk for the web benchmark"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

extract-messages: install
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o app/translations/messages.pot . >/dev/null
	$(VENV)/bin/pybabel update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) instance test-artifacts .pytest_cache node_modules

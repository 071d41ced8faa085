# Linli: `make run` serves the app with demo data; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app app
STAMP := $(VENV)/.installed
PO := $(wildcard app/translations/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)

.PHONY: run test lint install lock translations db demo browser-deps extract-messages clean bench bench-deps serve

# requirements.lock pins every dependency (dev ones too) at the version CI tested, with the
# sha256 of each file PyPI has for it; pip refuses anything else.  The project itself then
# installs with --no-deps, so nothing unpinned comes in.
$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# After changing a dependency in pyproject.toml and installing it into .venv (and testing it):
# write requirements.lock again from the versions .venv has, with hashes (pip-tools, in a
# throwaway virtualenv of its own; it asks PyPI for the hashes).
LOCK_VENV := /tmp/linli-lock-venv
lock:
	test -x $(PY) || { echo "make lock reads the versions of a working .venv: make install first"; exit 1; }
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet pip-tools
	$(PY) -m pip freeze --exclude-editable > $(LOCK_VENV)/tested.txt
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --extra dev \
	  --strip-extras --no-emit-index-url --no-emit-find-links -c $(LOCK_VENV)/tested.txt \
	  --output-file requirements.lock pyproject.toml
	sed -i 's|-c $(LOCK_VENV)/tested.txt|-c the tested .venv (make lock)|' requirements.lock

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

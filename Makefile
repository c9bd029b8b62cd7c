# QualExam: `make run` serves the demo district; `make test` runs the whole suite. Both install into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install translations run test test-faults test-browser browser-deps pdf-fonts lint fmt extract-messages bench

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || { echo "Creating $(VENV) with $(PYTHON)…"; $(PYTHON) -m venv $(VENV); }
	@echo "Installing the Python packages into $(VENV) (about 30 s the first time)…"
	@$(BIN)/pip install --quiet --progress-bar off --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP) translations pdf-fonts-notice pdf-fonts

## Say so before pdf-fonts runs apt-get as root: a minute of silence is otherwise a mystery.
.PHONY: pdf-fonts-notice
pdf-fonts-notice:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ -z "$$QE_PDF_FONT" ] \
	  && ! fc-list 2>/dev/null | grep -qi 'Noto Sans CJK'; then \
	  echo "Running as root: installing Debian's fonts-noto-cjk with apt-get (Chinese in PDFs; about a minute)…"; fi

## PDFs (certificates, archives) embed a CJK font: Debian's Noto CJK, installed when run as root (or set QE_PDF_FONT).
## The PDF rendering test (tests/reports/test_pdf_rendering.py) looks at them with poppler-utils' pdftoppm/pdftotext.
pdf-fonts:
	@if { fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' || [ -n "$$QE_PDF_FONT" ]; } && command -v pdftoppm >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk poppler-utils >/dev/null; \
	else echo "Note: install fonts-noto-cjk (a CJK font for PDFs, or set QE_PDF_FONT) and poppler-utils (as root)."; fi

## Compile the .po catalogues (kept in git) into .mo files (not kept).
translations: $(STAMP)
	@$(BIN)/pybabel -q compile -d translations
	@test -f translations/zh_Hans_CN/LC_MESSAGES/messages.mo

## Serve on http://127.0.0.1:5000 (plain HTTP, so the session cookie may not be marked Secure here).
## It ends with the demo accounts and the address, whatever came before.
run: install
	@echo "Migrating the database…"
	@QE_COOKIE_SECURE=0 QE_QUIET_MIGRATIONS=1 $(FLASK) db upgrade
	@QE_COOKIE_SECURE=0 QE_ALLOW_DEMO=1 $(FLASK) demo load --if-empty
	@echo "QualExam: open http://$(HOST):$(PORT)/ in a browser (Ctrl+C stops the server and its job worker)."
	@QE_COOKIE_SECURE=0 $(FLASK) jobs worker --quiet & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	  QE_COOKIE_SECURE=0 QE_PUBLIC_URL=$${QE_PUBLIC_URL:-http://$(HOST):$(PORT)} $(FLASK) run --host $(HOST) --port $(PORT)

## The whole suite; the database is SQLite unless TEST_DATABASE_URL names a PostgreSQL server. It runs in
## TEST_WORKERS processes (pytest-xdist; each with a database and a browser of its own); TEST_WORKERS=0 runs it in
## this one process.
TEST_WORKERS ?= 2
test: install
	$(BIN)/pytest -n $(TEST_WORKERS)

## The fault tests (tests/faults): gunicorn killed mid-exam, PostgreSQL stopped during saves, two nodes over one
## database with Redis, backup and restore. They start a PostgreSQL cluster and a Redis of their own (initdb and
## redis-server from Debian's packages: installed, not necessarily running); a few minutes.
test-faults: install browser-deps
	$(BIN)/pytest -m faults tests/faults

## Only the real-browser tests (installs Debian's Chromium first when run as root).
test-browser: install browser-deps
	TEST_REQUIRE_BROWSER=1 $(BIN)/pytest -m "browser and not faults"

browser-deps:
	@if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi 'Noto Sans CJK'; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	else echo "Install Debian's chromium and fonts-noto-cjk (as root) to run the browser tests."; exit 1; fi

## Benchmarks (SQLite, and PostgreSQL at BENCH_PG_URL or the local server); results are added to bench/RESULTS.md,
## newest first. The load benchmark (bench_load.py) serves QualExam and the limit app with gunicorn: the closed loop
## of whole candidates, then the phases, and ends with issue 23's targets beside the figures: about 30 minutes with
## the rest. `bench/bench_load.py --quick` checks its harness in a few minutes; --workers/--threads/--worker-class
## compare serving choices. The practice benchmark (bench_practice.py, issue 24) serves QualExam to 1,000 cadres
## practising at once and times one answer in process: about 10 minutes; `--quick` checks it in about a minute.
## The snapshot benchmark (bench_snapshots.py, issue 25) uploads camera snapshots beside the autosaves: bytes stored,
## the write rate, the saves' p99 with and without: about 12 minutes a database; `--quick` in about 2.
## The .lrmx benchmark (bench_lrmx.py, issue 26) checks and imports 5,000 forms in one zip into existing cadres,
## then 5,000 of new people: about 1.5 minutes a database.
## The admin API benchmark (bench_admin_api.py, issue 26) syncs 5,000 cadres through the API (new, unchanged,
## changed) and reads them back: about 2 minutes a database.
bench: install
	$(BIN)/python bench/bench_question_bank.py --db both --write
	$(BIN)/python bench/bench_exam.py --db both --write
	$(BIN)/python bench/bench_guards.py --db both --write
	$(BIN)/python bench/bench_archive.py --db both --write
	$(BIN)/python bench/bench_reports.py --db both --write
	$(BIN)/python bench/bench_exports.py --db both --write
	$(BIN)/python bench/bench_dashboard.py --db both --write
	$(BIN)/python bench/explain_hot_queries.py --db both --write
	$(BIN)/python bench/bench_result.py --db both --write
	$(BIN)/python bench/profile_hot_paths.py --db postgresql --write
	$(BIN)/python bench/bench_load.py --db both --write
	$(BIN)/python bench/bench_practice.py --db both --write
	$(BIN)/python bench/bench_snapshots.py --db both --write
	$(BIN)/python bench/bench_lrmx.py --db both --write
	$(BIN)/python bench/bench_admin_api.py --db both --write

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Refresh the catalogues after changing visible strings; then translate the new entries in the zh_Hans_CN .po.
extract-messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 -k pgettext:1c,2 -k npgettext:1c,2,3 \
		--ignore-dirs '.* __pycache__' --no-location --sort-output -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete

# StandStrong: `make run` serves the API and runs the scheduler on SQLite; `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
PORT   ?= 5000
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/standstrong_test
PYTEST_ARGS ?=
export FLASK_APP := wsgi.py

.PHONY: run test test-pg test-browser bench bench-endpoints spec translations migrate venv clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

migrate: venv
	$(BIN)/flask db upgrade

run: migrate
	$(BIN)/flask seed
	$(BIN)/flask demo
	$(BIN)/honcho start -f Procfile -p $(PORT)

# SQLite whatever the environment holds: a TEST_DATABASE_URL exported for test-pg would otherwise
# send this run to PostgreSQL too (and, in .ci/run, both runs to the same database at once).
test: venv
	env -u TEST_DATABASE_URL $(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-pg: venv
	$(BIN)/python -m tests.pg_database "$(TEST_DATABASE_URL)"
	TEST_DATABASE_URL="$(TEST_DATABASE_URL)" $(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The browser tests alone (tests/browser): installs Debian's chromium, chromium-driver and a CJK
# font first when they are missing (apt-get, as root). `make test` runs them too when they are there.
test-browser: venv
	.ci/install-browser
	$(BIN)/python -m pytest -q tests/browser $(PYTEST_ARGS)

bench: venv
	$(BIN)/python bench/run_all.py

bench-endpoints: venv
	cd bench && ../$(BIN)/python bench_endpoints.py

spec: venv
	$(BIN)/flask spec

# The console's texts: extract them, merge into the zh-CN catalogue (translate what is new or
# fuzzy there), compile. tests/test_console_translations.py fails while one is missing.
CONSOLE_I18N := app/console/translations
translations: venv
	$(BIN)/pybabel extract -F app/console/babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
	  --omit-header -o $(CONSOLE_I18N)/messages.pot .
	$(BIN)/pybabel update -i $(CONSOLE_I18N)/messages.pot -d $(CONSOLE_I18N) --width 100 --ignore-obsolete
	$(BIN)/pybabel compile -d $(CONSOLE_I18N)

clean:
	rm -rf $(VENV) instance .pytest_cache

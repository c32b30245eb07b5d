# Two commands for a newcomer: `make run` and `make test`. `make bench` prints the figures.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 5000
STAMP := $(VENV)/.installed

.PHONY: run test bench lint clean system-deps demo catalogs browser-deps

# The end of a recipe that has put the Debian packages it lacks in $$missing: installs them when
# run as root (apt-get update first), else names them.
INSTALL_MISSING = if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (run as root, or apt-get install them)"; fi; \
	fi

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/intake db upgrade
	-$(VENV)/bin/intake archive repair
	$(VENV)/bin/intake serve --host 127.0.0.1 --port $(PORT)

# Debian packages the tests drive for real: pdftoppm (README page image), pdfinfo and pdffonts
# and qpdf (each archived consent checked by PDF tools not written here), Chromium, PostgreSQL.
system-deps:
	@missing=""; \
	command -v pdftoppm >/dev/null && command -v pdffonts >/dev/null \
	  || missing="$$missing poppler-utils"; \
	command -v qpdf >/dev/null || missing="$$missing qpdf"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="$$missing postgresql"; \
	$(INSTALL_MISSING)

# axe-core from npm, which the browser tests inject into every page (tests/support/axe.py).
AXE := tests/axe/node_modules/axe-core/axe.min.js
# FHIR.js (the `fhir` package) from npm: the FHIR export's second validator
# (tests/support/fhir_validators.py).
FHIR_JS := tests/fhir-validator/node_modules/fhir/index.js
browser-deps:
	@command -v npm >/dev/null || { missing=" npm"; $(INSTALL_MISSING); }
	@test -f $(AXE) || (cd tests/axe && npm ci --no-audit --no-fund --silent)
	@test -f $(FHIR_JS) || (cd tests/fhir-validator && npm ci --no-audit --no-fund --silent)

# Three pytest workers on two cores: the tests spend about a third of their time waiting on the
# servers, browsers and commands they start, so a third worker fills it (13:57 against 14:57 with
# two, 3,878 tests); `worksteal` hands a worker that runs dry the tests another still holds.
test: $(STAMP) system-deps browser-deps
	$(VENV)/bin/ruff check intake tests bench
	$(VENV)/bin/ruff format --check intake tests bench
	$(VENV)/bin/pytest -n 3 --dist worksteal

# The performance figures, then one table (bench/run.py; BENCHMARKS.md). BENCH_QUICK=1 leaves out the
# 1M-consent archive and runs the scale part (8) at 1,000 and 3,000 consents. WeasyPrint (the HTML route of part 1) is the `bench` extra, on Debian's
# pango; PostgreSQL is the second archive backend.
bench: $(STAMP)
	@missing=""; \
	ls /usr/lib/*/libpango-1.0.so.0 >/dev/null 2>&1 || missing="$$missing libpango-1.0-0"; \
	ls /usr/lib/*/libpangoft2-1.0.so.0 >/dev/null 2>&1 || missing="$$missing libpangoft2-1.0-0"; \
	ls /usr/lib/*/libharfbuzz-subset.so.0 >/dev/null 2>&1 || missing="$$missing libharfbuzz-subset0"; \
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="$$missing postgresql"; \
	$(INSTALL_MISSING)
	$(PY) -c 'import weasyprint' 2>/dev/null || $(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m bench.run

demo: $(STAMP)
	$(VENV)/bin/intake render --demo --out demo.pdf

lint: $(STAMP)
	$(VENV)/bin/ruff check intake tests bench
	$(VENV)/bin/ruff format --check intake tests bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache test-artifacts

# The message catalogs: extract every msgid from the code and templates into the .pot, merge it
# into each language's .po (translate what is new there), then compile the .mo files the app and
# the wheel read. tests/test_catalogs.py fails while a message is untranslated or fuzzy, or a .mo
# is older than its .po.
CATALOGS := intake/translations
catalogs: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k error:2 -k N_ -k lazy_gettext -k gettext_for:2 -k said_n:1,2 --no-location --sort-output --no-wrap \
	  --omit-header -o $(CATALOGS)/messages.pot .
	$(VENV)/bin/pybabel update -i $(CATALOGS)/messages.pot -d $(CATALOGS) --no-wrap --no-fuzzy-matching
	$(VENV)/bin/pybabel compile -d $(CATALOGS) --statistics

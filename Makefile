# The README's two commands:
#   make demo   install everything, build the site, release the assignments, grade the demo class
#   make test   install what the tests need and run them all (.ci/run calls exactly this)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO_OUT := _build/grades/warmup

.PHONY: demo test install site release grade-demo lint clean sandbox-deps browser-deps postgres-deps

# Debian packages, installed only when missing: bubblewrap (the grading sandbox) for grading,
# chromium for the browser tests, PostgreSQL for the gradebook tests.
APT := $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get
sandbox-deps:
	@command -v bwrap >/dev/null || { $(APT) update -qq && $(APT) install -y -qq bubblewrap; }
browser-deps:
	@command -v chromium >/dev/null || { $(APT) update -qq && $(APT) install -y -qq chromium; }
# PostgreSQL for the gradebook tests: the tests start their own server on loopback.
postgres-deps:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		|| { $(APT) update -qq && $(APT) install -y -qq postgresql; }

demo: site release grade-demo
	@echo
	@echo "Done. Where everything is:"
	@echo "  course site     _build/html/index.html   (serve it: $(BIN)/python -m http.server -d _build/html 8000, then open http://localhost:8000)"
	@echo "  student notebooks  assignments/<assignment>/"
	@echo "  demo grades     $(DEMO_OUT)/grades.csv"
	@echo "  feedback pages  $(DEMO_OUT)/feedback/<student_id>/warmup.html"
	@echo "  teacher report  $(DEMO_OUT)/report.html"
	@echo "  gradebook       $(DEMO_OUT)/gradebook.sqlite"

install: $(VENV)/.installed node_modules/.installed

# Re-installs whenever the pins or the package's metadata change.
$(VENV)/.installed: requirements.in constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.in -c constraints.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

# JavaScript the site ships itself instead of loading it from CDNs (require.js, widget manager, MathJax).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

node_modules/.vendored: node_modules/.installed book/vendor_js.py $(VENV)/.installed
	$(BIN)/python book/vendor_js.py
	touch $@

site: node_modules/.vendored
	$(BIN)/jupyter-book build . --builder html -W -n --keep-going

release: $(VENV)/.installed
	$(BIN)/autograder release

grade-demo: $(VENV)/.installed sandbox-deps
	$(BIN)/autograder grade warmup demo/warmup --out $(DEMO_OUT)
	$(BIN)/autograder review warmup --out $(DEMO_OUT) --import demo/warmup/ta_scores.csv

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: install node_modules/.vendored sandbox-deps browser-deps postgres-deps lint
	$(BIN)/python -m pytest

clean:
	rm -rf _build .jupyter_cache book/_vendor

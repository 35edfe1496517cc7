# Senior Gotchas: the single entry point. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
PY := $(BIN)/python
# nbgrader runs `alembic` from PATH when it creates a gradebook, so the venv's bin/ goes first.
export PATH := $(BIN):$(PATH)
export PYDEVD_DISABLE_FILE_VALIDATION := 1

CHAPTERS := $(notdir $(wildcard solutions/[0-9][0-9]-*))
STAMP := $(VENV)/.installed-stamp
VENDOR := book/_static/vendor/.stamp

.PHONY: help setup book test lint unit browser release release-check lab bench mutate clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (Senior Gotchas)" >/dev/null
	@# JupyterLab opens the MyST chapters (book/*.md) as notebooks through jupytext.
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	@echo '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}}}' > $(VENV)/share/jupyter/lab/settings/overrides.json
	@touch $@

$(VENDOR): package.json package-lock.json tools/vendor_static.py | $(STAMP)
	$(PY) tools/vendor_static.py

setup: $(STAMP) $(VENDOR) ## create .venv, install the course, vendor the offline JS
	@echo "environment ready: $(VENV)"

book: setup ## build the HTML book, executing every chapter
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "HTML book: $(CURDIR)/_build/html/index.html"

lint: setup ## ruff over the library, tests and tools
	$(BIN)/ruff check src tests tools
	$(BIN)/ruff format --check src tests tools

unit: setup ## library unit tests (fast)
	$(PY) -m pytest -q -m "not slow"

# Most of the suite waits on other processes (kernels, nbgrader, the judge's calls into the
# sandbox), so three workers keep two cores busy. One file runs on one worker (--dist loadfile):
# a module's course fixture is then built once, never twice at the same time.
TEST_JOBS ?= 3
test: setup lint browser ## everything CI checks: ruff, unit tests, nbval, graders vs mutants and attacks, release freshness, book build, offline rendering
	$(PY) -m pytest -q -n $(TEST_JOBS) --dist loadfile

# Headless Chromium proves the book renders offline. Installed from Debian's packages where we are
# root (CI) or have passwordless sudo; elsewhere the browser tests say they were skipped and why.
browser:
	@if [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; then bash tools/install_chromium.sh; \
	else echo "note: not root, so Chromium is not installed; the offline browser tests will skip"; fi

release: setup ## regenerate exercises/ from solutions/ with nbgrader
	$(PY) tools/release.py

release-check: setup ## fail if exercises/ differs from a fresh release
	$(PY) tools/release.py --check

lab: setup ## open the course in JupyterLab
	$(BIN)/jupyter lab --notebook-dir=.

bench: setup ## measure grading latency and exploration throughput (prints ratios)
	$(PY) tools/bench.py

mutate: setup ## mechanical mutants of every solution cell vs the graders (about 10 min)
	$(PY) tools/mutate.py

clean: ## remove build outputs (keeps .venv)
	rm -rf _build .pytest_cache .ruff_cache .hypothesis gradebook.db autograded submitted feedback

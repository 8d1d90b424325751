# Deep Learning Internals: every target sets itself up on a fresh machine.
#   make book     build the HTML book into _build/html
#   make test     unit tests, notebook tests (nbval strict), build and browser tests
#   make execute  re-execute every chapter in place, storing outputs and widget state
#   make lab      open the chapters in JupyterLab
#   make bench    python -m dlkit.bench

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JOBS ?= 2

.PHONY: all book test unit nbtest execute lab bench assets clean

all: book

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

venv: $(STAMP)

# Offline MathJax, require.js and the widget manager, from the npm registry.
assets: $(STAMP)
	$(PY) tools/assets.py

book: $(STAMP) assets
	rm -rf _build
	$(VENV)/bin/jupyter-book build -W -n --keep-going .
	@echo "The book is at $(CURDIR)/_build/html/index.html"

test: $(STAMP) assets
	$(PY) -m pytest -n $(JOBS) --dist loadfile tests chapters \
	    --nbval --nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout=300

unit: $(STAMP)
	$(PY) -m pytest -n $(JOBS) --dist loadfile tests

nbtest: $(STAMP)
	$(PY) -m pytest -n $(JOBS) --dist loadfile chapters \
	    --nbval --nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout=300

execute: $(STAMP)
	$(PY) tools/execute.py chapters

lab: $(STAMP)
	$(VENV)/bin/jupyter lab chapters

bench: $(STAMP)
	$(PY) -m dlkit.bench

clean:
	rm -rf _build .pytest_cache

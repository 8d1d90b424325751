# Deep Learning Internals: every target sets itself up on a fresh machine.
#   make book     build the HTML book into _build/html
#   make pdf      print the book into _build/pdf/book.pdf (make pdf-test checks it)
#   make test     ruff, unit tests, notebook tests (nbval strict), build and browser tests, then
#                 every chapter again under other numerics (tools/numerics.py)
#   make execute  re-execute every chapter in place, storing outputs and widget state
#   make lab      open the chapters in JupyterLab
#   make bench    python -m dlkit.bench

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
KERNELS := $(VENV)/.kernels-compiled
JOBS ?= 2

.PHONY: all book pdf pdf-test test lint unit nbtest nbtest-numerics execute lab bench assets kernels venv clean

all: book

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

venv: $(STAMP)

# Every Numba kernel compiled once into Numba's disk cache, so that no chapter, test or
# benchmark pays the compile time (again whenever the kernels' source changes).
# The generic-CPU build is the one the second nbval pass of `make test` runs.
$(KERNELS): $(STAMP) dlkit/kernels/cpu.py dlkit/kernels/warm.py
	$(PY) -m dlkit.kernels
	NUMBA_CPU_NAME=generic $(PY) -m dlkit.kernels
	touch $@

kernels: $(KERNELS)

# Offline MathJax, require.js and the widget manager, from the npm registry.
assets: $(STAMP)
	$(PY) tools/assets.py

book: $(STAMP) assets
	rm -rf _build
	$(VENV)/bin/jupyter-book build -W -n --keep-going .
	@echo "The book is at $(CURDIR)/_build/html/index.html"

# One PDF of the whole book in _build/pdf/book.pdf (tools/pdf.py): the HTML book (built
# first if a page is missing or older than its source) printed by headless Chromium.
pdf: $(STAMP) assets
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }
	@if $(PY) tools/pdf.py --stale; then $(MAKE) --no-print-directory book; fi
	$(PY) tools/pdf.py

# The PDF's page count, titles, typeset math and figures (poppler-utils, apt-get as root).
pdf-test: pdf
	@command -v pdftotext >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y poppler-utils; }
	$(PY) -m pytest -p no:cacheprovider tests/test_pdf.py

NBVAL := --nbval --nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout=300

test: $(KERNELS) assets lint
	$(PY) -m pytest -n $(JOBS) --dist loadfile tests chapters $(NBVAL)
	$(MAKE) --no-print-directory nbtest-numerics

# ruff: the lint rules and the one code format (line length 100, pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Every chapter again with one thread, Numba's generic CPU target and another OpenBLAS
# kernel: a cell whose checked output depends on the numerics fails here, not on a
# reader's machine.
nbtest-numerics: $(KERNELS)
	@$(PY) tools/numerics.py --explain
	env $$($(PY) tools/numerics.py) $(PY) -m pytest -n $(JOBS) --dist loadfile chapters $(NBVAL)

unit: $(KERNELS)
	$(PY) -m pytest -n $(JOBS) --dist loadfile tests

nbtest: $(KERNELS)
	$(PY) -m pytest -n $(JOBS) --dist loadfile chapters $(NBVAL)

execute: $(KERNELS)
	$(PY) tools/execute.py chapters

# JupyterLab refuses to start as root (most containers) unless told --allow-root.
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

# LAB_ARGS: more options for JupyterLab, e.g. LAB_ARGS="--port=8899 --no-browser".
LAB_ARGS ?=

lab: $(KERNELS)
	$(VENV)/bin/jupyter lab $(LAB_ROOT) --ip=127.0.0.1 $(LAB_ARGS) chapters

bench: $(KERNELS)
	$(PY) -m dlkit.bench

clean:
	rm -rf _build .pytest_cache

# galnb — the two set-up commands are `make demo` and `make test`; everything installs itself into .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.galnb-installed
NB_WORKERS ?= 2

.PHONY: help install demo test test-slow test-cuda check-sync readme check-readme docs-proc docs lab outputs clean

help:
	@echo "make demo       run galnb's main job on the embedded mock survey"
	@echo "make test       check notebooks/library/README are in sync, run notebook tests, docs processing and pytest"
	@echo "make test-slow  as make test, but also the notebook cells flagged #| slow"
	@echo "make lab        JupyterLab on nbs/ with the .venv Python as the galnb kernel"
	@echo "make docs       process the notebooks for the docs; build the site when Quarto is installed"
	@echo "make readme     regenerate README.md from nbs/index.ipynb"
	@echo "make outputs    execute the notebooks (fast path) and store their figures and tables in them"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the package metadata changes, so a second `make test` reuses .venv as it is.
$(STAMP): $(BIN)/python settings.ini setup.py
	$(BIN)/python -m pip install --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/galnb demo --quick --overwrite $(DEMO_ARGS)

# nbdev_export and nbdev_clean must leave the tree as committed: the library is generated from the notebooks.
check-sync: install
	@tools/tree_digest.sh > .sync-before
	@$(BIN)/nbdev_export
	@$(BIN)/nbdev_clean
	@tools/tree_digest.sh > .sync-after
	@if ! diff -q .sync-before .sync-after >/dev/null; then \
	  echo "nbdev_export/nbdev_clean changed these files (notebooks not clean or galnb/ out of sync); review and commit them:"; \
	  diff .sync-before .sync-after | grep '^>' | awk '{print "  " $$3}'; rm -f .sync-before .sync-after; exit 1; fi
	@rm -f .sync-before .sync-after
	@echo "notebooks clean, galnb/ in sync with nbs/"

readme: install
	$(BIN)/python tools/make_readme.py nbs/index.ipynb README.md

check-readme: install
	$(BIN)/python tools/make_readme.py nbs/index.ipynb README.md --check

# nbdev's docs processing without Quarto: renders every exported symbol's show_doc into _proc/.
docs-proc: install
	$(BIN)/python -c "from nbdev.serve import proc_nbs; proc_nbs(n_workers=0, force=True)"
	@echo "docs processing ok: _proc/"

docs: docs-proc
	@if command -v quarto >/dev/null 2>&1; then $(BIN)/nbdev_docs; \
	else echo "Quarto is not installed, so only the notebook processing ran (_proc/)."; \
	     echo "To build the site install Quarto (https://quarto.org/docs/get-started/) and run 'make docs' again."; fi

test: check-sync check-readme
	$(BIN)/nbdev_test --n_workers $(NB_WORKERS) --do_print
	$(MAKE) docs-proc
	$(BIN)/python -m pytest tests/

test-slow: check-sync check-readme
	$(BIN)/nbdev_test --n_workers $(NB_WORKERS) --flags slow --do_print
	$(MAKE) docs-proc
	$(BIN)/python -m pytest tests/ --runslow

test-cuda: install
	$(BIN)/nbdev_test --n_workers 1 --flags "slow cuda" --do_print

# Stored outputs are what GitHub and the docs site show; nbdev_clean keeps them and strips volatile metadata.
NOTEBOOKS ?= $(sort $(wildcard nbs/[0-9]*.ipynb))
outputs: install
	$(BIN)/python tools/run_notebooks.py $(NOTEBOOKS)
	$(BIN)/nbdev_clean

# The notebooks select the kernel named galnb; nbdev's Jupyter hook cleans a notebook on every save (jupyter_hooks).
lab: install
	$(BIN)/python -m ipykernel install --sys-prefix --name galnb --display-name galnb
	$(BIN)/nbdev_install_hooks
	cd nbs && ../$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root,) $(LAB_ARGS)

clean:
	rm -rf _proc _docs .pytest_cache

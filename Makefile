# FaceMirror: set-up and the two everyday commands.
#   make run    creates .venv, installs the app and opens the window
#   make test   creates .venv, installs the app with converter and dev extras, runs all tests
#   make lint   ruff (all code) and mypy (engine, video, stages, pipeline, outputs, ...)
#   make models installs the converter extras, downloads the STAR checkpoint (and the face
#               detector's, only if its model is missing) and converts them (needs internet)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: run test lint doctor models clean-venv

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[convert,cluster,stats,dev]'
	touch $@ $(VENV)/.installed-run $(VENV)/.installed-convert

$(VENV)/.installed-convert: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[convert]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(PY) main.py

doctor: $(VENV)/.installed-run
	$(PY) main.py doctor

# MODELS_ARGS: extra options for `models fetch` (e.g. --dest DIR, --overwrite).
models: $(VENV)/.installed-convert
	$(PY) main.py models fetch $(MODELS_ARGS)

# Two pytest-xdist workers (CI has 2 cores; TEST_WORKERS=N for another count, 0 for one process);
# tests/conftest.py keeps each module on one worker and starts the longest modules first.
TEST_WORKERS ?= 2
test: $(VENV)/.installed-test
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -n $(TEST_WORKERS)

# ruff on everything; mypy on the Qt-free core (the files listed in pyproject.toml); the import
# table of docs/ARCHITECTURE.md (import-linter contracts in pyproject.toml)
lint: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

clean-venv:
	rm -rf $(VENV)

# Everything sets itself up: a .venv with the project installed, then the task.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
DEMO_VAR := var/demo

.PHONY: demo demo-servers test lint bench install clean

$(VENV)/.demo-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml $(VENV)/.demo-installed
	sh .ci/system-deps
	$(BIN)/pip install --quiet -e '.[postgres,mysql]' --group dev
	touch $@

install: $(VENV)/.dev-installed

## make demo: the testproject on embedded SQLite databases (no server needed)
demo: $(VENV)/.demo-installed
	rm -rf $(DEMO_VAR) && mkdir -p $(DEMO_VAR)
	@echo "== manage.py migrate_all --plan (changes nothing)"
	MIGRATOR_VAR_DIR=$(DEMO_VAR) $(PY) testproject/manage.py migrate_all --plan
	@echo "== manage.py migrate_all --noinput"
	MIGRATOR_VAR_DIR=$(DEMO_VAR) $(PY) testproject/manage.py migrate_all --noinput
	@echo "== manage.py migrate_all --check (exit 0: nothing pending)"
	MIGRATOR_VAR_DIR=$(DEMO_VAR) $(PY) testproject/manage.py migrate_all --check --verbosity 0

## make test: the whole suite; server-backed tests need PostgreSQL and MariaDB (see .ci/services)
test: $(VENV)/.dev-installed
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache

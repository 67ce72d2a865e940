# Everything sets itself up: a .venv with the project installed, then the task.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
DEMO_VAR := var/demo

.PHONY: demo demo-servers test lint bench matrix dist install clean

$(VENV)/.demo-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip uninstall --quiet --yes django-migrator 2>/dev/null || true  # the old distribution name
	$(BIN)/pip install --quiet -e . --group demo  # demo: the testproject reads URLs with dj-database-url
	touch $@

$(VENV)/.dev-installed: pyproject.toml $(VENV)/.demo-installed
	sh .ci/system-deps
	$(BIN)/pip install --quiet -e '.[postgres,mysql,health,celery,risk]' --group dev
	touch $@

install: $(VENV)/.dev-installed

## make demo: the testproject on embedded SQLite databases (no server needed)
demo: $(VENV)/.demo-installed
	rm -rf $(DEMO_VAR) && mkdir -p $(DEMO_VAR)
	@echo "== manage.py migrate_all --doctor (routing checks; no database is touched)"
	MIGRATOR_VAR_DIR=$(DEMO_VAR) $(PY) testproject/manage.py migrate_all --doctor
	@echo "== manage.py migrate_all --plan (changes nothing)"
	MIGRATOR_VAR_DIR=$(DEMO_VAR) $(PY) testproject/manage.py migrate_all --plan
	@echo "== manage.py migrate_all --noinput"
	MIGRATOR_VAR_DIR=$(DEMO_VAR) $(PY) testproject/manage.py migrate_all --noinput
	@echo "== manage.py migrate_all --check (exit 0: nothing pending)"
	MIGRATOR_VAR_DIR=$(DEMO_VAR) $(PY) testproject/manage.py migrate_all --check --verbosity 0

## make demo-servers: the same site on PostgreSQL (analytics in its own schema) and MariaDB
DEMO_ENV := MIGRATOR_VAR_DIR=$(DEMO_VAR) \
	MIGRATOR_DB_DEFAULT=postgres://postgres@127.0.0.1:5432/migrator_demo_site \
	MIGRATOR_DB_USERS_DB=postgres://postgres@127.0.0.1:5432/migrator_demo_users \
	MIGRATOR_DB_ANALYTICS_DB='postgres://postgres@127.0.0.1:5432/migrator_demo_site?options=-c%20search_path%3Danalytics' \
	MIGRATOR_DB_LEGACY_DB=mysql://root@127.0.0.1:3306/migrator_demo_legacy
demo-servers: $(VENV)/.dev-installed
	sh .ci/services
	rm -rf $(DEMO_VAR) && mkdir -p $(DEMO_VAR)
	for db in migrator_demo_site migrator_demo_users; do \
		psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS $$db WITH (FORCE)" -c "CREATE DATABASE $$db"; done
	mariadb -h 127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS migrator_demo_legacy"
	@echo "== migrate_all --plan --create-schemas (the analytics schema and the legacy database are missing)"
	$(DEMO_ENV) $(PY) testproject/manage.py migrate_all --plan --create-schemas
	@echo "== migrate_all --create-schemas --noinput"
	$(DEMO_ENV) $(PY) testproject/manage.py migrate_all --create-schemas --noinput

## make test: the whole suite; server-backed tests need PostgreSQL and MariaDB (see .ci/services)
test: $(VENV)/.dev-installed
	rm -f .coverage .coverage.*
	$(PY) -m coverage run -m pytest $(PYTEST_ARGS)
	$(PY) -m coverage combine --quiet
	$(PY) -m coverage report  # fails under 90 % of migrator/'s lines (pyproject: tool.coverage)

## make bench: migrate_all against the shell loop and single-alias migrate (README: Benchmarks)
bench: $(VENV)/.dev-installed
	sh .ci/services
	$(PY) benchmarks/run.py $(BENCH_ARGS)

## make matrix: the whole suite on every supported Django/Python pair, each in .venvs/NAME;
## writes compat/matrix.json and the README's compatibility table (README: Compatibility)
matrix:
	sh .ci/services
	$(PYTHON) scripts/matrix.py $(MATRIX_ARGS)

## make dist: the sdist and the wheel in dist/
dist: $(VENV)/.dev-installed
	rm -rf dist
	$(PY) -m build --outdir dist

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports  # the layers of README "Layout" (pyproject: tool.importlinter)

clean:
	rm -rf $(VENV) .venvs var build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache

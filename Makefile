# Face search: `make run` to start everything, `make test` to run the suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install catalogues run test browser serve stop lint lint-checks clean-data

install: $(STAMP)  ## also compiles the gettext catalogues (locale/)
	@$(BIN)/python -m config.i18n

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Compile locale/*.po into .mo with polib (pure Python: no GNU gettext needed).
catalogues: $(STAMP)
	$(BIN)/python -m config.i18n

## Start embedded PostgreSQL+pgvector and Redis (unless DATABASE_URL/REDIS_URL are set),
## migrate, create the first admin, then web + Celery worker + beat. Ctrl-C stops it all.
## `make run STORAGE=s3` keeps media in an embedded SeaweedFS (S3) instead of on the local disk.
run: install
	$(BIN)/python -m config.runner

## Browser tests drive Debian's chromium; install it when missing and we may (root).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: the browser test will be skipped (apt-get install chromium)"; fi; \
	fi

## The gate (make lint), then the suite in parallel: one pytest-xdist worker per core (at most 6: each
## has its own test database, Redis databases and media folder; tests of one xdist_group share a
## worker), then the few tests marked `serial` (they stop the shared PostgreSQL) alone.
## `make test PYTEST_ARGS=tests/search` runs a part; `TEST_WORKERS=0` runs it in one process.
TEST_WORKERS ?= auto
test: install browser lint-checks
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --maxprocesses=6 --dist loadgroup -m "not serial" $(PYTEST_ARGS)
	$(BIN)/python -m pytest -m serial $(PYTEST_ARGS) || [ $$? = 5 ]  # 5: none selected

## Production: gunicorn against real servers (DATABASE_URL, REDIS_URL, DJANGO_* set); gunicorn.conf.py
## writes the access log to stdout with secret links redacted.
serve: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput
	$(BIN)/gunicorn config.wsgi:application --config gunicorn.conf.py --bind $${BIND:-0.0.0.0:8000} --workers $${WEB_CONCURRENCY:-3}

## Stop embedded services left running by ad-hoc manage.py commands.
stop: install
	$(BIN)/python -c 'from config import devservices; devservices.stop_all()'

## The gate: formatting, lint, types, migrations in step with the models, import contracts (when
## pyproject.toml has them). Starts no server: settings only read the environment.
lint: install lint-checks

lint-checks:
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/python -W "ignore:Got an error checking a consistent migration history:RuntimeWarning" manage.py makemigrations --check --dry-run
	@if grep -q '^\[tool\.importlinter\]' pyproject.toml; then echo "$(BIN)/lint-imports"; $(BIN)/lint-imports; fi

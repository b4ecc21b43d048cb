# make run   - create .venv, install what the bot needs, start bot + dashboard (http://127.0.0.1:5000)
# make test  - install the test tools too, then run the whole test suite
# ARGS="..." passes options to run_bot.py, e.g. make run ARGS="--seed 7 --port 5001"

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
# pytest-xdist workers for make test (the suite's tests are independent: own temp dirs and ports).
TEST_WORKERS ?= 2

.PHONY: run test setup setup-dev bench clean

run: setup
	$(PY) run_bot.py $(ARGS)

test: setup-dev
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

bench: setup-dev
	$(PY) bench/engine_throughput.py

setup: $(VENV)/.runtime-installed node_modules/.installed

setup-dev: setup $(VENV)/.dev-installed

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt $(VENV)/bin/python
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt requirements.txt $(VENV)/bin/python
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json
	@if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; \
	 else npm install --no-audit --no-fund --loglevel=error; fi
	touch $@

clean:
	rm -rf $(VENV) node_modules .pytest_cache

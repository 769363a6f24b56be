# `make run` sets up and starts the service on the embedded default (SQLite);
# `make test` sets up and runs lint, types and the whole test suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PIP_VERSION := 26.3

.PHONY: install browser nginx run run-api test lint demo demo-notify bench clean

$(STAMP): pyproject.toml constraints.txt package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "pip==$(PIP_VERSION)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	npm ci --no-audit --no-fund  # test tools: the Prism mock of Twilio's API
	touch $(STAMP)

install: $(STAMP)

browser:  # Debian's chromium for the browser tests (Playwright downloads none)
	scripts/install_chromium.sh

nginx:  # Debian's nginx for the replica tests and the cluster drill (started by them, not as a service)
	scripts/install_nginx.sh

run: install
	$(BIN)/reflections db upgrade
	$(BIN)/reflections seed
	$(BIN)/reflections serve

run-api: install
	$(BIN)/reflections db upgrade
	$(BIN)/reflections seed
	$(BIN)/reflections serve --no-flows

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

test: lint browser nginx
	$(BIN)/pytest -n 2  # two processes: the suites take twice as long one at a time

demo: install
	$(BIN)/reflections db upgrade
	$(BIN)/reflections seed
	$(BIN)/reflections demo

demo-notify: install  # every lifecycle message to a local SMTP server and the Twilio mock
	$(BIN)/python scripts/notify_demo.py

bench: install
	$(BIN)/python bench/transitions.py

clean:
	rm -rf $(VENV) var artifacts .mypy_cache .ruff_cache .pytest_cache .hypothesis .import_linter_cache

# Commands of the Rutte confirmation forecast (see README.md).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed

.PHONY: setup serve test lint bench fit clean lock

setup: $(STAMP)

# Reinstalls only when the lock file or the project metadata change.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

# Regenerates the lock file after a change to the dependencies in pyproject.toml.
lock: setup
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 -o requirements.lock

serve: setup
	$(BIN)/python -m service --fit-if-empty

# Style, then the architecture's import contracts (pyproject.toml, [tool.importlinter]).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

test: setup lint
	$(BIN)/python -m tests.system_deps
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python -m tests.system_deps
	$(BIN)/python -m bench

fit: setup
	$(BIN)/python -m forecast fit

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache

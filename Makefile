# finews: the two quick-start commands are `make demo` and `make test`.
# Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-quick lint typecheck format bench clean help

help:
	@echo "make demo   set up, fetch the offline sample feeds into SQLite, export, serve the site (PORT=8000)"
	@echo "make test   set up and run the whole test suite (ruff, mypy, pytest)"
	@echo "make test-quick   the edit-test loop: ruff, mypy and every test not marked slow"
	@echo "make lint | typecheck | format | bench | clean"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "finews needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	@# finews 0.1.0 used the pure-Python opencc-python-reimplemented; the official binding
	@# installs the same module name (opencc), so an older .venv drops the former first.
	@$(BIN)/python -m pip uninstall --quiet --yes opencc-python-reimplemented >/dev/null 2>&1 || true
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# the live site's port: make demo PORT=8001 when 8000 is taken
PORT ?= 8000

demo: $(STAMP)
	$(BIN)/finews demo --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest

# Skips tests marked slow (kill tests, multi-node, real Jekyll builds); CI runs everything.
test-quick: lint typecheck
	$(BIN)/pytest -m 'not slow' -q

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(STAMP)
	@echo "see BENCHMARKS.md and docs/benchmarks/ for each benchmark's command"

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache demo-output test-artifacts

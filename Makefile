# One command each: `make demo` (the main job on a real model) and `make test` (the suite's fast
# tier; `make test-all` runs everything).
# Both set themselves up first on a fresh machine with Python 3.11 and the package registries.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tritune-installed

.PHONY: setup demo test test-all lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/setup.sh
	touch $(STAMP)

demo: setup
	$(BIN)/tritune doctor
	$(BIN)/python scripts/demo.py

# The fast tier: every kind of behaviour once (a real Triton, a real search, the browser, a fault,
# an interrupt). The 25 slowest tests are printed so the next slow one is seen.
test: setup
	bash scripts/setup_system.sh
	$(BIN)/python -m pytest -m "not slow" --durations=25 $(PYTEST_ARGS)

# Everything, the slow tier included: what CI runs.
test-all: setup
	bash scripts/setup_system.sh
	$(BIN)/python -m pytest --durations=25 $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Agora: `make demo` sets up and runs the demo; `make test` sets up and runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system-packages demo test lint unit bench soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) system-packages

# libfaketime (nemesis clock skew) and iproute2 (netns testnet), installed when missing and root
system-packages:
	@sh scripts/system_packages.sh

demo: setup
	$(BIN)/agora demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: setup
	$(BIN)/pytest -n 2

test: lint unit

bench: setup
	$(BIN)/python -m bench

# The long nemesis run (root): SOAK_MINUTES (default 30) of seeded faults; figures in soak/
soak: setup
	$(BIN)/python tests/nemesis/soak.py --minutes $${SOAK_MINUTES:-30} --out $${SOAK_DIR:-soak}

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache

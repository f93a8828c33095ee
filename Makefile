# Agora: `make demo` sets up and runs the demo; `make test` sets up and runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

CHROMIUM := /usr/bin/chromium
FRONTEND := web/frontend
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system-packages test-deps demo test lint unit bench soak clean web-assets

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The browser tests drive Debian's Chromium; `make test` installs it when missing (CI runs as
# root). `make demo` does not need it.
$(CHROMIUM):
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

setup: $(STAMP)

# libfaketime (nemesis clock skew) and iproute2 (netns testnet), installed when missing and root
system-packages:
	@sh scripts/system_packages.sh

test-deps: $(CHROMIUM) system-packages

# Rebuild web/static/{app,wallet,receipt}.js from web/frontend/ (npm packages pinned by its lockfile).
# The built file is committed, so running a node (and `make demo`) needs no Node.js.
web-assets:
	cd $(FRONTEND) && npm ci --no-audit --no-fund && npm run build

demo: setup
	$(BIN)/agora demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: setup test-deps
	$(BIN)/pytest -n 2

test: lint unit

# `make bench ARGS="testnet --validators 4 --mix market --rate 2000 --seconds 60"` (no ARGS: the list)
bench: setup
	$(BIN)/agora bench $(or $(ARGS),--help)

# The long nemesis run (root): SOAK_MINUTES (default 30) of seeded faults; figures in soak/
soak: setup system-packages
	$(BIN)/python tests/nemesis/soak.py --minutes $${SOAK_MINUTES:-30} --out $${SOAK_DIR:-soak}

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache

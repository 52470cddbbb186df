# The two commands of the README: `make run` (the main job) and `make test`.
# Both bootstrap what they need; stamps make a second run do no network work.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SCF    := $(BIN)/scf

.PHONY: run test check setup bench fuzz clean devnet-down chromium

# The installs are independent (the project's virtualenv, slither's own, npm's packages, then the portal's bundle):
# two at a time, a clean clone's `make setup` took 40 s instead of 67 s.
MAKEFLAGS += --jobs=2

# The main job (api/cli/demo/): build, devnet, deploy and verify, play the demo world once, index,
# score and publish the dev bank's limits, then serve the API and the portal (/app) on 127.0.0.1 (port SCF_API_PORT, default 8000)
# in the foreground; each step is skipped when already done. Ctrl-C stops the API, not the devnet.
run: setup
	$(SCF) demo run-main --port $${SCF_API_PORT:-8000}

# One worker per core and one more: many tests wait on a node or a subprocess (on 2 cores, tests/api/v1 took
# 164 s with 3 workers, 181 s with 2 and 174 s with 4). A test file stays on one worker so its module
# fixtures are built once. The 25 slowest setups and calls are printed at the end, to see where CI time goes.
TEST_WORKERS := $(shell $(PYTHON) -c 'import os; print(len(os.sched_getaffinity(0)) + 1)' 2>/dev/null || echo auto)
# The static checks run beside the tests (their ~20 s of one core overlap the tests' waits); either failing fails.
test: setup chromium
	@$(MAKE) --no-print-directory check & checks=$$!; \
	$(BIN)/pytest -n $${SCF_TEST_WORKERS:-$(TEST_WORKERS)} --dist loadfile --durations=25; tests=$$?; \
	wait $$checks || { echo "make check failed"; exit 1; }; exit $$tests

PY_SOURCES := ledger api oracles scoring scenarios tests $(wildcard bench)

check: setup
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo --no-cache
	node_modules/.bin/tsc -p api/portal/web/tsconfig.json

# The portal's browser tests drive Debian's chromium (headless, through Playwright's executable path: Playwright's
# own browser download cannot work offline). As root with apt, install it when missing; otherwise the tests skip
# and say why.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the portal's browser tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } || \
	    echo "chromium could not be installed: the portal's browser tests will be skipped"; \
	  else echo "chromium is missing (apt-get install chromium, as root): the portal's browser tests will be skipped"; fi; }

SLITHER_VERSION := 0.11.6
setup: $(VENV)/.installed node_modules/.installed build/portal/BUILD $(VENV)/slither/.installed-$(SLITHER_VERSION)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# Slither pins web3<8 while the project needs web3 8, so it gets a virtualenv of its own.
$(VENV)/slither/.installed-$(SLITHER_VERSION): | $(BIN)/python
	$(BIN)/python -m venv $(VENV)/slither
	$(VENV)/slither/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/slither/bin/python -m pip install --quiet 'slither-analyzer==$(SLITHER_VERSION)'
	@touch $@

node_modules/.installed: package.json package-lock.json
	@command -v node >/dev/null || { echo "Node.js 20+ is required (for solc-js and anvil)"; exit 1; }
	@node -e 'process.exit(+process.versions.node.split(".")[0] < 20 ? 1 : 0)' || { echo "Node.js 20+ is required, found $$(node --version)"; exit 1; }
	npm ci --no-audit --no-fund
	@touch $@

# The web portal (api/portal/web: TypeScript, bundled by esbuild from the npm packages above) into build/portal.
PORTAL_SOURCES := $(shell find api/portal/web -type f -not -name '*.png' 2>/dev/null)
build/portal/BUILD: node_modules/.installed $(PORTAL_SOURCES)
	node api/portal/web/build.mjs

# The property-based suites with ten times the CI examples.
fuzz: setup
	SCF_FUZZ=long $(BIN)/pytest -q tests/contracts/test_trade_escrow_properties.py tests/contracts/test_receivables_properties.py

# Every benchmark, one after another; one table (value, ceiling, ratio, target, met) on stdout, and out/bench/:
# each bench's JSON, summary.json and ratios.png. QUICK=1 runs the smaller --quick sizes.
bench: setup
	$(BIN)/python bench/summary.py $(if $(QUICK),--quick)

devnet-down: setup
	$(SCF) devnet down

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache

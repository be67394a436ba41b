# Two commands do everything on a fresh machine with Python 3.11:
#   make demo   - run the federation demo on MovieLens-100k
#   make test   - lint, type-check and run the test suite (the PeerTube plugin's too)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch 2.13.0 CPU lies on this machine's disk; crypten's metadata pins packages that no
# longer install, so it goes in with --no-deps and pyproject.toml lists what it imports.
TORCH_PIN   := torch==2.13.0
CRYPTEN_PIN := crypten==0.4.1

PLUGIN := peertube-plugin-mpcrec

.PHONY: venv demo test lint typecheck unit postgres chromium plugin clean flower-venv

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_PIN)
	$(BIN)/pip install --quiet --no-deps $(CRYPTEN_PIN)
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/python -m mpcrec.proto.build
	touch $(STAMP)

# PostgreSQL's server binaries from Debian's packages, for the PeerTube reader's tests.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null)

# Debian's Chromium, for the PeerTube plugin's browser tests (driven by playwright-core).
chromium:
	@test -x /usr/bin/chromium || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null)

lint: $(STAMP)
	$(BIN)/ruff check mpcrec committees launch tests
	$(BIN)/ruff format --check mpcrec committees launch tests
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m tests.architecture.import_cycles

typecheck: $(STAMP)
	$(BIN)/mypy mpcrec committees launch

unit: $(STAMP) postgres
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q --durations=40

# The PeerTube plugin: its npm dependencies from package-lock.json, its types checked
# against @peertube/peertube-types, its tests (node --test) against a real `mpcrec serve`.
plugin: $(STAMP) chromium
	cd $(PLUGIN) && npm ci --no-audit --no-fund --loglevel=error
	cd $(PLUGIN) && npx tsc -p .
	cd $(PLUGIN) && MPCREC_PYTHON=$(abspath $(BIN)/python) npm test --silent

test: lint typecheck unit plugin

# The whole federation on this machine: a launcher and 20 MovieLens-100k instances over gRPC
# with mutual TLS, secure committees of 3, private by default (user-level DP-ALS at epsilon 8:
# one secure round), then quality, epsilon and cost (docs/benchmarks/demo.md).
demo: $(STAMP)
	mkdir -p out
	$(BIN)/mpcrec demo --out out/demo.json

# The peer for benchmarks only: Flower 1.42 in its own venv (its pins are not ours), for
#   mpcrec bench secure-agg --flower .venv-flower/bin/python ...
flower-venv: .venv-flower/.installed

.venv-flower/.installed:
	test -x .venv-flower/bin/python || $(PYTHON) -m venv .venv-flower
	.venv-flower/bin/pip install --quiet flwr==1.42.0
	touch $@

clean:
	rm -rf $(VENV) .venv-flower .pytest_cache .mypy_cache .ruff_cache $(PLUGIN)/node_modules

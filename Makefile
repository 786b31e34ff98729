# Two commands for a fresh machine: `make demo` and `make test`. Everything else is a step of those.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# actionlint (a Go module) checks .github/workflows in `make test` where Go exists (tests/deploy).
ACTIONLINT_VERSION := v1.7.12
ACTIONLINT_STAMP   := $(VENV)/.actionlint-$(ACTIONLINT_VERSION)

.PHONY: install check es-up es-down es-status lint format browser-deps test test-unit demo bench served notebook report clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11 is required)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

install: $(STAMP)

# Installed into the venv's bin, once per version; without Go the test that needs it skips.
$(ACTIONLINT_STAMP): | $(STAMP)
	@if command -v go >/dev/null; then \
	  GOBIN=$(abspath $(BIN)) go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION) && touch $@; \
	else echo "note: Go is not installed, so tests/deploy skips actionlint"; fi

check: install  ## Java for Spark, a JDK for Elasticsearch, Maven to fetch it
	$(BIN)/movierec check

es-up: install
	$(BIN)/movierec es up

es-down: install
	$(BIN)/movierec es down

es-status: install
	$(BIN)/movierec es status

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Debian's chromium and chromedriver for the browser tests (never a downloaded browser). Installed only
# as root; otherwise the browser tests are skipped with the reason.
browser-deps:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	else echo "note: chromium/chromedriver missing and not root: the browser tests will be skipped"; fi

# The test session starts its own node on 127.0.0.1:9250 and stops it at the end.
# tests/deploy validates the Dockerfile, compose file, Kubernetes manifests, Procfile and CI workflow.
test: check lint browser-deps $(ACTIONLINT_STAMP)
	$(BIN)/pytest -q

test-unit: install
	$(BIN)/pytest -q -m "not es and not spark"

# `make demo PORT=8400` serves the API on another port.
PORT ?= 8000
demo: check
	$(BIN)/movierec demo --port $(PORT)

# The serving indices the notebook and the report read: the local node, indexed once if nothing serves.
served: check es-up
	$(BIN)/movierec index status | grep -q '\*' || $(BIN)/movierec pipeline run --no-evaluate

# Re-execute notebooks/exploration.ipynb in place (outputs committed, so it reads well on GitHub).
# MOVIEREC_NOTEBOOK_RECOMPUTE=1 recomputes the cached sweep (notebooks/sweep.json) too.
notebook: served
	cd notebooks && ../$(BIN)/jupyter-execute --inplace --timeout=1800 exploration.ipynb

# docs/insights.md and docs/figures/*.png from the bundled data and the serving indices.
report: served
	$(BIN)/movierec report --out docs

bench: install
	$(BIN)/python benchmarks/search.py

clean:
	rm -rf $(VENV) runs .pytest_cache test-output

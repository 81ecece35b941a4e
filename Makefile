# Every target sets up .venv itself, so a fresh clone needs nothing before `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
GENERATED := generated/upbit_client
# Hand-written Python: linted, formatted and type-checked as source.
SOURCES := auth_plugin cancel sandbox runtime tests tools bench
# ruff must be on PATH for the generator's post hooks.
export PATH := $(CURDIR)/$(BIN):$(PATH)
# Python may cache bytecode (__pycache__/, ignored by git) even where the environment says not to:
# the tests start the sandbox, the CLI, the generator and mypy in hundreds of fresh interpreters, and
# each would otherwise compile the project's packages from source again (0.5 s or more every time).
unexport PYTHONDONTWRITEBYTECODE
# The test suite runs on this many pytest-xdist workers: the machines have 2 cores, and much of the
# suite waits (loopback timeouts, paced seconds, subprocesses). PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= 3

.PHONY: help generate check-generated api api-check version lint format typecheck test pytest demo bench cassettes dist clean

help:
	@echo "make demo             cancel a batch of orders on the embedded sandbox exchange"
	@echo "make test             lint, typecheck, check-generated and the whole test suite"
	@echo "make generate         regenerate $(GENERATED) from openapi.yaml"
	@echo "make check-generated  fail if $(GENERATED) differs from a fresh generation"
	@echo "make api              accept an API change: rewrite api/report.json and list the change in CHANGELOG.md"
	@echo "make api-check        fail if the public API or a spec rule differs from api/report.json, or the version is too low"
	@echo "make version V=X.Y.Z  set the version of both distributions and their pins on each other"
	@echo "make bench            benchmarks against the loopback sandbox (not part of make test)"
	@echo "make cassettes        re-record the vcrpy cassettes from the sandbox"
	@echo "make dist             sdists and wheels of the SDK and the sandbox into dist/, built from fresh sdists"

$(STAMP): requirements-dev.txt pyproject.toml sandbox/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet -e . -e ./sandbox
	touch $@

generate: $(STAMP)
	$(BIN)/python tools/generate.py --output $(GENERATED)

check-generated: $(STAMP)
	$(BIN)/python tools/generate.py --output $(GENERATED)
	@if [ -n "$$(git status --porcelain -- generated/)" ]; then \
		echo "generated/ differs from what openapi.yaml, generator-config.yaml and the templates produce:"; \
		git status --porcelain -- generated/; git --no-pager diff --stat -- generated/; \
		echo "run 'make generate' and commit the result"; exit 1; \
	fi
	@echo "generated/ is up to date"

# The public API and the spec's request rules, committed as api/report.json (tools/api_report.py).
api: $(STAMP)
	$(BIN)/python tools/api_report.py write

api-check: $(STAMP)
	$(BIN)/python tools/api_report.py check

# One version, written to both pyproject.toml files and their pins on each other: make version V=3.0.0
version: $(STAMP)
	$(BIN)/python tools/version.py $(V)

lint: $(STAMP)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

format: $(STAMP)
	$(BIN)/ruff check --fix $(SOURCES)
	$(BIN)/ruff format $(SOURCES)

typecheck: $(STAMP)
	$(BIN)/mypy auth_plugin/upbit_auth cancel/upbit_cancel sandbox/upbit_sandbox
	$(BIN)/mypy runtime/upbit_client_runtime tools/spec_rules.py tools/api_report.py tools/version.py
	$(BIN)/mypy $(GENERATED)

# --dist loadgroup: tests/conftest.py keeps the modules that share an expensive fixture on one worker.
pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup

# api-check before check-generated: a spec change is named (breaking or not) before "commit generated/".
test: lint typecheck api-check check-generated pytest

demo: $(STAMP)
	$(BIN)/python tools/demo.py

bench: $(STAMP)
	$(BIN)/python bench/run.py

# Each wheel is built (hatchling) from a fresh sdist in a temporary folder (python -m build), never from a build/
# left in the tree: a module deleted from the tree cannot ship in a later wheel. Not with an API change
# that was not accepted (make api) or a version too low for it (make api-check).
dist: $(STAMP) api-check
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .
	$(BIN)/python -m build --no-isolation --outdir dist sandbox

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis dist build

# Re-record tests/cassettes/*.yaml: each cassette test starts its own seeded sandbox on 127.0.0.1 while recording.
cassettes: $(STAMP)
	$(BIN)/pytest tests/test_cassettes.py --record-mode=rewrite -q
	$(BIN)/pytest tests/test_cassettes.py -q

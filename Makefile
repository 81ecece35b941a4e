# Every target sets up .venv itself, so a fresh clone needs nothing before `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
GENERATED := generated/upbit_client
# Hand-written Python: linted, formatted and type-checked as source.
SOURCES := auth_plugin cancel sandbox runtime tests tools bench examples hatch_build.py
# ruff must be on PATH for the generator's post hooks.
export PATH := $(CURDIR)/$(BIN):$(PATH)
# Python may cache bytecode (__pycache__/, ignored by git) even where the environment says not to:
# the tests start the sandbox, the CLI, the generator and mypy in hundreds of fresh interpreters, and
# each would otherwise compile the project's packages from source again (0.5 s or more every time).
unexport PYTHONDONTWRITEBYTECODE
# The test suite runs on this many pytest-xdist workers: the machines have 2 cores, and much of the
# suite waits (loopback timeouts, paced seconds, subprocesses). PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= 3

.PHONY: consumer-drill help generate check-generated api api-check version lint format typecheck verifytypes test pytest demo spec-drill bench cassettes dist wheelhouse clean test-deps test-deps-smoke test-pythons docs

help:
	@echo "make demo             cancel a batch of orders on the embedded sandbox exchange"
	@echo "make test             lint, typecheck, verifytypes, api-check, check-generated and the whole test suite"
	@echo "make verifytypes      fail if a package's type completeness (basedpyright --verifytypes) is below 99 %"
	@echo "make generate         regenerate $(GENERATED) from openapi.yaml"
	@echo "make check-generated  fail if $(GENERATED) differs from a fresh generation"
	@echo "make api              accept an API change: rewrite api/report.json and list the change in CHANGELOG.md"
	@echo "make api-check        fail if the public API or a spec rule differs from api/report.json, or the version is too low"
	@echo "make version V=X.Y.Z  set the release both distributions work towards; make version: the version a build gets now"
	@echo "make test-deps        make demo's script and the runtime's tests under httpx 0.28.1, 0.29.0 and the lowest declared versions"
	@echo "make docs             the documentation site (docs/*.md and the reference from the docstrings) into site/: open site/index.html"
	@echo "make spec-drill       four spec changes in a scratch clone, through the gates, wheels and a consumer (minutes)"
	@echo "make bench            benchmarks against the loopback sandbox (not part of make test)"
	@echo "make cassettes        re-record the vcrpy cassettes from the sandbox"
	@echo "make dist             after make test: sdists and wheels of the SDK and the sandbox into dist/, built from fresh sdists"
	@echo "make wheelhouse       make dist, plus every dependency's wheel in dist/ for an offline install"
	@echo "make test-pythons     the smoke subset of the suite under Python 3.12 and 3.13 (pyenv's, or PYTHONS=...)"

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

# One release, written to both pyproject.toml files: make version V=3.0.0. Each build between releases is
# X.Y.Z.devN, the two wheels pinned to each other's exact version (hatch_build.py, tools/version.py).
version: $(STAMP)
	$(BIN)/python tools/version.py $(V)

lint: $(STAMP)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

format: $(STAMP)
	$(BIN)/ruff check --fix $(SOURCES)
	$(BIN)/ruff format $(SOURCES)

typecheck: $(STAMP)
	$(BIN)/mypy auth_plugin/upbit_auth cancel/upbit_cancel sandbox/upbit_sandbox examples
	$(BIN)/mypy runtime/upbit_client_runtime tools/spec_rules.py tools/api_report.py tools/spec_mirrors.py tools/version.py tools/verify_types.py tools/api_changelog.py tools/spec_drill.py
	$(BIN)/mypy $(GENERATED)

# Type completeness of each package as a team's checker sees it (basedpyright --verifytypes, >= 99 % each;
# tools/verify_types.py names every ambiguous symbol below that).
verifytypes: $(STAMP)
	$(BIN)/python tools/verify_types.py

# --dist loadgroup: tests/conftest.py keeps the modules that share an expensive fixture on one worker.
pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup

# api-check before check-generated: a spec change is named (breaking or not) before "commit generated/".
test: lint typecheck verifytypes api-check check-generated pytest

demo: $(STAMP)
	$(BIN)/python tools/demo.py

# The documentation site (mkdocs.yml): the guides in docs/ and a reference page per package, rendered from the
# docstrings. --strict: a warning fails the build; tests/test_docs_site.py builds it the same way in make test.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# Issue 24's upgrade drill: four spec changes in a scratch clone of HEAD (a new optional parameter, a new
# enum value, a renamed response field, maxItems 20 -> 10), each through the gates, wheels and a consumer
# venv (tools/spec_drill.py). Minutes long: not part of make test. SPEC_DRILL_ARGS=--keep leaves its folder.
spec-drill: $(STAMP)
	$(BIN)/python tools/spec_drill.py $(SPEC_DRILL_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/run.py

# Each wheel is built (hatchling) from a fresh sdist in a temporary folder (python -m build), never from a build/
# left in the tree: a module deleted from the tree cannot ship in a later wheel. Only after `make test` passes:
# lint, the type check (a spec change that breaks hand-written code fails here, naming the file and line), an
# API change that was not accepted (make api) or a version too low for it (api-check), generated/ out of date,
# and the whole suite (the sandbox answers in the spec's shape; tests/test_spec_mirrors.py checks the
# hand-written Literals against the spec's enums). DIST_SKIP_TEST=1 skips them, for a rebuild right after a
# green `make test` only. The version of every build between releases is X.Y.Z.devN (tools/version.py).
ifeq ($(DIST_SKIP_TEST),1)
DIST_GATE :=
else
DIST_GATE := test
endif
dist: $(STAMP) $(DIST_GATE)
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .
	$(BIN)/python -m build --no-isolation --outdir dist sandbox

# dist/ with every dependency beside the two wheels (this Python's wheels, the extras sandbox, redis and
# http2 included), for an offline install: pip install --no-index --find-links dist upbit-order-cancel
wheelhouse: dist
	$(BIN)/python -m pip download --quiet --only-binary=:all: --find-links dist --dest dist \
		"upbit-order-cancel[sandbox,redis,http2] @ $$(ls $(CURDIR)/dist/upbit_order_cancel-*.whl)"

# A trading team's project installed offline from the wheelhouse, testing its bot with the plugin under
# xdist -n 4, pytest-randomly, -W error, asyncio and trio (tools/consumer_drill.sh). .ci/run runs it after
# make test (DIST_SKIP_TEST=1 there: the gate already passed).
consumer-drill: wheelhouse
	tools/consumer_drill.sh

clean:
	rm -rf $(VENV) .venv-deps .pytest_cache .mypy_cache .ruff_cache .hypothesis dist build site

# Re-record tests/cassettes/*.yaml: each cassette test starts its own seeded sandbox on 127.0.0.1 while recording.
cassettes: $(STAMP)
	$(BIN)/pytest tests/test_cassettes.py --record-mode=rewrite -q
	$(BIN)/pytest tests/test_cassettes.py -q

# make test-deps: `make demo`'s script and the runtime's tests under each set of dependency versions below,
# each in a venv of its own (.venv-deps/NAME, tools/test_deps.sh); never in .venv, whose generator
# (openapi-python-client 0.29.1) requires httpx<0.29. LOWEST is every floor pyproject.toml declares ([http2]: h2 too,
# so that the HTTP/2 test runs there instead of skipping).
# PyJWT 2.8 has no InsecureKeyLengthWarning, which one test's warning filter names: deselected there. trio 0.35
# (the test tool that runs the async tests on anyio's trio backend) needs attrs >= 23.2, above attrs' floor, so
# the lowest set runs the async tests on asyncio only.
LOWEST := httpx==0.26.0 httpcore==1.0.0 anyio==4.5.0 attrs==22.2.0 PyJWT==2.8.0 sniffio==1.3.0 h2==4.0.0
LOWEST_SKIP := --deselect tests/test_connect.py::test_connect_takes_explicit_keys_over_the_environment -k "not trio"
RUNTIME_TESTS := tests/test_connect.py tests/test_one_request_path.py tests/test_hostile_answers.py \
	tests/test_pacing.py tests/test_batch_sandbox.py tests/test_sweep.py tests/test_faults_single.py \
	tests/test_pool_gate.py tests/test_no_private_access.py
SMOKE_TESTS := tests/test_connect.py tests/test_one_request_path.py -k "not hostile_answer"
# The [redis] extra's floor (pyproject.toml: redis>=5): the store's rule table and its calls on the event loop.
REDIS_LOWEST := redis==5.0.0 hypothesis==6.170.15 trio==0.35.0
STORE_TESTS := tests/test_store_rules.py tests/test_store_off_loop.py

test-deps:
	tools/test_deps.sh httpx-0.28.1 "httpx==0.28.1 trio==0.35.0 h2==4.4.1" $(RUNTIME_TESTS) -n 2
	tools/test_deps.sh httpx-0.29.0 "httpx==0.29.0 trio==0.35.0 h2==4.4.1" $(RUNTIME_TESTS) -n 2
	tools/test_deps.sh lowest "$(LOWEST)" $(RUNTIME_TESTS) -n 2 $(LOWEST_SKIP)
	tools/test_deps.sh redis-lowest "$(REDIS_LOWEST)" $(STORE_TESTS) -n 2

# What .ci/run runs of it: the newest httpx (with trio, for the transport under trio) and the lowest versions,
# a smoke subset of the tests.
test-deps-smoke:
	tools/test_deps.sh httpx-0.29.0 "httpx==0.29.0 trio==0.35.0 h2==4.4.1" $(SMOKE_TESTS) -n 2
	tools/test_deps.sh lowest "$(LOWEST)" $(SMOKE_TESTS) -n 2 $(LOWEST_SKIP)
	tools/test_deps.sh redis-lowest "$(REDIS_LOWEST)" $(STORE_TESTS) -n 2

# make test-pythons: every Python the classifiers name beside .venv's own (3.11: make test runs the whole suite
# there). Each runs `make demo`'s script and a smoke subset of the suite (signing, connect(), the batch and
# the sweep against the sandbox, both anyio backends, the sandbox itself, the plugin, the command) in a venv of
# its own (.venv-deps/python-X.Y.Z, tools/test_deps.sh), at requirements-dev.txt's pins of the runtime.
# The interpreters are pyenv's ($(PYENV_ROOT)/versions/X.Y.Z/bin/python3); .ci/run installs a missing one with
# pyenv. Change PYTHONS here and the classifiers in both pyproject.toml files together (tests/test_packaging.py).
PYENV_ROOT ?= $(HOME)/.pyenv
PYTHONS ?= 3.12.1 3.13.0
PYTHON_PINS := httpx==0.28.1 httpcore==1.0.9 anyio==4.16.0 trio==0.35.0 hypothesis==6.170.15
PYTHON_SMOKE_TESTS := tests/test_signing.py tests/test_auth.py tests/test_connect.py tests/test_batch_sandbox.py \
	tests/test_sweep.py tests/test_sandbox.py tests/test_pytest_plugin.py tests/test_cli.py

test-pythons:
	@for v in $(PYTHONS); do \
		py=$(PYENV_ROOT)/versions/$$v/bin/python3; \
		if [ ! -x "$$py" ]; then \
			echo "make test-pythons: Python $$v is not at $$py (pyenv install $$v, or PYTHONS=... PYENV_ROOT=...)" >&2; \
			exit 1; \
		fi; \
		echo "== Python $$v ($$py)"; \
		PYTHON=$$py tools/test_deps.sh python-$$v "$(PYTHON_PINS)" $(PYTHON_SMOKE_TESTS) -n 2 || exit 1; \
	done

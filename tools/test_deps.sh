#!/usr/bin/env bash
# make test-deps: `make demo`'s script and the runtime's tests under other versions of the dependencies,
# each set in a venv of its own (.venv-deps/NAME; never .venv, whose generator pins httpx<0.29).
#
#   tools/test_deps.sh NAME "PIN ..." [pytest arguments...]
#
# NAME names the venv, PIN the versions to install beside the SDK and the sandbox (pip resolves the rest
# from pyproject.toml's ranges). The venv is rebuilt only when its pins change.
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1 pins=$2
shift 2
venv=.venv-deps/$name
stamp=$venv/.pins
# The test tools, at requirements-dev.txt's pins (vcrpy and pytest-recording: the plugin's record-and-replay test).
tools=$(grep -E '^(pytest|pytest-asyncio|pytest-timeout|pytest-xdist|execnet|vcrpy|pytest-recording)==' requirements-dev.txt | tr '\n' ' ')
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$pins $tools" ]; then
    rm -rf "$venv"
    ${PYTHON:-python3} -m venv "$venv"
    # shellcheck disable=SC2086 # the pins are words
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $tools $pins -e . -e ./sandbox 2>&1 \
        | { grep -v "^WARNING: Location" || true; }
    echo "$pins $tools" >"$stamp"
fi
"$venv/bin/python" -m pip check --disable-pip-version-check >/dev/null
echo "== $name: $("$venv/bin/python" -c 'import anyio, httpcore, httpx; from importlib.metadata import version as v; print("httpx", httpx.__version__, "httpcore", httpcore.__version__, "anyio", v("anyio"))')"
# tools/demo.py finds the console scripts next to the interpreter that runs it.
"$venv/bin/python" tools/demo.py >"$venv/demo.log" || { cat "$venv/demo.log"; exit 1; }
echo "== $name: make demo's script passed"
"$venv/bin/python" -m pytest -q -p no:cacheprovider -p no:randomly "$@"

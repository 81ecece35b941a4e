#!/usr/bin/env bash
# make consumer-drill: a trading team's project installed OFFLINE from the wheelhouse (make wheelhouse's
# dist/: the two wheels and every dependency), testing its bot with the sandbox's plugin under xdist
# (-n 4), pytest-randomly and -W error, async tests on asyncio and trio (tools/consumer/test_bot.py).
#
# The test tools are downloaded into the wheelhouse too (pinned as requirements-dev.txt pins them), so
# the project's venv is built with --no-index: nothing is fetched while it installs.
set -euo pipefail
cd "$(dirname "$0")/.."
# pytest-randomly is the consumer's, not ours (our suite's order is pytest's): pinned here.
tools="$(grep -E '^(pytest|pytest-asyncio|pytest-xdist|execnet|trio)==' requirements-dev.txt | tr '\n' ' ') pytest-randomly==5.1.0"
# shellcheck disable=SC2086 # the pins are words
${PYTHON:-.venv/bin/python} -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
    --dest dist $tools
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
wheel=$(ls "$PWD"/dist/upbit_order_cancel-*.whl)
# shellcheck disable=SC2086
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index --find-links dist \
    "upbit-order-cancel[sandbox] @ file://$wheel" $tools
mkdir "$work/bot"
cp tools/consumer/test_bot.py "$work/bot/"
printf '[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n' >"$work/bot/pytest.ini"
cd "$work/bot"
for seed in 1 2; do
    "$work/venv/bin/python" -m pytest -q -p no:cacheprovider -n 4 -W error --randomly-seed=$seed test_bot.py
done
echo "consumer drill: the bot's plugin tests passed offline, -n 4, randomly (2 seeds), -W error, asyncio and trio"

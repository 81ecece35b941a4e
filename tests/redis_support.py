"""A throwaway real ``redis-server`` for the tests of the shared rate-limit store.

Started once per test session on a unix socket in a temporary folder (nothing listens on the network),
emptied before each test, stopped at the end. Where ``redis-server`` is not installed the tests that need
it skip with the reason, except in CI (``CI=true``), where that is a failure: CI installs it (``.ci/run``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI must run the Redis tests: .ci/run installs redis-server)")
    pytest.skip(f"{reason}: apt-get install -y redis-server to run the shared-store tests")


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A redis-server on a unix socket in ``folder``, answering pings: (process, URL). Stop it with ``terminate``."""
    binary = shutil.which("redis-server")
    if binary is None:
        _missing("redis-server is not installed")
    assert binary is not None
    socket_path = folder / "redis.sock"
    process = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(socket_path), "--save", "", "--appendonly", "no"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"unix://{socket_path}?db=0"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url).ping()
            return process, url
        except redis.RedisError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                _missing("redis-server did not start")
            time.sleep(0.02)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """The URL of a running throwaway redis-server (unix socket), for the whole session."""
    folder = Path(tempfile.mkdtemp(prefix="upbit-redis-"))
    try:
        process, url = start_redis(folder)
        try:
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """``redis_server``, emptied for this test."""
    redis.Redis.from_url(redis_server).flushall()
    return redis_server

"""A fake wall clock for limiter tests: sleeping moves it forward instantly."""

from __future__ import annotations


class FakeClock:
    """A wall clock for limiter tests: sleeping moves it forward instantly."""

    def __init__(self, start: float = 1_000_000.25) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        # Rounded so that sleeping "to the boundary" lands on it, as a real clock would pass it.
        self.now = round(self.now + seconds, 9)

    async def async_sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        # Rounded so that sleeping "to the boundary" lands on it, as a real clock would pass it.
        self.now = round(self.now + seconds, 9)

"""``make spec-drill``: four spec changes in a scratch clone, and what the gates and a consumer make of each.

Issue 24's upgrade drill, as a script the lead (or CI, on demand) runs; it takes minutes (a venv, wheels,
a consumer venv), so it is not part of ``make test``. In a clone of this repository's HEAD (committed work
only) it first marks 3.0.0 released (a ``## [3.0.0]`` heading in CHANGELOG.md, committed), so each change
is counted from a release (a and b build on each other; c and d each start from that release). Then:

a. a new optional parameter (``note`` on ``cancel_orders_by_ids``): ``make generate``, ``make api``, the bump
   ``make api-check`` asks for, the quick gates, a commit, wheels (``make dist`` after the quick gates, with
   ``DIST_SKIP_TEST=1``: the whole suite is ``make test``'s job), installed into a consumer venv, and a call
   with ``note=`` against the sandbox;
b. a new enum value (``prewait`` in ``OpenOrderState``): the same, the consumer upgrading by installing the
   new wheel files over the old ones, then ``cancel_open_orders(states=["prewait"])`` on the sandbox;
c. a renamed response field (``CancelOrdersResult.failed`` -> ``failures``): ``make api``'s words, then the
   real ``make dist``, which must fail before a wheel exists, naming the hand-written code that breaks;
d. ``maxItems`` 20 -> 10 for ``uuids[]`` of ``cancel_orders_by_ids``: ``make api-check`` must name it
   breaking and ask for a major version.

Each step's command, exit status and telling lines go to stdout and to ``drill.md`` in the work folder;
the script exits 1 when an expectation above does not hold. ``--keep`` leaves the work folder.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUICK_GATES = ("lint", "typecheck", "verifytypes", "api-check", "check-generated")

CONSUMER_NOTE = """
import httpx
from upbit_cancel import connect
from upbit_client.api.order import cancel_orders_by_ids
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange

exchange = SandboxExchange()
order = exchange.add_order(market="KRW-BTC")
keys = {"access_key": DEMO_ACCESS_KEY, "secret_key": DEMO_SECRET_KEY}
with connect(**keys, httpx_args={"transport": exchange.transport()}) as c:
    answer = cancel_orders_by_ids.sync_detailed(client=c, uuids=[order.uuid], note="drill")
print("status", int(answer.status_code), answer.content.decode()[:200])
print("wire", [record.target for record in exchange.requests][-1])
"""

CONSUMER_PREWAIT = """
from upbit_cancel import __version__, cancel_open_orders, connect
from upbit_sandbox import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, SandboxExchange

exchange = SandboxExchange()
new = exchange.add_order(market="KRW-BTC", state="prewait")
old = exchange.add_order(market="KRW-BTC", state="wait")
keys = {"access_key": DEMO_ACCESS_KEY, "secret_key": DEMO_SECRET_KEY}
with connect(**keys, httpx_args={"transport": exchange.transport()}) as c:
    result = cancel_open_orders(c, states=["prewait"])
states = {o.uuid: o.state for o in exchange.orders()}
print("version", __version__)
print("cancelled", [o.uuid == new.uuid for o in result.success], "states", states[new.uuid], states[old.uuid])
assert [o.uuid for o in result.success] == [new.uuid] and states[new.uuid] == "cancel" and states[old.uuid] == "wait"
"""


class Drill:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.clone = work / "sdk"
        self.consumer = work / "consumer"
        self.log: list[str] = []
        self.failures: list[str] = []

    def say(self, text: str) -> None:
        print(text, flush=True)
        self.log.append(text)

    def run(self, *command: str, cwd: Path | None = None, show: int = 12, grep: str | None = None) -> tuple[int, str]:
        """Run ``command``; log its status and its last ``show`` lines (or the lines matching ``grep``)."""
        environment = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        done = subprocess.run(
            command, cwd=cwd or self.clone, capture_output=True, text=True, check=False, env=environment
        )
        output = done.stdout + done.stderr
        lines = output.splitlines()
        picked = [line for line in lines if re.search(grep, line)] if grep else lines[-show:]
        self.say(f"$ {' '.join(command)}  -> exit {done.returncode}")
        self.log.extend(f"    {line}" for line in picked[:40])
        print("\n".join(f"    {line}" for line in picked[:40]), flush=True)
        return done.returncode, output

    def expect(self, ok: bool, what: str) -> None:
        self.say(f"{'OK  ' if ok else 'FAIL'} {what}")
        if not ok:
            self.failures.append(what)

    def edit(self, path: str, old: str, new: str, after: str = "") -> None:
        """Replace the first ``old`` after ``after`` in ``path`` of the clone."""
        file = self.clone / path
        text = file.read_text(encoding="utf-8")
        start = text.index(after) if after else 0
        at = text.index(old, start)
        file.write_text(text[:at] + new + text[at + len(old) :], encoding="utf-8")

    def commit(self, message: str) -> None:
        self.run("git", "add", "-A", show=0)
        self.run("git", "-c", "user.name=drill", "-c", "user.email=drill@localhost", "commit", "-qm", message, show=2)

    def accept(self) -> None:
        """``make api``, then the bump ``make api-check`` asks for, if any."""
        self.run("make", "generate", show=1)
        self.run("make", "api", grep=r"^\s+(breaking|additive|none):|needs version|make version")
        self.run("git", "diff", "-U0", "CHANGELOG.md", grep=r"^\+- ")  # the lines a person reads
        code, output = self.run("make", "api-check", show=3)
        asked = re.search(r"make version V=(\S+?)`", output)
        if code and asked:
            self.run("make", "version", f"V={asked.group(1)}", show=2)

    def quick_gates(self) -> bool:
        code, _ = self.run("make", *QUICK_GATES, grep=r"error|Error|differs|below|matches|up to date|completeness")
        return code == 0

    def wheels(self) -> list[Path]:
        self.run("make", "dist", "DIST_SKIP_TEST=1", show=2)
        return sorted((self.clone / "dist").glob("*.whl"))

    def install(self, wheels: list[Path]) -> str:
        self.run(str(self.consumer / "bin" / "pip"), "install", "--quiet", *map(str, wheels), cwd=self.work, show=3)
        _, shown = self.run(str(self.consumer / "bin" / "pip"), "show", "upbit-order-cancel", cwd=self.work, show=0)
        version = re.search(r"(?m)^Version: (\S+)", shown)
        self.say(f"consumer has upbit-order-cancel {version.group(1) if version else '?'}")
        return version.group(1) if version else ""

    def consume(self, script: str) -> tuple[int, str]:
        return self.run(str(self.consumer / "bin" / "python"), "-c", script, cwd=self.work, show=6)


def setup(drill: Drill) -> None:
    drill.say(f"# spec drill, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, in {drill.work}")
    drill.run("git", "clone", "--quiet", str(ROOT), str(drill.clone), cwd=drill.work, show=2)
    drill.run("make", ".venv/.installed", show=2)
    today = datetime.date.today().isoformat()
    drill.edit("CHANGELOG.md", "## [Unreleased]\n", f"## [Unreleased]\n\n## [3.0.0] - {today}\n")
    drill.commit("drill: 3.0.0 released")
    drill.run("git", "tag", "drill-release", show=0)
    drill.run(sys.executable, "-m", "venv", str(drill.consumer), cwd=drill.work, show=2)


def new_parameter(drill: Drill) -> str:
    drill.say("\n## a. a new optional parameter: note on cancel_orders_by_ids")
    parameter = (
        "        - name: note\n          in: query\n          required: false\n"
        "          description: A note kept with the cancel request (drill).\n"
        "          schema:\n            type: string\n            maxLength: 40\n"
    )
    drill.edit(
        "openapi.yaml", "      responses:\n", parameter + "      responses:\n", after="operationId: cancelOrdersByIds"
    )
    drill.accept()
    drill.commit("drill: note")  # check-generated compares generated/ with the commit
    drill.expect(drill.quick_gates(), "a: the quick gates pass")
    version = drill.install(drill.wheels())
    code, output = drill.consume(CONSUMER_NOTE)
    drill.expect(
        code == 0 and "status 200" in output, "a: the consumer's call with note= is answered 200 by the sandbox"
    )
    return version


def new_enum_value(drill: Drill, before: str) -> None:
    drill.say("\n## b. a new enum value: prewait in OpenOrderState")
    drill.edit("openapi.yaml", "enum: [wait, watch]", "enum: [wait, watch, prewait]", after="    OpenOrderState:")
    drill.accept()
    drill.commit("drill: prewait")  # check-generated compares generated/ with the commit
    drill.expect(drill.quick_gates(), "b: the quick gates pass")
    after = drill.install(drill.wheels())
    drill.expect(bool(after) and after != before, f"b: installing the new wheel files upgraded {before} -> {after}")
    code, _ = drill.consume(CONSUMER_PREWAIT)
    drill.expect(code == 0, 'b: cancel_open_orders(states=["prewait"]) cancelled the prewait order on the sandbox')


def renamed_field(drill: Drill) -> None:
    drill.say("\n## c. a renamed response field: CancelOrdersResult.failed -> failures (from the release)")
    drill.run("git", "checkout", "--quiet", "drill-release", show=2)
    drill.edit("openapi.yaml", "        failed:\n", "        failures:\n", after="    CancelOrdersResult:")
    drill.run("make", "generate", show=1)
    drill.run("make", "api", grep=r"renamed|needs version")
    shutil.rmtree(drill.clone / "dist", ignore_errors=True)
    code, output = drill.run("make", "dist", grep=r"error:|Error \d|\*\*\*")
    wheels = list((drill.clone / "dist").glob("*.whl"))
    drill.expect(code != 0 and not wheels, "c: make dist fails and no wheel exists")
    drill.expect(
        "cancel/upbit_cancel/" in output, "c: the failure names the hand-written code (cancel/upbit_cancel/...)"
    )
    drill.run("git", "checkout", "--quiet", "--", ".", show=0)
    drill.run("git", "clean", "-fdq", "generated", show=0)


def tighter_limit(drill: Drill) -> None:
    drill.say("\n## d. maxItems 20 -> 10 for uuids[] of cancel_orders_by_ids (from the release)")
    drill.run("git", "checkout", "--quiet", "drill-release", show=2)
    drill.edit("openapi.yaml", "maxItems: 20", "maxItems: 10", after="operationId: cancelOrdersByIds")
    drill.run("make", "generate", show=1)
    code, output = drill.run("make", "api-check", grep=r"maxItems|major|make version")
    drill.expect(code != 0 and "breaking: cancel_orders_by_ids: uuids maxItems 20 -> 10" in output, "d: named breaking")
    drill.expect("need a major bump" in output, "d: the gate asks for a major version")
    drill.run("git", "checkout", "--quiet", "--", ".", show=0)


STEPS: tuple[Callable[[Drill], None], ...] = (renamed_field, tighter_limit)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="the work folder (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="leave the work folder")
    options = parser.parse_args(argv)
    work = options.work or Path(tempfile.mkdtemp(prefix="spec-drill-"))
    work.mkdir(parents=True, exist_ok=True)
    drill = Drill(work)
    try:
        setup(drill)
        new_enum_value(drill, new_parameter(drill))
        for step in STEPS:
            step(drill)
        drill.say("\n" + ("every expectation held" if not drill.failures else f"FAILED: {'; '.join(drill.failures)}"))
        (work / "drill.md").write_text("\n".join(drill.log) + "\n", encoding="utf-8")
    finally:
        if not options.keep:
            print(f"(the log is above; --keep leaves {work})")
            shutil.rmtree(work, ignore_errors=True)
    return 1 if drill.failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``upbit-cancel`` command, then its own peak memory, for the hostile-exchange tables.

``python -m tests.peak_cli PEAK_FILE ARGS...`` runs the console script's ``upbit_cancel.entry.main(ARGS)``
as ``upbit-cancel ARGS...`` would, writes this process's peak resident memory (Linux's ``VmHWM``, read by
the process itself at exit) to PEAK_FILE and exits with the command's status. The ``ru_maxrss`` a parent
reads from ``wait4`` would also count the parent's memory copied at fork (a pytest-xdist worker's).
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.hostile_client import peak_rss
from upbit_cancel.entry import main


def run(argv: list[str]) -> int:
    peak_file, args = argv[0], argv[1:]
    try:
        return main(args)
    finally:
        Path(peak_file).write_text(str(peak_rss()), encoding="ascii")


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))

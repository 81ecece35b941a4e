"""``python -m upbit_sandbox``: the same as the ``upbit-sandbox`` command."""

import sys

from . import main

sys.exit(main())

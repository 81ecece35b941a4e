"""``python -m upbit_auth.sandbox``: the same as the ``upbit-sandbox`` command."""

import sys

from . import main

sys.exit(main())

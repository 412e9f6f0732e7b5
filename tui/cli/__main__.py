"""``python -m hedgedesk.tui.cli``: the ``hedgedesk`` command."""

import sys

from hedgedesk.tui.cli.main import main

sys.exit(main())

"""`python -m explorer.evaluate ...`: see `explorer.evaluate.rows`."""

import sys

from explorer.evaluate.rows import main

sys.exit(main())

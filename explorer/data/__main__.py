"""`python -m explorer.data build ...`: see `explorer.data.dataset`."""

import sys

from explorer.data.dataset import main

sys.exit(main())

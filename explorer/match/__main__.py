"""`python -m explorer.match FILE_OR_FOLDER... --out DIR`: see `explorer.match.matcher`."""

import sys

from explorer.match.matcher import main

sys.exit(main())

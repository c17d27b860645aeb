"""`python -m explorer.param_sets rank`: print each continuous parameter's effect on the sound."""

import sys

from explorer.param_sets import rank

if sys.argv[1:2] != ["rank"]:
    sys.exit("usage: python -m explorer.param_sets rank")
for name, score in rank():
    print(f"{name:20s} {score:.4f}")

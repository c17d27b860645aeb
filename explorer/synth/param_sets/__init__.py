"""Parameter sets: which plugin parameters a model predicts; every other one is held at a default preset.

The sets are data (`16.json`, `30.json`, `41.json` beside this file). How the 16-parameter set was chosen
(each continuous parameter's effect on the log-mel): `python -m explorer.data.param_rank`.
"""

from __future__ import annotations

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def load_param_set(name: str | int) -> dict:
    """{"name", "params": [names], "default": how held parameters are set, "why": ...}."""
    path = os.path.join(HERE, f"{name}.json")
    if not os.path.isfile(path):
        available = sorted(f[:-5] for f in os.listdir(HERE) if f.endswith(".json"))
        raise ValueError(f"unknown parameter set {name!r}; available: {', '.join(available)}")
    with open(path) as f:
        return json.load(f)

"""Parameter sets: which plugin parameters a model predicts; every other one is held at a default preset.

The sets are data (`16.json`, `30.json`, `41.json` beside this file). `python -m explorer.param_sets rank`
measures how much each continuous parameter changes the sound (mean log-mel L1 between a human preset
and the same preset with that one parameter redrawn uniformly), which is how the 16-parameter set was
chosen: the 16 continuous parameters with the largest effect.
"""

from __future__ import annotations

import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def load_param_set(name: str | int) -> dict:
    """{"name", "params": [names], "default": how held parameters are set, "why": ...}."""
    path = os.path.join(HERE, f"{name}.json")
    if not os.path.isfile(path):
        available = sorted(f[:-5] for f in os.listdir(HERE) if f.endswith(".json"))
        raise ValueError(f"unknown parameter set {name!r}; available: {', '.join(available)}")
    with open(path) as f:
        return json.load(f)


def rank(n_presets: int = 60, seed: int = 0) -> list[tuple[str, float]]:
    """Effect of each continuous parameter on the log-mel, averaged over random human presets."""
    from explorer.features import log_mel
    from explorer.presets import ParamMap, dedupe, read_all_banks
    from explorer.synth import Synth

    rng = np.random.default_rng(seed)
    with Synth() as synth:
        pmap = ParamMap.from_synth(synth)
        presets = dedupe(read_all_banks(), pmap)
        base = np.stack([pmap.to_normalised(presets[i].raw)
                         for i in rng.choice(len(presets), n_presets, replace=False)])
        ref = log_mel(synth.render(base))
        scores = []
        for p in synth.params:
            if p.discrete:
                continue
            pert = base.copy()
            pert[:, p.index] = rng.random(n_presets)
            scores.append((p.name, float((log_mel(synth.render(pert)) - ref).abs().mean())))
    return sorted(scores, key=lambda s: -s[1])


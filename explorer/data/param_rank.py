"""How much each synth parameter changes the sound: `python -m explorer.data.param_rank`.

Measures, for each continuous parameter, the mean log-mel L1 between a human preset and the same preset
with that one parameter redrawn uniformly; that is how the 16-parameter set
(`explorer/synth/param_sets/16.json`) was chosen: the 16 continuous parameters with the largest effect.
"""

from __future__ import annotations

import sys

import numpy as np


def rank(n_presets: int = 60, seed: int = 0) -> list[tuple[str, float]]:
    """Effect of each continuous parameter on the log-mel, averaged over random human presets."""
    from explorer.data.features import log_mel
    from explorer.synth.host import Synth
    from explorer.synth.presets import ParamMap, dedupe, read_all_banks

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


def main(argv: list[str] | None = None) -> int:
    if list(sys.argv[1:] if argv is None else argv):
        sys.exit("usage: python -m explorer.data.param_rank")
    for name, score in rank():
        print(f"{name:20s} {score:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

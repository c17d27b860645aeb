"""How far the surrogate's view of a model's out-of-domain predictions is from the real synth's.

    python scripts/surrogate_gap.py CHECKPOINT SURROGATE DATA [--audio data/ood]

For every sound of the folder (conditioned as a match: loudness, pitch, the encoder's copy at note 60) the
model alone predicts parameters; the script prints the mean log-mel L1 (the project's metric, unnormalised)
of (1) the real render at the sound's own note against the sound (what `explorer.evaluate --match model`
reports), (2) the real render at note 60 against the encoder's copy, and (3) the surrogate's log-mel for the
prediction against the encoder's copy (what the spectral and adaptation terms see), for all sounds, the GM
instruments and the voices. A model trained through the surrogate can lower (3) without lowering (1)-(2).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from explorer.data.audio_input import list_audio
from explorer.data.conditioning import condition_file
from explorer.data.dataset import load_dataset
from explorer.data.features import log_mel, mel
from explorer.evaluate import candidates
from explorer.evaluate.metrics import log_mel_l1
from explorer.models.checkpoint import load_model
from explorer.models.surrogate import load_surrogate
from explorer.synth.host import Synth


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("surrogate")
    ap.add_argument("data", help="the data set whose log-mel statistics the surrogate was fitted with")
    ap.add_argument("--audio", default="data/ood")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    model, index = load_model(args.checkpoint, device="cpu"), candidates.load(args.checkpoint)
    if index is None:
        raise SystemExit(f"{args.checkpoint}: no candidate index beside it (its loudness reference is needed)")
    stats = load_dataset(args.data).meta["stats"]
    sur = load_surrogate(args.surrogate, model.param_names)
    files = list_audio(args.audio)
    rows = []
    with Synth(workers=1) as synth:
        for path in files:
            c = condition_file(path, ref_db=index.loudness_ref)
            enc = log_mel(c.encoder_audio)  # [1, 64, 80]
            v = model.infer(enc)
            full = model.full_params(v)
            at_note, at_60 = synth.render(full, note=c.note)[0], synth.render(full, note=60)[0]
            with torch.no_grad():
                sur_lm = sur(v).reshape(1, 64, 80).double() * stats["std"] + stats["mean"]
            rows.append((log_mel_l1(mel(c.audio), mel(at_note))[0], log_mel_l1(mel(c.encoder_audio), mel(at_60))[0],
                         float((sur_lm - enc.double()).abs().mean())))
    r = np.asarray(rows)
    gm = np.array([os.path.basename(p).startswith("gm") for p in files])
    for k, what in enumerate(("real, at the sound's note", "real, at note 60 (encoder copy)",
                              "surrogate, at note 60 (encoder copy)")):
        print(f"{what:38s} all {r[:, k].mean():.3f}  instruments {r[gm, k].mean():.3f}  voices {r[~gm, k].mean():.3f}")


if __name__ == "__main__":
    main()

"""Adaptation to sounds from outside the dataset: a spectral term on unlabelled sounds during training.

`--set adapt=DIR/adapt.npz --set adapt_weight=W` (Flow_reg / Flow_dis with a surrogate): every training step
also predicts parameters for `adapt_batch` sounds of the set (`explorer.evaluate.ood_adapt`: GM instruments
and vocal sketches that are not in the out-of-domain test set) and adds W x the surrogate's log-mel L1
between the prediction and the sound. These sounds have no parameters; the term teaches the encoder which
presets *sound* like what it hears outside the synth's own output. Validation reports the term on the set's
held-out slice (`adapt_spec`), and the best epoch is picked on `spec_adapt` = in-domain `spec` + `adapt_spec`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from explorer.models.distributed import Dist


class AdaptError(ValueError):
    """An adaptation set that is missing, malformed, or that this run cannot use."""


def load_adapt(path: str | Path, stats: dict, device: torch.device) -> tuple[Tensor, Tensor]:
    """adapt.npz -> (train, held-out) normalised log-mels `Tensor[N, 1, 64, 80]` (the dataset's stats)."""
    try:
        f = np.load(path, allow_pickle=False)
        mels, valid = np.asarray(f["mels"], np.float32), np.asarray(f["valid"], bool)
    except (OSError, KeyError, ValueError) as e:
        raise AdaptError(f"adaptation set {path}: cannot read ({e}); build one with "
                         "python -m explorer.evaluate.ood_adapt") from e
    if mels.ndim != 3 or mels.shape[1:] != (64, 80) or len(valid) != len(mels):
        raise AdaptError(f"adaptation set {path}: mels {mels.shape} / valid {valid.shape}, expected [N, 64, 80] / [N]")
    if valid.all() or not valid.any():
        raise AdaptError(f"adaptation set {path}: needs both training and held-out sounds ({valid.sum()} held out "
                         f"of {len(valid)})")
    x = torch.from_numpy((mels - stats["mean"]) / stats["std"])[:, None].to(device)
    v = torch.from_numpy(valid).to(device)
    return x[~v], x[v]


class Adapter:
    """The adaptation term of one training run (see the module docstring)."""

    def __init__(self, cfg: Any, stats: dict, d: Dist, seed: int = 0) -> None:
        if d.world > 1:
            raise AdaptError("the adaptation term runs on one process only (not under torchrun)")
        if not cfg.surrogate or cfg.spectral_weight <= 0:
            raise AdaptError("adapt_weight > 0 needs the spectral term too (--set spectral_weight=W surrogate=PATH)")
        self.weight, self.batch = float(cfg.adapt_weight), int(cfg.adapt_batch)
        self.train, self.valid = load_adapt(cfg.adapt, stats, d.device)
        self.gen = torch.Generator().manual_seed(seed)

    def record(self, path: str) -> dict[str, Any]:
        """What the training summary says about the set."""
        return {"path": path, "train": len(self.train), "held_out": len(self.valid), "weight": self.weight}

    def step(self, model) -> tuple[Tensor, dict[str, float]]:
        """The weighted term on a random batch of the set (model in train mode), and its log."""
        idx = torch.randint(len(self.train), (min(self.batch, len(self.train)),), generator=self.gen)
        spec = model.unlabelled_spec(self.train[idx.to(self.train.device)]).mean()
        return self.weight * spec, {"adapt_spec": spec.item()}

    @torch.no_grad()
    def validate(self, model, batch: int = 64) -> dict[str, float]:
        """`adapt_spec` on the held-out slice (model in eval mode)."""
        model.eval()
        tot = sum(model.unlabelled_spec(self.valid[a:a + batch]).sum().item() for a in range(0, len(self.valid), batch))
        return {"adapt_spec": tot / len(self.valid)}

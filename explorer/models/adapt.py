"""Adaptation to sounds from outside the dataset: a spectral term on unlabelled sounds during training.

`--set adapt=DIR/adapt.npz --set adapt_weight=W` (Flow_reg / Flow_dis with a surrogate): every training step
also predicts parameters for `adapt_batch` sounds of the set (`explorer.evaluate.ood_adapt`: GM instruments
and vocal sketches that are not in the out-of-domain test set) and adds W x the surrogate's log-mel L1
between the prediction and the sound. These sounds have no parameters; the term teaches the encoder which
presets *sound* like what it hears outside the synth's own output. When the set carries pseudo-labels
(`ood_adapt --label`: the parameters the matching pipeline's `--fast` search found for each sound), the batch
also enters the model's whole training loss as ordinary, untagged examples. Validation reports the term on the set's
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


def load_adapt(path: str | Path, stats: dict, device: torch.device, n_params: int | None = None
               ) -> tuple[Tensor, Tensor, Tensor | None]:
    """adapt.npz -> (train, held-out) normalised log-mels `Tensor[N, 1, 64, 80]` (the dataset's stats), and
    the train sounds' pseudo-labels `Tensor[N, P]` when the set has them (else None)."""
    try:
        f = np.load(path, allow_pickle=False)
        mels, valid = np.asarray(f["mels"], np.float32), np.asarray(f["valid"], bool)
        params = np.asarray(f["params"], np.float32) if "params" in f.files else None
    except (OSError, KeyError, ValueError) as e:
        raise AdaptError(f"adaptation set {path}: cannot read ({e}); build one with "
                         "python -m explorer.evaluate.ood_adapt") from e
    if mels.ndim != 3 or mels.shape[1:] != (64, 80) or len(valid) != len(mels):
        raise AdaptError(f"adaptation set {path}: mels {mels.shape} / valid {valid.shape}, expected [N, 64, 80] / [N]")
    if valid.all() or not valid.any():
        raise AdaptError(f"adaptation set {path}: needs both training and held-out sounds ({valid.sum()} held out "
                         f"of {len(valid)})")
    if params is not None and (params.shape[0] != len(mels) or (n_params and params.shape[1] != n_params)):
        raise AdaptError(f"adaptation set {path}: labels {params.shape} for {len(mels)} sounds of a "
                         f"{n_params}-parameter model")
    x = torch.from_numpy((mels - stats["mean"]) / stats["std"])[:, None].to(device)
    keep = torch.from_numpy(valid).to(device)
    labels = None if params is None else torch.from_numpy(params).to(device)[~keep]
    return x[~keep], x[keep], labels


class Adapter:
    """The adaptation term of one training run (see the module docstring)."""

    def __init__(self, cfg: Any, stats: dict, d: Dist, seed: int = 0) -> None:
        if d.world > 1:
            raise AdaptError("the adaptation term runs on one process only (not under torchrun)")
        if not cfg.surrogate or cfg.spectral_weight <= 0:
            raise AdaptError("adapt_weight > 0 needs the spectral term too (--set spectral_weight=W surrogate=PATH)")
        self.weight, self.batch = float(cfg.adapt_weight), int(cfg.adapt_batch)
        self.train, self.valid, self.labels = load_adapt(cfg.adapt, stats, d.device, cfg.n_params)
        self.n_pairs, self.seed = cfg.n_pairs, seed
        self.gen = torch.Generator().manual_seed(seed)

    def start_epoch(self, epoch: int) -> None:
        """Reseed the batch draw from (seed, epoch): a resumed run draws what an uninterrupted one would."""
        self.gen.manual_seed(self.seed * 100_003 + epoch)

    def record(self, path: str) -> dict[str, Any]:
        """What the training summary says about the set."""
        return {"path": path, "train": len(self.train), "held_out": len(self.valid), "weight": self.weight,
                "labelled": self.labels is not None}

    def step(self, model, beta: float = 1.0) -> tuple[Tensor, dict[str, float]]:
        """The term on a random batch of the set (model in train mode), and its log: the weighted spectral
        L1; with pseudo-labels, plus the model's whole training loss on the batch (as dataset examples,
        untagged)."""
        idx = torch.randint(len(self.train), (min(self.batch, len(self.train)),), generator=self.gen)
        idx = idx.to(self.train.device)
        x = self.train[idx]
        spec = model.unlabelled_spec(x).mean()
        loss, logs = self.weight * spec, {"adapt_spec": spec.item()}
        if self.labels is not None:
            tags = torch.zeros(len(idx), self.n_pairs, dtype=torch.int8, device=x.device)
            sup, sup_logs = model.loss(x, self.labels[idx], tags, beta, True)
            loss, logs["adapt_param_mse"] = loss + sup, sup_logs["param_mse"]
        return loss, logs

    @torch.no_grad()
    def validate(self, model, batch: int = 64) -> dict[str, float]:
        """`adapt_spec` on the held-out slice (model in eval mode)."""
        model.eval()
        tot = sum(model.unlabelled_spec(self.valid[a:a + batch]).sum().item() for a in range(0, len(self.valid), batch))
        return {"adapt_spec": tot / len(self.valid)}

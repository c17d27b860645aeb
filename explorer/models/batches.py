"""Training data on the device and its batches: a split's normalised log-mels, parameters and tags (or
gaussianised descriptors), and the epoch's index batches from a (distributed) sampler."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DistributedSampler

from explorer.data.tags import descriptor_targets


def load_split(data: Any, split: str, device: torch.device, continuous: bool = False
               ) -> tuple[Tensor, Tensor, Tensor]:
    """-> normalised mels `Tensor[N, 1, 64, 80]`, params `Tensor[N, P]`, tags `Tensor[N, n_pairs]` (or,
    with `continuous`, the gaussianised descriptors `float [N, n_pairs]`)."""
    idx = data.indices(split)
    s = data.meta["stats"]
    x = torch.from_numpy((np.asarray(data.mels[idx], np.float32) - s["mean"]) / s["std"])[:, None]
    v = torch.from_numpy(np.asarray(data.params[idx], np.float32))
    if continuous:
        ref = np.asarray(data.descriptors[data.indices("train")], np.float64)
        t = torch.from_numpy(descriptor_targets(np.asarray(data.descriptors[idx], np.float64), ref))
    else:
        t = torch.from_numpy(np.asarray(data.tags[idx], np.int8))
    # whole splits fit in memory (10k sounds: 200 MB); on a GPU this avoids a host copy per batch
    return x.to(device), v.to(device), t.to(device)


def batches(sampler: DistributedSampler, batch: int, drop_last: bool) -> list[Tensor]:
    idx = torch.tensor(list(sampler), dtype=torch.long)
    chunks = list(idx.split(batch))
    if drop_last and len(chunks) > 1 and len(chunks[-1]) < batch:
        chunks = chunks[:-1]  # a last batch of 1-2 examples makes BatchNorm statistics meaningless
    return chunks

"""Reference rows for the evaluation: nearest preset, mean preset, silence.

- nearest preset: for each target, the training-split sound with the lowest log-mel L1 distance
  (`mean |logmel_a - logmel_b|`, the same distance as `explorer.evaluate.metrics.log_mel_l1`); its full parameter
  vector is rendered again. A lookup table, no model: what a model has to beat to be worth having.
- mean preset: the mean of the training split's set parameters (discrete ones snapped to their steps),
  other parameters at the dataset's defaults; one sound for every target.
- silence: all-zero audio. SC is exactly 1.0 by definition (an SC above 1 is worse than silence).
"""

from __future__ import annotations

import numpy as np
import torch

NAMES = ("nearest", "mean", "silence")


def nearest_indices(targets: np.ndarray | torch.Tensor, library: np.ndarray | torch.Tensor,
                    chunk: int = 64, library_chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Log-mels `targets[N, 64, 80]`, `library[M, 64, 80]` -> (index `[N]` into library, L1 distance `[N]`).

    Distance: mean absolute difference of log-mels. Computed in chunks (`torch.cdist`, p=1) so a
    memory-mapped library of any size fits.
    """
    if torch.is_tensor(targets):
        t = targets.detach().float().cpu().flatten(1)
    else:
        t = torch.from_numpy(np.array(targets, dtype=np.float32)).flatten(1)  # a copy: memmaps are read-only
    n, m = len(t), len(library)
    if m == 0:
        raise ValueError("nearest preset: the library (training split) is empty")
    best_d = torch.full((n,), float("inf"), dtype=torch.float64)
    best_i = torch.zeros(n, dtype=torch.long)
    for b in range(0, m, library_chunk):
        lib = torch.as_tensor(np.array(library[b : b + library_chunk], dtype=np.float32)).flatten(1)
        for a in range(0, n, chunk):
            d = torch.cdist(t[a : a + chunk][None], lib[None], p=1)[0].double() / t.shape[1]  # [chunk, L]
            dmin, imin = d.min(dim=1)
            better = dmin < best_d[a : a + chunk]
            best_d[a : a + chunk] = torch.where(better, dmin, best_d[a : a + chunk])
            best_i[a : a + chunk] = torch.where(better, imin + b, best_i[a : a + chunk])
    return best_i.numpy(), best_d.numpy()


def quantise(v: np.ndarray, steps: list[int]) -> np.ndarray:
    """Snap `v[..., P]` to each parameter's steps (0 = continuous, left alone); clipped to [0, 1]."""
    v = np.clip(np.asarray(v, dtype=np.float64), 0.0, 1.0).copy()
    for j, s in enumerate(steps):
        if s and s > 1:
            v[..., j] = np.round(v[..., j] * (s - 1)) / (s - 1)
    return v


def mean_preset(train_params: np.ndarray, steps: list[int]) -> np.ndarray:
    """`train_params[M, P]` -> the mean preset `v[P]` (discrete parameters snapped to their steps)."""
    return quantise(np.asarray(train_params, dtype=np.float64).mean(axis=0), steps)


def silence(n: int, n_samples: int) -> np.ndarray:
    """`audio[n, n_samples]` of zeros."""
    return np.zeros((n, n_samples), np.float32)

"""Common model interface and the training fields shared by every model config.

Every model maps a normalised log-mel `Tensor[B, 1, 64, 80]` to parameters `Tensor[B, P]` in [0, 1]
(`infer`) and exposes `loss(...)` for the training loop. Latent models (AE family) add `encode` /
`decode`; models with an invertible regression flow add `params_to_latent`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from torch import Tensor, nn


@dataclass
class ModelConfig:
    """Fields every model shares. `n_params` / `n_pairs` are filled from the dataset by the trainer."""

    n_params: int = 16
    n_pairs: int = 0
    # training schedule (defaults scaled to a 2-core CPU; see explorer/models/train.py for measured timings)
    epochs: int = 60
    batch: int = 64
    lr: float = 2e-4
    early_stop: int = 10  # epochs without validation improvement before stopping
    plateau_patience: int = 3  # epochs without improvement before the learning rate is halved
    beta_warmup: int = 0  # epochs over which the KL / MMD weight rises linearly 0 -> 1
    reg_start: int = 0  # epoch (0-based) from which the regression loss is switched on
    augment: float = 0.0  # fraction of each training batch augmented (explorer.data.augment), 0: off

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        """Build from a dict, ignoring unknown keys (older / newer checkpoints stay loadable)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in names})


class SynthModel(nn.Module):
    """Base class. Subclasses set `has_latent` / `invertible` and implement what they support."""

    has_latent = False
    invertible = False

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.n_params = cfg.n_params
        self.latent_dim = cfg.n_params if self.has_latent else 0

    def infer(self, x: Tensor) -> Tensor:
        """`Tensor[B, 1, 64, 80]` (normalised) -> v `Tensor[B, P]` in [0, 1], deterministic."""
        return self.decode(self.encode(x))

    def encode(self, x: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no latent space")

    def decode(self, z: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no latent space")

    def params_to_latent(self, v: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no invertible regressor")

    @property
    def semantic_dims(self) -> list[int]:
        """Latent dim steered by each tag pair (empty when the model is not disentangled)."""
        return []

    def forward(self, x: Tensor, v: Tensor, tags: Tensor, beta: float = 1.0,
                reg_on: bool = True, target: Tensor | None = None) -> tuple[Tensor, dict[str, float]]:
        """The training loss (`loss`): DistributedDataParallel syncs gradients only through forward()."""
        return self.loss(x, v, tags, beta, reg_on, target)

    def loss(self, x: Tensor, v: Tensor, tags: Tensor, beta: float = 1.0,
             reg_on: bool = True, target: Tensor | None = None) -> tuple[Tensor, dict[str, float]]:
        """x `Tensor[B, 1, 64, 80]`, v `Tensor[B, P]`, tags `Tensor[B, n_pairs]` in {-1, 0, 1}. `target`:
        the spectrogram auto-encoders reconstruct when x is an augmented version of it (default x).

        Returns the scalar loss to minimise and a dict of logged floats, always including `param_mse`
        (mean squared parameter error of the prediction used for this batch).
        """
        raise NotImplementedError

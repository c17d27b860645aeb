"""Baselines straight from spectrogram to parameters, trained with MSE (paper: MLP, CNN, ResNet)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import ModelConfig, SynthModel
from .nets import N_FRAMES, N_MELS, conv_stack, flat_size


@dataclass
class MLPConfig(ModelConfig):
    hidden: tuple[int, ...] = (1024, 512, 256)


@dataclass
class CNNConfig(ModelConfig):
    channels: tuple[int, ...] = (32, 64, 128, 128)
    hidden: int = 512


@dataclass
class ResNetConfig(ModelConfig):
    # half the CNN's width: two convs per stage make it ~3x the CNN's cost at equal width (CPU budget)
    channels: tuple[int, ...] = (16, 32, 64, 128)
    hidden: int = 512


class _Direct(SynthModel):
    """Shared loss / infer: `net(x)` is a logit per parameter, the prediction is its sigmoid."""

    net: nn.Module

    def infer(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.net(x))

    def loss(self, x: Tensor, v: Tensor, tags: Tensor, beta: float = 1.0,
             reg_on: bool = True, target: Tensor | None = None) -> tuple[Tensor, dict[str, float]]:
        mse = F.mse_loss(self.infer(x), v)
        return mse, {"loss": mse.item(), "param_mse": mse.item()}


class MLP(_Direct):
    def __init__(self, cfg: MLPConfig) -> None:
        super().__init__(cfg)
        layers: list[nn.Module] = [nn.Flatten()]
        d = N_MELS * N_FRAMES
        for h in cfg.hidden:
            layers += [nn.Linear(d, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True)]
            d = h
        layers.append(nn.Linear(d, cfg.n_params))
        self.net = nn.Sequential(*layers)


class CNN(_Direct):
    def __init__(self, cfg: CNNConfig) -> None:
        super().__init__(cfg)
        self.net = nn.Sequential(
            conv_stack(cfg.channels), nn.Flatten(),
            nn.Linear(flat_size(cfg.channels), cfg.hidden), nn.ReLU(inplace=True),
            nn.Linear(cfg.hidden, cfg.n_params),
        )


class ResBlock(nn.Module):
    """Pre-activation-free basic residual block; a strided 1x1 projection when the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
        )
        self.skip = (nn.Identity() if stride == 1 and c_in == c_out else
                     nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)))

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.body(x) + self.skip(x))


class ResNet(_Direct):
    def __init__(self, cfg: ResNetConfig) -> None:
        super().__init__(cfg)
        blocks: list[nn.Module] = []
        c_in = 1
        for c in cfg.channels:
            blocks.append(ResBlock(c_in, c, 2))
            c_in = c
        self.net = nn.Sequential(
            *blocks, nn.Flatten(),
            nn.Linear(flat_size(cfg.channels), cfg.hidden), nn.ReLU(inplace=True),
            nn.Linear(cfg.hidden, cfg.n_params),
        )

"""Building blocks shared by the model families: conv encoder/decoder, MLP regressor, the IAF posterior
and the regression flow (both built from zuko's masked autoregressive transforms).

Conventions: spectrograms are `Tensor[B, 1, 64, 80]` (normalised log-mel), parameters `Tensor[B, P]` in
[0, 1], latents `Tensor[B, D]` with D = P.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from zuko.flows.autoregressive import MaskedAutoregressiveTransform
from zuko.nn import MaskedLinear
from zuko.transforms import MonotonicAffineTransform
from zuko.utils import broadcast

N_MELS, N_FRAMES = 64, 80
# Targets are squeezed into [EPS, 1 - EPS] before the logit so that parameters sitting exactly on 0 or 1
# (very common for synth presets) have a finite pre-image.
V_EPS = 1e-3
_LOG_SLOPE = math.log(1e-3)  # zuko's MonotonicAffineTransform default slope


def conv_stack(channels: Sequence[int]) -> nn.Sequential:
    """Stride-2 conv blocks: `Tensor[B, 1, 64, 80]` -> `Tensor[B, C, 64 / 2^n, 80 / 2^n]`."""
    layers: list[nn.Module] = []
    c_in = 1
    for c in channels:
        layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        c_in = c
    return nn.Sequential(*layers)


def flat_size(channels: Sequence[int]) -> int:
    """Number of features after `conv_stack(channels)` on a 64 x 80 input."""
    h, w = N_MELS, N_FRAMES
    for _ in channels:
        h, w = (h + 1) // 2, (w + 1) // 2
    return channels[-1] * h * w


class ConvEncoder(nn.Module):
    """`Tensor[B, 1, 64, 80]` -> hidden features `Tensor[B, hidden]`."""

    def __init__(self, channels: Sequence[int], hidden: int) -> None:
        super().__init__()
        self.conv = conv_stack(channels)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(flat_size(channels), hidden), nn.ReLU(inplace=True))

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.conv(x))


class ConvDecoder(nn.Module):
    """Latent `Tensor[B, D]` -> reconstructed spectrogram `Tensor[B, 1, 64, 80]` (mirror of ConvEncoder)."""

    def __init__(self, latent: int, channels: Sequence[int], hidden: int) -> None:
        super().__init__()
        self.h0, self.w0 = N_MELS // 2 ** len(channels), N_FRAMES // 2 ** len(channels)
        self.c0 = channels[-1]
        self.fc = nn.Sequential(
            nn.Linear(latent, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, self.c0 * self.h0 * self.w0), nn.ReLU(inplace=True),
        )
        layers: list[nn.Module] = []
        rev = list(channels[::-1])
        for c_in, c_out in itertools.pairwise(rev):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), nn.BatchNorm2d(c_out),
                       nn.ReLU(inplace=True)]
        # the last up-sampling writes the single output channel directly: any layer run at the full
        # 64 x 80 resolution with several channels (conv, BatchNorm) costs more than the rest of the decoder
        layers.append(nn.ConvTranspose2d(channels[0], 1, 4, stride=2, padding=1))
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        h = self.fc(z).view(-1, self.c0, self.h0, self.w0)
        return self.deconv(h)


def mlp(d_in: int, hidden: int, d_out: int, layers: int = 2) -> nn.Sequential:
    mods: list[nn.Module] = []
    d = d_in
    for _ in range(layers):
        mods += [nn.Linear(d, hidden), nn.ReLU(inplace=True)]
        d = hidden
    mods.append(nn.Linear(d, d_out))
    return nn.Sequential(*mods)


class MLPRegressor(nn.Module):
    """z `Tensor[B, D]` -> v `Tensor[B, P]` in (0, 1)."""

    def __init__(self, latent: int, n_params: int, hidden: int) -> None:
        super().__init__()
        self.net = mlp(latent, hidden, n_params)

    def forward(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.net(z))


def _zero_last(t: MaskedAutoregressiveTransform) -> None:
    # A stack of random affine steps can blow activations up; starting every step at the identity
    # (shift 0, log-scale 0) keeps a 16-step flow stable at the start of training.
    last = t.hyper[-1]
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)


def _orders(features: int, n: int) -> list[Tensor]:
    return [torch.arange(features) if i % 2 == 0 else torch.arange(features).flip(0) for i in range(n)]


class AutoregressiveStack(nn.Module):
    """A chain of affine masked autoregressive transforms (optionally conditioned on a context vector).

    `forward(x, c) -> (y, ladj)` runs every step in its parallel direction (one network pass per step):
    with x = base noise this is an IAF (Kingma et al. 2016); with x = data it is a MAF's density pass
    (Papamakarios et al. 2017). `inverse(y, c) -> x` is the sequential direction (D passes per step).
    x, y: `Tensor[B, D]`, c: `Tensor[B, C]` or None, ladj: `Tensor[B]` = log |det dy/dx|.
    """

    def __init__(self, features: int, steps: int, hidden: int, context: int = 0) -> None:
        super().__init__()
        self.steps = nn.ModuleList(
            MaskedAutoregressiveTransform(features, context, order=o, hidden_features=(hidden, hidden),
                                          univariate=MonotonicAffineTransform)
            for o in _orders(features, steps)
        )
        for t in self.steps:
            _zero_last(t)

    def forward(self, x: Tensor, c: Tensor | None = None) -> tuple[Tensor, Tensor]:
        ladj = x.new_zeros(x.shape[:-1])
        for step in self.steps:
            x, l = step(c).call_and_ladj(x)
            ladj = ladj + l
        return x, ladj

    def inverse(self, y: Tensor, c: Tensor | None = None) -> Tensor:
        # zuko's `step(c).inv(y)` written out for its affine step: the same operations in the same order,
        # so the result is bit-identical, but without building a transform object per pass (D passes per
        # step). 2.5 times faster for one latent point, which every slider move and map click decodes.
        for step in reversed(self.steps):
            layers = [(m.mask * m.weight, m.bias) for m in step.hyper if isinstance(m, MaskedLinear)]
            x = torch.zeros_like(y)
            for _ in range(step.passes):
                h = x if c is None else torch.cat(broadcast(x, c, ignore=1), dim=-1)
                for i, (w, b) in enumerate(layers):
                    h = F.linear(h, w, b)
                    if i < len(layers) - 1:
                        h = torch.relu(h)
                phi = h.unflatten(-1, (-1, step.total))
                shift, a = phi[..., 0], phi[..., 1]
                log_scale = a / (1 + abs(a / _LOG_SLOPE))  # zuko's MonotonicAffineTransform, slope 1e-3
                x = (y - shift) / log_scale.exp()
            y = x
        return y

    def randomize(self, std: float = 0.1) -> None:
        """Replace the identity start by a random bijection (debug models, tests)."""
        for t in self.steps:
            last = t.hyper[-1]
            nn.init.normal_(last.weight, std=std)
            nn.init.normal_(last.bias, std=std)


class RegressionFlow(nn.Module):
    """Invertible map between latent z `Tensor[B, D]` and parameters v `Tensor[B, P]` (D = P).

    v -> z: `z = T(logit(v))` with T a MAF (parallel, used for the likelihood).
    z -> v: `v = sigmoid(T^-1(z))` (sequential inverse), so decoded parameters always lie in (0, 1).
    Likelihood: v is modelled as `v = sigmoid(T^-1(z + sigma * eps))`, eps ~ N(0, I), hence
    `log p(v | z) = log N(T(logit v); z, sigma^2) + log|det dT| + log|d logit / dv|` (exact).
    """

    def __init__(self, features: int, steps: int, hidden: int, sigma: float) -> None:
        super().__init__()
        self.maf = AutoregressiveStack(features, steps, hidden)
        self.log_sigma = math.log(sigma)

    def params_to_latent(self, v: Tensor) -> tuple[Tensor, Tensor]:
        """v `Tensor[B, P]` in [0, 1] -> (z `Tensor[B, D]`, log|det dz/dv| `Tensor[B]`).

        Values are clamped to [e, 1 - e] first, e = 1e-6 in float32 (1e-12 in float64): a logit of exactly
        0 or 1 is infinite. Inside that range `latent_to_params(params_to_latent(v)) == v` (exact map).
        """
        e = 1e-12 if v.dtype == torch.float64 else 1e-6
        v = v.clamp(e, 1 - e)
        u = torch.logit(v)
        z, ladj = self.maf(u)
        ladj_logit = -(torch.log(v) + torch.log1p(-v)).sum(-1)
        return z, ladj + ladj_logit

    def latent_to_params(self, z: Tensor) -> Tensor:
        """z `Tensor[B, D]` -> v `Tensor[B, P]` in (0, 1)."""
        return torch.sigmoid(self.maf.inverse(z))

    def log_prob(self, v: Tensor, z: Tensor) -> Tensor:
        """log p(v | z) `Tensor[B]` for targets v `Tensor[B, P]` (squeezed into [V_EPS, 1 - V_EPS])."""
        v = V_EPS + (1 - 2 * V_EPS) * v
        zv, ladj = self.params_to_latent(v)
        s = self.log_sigma
        logn = -0.5 * ((zv - z) / math.exp(s)) ** 2 - s - 0.5 * math.log(2 * math.pi)
        return logn.sum(-1) + ladj


def diag_normal_logp(x: Tensor, mu: Tensor | float, log_sigma: Tensor | float) -> Tensor:
    """Sum over the last dim of log N(x; mu, exp(log_sigma)^2): `Tensor[B, D]` -> `Tensor[B]`."""
    log_sigma = torch.as_tensor(log_sigma, dtype=x.dtype, device=x.device)
    return (-0.5 * ((x - mu) * torch.exp(-log_sigma)) ** 2 - log_sigma
            - 0.5 * math.log(2 * math.pi)).sum(-1)


def recon_loss(x_hat: Tensor, x: Tensor) -> Tensor:
    """Gaussian (sigma = 1) reconstruction NLL up to a constant, summed over pixels, mean over batch."""
    return 0.5 * F.mse_loss(x_hat, x, reduction="sum") / x.shape[0]

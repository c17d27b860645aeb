"""Training-time input augmentation for robustness out of domain, on the models' own input.

Sounds from outside the synth (instruments, voices, recordings) differ from its renders in ways that have
nothing to do with its parameters: level, background noise, room reverb, where the onset falls, slight
mistuning, a faster or slower envelope. The trainer (`--set augment=P`) shows the encoder such variants
of a fraction P of each batch and asks it for the clean sound's parameters (and, for the auto-encoders,
the clean spectrogram), so the latent learns to ignore them.

Everything works on the normalised log-mel batch `Tensor[B, 1, 64, 80]`, back in linear mel power,
vectorised over the batch (no audio re-rendering, so it costs little next to a training step). Each
augmented example gets each transform with probability 1/2, at a random strength:

- gain: -6 .. +6 dB;
- reverb: the power envelope convolved with an exponential tail (RT60 0.3-2 s, wet 0.05-0.5), as a diffuse
  room adds energy;
- noise: a tilted noise floor 15-45 dB below the sound's mean power, exponentially distributed per bin;
- time: onset delayed 0-3 frames (46 ms each) and the envelope stretched x0.8-1.25;
- pitch: the spectrum moved up to one mel band (about a semitone in the middle of the range).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from explorer.data.features import LOG_EPS

HOP_SECONDS = 1024 / 22050
TAIL_FRAMES = 48  # reverb kernel length (2.2 s), enough for RT60 2 s to fall below -40 dB


def _u(n: int, lo: float, hi: float, g: torch.Generator, device) -> Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g, device=device)


def _warp(p: Tensor, g: torch.Generator, on: Tensor) -> Tensor:
    """Delay, stretch (time) and shift (mel bands) `p[B, 1, F, T]` by bilinear resampling; silence fills."""
    b, _, nf, nt = p.shape
    dev = p.device
    delay = torch.where(on[0], _u(b, 0.0, 3.0, g, dev), 0.0)
    stretch = torch.where(on[0], torch.exp(_u(b, math.log(0.8), math.log(1.25), g, dev)), 1.0)
    shift = torch.where(on[1], _u(b, -1.0, 1.0, g, dev), 0.0)
    t = torch.arange(nt, device=dev, dtype=p.dtype)
    f = torch.arange(nf, device=dev, dtype=p.dtype)
    src_t = (t[None] - delay[:, None]) / stretch[:, None]  # [B, T]: output frame t reads input frame src_t
    src_f = f[None] - shift[:, None]  # [B, F]
    gx = (2 * src_t / (nt - 1) - 1)[:, None, :].expand(b, nf, nt)
    gy = (2 * src_f / (nf - 1) - 1)[:, :, None].expand(b, nf, nt)
    return F.grid_sample(p, torch.stack([gx, gy], -1), mode="bilinear", padding_mode="zeros",
                         align_corners=True)


def _reverb(p: Tensor, g: torch.Generator, on: Tensor) -> Tensor:
    b, _, nf, nt = p.shape
    dev = p.device
    rt60 = _u(b, 0.3, 2.0, g, dev)
    wet = torch.where(on, _u(b, 0.05, 0.5, g, dev), 0.0)
    k = torch.arange(1, TAIL_FRAMES, device=dev, dtype=p.dtype)
    tail = wet[:, None] * torch.exp(-6.91 * k[None] * HOP_SECONDS / rt60[:, None])  # -60 dB at rt60
    kernel = torch.cat([torch.ones(b, 1, device=dev, dtype=p.dtype), tail], 1)  # [B, K], kernel[0] = dry
    weight = kernel.flip(1)[:, None, None, :].expand(b, nf, 1, TAIL_FRAMES).reshape(b * nf, 1, TAIL_FRAMES)
    x = F.pad(p.reshape(1, b * nf, nt), (TAIL_FRAMES - 1, 0))  # causal
    return F.conv1d(x, weight, groups=b * nf).reshape(b, 1, nf, nt)


def _noise(p: Tensor, g: torch.Generator, on: Tensor) -> Tensor:
    b, _, nf, nt = p.shape
    dev = p.device
    snr_db = _u(b, 15.0, 45.0, g, dev)
    level = torch.where(on, p.flatten(1).mean(1) * 10 ** (-snr_db / 10), 0.0)
    tilt = _u(b, 0.0, 1.5, g, dev)  # 0: flat across mel bands, 1.5: strongly low-heavy
    profile = (torch.arange(1, nf + 1, device=dev, dtype=p.dtype)[None] ** -tilt[:, None])
    profile = profile / profile.mean(1, keepdim=True)
    draws = -torch.log(torch.rand(b, 1, nf, nt, generator=g, device=dev).clamp_min(1e-12))  # Exp(1)
    return p + (level[:, None] * profile)[:, None, :, None] * draws


def augment_mels(x: Tensor, stats: dict, p: float, seed: tuple[int, ...]) -> Tensor:
    """A batch of normalised log-mels `x[B, 1, 64, 80]` with a fraction `p` of its examples augmented
    (see the module docstring); the others are returned unchanged, bit for bit. `stats`: the dataset's
    normalisation (meta.json `stats`: mean, std). The same `seed` (e.g. run seed, rank, epoch, step) gives
    the same draws, so a resumed run continues as it would have."""
    if p <= 0:
        return x
    b = x.shape[0]
    dev = x.device
    mean, std = float(stats["mean"]), float(stats["std"])
    g = torch.Generator(dev).manual_seed(hash(tuple(int(k) for k in seed)) & (2**62 - 1))
    chosen = torch.rand(b, generator=g, device=dev) < p
    each = (torch.rand(5, b, generator=g, device=dev) < 0.5) & chosen[None]
    power = (torch.exp(x * std + mean) - LOG_EPS).clamp_min(0.0)
    power = _warp(power, g, each[:2])
    power = power * (10 ** (torch.where(each[2], _u(b, -6.0, 6.0, g, dev), 0.0) / 10))[:, None, None, None]
    power = _reverb(power, g, each[3])
    power = _noise(power, g, each[4])
    out = (torch.log(power + LOG_EPS) - mean) / std
    return torch.where(chosen[:, None, None, None], out, x)

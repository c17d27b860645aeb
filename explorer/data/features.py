"""Audio features: the paper's log-mel spectrogram (DESIGN.md section 1) and audio I/O helpers.

mel: n_fft 2048, hop 1024, 64 mels (slaney scale and norm), 30 Hz - 11 kHz, power 2, centred frames,
cropped/padded to 80 frames, then log(x + 1e-3). At 22,050 Hz a 4 s sound gives 87 frames; the first 80
are kept.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torchaudio

LOG_EPS = 1e-3


@dataclass(frozen=True)
class MelConfig:
    sample_rate: int = 22050
    n_fft: int = 2048
    hop: int = 1024
    n_mels: int = 64
    f_min: float = 30.0
    f_max: float = 11000.0
    frames: int = 80

    def to_dict(self) -> dict:
        return asdict(self)


_TRANSFORMS: dict[MelConfig, torchaudio.transforms.MelSpectrogram] = {}


def _transform(cfg: MelConfig) -> torchaudio.transforms.MelSpectrogram:
    if cfg not in _TRANSFORMS:
        _TRANSFORMS[cfg] = torchaudio.transforms.MelSpectrogram(
            sample_rate=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop, n_mels=cfg.n_mels,
            f_min=cfg.f_min, f_max=cfg.f_max, power=2.0, center=True, norm="slaney",
            mel_scale="slaney",
        )
    return _TRANSFORMS[cfg]


def mel(audio: np.ndarray | torch.Tensor, cfg: MelConfig = MelConfig()) -> torch.Tensor:
    """Linear-power mel spectrogram: `audio[N, T]` or `[T]` -> `Tensor[N, 64, 80]` (float32)."""
    x = torch.as_tensor(np.asarray(audio, dtype=np.float32) if not torch.is_tensor(audio) else audio)
    x = x.float()
    if x.ndim == 1:
        x = x[None]
    with torch.no_grad():
        m = _transform(cfg)(x)  # [N, n_mels, frames]
    if m.shape[-1] >= cfg.frames:
        return m[..., : cfg.frames].contiguous()
    return torch.nn.functional.pad(m, (0, cfg.frames - m.shape[-1]))


def log_mel(audio: np.ndarray | torch.Tensor, cfg: MelConfig = MelConfig()) -> torch.Tensor:
    """`log(mel + 1e-3)`: `audio[N, T]` -> `Tensor[N, 64, 80]`. The models' input before normalisation."""
    return torch.log(mel(audio, cfg) + LOG_EPS)


def fit_length(audio: np.ndarray, n_samples: int) -> np.ndarray:
    """Trim or zero-pad the last axis to `n_samples`."""
    if audio.shape[-1] >= n_samples:
        return audio[..., :n_samples]
    pad = [(0, 0)] * (audio.ndim - 1) + [(0, n_samples - audio.shape[-1])]
    return np.pad(audio, pad)


def loudness_db(power_mel: np.ndarray | torch.Tensor) -> np.ndarray:
    """Mel loudness: `10 log10(mean power)` of a power mel `[N, 64, 80]` (or `[64, 80]`) -> `[N]` dB.

    Scaling the audio by g moves it by exactly `20 log10 g`, so the gain that brings a sound to a reference
    loudness is `10 ** ((ref - loudness) / 20)` (`explorer.data.conditioning`)."""
    p = torch.as_tensor(np.asarray(power_mel) if not torch.is_tensor(power_mel) else power_mel).double()
    if p.ndim == 2:
        p = p[None]
    return (10.0 * torch.log10(p.clamp_min(0.0).flatten(1).mean(dim=1) + 1e-20)).numpy()

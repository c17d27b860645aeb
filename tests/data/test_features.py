"""The log-mel against an independent numpy computation of DESIGN.md's recipe."""

import numpy as np
import torch

from explorer.data.features import LOG_EPS, MelConfig, fit_length, log_mel, mel


def _hz_to_mel(f):
    f = np.asarray(f, float)
    lin = 3.0 * f / 200.0
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / (np.log(6.4) / 27.0), lin)


def _mel_to_hz(m):
    m = np.asarray(m, float)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), 200.0 * m / 3.0)


def _reference(audio: np.ndarray, cfg: MelConfig) -> np.ndarray:
    n_fft, hop = cfg.n_fft, cfg.hop
    x = np.pad(audio.astype(np.float64), n_fft // 2, mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    n_frames = 1 + (len(x) - n_fft) // hop
    frames = np.stack([x[i * hop : i * hop + n_fft] * window for i in range(n_frames)])
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # [F, n_fft/2+1]
    freqs = np.linspace(0, cfg.sample_rate / 2, n_fft // 2 + 1)
    pts = _mel_to_hz(np.linspace(_hz_to_mel(cfg.f_min), _hz_to_mel(cfg.f_max), cfg.n_mels + 2))
    fb = np.zeros((cfg.n_mels, len(freqs)))
    for i in range(cfg.n_mels):
        lo, c, hi = pts[i : i + 3]
        fb[i] = np.maximum(0, np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c)))
        fb[i] *= 2.0 / (hi - lo)  # slaney area normalisation
    m = fb @ power.T  # [M, F]
    return np.log(m[:, : cfg.frames] + LOG_EPS)


def test_log_mel_matches_independent_computation():
    cfg = MelConfig()
    rng = np.random.default_rng(0)
    t = np.arange(88200) / cfg.sample_rate
    audio = (0.3 * np.sin(2 * np.pi * 261.63 * t) * np.exp(-t) + 0.05 * rng.standard_normal(len(t)))
    ours = log_mel(audio.astype(np.float32))[0].numpy()
    ref = _reference(audio, cfg)
    assert ours.shape == (64, 80)
    np.testing.assert_allclose(ours, ref, atol=2e-3, rtol=1e-3)


def test_shapes_batch_and_padding():
    cfg = MelConfig()
    x = np.zeros((3, 88200), np.float32)
    assert mel(x).shape == (3, 64, 80)
    short = log_mel(np.zeros(22050, np.float32))
    assert short.shape == (1, 64, 80)
    assert torch.allclose(short, torch.full_like(short, float(np.log(LOG_EPS))))
    assert fit_length(np.ones(10), 4).shape == (4,) and fit_length(np.ones(2), 4)[-1] == 0
    assert cfg.frames == 80

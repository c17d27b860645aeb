"""Evaluation metrics (DESIGN.md section 1), computed per sound so means and medians both come out.

Every audio metric compares an output with a target through the same mel spectrogram the models see
(`explorer.data.features.mel`: power mel, 64 x 80). Inputs are linear *power* mels `Tensor/ndarray[N, M, F]`;
magnitudes are their square roots.

- `mse_n(v_hat, v)`: squared parameter error over the batch mean of `v**2` (the paper's MSE_n). Per sound:
  `mean_p (v_hat - v)**2 / mean_{n,p} v**2`, so the mean over the batch is the paper's number.
- `spectral_convergence`: `SC = ||Y - X||_F / ||X||_F` on linear mel magnitude (X target, Y output).
  Silence gives exactly 1.0; SC > 1 is worse than silence.
- `magnitude_mse`: `mean (Y - X)**2` on linear mel magnitude (the paper's audio MSE).
- `log_spectral_distance`: per frame `sqrt(mean_m (10 log10((Py + e) / (Px + e)))**2)` in dB, averaged
  over frames (e = 1e-10, i.e. a -100 dB floor).
- `mfcc_distance`: 20 MFCCs (orthonormal DCT-II of the dB mel, 1e-10 floor, as torchaudio's MFCC with
  log_mels=False and no top_db), Euclidean distance per frame, averaged over frames.
- `log_mel_l1`: `mean |log(Py + 1e-3) - log(Px + 1e-3)|` (the models' log-mel; the refine objective).
- `spectral_convergence_gain` ("sc_ln", loudness-normalised SC): SC after scaling the output magnitude by
  the one gain that fits it best to the target (least squares, `g = <X, Y> / <Y, Y>`), so a right timbre at
  the wrong level is not punished; <= plain SC, and 1.0 for a silent output.
"""

from __future__ import annotations

import numpy as np
import torch
import torchaudio

from explorer.data.features import LOG_EPS, MelConfig, mel

DB_FLOOR = 1e-10
N_MFCC = 20
METRICS = ("mse_n", "sc", "sc_ln", "mse", "lsd", "mfcc", "logmel_l1")


def _t(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """As a float64 tensor (metrics in double precision: SC of silence must be exactly 1.0)."""
    return torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x).double()


def _pair(target: np.ndarray | torch.Tensor, output: np.ndarray | torch.Tensor):
    x, y = _t(target), _t(output)
    if x.ndim == 2:
        x = x[None]
    if y.ndim == 2:
        y = y[None]
    x, y = torch.broadcast_tensors(x, y)
    return x.clamp_min(0.0), y.clamp_min(0.0)


def mse_n(v_hat: np.ndarray | torch.Tensor, v: np.ndarray | torch.Tensor) -> np.ndarray:
    """`v_hat[N, P]`, `v[N, P]` -> `[N]`: mean squared error per sound / batch mean of `v**2`."""
    vh, vt = _t(v_hat), _t(v)
    denom = (vt**2).mean()
    return (((vh - vt) ** 2).mean(dim=-1) / denom).numpy()


def spectral_convergence(target_mel: np.ndarray | torch.Tensor,
                         output_mel: np.ndarray | torch.Tensor) -> np.ndarray:
    """Power mels `[N, M, F]` -> SC `[N]` on linear magnitude. A silent target gives 0 (silent output) or inf."""
    x, y = _pair(target_mel, output_mel)
    x, y = x.sqrt(), y.sqrt()
    num = (y - x).flatten(1).norm(dim=1)
    den = x.flatten(1).norm(dim=1)
    sc = torch.where(den > 0, num / den.where(den > 0, torch.ones_like(den)),
                     torch.where(num > 0, torch.full_like(num, float("inf")), torch.zeros_like(num)))
    return sc.numpy()


def spectral_convergence_gain(target_mel: np.ndarray | torch.Tensor,
                              output_mel: np.ndarray | torch.Tensor) -> np.ndarray:
    """Power mels `[N, M, F]` -> loudness-normalised SC `[N]`: `||g Y - X|| / ||X||` with the best gain g >= 0."""
    x, y = _pair(target_mel, output_mel)
    x, y = x.sqrt().flatten(1), y.sqrt().flatten(1)
    yy = (y * y).sum(dim=1)
    g = torch.where(yy > 0, (x * y).sum(dim=1) / yy.where(yy > 0, torch.ones_like(yy)), torch.zeros_like(yy))
    return spectral_convergence((x**2)[:, None], ((g[:, None] * y) ** 2)[:, None])


def magnitude_mse(target_mel: np.ndarray | torch.Tensor, output_mel: np.ndarray | torch.Tensor) -> np.ndarray:
    """Power mels `[N, M, F]` -> `[N]`: mean squared error of linear magnitudes."""
    x, y = _pair(target_mel, output_mel)
    return ((y.sqrt() - x.sqrt()) ** 2).flatten(1).mean(dim=1).numpy()


def log_spectral_distance(target_mel: np.ndarray | torch.Tensor,
                          output_mel: np.ndarray | torch.Tensor) -> np.ndarray:
    """Power mels `[N, M, F]` -> `[N]` log-spectral distance in dB (RMS over mel bands, mean over frames)."""
    x, y = _pair(target_mel, output_mel)
    d = 10.0 * torch.log10((y + DB_FLOOR) / (x + DB_FLOOR))  # [N, M, F]
    return d.pow(2).mean(dim=1).sqrt().mean(dim=1).numpy()


_DCT: dict[tuple[int, int], torch.Tensor] = {}


def mfcc(power_mel: np.ndarray | torch.Tensor, n_mfcc: int = N_MFCC) -> torch.Tensor:
    """Power mel `[N, M, F]` -> MFCC `[N, n_mfcc, F]` (dB with a 1e-10 floor, orthonormal DCT-II)."""
    m = _t(power_mel)
    if m.ndim == 2:
        m = m[None]
    key = (n_mfcc, m.shape[1])
    if key not in _DCT:
        _DCT[key] = torchaudio.functional.create_dct(n_mfcc, m.shape[1], norm="ortho").double()  # [M, n_mfcc]
    db = 10.0 * torch.log10(m.clamp_min(DB_FLOOR))
    return torch.einsum("nmf,mk->nkf", db, _DCT[key])


def mfcc_distance(target_mel: np.ndarray | torch.Tensor, output_mel: np.ndarray | torch.Tensor) -> np.ndarray:
    """Power mels `[N, M, F]` -> `[N]`: per-frame Euclidean distance of 20 MFCCs, mean over frames."""
    x, y = _pair(target_mel, output_mel)
    return (mfcc(y) - mfcc(x)).norm(dim=1).mean(dim=1).numpy()


def log_mel_l1(target_mel: np.ndarray | torch.Tensor, output_mel: np.ndarray | torch.Tensor) -> np.ndarray:
    """Power mels `[N, M, F]` -> `[N]`: `mean |log(Py + 1e-3) - log(Px + 1e-3)|`."""
    x, y = _pair(target_mel, output_mel)
    return (torch.log(y + LOG_EPS) - torch.log(x + LOG_EPS)).abs().flatten(1).mean(dim=1).numpy()


def mel_from_log_mel(logmel: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Invert `log(mel + 1e-3)` -> power mel `[N, M, F]` (float64, clamped at 0): dataset targets."""
    return (_t(logmel).exp() - LOG_EPS).clamp_min(0.0)


def audio_metrics(target_mel: np.ndarray | torch.Tensor,
                  output_mel: np.ndarray | torch.Tensor) -> dict[str, np.ndarray]:
    """All audio metrics for power mels `[N, M, F]` -> {name: `[N]`} (sc, sc_ln, mse, lsd, mfcc, logmel_l1)."""
    return {
        "sc": spectral_convergence(target_mel, output_mel),
        "sc_ln": spectral_convergence_gain(target_mel, output_mel),
        "mse": magnitude_mse(target_mel, output_mel),
        "lsd": log_spectral_distance(target_mel, output_mel),
        "mfcc": mfcc_distance(target_mel, output_mel),
        "logmel_l1": log_mel_l1(target_mel, output_mel),
    }


def audio_metrics_from_audio(target_audio: np.ndarray, output_audio: np.ndarray,
                             cfg: MelConfig | None = None) -> dict[str, np.ndarray]:
    """Same as `audio_metrics` for waveforms `[N, T]` (mels computed with `explorer.data.features.mel`)."""
    cfg = cfg or MelConfig()
    return audio_metrics(mel(target_audio, cfg), mel(output_audio, cfg))


def summarise(values: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """{name: per-sound values `[N]`} -> {name: {"mean", "median", "std", "n"}} (finite values only for mean)."""
    out = {}
    for k, v in values.items():
        v = np.asarray(v, dtype=np.float64)
        if v.size == 0 or np.all(np.isnan(v)):
            out[k] = {"mean": None, "median": None, "std": None, "n": int(v.size)}
            continue
        out[k] = {"mean": float(np.nanmean(v)), "median": float(np.nanmedian(v)),
                  "std": float(np.nanstd(v)), "n": int(np.sum(~np.isnan(v)))}
    return out

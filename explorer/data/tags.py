"""Semantic tags: antonym pairs computed from audio descriptors, and categories from preset names.

Descriptors (one number per sound, computed on the rendered audio):
- `centroid` (Dark <-> Bright): energy-weighted mean over frames of the spectral centroid of the linear
  mel spectrogram, in Hz (mel band centres as frequencies).
- `flux` (Constant <-> Moving): mean L1 change between consecutive log-mel frames (log(mel + 1e-3)) while
  the note is held (frames whose energy is within 60 dB of the loudest), i.e. how much the timbre moves.
- `attack` (Soft <-> Aggressive): negative log10 of the attack time (seconds from 10 % to 90 % of the
  peak of a 1.45 ms RMS envelope, crossings interpolated between frames); a fast attack is aggressive.
- `flatness` (Clean <-> Dirty): energy-weighted mean spectral flatness (geometric / arithmetic mean of the
  mel power per frame): noise, distortion and dense spectra are dirty.
Two more, for the steering macros only (`STEER_PAIRS`; datasets keep the four tag pairs):
- `duration` (Short <-> Long): seconds during which the frame energy stays within 30 dB of the loudest
  frame (the 3 s held note plus its release): how long the sound is heard. The log frame energy is
  interpolated linearly between frames (46 ms apart), so the duration varies continuously.
- `spread` (Thin <-> Thick): energy-weighted spread, in octaves, of the mel spectrum around its centroid
  (standard deviation of log2 frequency per frame): a thin sound sits in a narrow band, a thick one
  (detuned oscillators, many partials, noise) covers several octaves.

Rule: a sound gets the positive word when its descriptor is above the 70th percentile of the training
split, the negative word below the 30th, no tag in between (about 30 % tagged on either side). Silent
sounds are never tagged.

Categories: the first keyword (case-insensitive, whole word or prefix) found in the preset name decides,
in the order of `CATEGORIES`; names without one are "other".
"""

from __future__ import annotations

import functools
import re

import numpy as np
from scipy.special import ndtri

from explorer.data.features import LOG_EPS, MelConfig, mel

TAG_PAIRS: list[tuple[str, str, str]] = [
    ("Dark", "Bright", "centroid"),
    ("Constant", "Moving", "flux"),
    ("Soft", "Aggressive", "attack"),
    ("Clean", "Dirty", "flatness"),
]
STEER_PAIRS: list[tuple[str, str, str]] = [*TAG_PAIRS, ("Short", "Long", "duration"), ("Thin", "Thick", "spread")]
UNITS = {"centroid": "Hz", "flux": "log-mel/frame", "attack": "-log10 s", "flatness": "", "duration": "s",
         "spread": "oct"}
LOW_PCT, HIGH_PCT = 30.0, 70.0
SILENCE_PEAK = 1e-4

CATEGORIES: list[tuple[str, list[str]]] = [
    ("other", []),
    ("bass", ["bass", "sub", "808"]),
    ("pad", ["pad", "atmo", "ambient", "choir", "sweep"]),
    ("lead", ["lead", "solo", "mono"]),
    ("bell", ["bell", "chime", "glock", "vibra", "marimba", "kalimba"]),
    ("organ", ["organ", "hammond", "church"]),
    ("string", ["string", "violin", "cello", "orch", "ensemble"]),
    ("brass", ["brass", "horn", "trumpet", "trombone", "sax"]),
    ("pluck", ["pluck", "pizz", "harp", "guitar", "clav", "koto"]),
    ("keys", ["piano", "keys", "rhodes", "epiano", "ep ", "wurli", "key"]),
    ("fx", ["fx", "sfx", "effect", "noise", "wind", "drone", "laser", "zap", "siren", "alien"]),
    ("drum", ["drum", "kick", "snare", "hat", "perc", "tom", "clap"]),
]
CATEGORY_NAMES = [c for c, _ in CATEGORIES]
_CATEGORY_RES = [(i, re.compile(r"(^|[^a-z])(" + "|".join(map(re.escape, kws)) + ")"))
                 for i, (_, kws) in enumerate(CATEGORIES) if kws]


def category(name: str) -> int:
    """Index into CATEGORY_NAMES for a preset name (0 = other)."""
    low = name.lower()
    for i, rx in _CATEGORY_RES:
        if rx.search(low):
            return i
    return 0


@functools.lru_cache(maxsize=4)
def _mel_centres(cfg: MelConfig) -> np.ndarray:
    """Centre frequency (Hz) of each mel band: `[M]`, read-only (cached: the app asks on every view)."""
    import torchaudio

    m = torchaudio.functional.melscale_fbanks(cfg.n_fft // 2 + 1, cfg.f_min, cfg.f_max, cfg.n_mels,
                                              cfg.sample_rate, norm="slaney", mel_scale="slaney")
    freqs = np.linspace(0, cfg.sample_rate / 2, cfg.n_fft // 2 + 1)
    w = m.numpy()  # [freq, mel]
    out = (w * freqs[:, None]).sum(0) / np.maximum(w.sum(0), 1e-12)
    out.setflags(write=False)
    return out


def _crossing(env: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Fractional frame index where each row of `env[N, F]` first reaches `level[N, 1]`."""
    k = np.argmax(env >= level, axis=1)
    rows = np.arange(len(env))
    prev = env[rows, np.maximum(k - 1, 0)]
    cur = env[rows, k]
    frac = np.where((k > 0) & (cur > prev), (level[:, 0] - prev) / np.maximum(cur - prev, 1e-20), 0.0)
    return k - 1 + np.clip(frac, 0, 1) + (k == 0)


_DEFAULT_MEL = MelConfig()


def _power(audio: np.ndarray, cfg: MelConfig, power: np.ndarray | None) -> np.ndarray:
    """The sounds' linear mel `[N, M, F]` in float64: `power` as given (the caller's), else computed."""
    return np.asarray(mel(audio, cfg) if power is None else power, np.float64).reshape(len(audio), cfg.n_mels, -1)


def descriptors(audio: np.ndarray, cfg: MelConfig = _DEFAULT_MEL, power: np.ndarray | None = None) -> np.ndarray:
    """`audio[N, T]` -> `descriptors[N, len(TAG_PAIRS)]` (NaN for silent sounds). `power`: the sounds' linear
    mel `[N, M, F]` (`features.mel`) when the caller has it already."""
    audio = np.atleast_2d(np.asarray(audio, np.float32))
    power = _power(audio, cfg, power)
    frame_e = power.sum(1)  # [N, F]
    weights = frame_e / np.maximum(frame_e.sum(1, keepdims=True), 1e-20)
    centres = _mel_centres(cfg)
    cent = (power * centres[None, :, None]).sum(1) / np.maximum(frame_e, 1e-20)
    centroid = (cent * weights).sum(1)

    logm = np.log(power + LOG_EPS)
    active = frame_e > frame_e.max(1, keepdims=True) * 1e-6  # within 60 dB of the loudest frame
    step = np.abs(np.diff(logm, axis=2)).mean(1)  # [N, F-1]
    both = active[:, 1:] & active[:, :-1]
    flux = (step * both).sum(1) / np.maximum(both.sum(1), 1)

    geo = np.exp(np.log(power + 1e-20).mean(1))
    flat = geo / np.maximum(power.mean(1), 1e-20)
    flatness = (flat * weights).sum(1)

    hop = 32  # 1.45 ms RMS frames; threshold crossings interpolated between frames
    n = audio.shape[1] // hop
    env = np.sqrt((audio[:, : n * hop].reshape(len(audio), n, hop) ** 2).mean(2))  # [N, n]
    peak = env.max(1, keepdims=True)
    attack_s = (_crossing(env, peak * 0.9) - _crossing(env, peak * 0.1)) * hop / cfg.sample_rate
    attack_s = np.maximum(attack_s, 1e-4)
    attack = -np.log10(attack_s)

    out = np.stack([centroid, flux, attack, flatness], axis=1).astype(np.float32)
    silent = np.abs(audio).max(1) < SILENCE_PEAK
    out[silent] = np.nan
    return out


def envelope_descriptors(power: np.ndarray, cfg: MelConfig = _DEFAULT_MEL) -> np.ndarray:
    """Linear mel power `[N, M, F]` -> `[N, 2]`: `duration` (s) and `spread` (octaves), see the docstring."""
    power = np.asarray(power, np.float64)
    frame_e = power.sum(1)
    # time above -30 dB, the log energy interpolated linearly between frames, so the duration moves
    # continuously with the sound instead of in whole 46 ms frames
    a = np.log(frame_e + 1e-30) - np.log(frame_e.max(1, keepdims=True) * 1e-3 + 1e-30)
    lo, hi = a[:, :-1], a[:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        part = np.where(lo > 0, lo / (lo - hi), hi / (hi - lo))  # the share above 0 of a crossing interval
    above = np.where((lo > 0) & (hi > 0), 1.0, np.where((lo > 0) | (hi > 0), part, 0.0))
    duration = above.sum(1) * cfg.hop / cfg.sample_rate
    weights = frame_e / np.maximum(frame_e.sum(1, keepdims=True), 1e-20)
    octave = np.log2(np.maximum(_mel_centres(cfg), 20.0))[None, :, None]
    share = power / np.maximum(frame_e[:, None, :], 1e-20)
    mean = (share * octave).sum(1, keepdims=True)
    sd = np.sqrt(np.maximum((share * (octave - mean) ** 2).sum(1), 0.0))
    return np.stack([duration, (sd * weights).sum(1)], axis=1)


def steer_descriptors(audio: np.ndarray, cfg: MelConfig = _DEFAULT_MEL, power: np.ndarray | None = None) -> np.ndarray:
    """`audio[N, T]` -> `[N, len(STEER_PAIRS)]`: the four tag descriptors, then duration and spread.
    `power`: as for `descriptors`."""
    audio = np.atleast_2d(np.asarray(audio, np.float32))
    power = _power(audio, cfg, power)
    out = np.concatenate([descriptors(audio, cfg, power), envelope_descriptors(power, cfg)], axis=1)
    out[np.abs(audio).max(1) < SILENCE_PEAK] = np.nan
    return out.astype(np.float32)


def thresholds(desc: np.ndarray) -> np.ndarray:
    """`[n_pairs, 2]` (low, high) percentiles of each descriptor over the given (training) sounds."""
    return np.stack([np.nanpercentile(desc, [LOW_PCT, HIGH_PCT], axis=0)[:, k]
                     for k in range(desc.shape[1])])


def tags(desc: np.ndarray, thr: np.ndarray) -> np.ndarray:
    """`desc[N, K]`, `thr[K, 2]` -> int8 `[N, K]`: -1 negative word, +1 positive word, 0 untagged."""
    out = np.zeros(desc.shape, np.int8)
    with np.errstate(invalid="ignore"):
        out[desc < thr[:, 0]] = -1
        out[desc > thr[:, 1]] = 1
    return out


def descriptor_targets(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Map each column of `values [N, K]` through the empirical CDF of `reference [M, K]` (the train split)
    onto N(0, 1): a rank transform, so skewed descriptors (attack times, flux) become unit-normal targets."""
    out = np.empty(values.shape, np.float32)
    for k in range(values.shape[1]):
        ref = np.sort(reference[:, k])
        q = (np.searchsorted(ref, values[:, k], side="left") + np.searchsorted(ref, values[:, k], side="right"))
        q = np.clip(q / (2.0 * len(ref)), 0.5 / len(ref), 1 - 0.5 / len(ref))
        out[:, k] = ndtri(q)
    return out

"""Audio input for the app: read an upload or a microphone take, detect its pitch, shift it to the synth's note.

`prepare(path)` is the whole chain: read (wav, flac, ogg; mp3 where libsndfile decodes it) -> mono ->
resample to 22,050 Hz -> detect f0 -> shift to MIDI note 60 (optional) -> trim/pad to 4 s.
Every failure raises `AudioInputError` with a message meant for the user (it names the limit or the format).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

MAX_BYTES = 20 * 1024 * 1024  # upload size limit
MAX_SECONDS = 60.0  # upload duration limit
MIN_SECONDS = 0.05
FORMATS = ("wav", "flac", "ogg", "mp3")
LIMITS_TEXT = (f"Audio uploads: {', '.join(FORMATS)}; at most {MAX_BYTES // (1024 * 1024)} MB and "
               f"{MAX_SECONDS:.0f} s.")


class AudioInputError(ValueError):
    """An upload that cannot be used; the message is shown to the user as is."""


@dataclass
class PreparedAudio:
    audio: np.ndarray  # float32 [n_samples] at `sample_rate`, pitch-shifted when `shifted`
    original: np.ndarray  # float32 [n_samples] at `sample_rate`, not shifted
    sample_rate: int
    f0: float | None  # detected fundamental (Hz) or None when unpitched/silent
    ratio: float  # frequency ratio applied (target / detected), 1.0 when not shifted
    seconds: float  # duration of the upload
    shifted: bool


def midi_to_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def hz_to_midi(f: float) -> float:
    return 69.0 + 12.0 * np.log2(f / 440.0)


def read_audio(path: str) -> tuple[np.ndarray, int]:
    """Read a file -> (mono float32 [T], sample rate). Enforces the size and duration limits."""
    if not path or not os.path.isfile(path):
        raise AudioInputError("No audio file received. " + LIMITS_TEXT)
    size = os.path.getsize(path)
    name = os.path.basename(path)
    if size > MAX_BYTES:
        raise AudioInputError(f"{name} is {size / 2**20:.1f} MB: too large. " + LIMITS_TEXT)
    try:
        info = sf.info(path)
    except Exception:  # noqa: BLE001 - libsndfile raises several types for unreadable files
        raise AudioInputError(f"{name}: not a readable audio file (or a corrupt one). " + LIMITS_TEXT) from None
    seconds = info.frames / max(1, info.samplerate)
    if seconds > MAX_SECONDS:
        raise AudioInputError(f"{name} lasts {seconds:.1f} s: too long. " + LIMITS_TEXT)
    try:
        data, sr = sf.read(path, dtype="float32", always_2d=True)
    except Exception:  # noqa: BLE001
        raise AudioInputError(f"{name}: could not decode the audio data (corrupt file?). " + LIMITS_TEXT) from None
    if len(data) < MIN_SECONDS * sr:
        raise AudioInputError(f"{name}: too short ({len(data) / sr:.3f} s); need at least {MIN_SECONDS} s.")
    mono = data.mean(axis=1)
    if not np.all(np.isfinite(mono)):
        raise AudioInputError(f"{name}: audio contains NaN or infinite samples.")
    return mono.astype(np.float32), int(sr)


def resample(audio: np.ndarray, sr_in: float, sr_out: float) -> np.ndarray:
    """Polyphase resampling `audio[T]` from `sr_in` to `sr_out` (any ratio, rationally approximated)."""
    if abs(sr_in - sr_out) < 1e-9:
        return audio.astype(np.float32)
    frac = Fraction(sr_out / sr_in).limit_denominator(1000)
    return resample_poly(audio, frac.numerator, frac.denominator).astype(np.float32)


def detect_pitch(audio: np.ndarray, sr: int, fmin: float = 40.0, fmax: float = 2000.0,
                 frame: int = 2048, hop: int = 1024, threshold: float = 0.15) -> float | None:
    """Fundamental frequency (Hz) by YIN over frames, median of the voiced ones; None if unpitched or silent."""
    x = np.asarray(audio, dtype=np.float64)
    if len(x) < frame:
        x = np.pad(x, (0, frame - len(x)))
    rms_all = np.sqrt(np.mean(x**2))
    if rms_all < 1e-4:
        return None
    tau_min, tau_max = max(2, int(sr / fmax)), min(frame // 2, int(sr / fmin))
    starts = range(0, len(x) - frame + 1, hop)
    estimates = []
    for s in starts:
        w = x[s : s + frame]
        if np.sqrt(np.mean(w**2)) < 0.1 * rms_all:
            continue
        # difference function d(tau) = sum (w[t] - w[t + tau])^2 via FFT autocorrelation
        n = frame // 2
        acf = np.fft.irfft(np.conj(np.fft.rfft(w[:n], 2 * frame)) * np.fft.rfft(w, 2 * frame))[: n + 1]
        energy = np.cumsum(w**2)
        e0 = energy[n - 1]
        e_tau = energy[np.arange(n + 1) + n - 1] - np.concatenate(([0.0], energy[: n]))
        d = e0 + e_tau - 2 * acf
        d[0] = 0.0
        cmnd = d[1:] * np.arange(1, n + 1) / np.maximum(np.cumsum(d[1:]), 1e-12)
        cmnd = np.concatenate(([1.0], cmnd))
        seg = cmnd[tau_min : tau_max + 1]
        below = np.flatnonzero(seg < threshold)
        if len(below) == 0:
            continue
        t = below[0]
        while t + 1 < len(seg) and seg[t + 1] < seg[t]:  # walk down to the local minimum
            t += 1
        tau = t + tau_min
        if 1 <= tau < len(cmnd) - 1:  # parabolic interpolation
            a, b, c = cmnd[tau - 1], cmnd[tau], cmnd[tau + 1]
            den = a - 2 * b + c
            tau = tau + (0.5 * (a - c) / den if abs(den) > 1e-12 else 0.0)
        estimates.append(sr / tau)
    if len(estimates) < 2:
        return None
    return float(np.median(estimates))


def pitch_shift(audio: np.ndarray, ratio: float) -> np.ndarray:
    """Shift all frequencies by `ratio` by resampling (duration changes by 1/ratio, as on a tape)."""
    if abs(ratio - 1.0) < 1e-4:
        return audio.astype(np.float32)
    return resample(audio, 1.0, 1.0 / ratio)


def fit_length(audio: np.ndarray, n: int) -> np.ndarray:
    if len(audio) >= n:
        return audio[:n].astype(np.float32)
    return np.pad(audio, (0, n - len(audio))).astype(np.float32)


def prepare(path: str, sample_rate: int = 22050, seconds: float = 4.0, note: int = 60,
            shift: bool = True) -> PreparedAudio:
    """Read and prepare an upload for the model (see module docstring)."""
    raw, sr = read_audio(path)
    duration = len(raw) / sr
    x = resample(raw, sr, sample_rate)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak < 1e-5:
        raise AudioInputError(f"{os.path.basename(path)}: the audio is silent.")
    n = round(seconds * sample_rate)
    f0 = detect_pitch(x[: 2 * n], sample_rate)
    ratio = 1.0
    if shift and f0 is not None:
        ratio = midi_to_hz(note) / f0
        y = pitch_shift(x[: int(n * max(1.0, ratio)) + 1], ratio)
    else:
        y = x
    return PreparedAudio(fit_length(y, n), fit_length(x, n), sample_rate, f0, ratio, duration,
                         shift and f0 is not None)


def write_wav(path: str, audio: np.ndarray, sample_rate: int = 22050) -> str:
    sf.write(path, np.asarray(audio, dtype=np.float32), sample_rate, subtype="PCM_16")
    return path

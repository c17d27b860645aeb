"""Audio input conditioning: any audio file -> a mono 4 s clip at 22,050 Hz, optionally moved to note 60.

- `prepare(path)`: the app's chain for an upload or a microphone take: read (wav, flac, ogg; mp3 where
  libsndfile decodes it, with the upload limits) -> mono -> resample to 22,050 Hz -> detect f0 -> shift to
  MIDI note 60 (optional) -> trim/pad to 4 s.
- `read_clip(path, ...)`: the same for evaluation targets and `explorer.match` inputs (no upload limits).
- `resample` (torchaudio's sinc resampler; the project's one resampler), `shift_to_note`, `list_audio`;
  `detect_pitch` (CREPE with octave handling) and `pitch_shift` (phase vocoder, duration kept) live in
  `explorer.data.pitch`; `condition` (the matching pipeline's input conditioning) in
  `explorer.data.conditioning`.
- Float input whose samples leave [-1, 1] is scaled to peak 1, and `read_clip` reports it in `messages`.
Every failure raises `AudioInputError` with a message meant for the user (it names the file, the limit or
the format).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import soundfile as sf
import torch
import torchaudio

from explorer.data.features import fit_length
from explorer.data.pitch import detect_pitch, hz_to_midi, midi_to_hz, pitch_shift

__all__ = ["AudioInputError", "PreparedAudio", "detect_pitch", "hz_to_midi", "midi_to_hz", "pitch_shift",
           "prepare", "read_audio", "read_clip", "resample", "shift_to_note"]

MAX_BYTES = 20 * 1024 * 1024  # upload size limit
MAX_SECONDS = 60.0  # upload duration limit
MIN_SECONDS = 0.05
FORMATS = ("wav", "flac", "ogg", "mp3")
AUDIO_EXTS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")  # what `list_audio` picks from a folder
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
    """Resample `audio[T]` from `sr_in` to `sr_out` with `torchaudio.functional.resample` -> float32.

    Whole-number rates are used as they are; any other ratio is approximated by a fraction (denominator at
    most 1000).
    """
    if abs(sr_in - sr_out) < 1e-9:
        return np.asarray(audio, np.float32)
    if float(sr_in).is_integer() and float(sr_out).is_integer():
        orig, new = int(sr_in), int(sr_out)
    else:
        frac = Fraction(sr_out / sr_in).limit_denominator(1000)
        orig, new = frac.denominator, frac.numerator
    x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    return torchaudio.functional.resample(x, orig, new).numpy()


def shift_to_note(x: np.ndarray, sr: int, n_samples: int, note: int = 60) -> tuple[np.ndarray, float | None, float]:
    """Detect the pitch of `x[T]` and shift it to MIDI `note` -> (audio, f0 or None, ratio applied).

    Unpitched or silent audio comes back unshifted (ratio 1.0). The shift keeps the duration
    (`explorer.data.pitch.pitch_shift`); only the first `n_samples` are shifted.
    """
    f0 = detect_pitch(x[: 2 * n_samples], sr)
    if f0 is None:
        return x, None, 1.0
    ratio = midi_to_hz(note) / f0
    return pitch_shift(x[:n_samples], ratio, sr), f0, ratio


def prepare(path: str, sample_rate: int = 22050, seconds: float = 4.0, note: int = 60,
            shift: bool = True) -> PreparedAudio:
    """Read and prepare an upload for the model (see module docstring)."""
    raw, sr = read_audio(path)
    duration = len(raw) / sr
    x = resample(fix_range(raw, os.path.basename(path)), sr, sample_rate)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak < 1e-5:
        raise AudioInputError(f"{os.path.basename(path)}: the audio is silent.")
    n = round(seconds * sample_rate)
    if shift:
        y, f0, ratio = shift_to_note(x, sample_rate, n, note)
    else:
        y, f0, ratio = x, detect_pitch(x[: 2 * n], sample_rate), 1.0
    return PreparedAudio(_clip(y, n), _clip(x, n), sample_rate, f0, ratio, duration, shift and f0 is not None)


def _clip(audio: np.ndarray, n: int) -> np.ndarray:
    return fit_length(np.asarray(audio), n).astype(np.float32)


def fix_range(x: np.ndarray, name: str, messages: list[str] | None = None) -> np.ndarray:
    """Float audio whose samples leave [-1, 1] (e.g. a float WAV holding 1e6) -> scaled to peak 1, said in
    `messages`. Audio inside the range is returned as it is."""
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak <= 1.0:
        return x
    if messages is not None:
        messages.append(f"{name}: samples reach {peak:.3g}, outside [-1, 1] (float audio at another scale?); "
                        f"scaled to peak 1 (x {1.0 / peak:.3g})")
    return (x / peak).astype(np.float32)


def read_clip(path: str, sample_rate: int = 22050, n_samples: int = 88200, pitch_shift: bool = False,
              note: int = 60, messages: list[str] | None = None, trim: bool = True) -> np.ndarray:
    """Read any soundfile-readable file -> mono float32 `[n_samples]` at `sample_rate` (no upload limits).

    Resampled (`resample`), trimmed or zero-padded. `pitch_shift` moves a detected fundamental to `note`
    first (`shift_to_note`). Samples outside [-1, 1] are scaled to peak 1 (`fix_range`; said in `messages`).
    `trim=False` returns the whole file (resampled). Raises `AudioInputError` with the file name and the reason.
    """
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise AudioInputError(f"{path}: no such file")
    try:
        data, sr = sf.read(path, dtype="float32", always_2d=True)
    except Exception as exc:  # noqa: BLE001 - libsndfile raises several types
        ext = os.path.splitext(path)[1].lower()
        hint = " (this libsndfile cannot decode mp3; convert to wav)" if ext == ".mp3" else ""
        raise AudioInputError(f"{name}: cannot read audio{hint}: {exc}") from None
    if len(data) == 0:
        raise AudioInputError(f"{name}: the file holds no audio samples")
    x = data.mean(axis=1)
    if not np.all(np.isfinite(x)):
        raise AudioInputError(f"{name}: audio contains NaN or infinite samples")
    x = fix_range(x, name, messages)
    if sr != sample_rate:
        x = resample(x, sr, sample_rate)
    if pitch_shift:
        x, _, _ = shift_to_note(x, sample_rate, n_samples, note)
    return _clip(x, n_samples) if trim else np.asarray(x, np.float32)


def list_audio(folder: str) -> list[str]:
    """Audio files (`AUDIO_EXTS`) directly in `folder`, sorted."""
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(AUDIO_EXTS))


def write_wav(path: str, audio: np.ndarray, sample_rate: int = 22050) -> str:
    sf.write(path, np.asarray(audio, dtype=np.float32), sample_rate, subtype="PCM_16")
    return path

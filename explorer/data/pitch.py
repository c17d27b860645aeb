"""Pitch of an input sound and a duration-preserving pitch shift, from maintained libraries.

- `detect_pitch(audio, sr)`: the fundamental in Hz, or None for unpitched / silent audio. Per-frame f0 and
  periodicity from CREPE (`torchcrepe`, the "tiny" model whose weights ship inside the package; 60 ms hop,
  about 0.2 s for 4 s on one core), kept where the frame is periodic and loud; frames an octave (or two)
  away from the median are folded back onto it; the median is then checked against its octave neighbours
  on the average spectrum (`octave_check`), the known failure of every f0 tracker. The f0 of a frame is
  the probability-weighted mean of the bins around the most likely one (`_weighted_argmax`), without the
  random dither that torchcrepe's own decoder adds to its bin centres once per process (up to 20 cents, so
  the same file gave f0 up to 1 Hz apart from one process to the next).
- `pitch_shift(audio, ratio, sr)`: `librosa.effects.pitch_shift` (phase vocoder + resampling), so the
  duration and the envelope stay as they are (a 4 s note stays 4 s, its attack where it was).
"""

from __future__ import annotations

import numpy as np

CREPE_SR = 16000
CREPE_HOP = 960  # 60 ms: f0 of a held note needs no finer steps, and the tiny model is then ~0.2 s per 4 s
FMIN, FMAX = 40.0, 2000.0
PERIODIC = 0.5  # CREPE periodicity (confidence) a frame needs to count as voiced
MIN_VOICED = 3  # frames
HALF_RATIO = 0.9  # octave_check
CREPE_BIN0_CENTS = 1997.3794084376191  # bin 0 (C1, 32.70 Hz) in cents above 10 Hz, as in torchcrepe.convert


def midi_to_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def hz_to_midi(f: float) -> float:
    return 69.0 + 12.0 * np.log2(f / 440.0)


def _weighted_argmax(logits):
    """torchcrepe decoder: `logits[B, 360, F]` -> (bins `[B, F]`, f0 Hz `[B, F]`), deterministic.

    As `torchcrepe.decode.weighted_argmax` (the sigmoid-weighted mean of the 9 bins centred on the argmax),
    but with the bins' exact centres: torchcrepe's `bins_to_cents` adds random noise to them.
    """
    import torch
    import torchcrepe

    bins = logits.argmax(dim=1)
    idx = torch.arange(logits.size(1), device=logits.device)[None, :, None]
    near = (idx - bins[:, None, :]).abs() <= 4
    probs = torch.sigmoid(logits) * near
    cents = torchcrepe.CENTS_PER_BIN * idx + CREPE_BIN0_CENTS
    return bins, torchcrepe.convert.cents_to_frequency((cents * probs).sum(dim=1) / probs.sum(dim=1))


def _crepe(audio: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """`audio[T]` -> (f0 `[F]` Hz, periodicity `[F]`) at a 60 ms hop (CREPE tiny on one torch thread)."""
    import torch
    import torchaudio
    import torchcrepe

    from explorer.cli import torch_threads

    x = torch.from_numpy(np.ascontiguousarray(audio, np.float32))
    if sr != CREPE_SR:
        x = torchaudio.functional.resample(x, sr, CREPE_SR)
    with torch_threads(1), torch.no_grad():
        f0, per = torchcrepe.predict(x[None], CREPE_SR, hop_length=CREPE_HOP, fmin=FMIN, fmax=FMAX, model="tiny",
                                     decoder=_weighted_argmax, return_periodicity=True,
                                     batch_size=512, device="cpu")
    return f0[0].numpy().astype(np.float64), per[0].numpy().astype(np.float64)


def _frame_rms(audio: np.ndarray, sr: int, n_frames: int) -> np.ndarray:
    """RMS of the input around each CREPE frame centre -> `[n_frames]`."""
    hop = CREPE_HOP * sr / CREPE_SR
    half = int(hop)
    centres = (np.arange(n_frames) * hop).astype(int)
    x = np.asarray(audio, np.float64)
    return np.array([np.sqrt(np.mean(x[max(0, c - half): c + half] ** 2)) if c < len(x) else 0.0 for c in centres])


def _harmonic_level(spec: np.ndarray, freqs: np.ndarray, f: float, mult: np.ndarray) -> float:
    """Mean magnitude of `spec` at frequencies `f * mult` (below the top bin)."""
    fs = f * mult
    fs = fs[fs < freqs[-1]]
    return float(np.mean(np.interp(fs, freqs, spec))) if len(fs) else 0.0


def octave_check(audio: np.ndarray, sr: int, f0: float, n_harm: int = 8) -> float:
    """Pick f0, f0 / 2 or 2 f0 from the average magnitude spectrum (the tracker's octave errors).

    f0 / 2 wins when the odd multiples of f0 / 2 (between the harmonics of f0) are at least 0.9 times as
    strong as the harmonics of f0; 2 f0 wins when the odd harmonics of f0 are under a tenth of its even ones.
    Why 0.9: sung / spoken voices (vibrato, breath) put 0.6-0.7 of their harmonics' level between them, and
    CREPE was right on them (the out-of-domain set's espeak voices); at 0.5 they were halved.
    """
    import librosa

    mag = np.abs(librosa.stft(np.asarray(audio, np.float32), n_fft=4096, hop_length=1024)).mean(axis=1)
    freqs = librosa.fft_frequencies(sr=sr, n_fft=4096)
    h = np.arange(1, n_harm + 1, dtype=np.float64)
    at_f0 = _harmonic_level(mag, freqs, f0, h)
    if f0 / 2 >= FMIN and _harmonic_level(mag, freqs, f0 / 2, 2 * h - 1) >= HALF_RATIO * at_f0:
        return f0 / 2
    odd = _harmonic_level(mag, freqs, f0, 2 * h[: n_harm // 2] - 1)
    even = _harmonic_level(mag, freqs, f0, 2 * h[: n_harm // 2])
    if 2 * f0 <= FMAX and odd < 0.1 * even:
        return 2 * f0
    return f0


def detect_pitch(audio: np.ndarray, sr: int) -> float | None:
    """Fundamental frequency (Hz) of `audio[T]`, or None when unpitched or silent (see module docstring)."""
    x = np.asarray(audio, np.float32)
    if len(x) < sr // 10 or float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) < 1e-4:
        return None
    f0, per = _crepe(x, sr)
    rms = _frame_rms(x, sr, len(f0))
    voiced = (per >= PERIODIC) & (rms >= 0.1 * rms.max()) & (f0 > 0)
    if voiced.sum() < MIN_VOICED or voiced.sum() < 0.25 * (rms >= 0.1 * rms.max()).sum():
        return None
    m = np.array([hz_to_midi(f) for f in f0[voiced]])
    m0 = np.median(m)
    k = np.round((m - m0) / 12.0)
    fold = np.abs(m - m0 - 12.0 * k) < 1.0  # frames one or two octaves off: octave errors of the tracker
    m = np.where(fold, m - 12.0 * k, m)
    return octave_check(x, sr, midi_to_hz(float(np.median(m))))


def pitch_shift(audio: np.ndarray, ratio: float, sr: int = 22050) -> np.ndarray:
    """Move every frequency of `audio[T]` by `ratio`, keeping the duration (`librosa.effects.pitch_shift`)."""
    if abs(ratio - 1.0) < 1e-4:
        return np.asarray(audio, np.float32)
    import librosa

    steps = 12.0 * np.log2(ratio)
    return librosa.effects.pitch_shift(np.asarray(audio, np.float32), sr=sr, n_steps=float(steps)).astype(np.float32)

"""Input conditioning of the matching pipeline: an input sound -> the target to score against + what the
encoder sees.

    c = condition(audio, sr=22050, n_samples=88200, ref_db=-27.0)   # or condition_file(path, ...)

- level: float input outside [-1, 1] is scaled to peak 1 (`audio_input.fix_range`, said in `messages`);
  then the input is brought to the dataset's loudness `ref_db` (median mel loudness of the candidate
  index's sounds, `features.loudness_db`), the gain applied reported in `gain_db` (bounded to +-60 dB).
  A 0.35-RMS sine and the same sine at 0.01 RMS become the same target.
- pitch: `explorer.data.pitch.detect_pitch` (CREPE + octave handling). A pitched input keeps its pitch as
  the target: candidates are rendered at its own MIDI note (`note`, the f0 rounded to a semitone) and scored
  against it unshifted. Only the encoder's copy (`encoder_audio`) is moved to the dataset's note (60) by
  a duration-preserving pitch shift (`explorer.data.pitch.pitch_shift`). Unpitched input: note 60, no shift.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from explorer.data.audio_input import AudioInputError, read_clip
from explorer.data.features import MelConfig, fit_length, loudness_db, mel
from explorer.data.pitch import detect_pitch, hz_to_midi, pitch_shift

MAX_GAIN_DB = 60.0
NOTE_RANGE = (21, 108)  # piano range: MIDI notes the synth is asked to play


@dataclass
class Conditioned:
    audio: np.ndarray  # float32 [n_samples]: the target, at its own pitch, gain applied
    encoder_audio: np.ndarray  # float32 [n_samples]: moved to `base_note` (duration kept), gain applied
    f0: float | None  # detected fundamental (Hz), None when unpitched
    note: int  # MIDI note the candidates are rendered at (the input's own, or `base_note`)
    shift: float  # semitones applied to the encoder's copy (0 when unpitched)
    gain_db: float  # gain applied to reach `ref_db` (0 without a reference)
    messages: list[str] = field(default_factory=list)

    def describe(self) -> str:
        pitch = (f"detected f0 {self.f0:.1f} Hz -> note {self.note} (encoder copy shifted {self.shift:+.2f} semitones)"
                 if self.f0 else f"no pitch detected (note {self.note}, not shifted)")
        return f"{pitch}; gain {self.gain_db:+.1f} dB to the dataset's loudness"


def condition(audio: np.ndarray, sr: int = 22050, n_samples: int = 88200, ref_db: float | None = None,
              base_note: int = 60, track_pitch: bool = True, name: str = "input",
              messages: list[str] | None = None) -> Conditioned:
    """Mono `audio[T]` at `sr` -> `Conditioned` (see module docstring). Raises AudioInputError when silent."""
    msgs = list(messages or [])
    x = fit_length(np.asarray(audio, np.float32), n_samples)
    if float(np.max(np.abs(x))) < 1e-5:
        raise AudioInputError(f"{name}: the audio is silent (nothing to match)")
    gain_db = 0.0
    if ref_db is not None:
        level = float(loudness_db(mel(x, MelConfig(sample_rate=sr)))[0])
        gain_db = float(np.clip(ref_db - level, -MAX_GAIN_DB, MAX_GAIN_DB))
        if abs(ref_db - level) > MAX_GAIN_DB:
            msgs.append(f"{name}: {abs(ref_db - level):.0f} dB from the dataset's loudness; gain limited to "
                        f"{gain_db:+.0f} dB")
        x = (x * 10.0 ** (gain_db / 20.0)).astype(np.float32)
    f0 = detect_pitch(x, sr) if track_pitch else None
    if f0 is None:
        return Conditioned(x, x, None, base_note, 0.0, gain_db, msgs)
    midi = float(hz_to_midi(f0))
    note = int(np.clip(round(midi), *NOTE_RANGE))
    shift = base_note - midi
    enc = fit_length(pitch_shift(x, 2.0 ** (shift / 12.0), sr), n_samples).astype(np.float32)
    return Conditioned(x, enc, f0, note, shift, gain_db, msgs)


def condition_file(path: str, sr: int = 22050, n_samples: int = 88200, ref_db: float | None = None,
                   base_note: int = 60, track_pitch: bool = True) -> Conditioned:
    """`read_clip` (mono, resampled, range fixed) + `condition`. Raises AudioInputError naming the file."""
    msgs: list[str] = []
    x = read_clip(path, sr, n_samples, messages=msgs)
    return condition(x, sr, n_samples, ref_db, base_note, track_pitch, os.path.basename(path), msgs)


def warm_up(sr: int = 22050) -> None:
    """Load CREPE and librosa's first-call code paths (about 10 s cold) off the request path."""
    t = np.arange(sr) / sr
    condition((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr, sr, ref_db=0.0)

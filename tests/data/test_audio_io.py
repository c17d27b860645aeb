"""Audio input: reading, limits, pitch detection and shift to note 60, trim/pad."""

import numpy as np
import pytest
import soundfile as sf

from explorer.data import audio_input as A

SR = 44100


def tone(f0: float, seconds: float = 2.0, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))  # a few harmonics
    return (0.3 * x / np.max(np.abs(x))).astype(np.float32)


@pytest.mark.parametrize("f0", [55.0, 110.0, 261.63, 440.0, 1000.0])
def test_detect_pitch(f0):
    est = A.detect_pitch(tone(f0), SR)
    assert est is not None and abs(A.hz_to_midi(est) - A.hz_to_midi(f0)) < 0.2  # within 20 cents


def test_detect_pitch_silence_and_noise():
    assert A.detect_pitch(np.zeros(SR, np.float32), SR) is None
    noise = np.random.default_rng(0).standard_normal(SR).astype(np.float32)
    assert A.detect_pitch(noise, SR) is None


@pytest.mark.parametrize("f0", [98.0, 440.0])
def test_prepare_shifts_to_note_60_and_fits_4s(tmp_path, f0):
    path = str(tmp_path / "in.wav")
    sf.write(path, np.stack([tone(f0), tone(f0)], 1), SR)  # stereo: mixed down
    p = A.prepare(path)
    assert p.audio.shape == (88200,) and p.audio.dtype == np.float32 and p.sample_rate == 22050
    assert p.shifted and abs(p.f0 - f0) / f0 < 0.02
    out = A.detect_pitch(p.audio, 22050)
    assert abs(A.hz_to_midi(out) - 60) < 0.25
    unshifted = A.prepare(path, shift=False)
    assert not unshifted.shifted and unshifted.ratio == 1.0
    assert abs(A.hz_to_midi(A.detect_pitch(unshifted.audio, 22050)) - A.hz_to_midi(f0)) < 0.25


@pytest.mark.parametrize("fmt", ["flac", "ogg", "mp3"])
def test_prepare_reads_other_formats(tmp_path, fmt):
    path = str(tmp_path / f"in.{fmt}")
    sf.write(path, tone(330.0, 1.0), SR, format=fmt.upper())  # the pinned soundfile bundles all three
    p = A.prepare(path)
    assert p.audio.shape == (88200,) and abs(p.f0 - 330.0) / 330.0 < 0.03


def test_corrupt_file_message(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" + bytes(100))
    with pytest.raises(A.AudioInputError, match="broken.wav.*not a readable audio file.*20 MB"):
        A.prepare(str(bad))


def test_limits(tmp_path, monkeypatch):
    long = str(tmp_path / "long.wav")
    sf.write(long, np.zeros(int(8000 * (A.MAX_SECONDS + 1)), np.float32), 8000)
    with pytest.raises(A.AudioInputError, match="too long.*60 s"):
        A.prepare(long)
    monkeypatch.setattr(A, "MAX_BYTES", 1000)
    with pytest.raises(A.AudioInputError, match="too large"):
        A.prepare(long)


def test_silent_and_missing(tmp_path):
    silent = str(tmp_path / "silent.wav")
    sf.write(silent, np.zeros(SR, np.float32), SR)
    with pytest.raises(A.AudioInputError, match="silent"):
        A.prepare(silent)
    with pytest.raises(A.AudioInputError, match="No audio file"):
        A.prepare(str(tmp_path / "nope.wav"))


def test_pitch_shift_round_trip():
    x = tone(200.0, 1.0, 22050)
    up = A.pitch_shift(x, 2 ** (7 / 12))
    assert abs(A.hz_to_midi(A.detect_pitch(up, 22050)) - A.hz_to_midi(200.0) - 7) < 0.2


def test_read_clip(tmp_path):
    sf.write(tmp_path / "a.wav", np.ones((1000, 2)) * 0.5, 11025)
    x = A.read_clip(str(tmp_path / "a.wav"))
    assert x.shape == (88200,) and x.dtype == np.float32
    assert abs(x[100] - 0.5) < 1e-3 and x[-1] == 0.0
    with pytest.raises(A.AudioInputError, match="nothing.wav"):
        A.read_clip(str(tmp_path / "nothing.wav"))

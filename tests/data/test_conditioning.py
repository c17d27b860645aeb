"""Input conditioning of the matching pipeline: loudness, float range, CREPE pitch, octave check, shift."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from explorer.data import audio_input as A
from explorer.data.conditioning import condition, condition_file
from explorer.data.pitch import detect_pitch, hz_to_midi, octave_check, pitch_shift

SR = 22050
T = np.arange(4 * SR) / SR


def harmonics(f0: float, amps: list[float], env: np.ndarray | None = None) -> np.ndarray:
    x = sum(a * np.sin(2 * np.pi * f0 * (k + 1) * T) for k, a in enumerate(amps))
    return (x * (1.0 if env is None else env)).astype(np.float32)


def test_loudness_normalised_and_reported():
    loud = harmonics(220, [0.35 * np.sqrt(2)])  # RMS 0.35
    quiet = loud * (0.01 / 0.35)
    a, b = condition(loud, SR, ref_db=0.0), condition(quiet, SR, ref_db=0.0)
    assert abs((b.gain_db - a.gain_db) - 20 * np.log10(35)) < 0.1
    np.testing.assert_allclose(a.audio, b.audio, atol=1e-4)
    assert a.note == b.note == 57 and abs(hz_to_midi(a.f0) - 57) < 0.2
    assert "gain" in a.describe()


def test_float_wav_out_of_range_is_scaled_with_a_message(tmp_path):
    path = tmp_path / "huge.wav"
    sf.write(path, harmonics(330, [1.0, 0.5]) * 1e6, SR, subtype="FLOAT")
    c = condition_file(str(path), ref_db=-10.0)
    assert any("outside [-1, 1]" in m and "huge.wav" in m for m in c.messages)
    assert np.isfinite(c.audio).all() and c.note == 64


def test_silence_is_refused():
    with pytest.raises(A.AudioInputError, match="silent"):
        condition(np.zeros(SR, np.float32), SR)


def test_octave_check_fixes_both_directions():
    # odd partials of 110 Hz as strong as the even ones: the true f0 is 110 whatever a tracker says
    weak_fundamental = harmonics(110, [0.1, 1.0, 1.0, 0.6, 0.9, 0.4, 0.7, 0.3, 0.5])
    assert octave_check(weak_fundamental, SR, 220.0) == pytest.approx(110.0)
    voice_like = harmonics(110, [0.05, 1.0, 0.8, 0.6, 0.5, 0.4])  # some energy between: keep the tracker's 220
    assert octave_check(voice_like, SR, 220.0) == 220.0
    square = harmonics(220, [1.0, 0.0, 1 / 3, 0.0, 1 / 5, 0.0, 1 / 7])
    assert octave_check(square, SR, 220.0) == 220.0
    assert octave_check(square, SR, 110.0) == pytest.approx(220.0)  # an octave low: odd harmonics are empty


def test_pitch_shift_keeps_duration_and_envelope():
    env = np.exp(-T / 0.8) * np.minimum(1.0, T / 0.05)
    x = harmonics(200, [0.5, 0.25, 0.12], env)
    y = pitch_shift(x, 2 ** (5 / 12), SR)
    assert len(y) == len(x)
    frames = lambda a: np.sqrt(np.mean(a[: len(a) // 2048 * 2048].reshape(-1, 2048) ** 2, axis=1))
    assert np.corrcoef(frames(x), frames(y))[0, 1] > 0.98
    assert abs(hz_to_midi(detect_pitch(y, SR)) - hz_to_midi(200) - 5) < 0.3


def test_encoder_copy_moves_to_note_60():
    c = condition(harmonics(440, [0.3, 0.15, 0.1]), SR, ref_db=0.0)
    assert c.note == 69 and abs(c.shift + 9) < 0.2 and len(c.encoder_audio) == len(c.audio)
    assert abs(hz_to_midi(detect_pitch(c.encoder_audio, SR)) - 60) < 0.3


PITCH_OF_FILE = """
import sys, soundfile as sf
from explorer.data.pitch import detect_pitch
x, sr = sf.read(sys.argv[1], dtype="float32")
print(repr(detect_pitch(x, sr)))
"""


def test_pitch_is_the_same_in_every_process(tmp_path):
    # torchcrepe's own decoder dithers its bin centres with fresh random noise in every process: the same
    # vibrato voice then came out up to 1 Hz apart from one run to the next.
    rng = np.random.default_rng(0)
    vib = 180 * 2 ** (0.4 / 12 * np.sin(2 * np.pi * 5.5 * T))  # 40-cent vibrato, partly between bins
    x = 0.3 * np.sin(2 * np.pi * np.cumsum(vib) / SR) + 0.01 * rng.standard_normal(len(T))
    path = tmp_path / "vibrato.wav"
    sf.write(path, x.astype(np.float32), SR)
    root = Path(__file__).resolve().parents[2]
    runs = [subprocess.run([sys.executable, "-c", PITCH_OF_FILE, str(path)], capture_output=True, text=True,
                           check=True, cwd=root).stdout.strip() for _ in range(2)]
    assert runs[0] == runs[1], runs
    assert abs(hz_to_midi(float(runs[0])) - hz_to_midi(180)) < 0.3


def test_decoder_matches_torchcrepe_but_for_its_dither():
    import torch
    import torchcrepe

    from explorer.data.pitch import _weighted_argmax

    logits = torch.randn(2, 360, 50, generator=torch.Generator().manual_seed(0)) * 3
    bins, f0 = _weighted_argmax(logits.clone())
    ref_bins, ref_f0 = torchcrepe.decode.weighted_argmax(logits.clone())
    assert torch.equal(bins, ref_bins)
    cents = 1200 * torch.log2(f0 / ref_f0).abs()
    assert cents.max() <= torchcrepe.CENTS_PER_BIN and cents.max() > 0  # its dither: within one bin (20 cents)
    assert torch.equal(_weighted_argmax(logits.clone())[1], f0)

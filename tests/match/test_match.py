"""match CLI with a debug checkpoint and the real synth: outputs, per-file errors, exit status."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from explorer.match import matcher as match
from explorer.models.checkpoint import make_debug_checkpoint
from explorer.synth.presets import read_bank, values_from_json


def test_match_files_and_errors(tmp_path, pmap, capsys):
    ck = make_debug_checkpoint(tmp_path / "debug.pt", n_params=16)
    src = tmp_path / "in"
    src.mkdir()
    sr = 44100
    t = np.arange(int(sr * 1.5)) / sr
    sf.write(src / "tone.wav", np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], 1) * 0.3, sr)
    sf.write(src / "noise.mp3", np.random.default_rng(0).standard_normal(22050 * 6) * 0.1, 22050, format="MP3")
    (src / "broken.wav").write_bytes(b"not a wav at all")
    out = tmp_path / "out"
    rc = match.main([str(src), str(tmp_path / "missing.ogg"), "--out", str(out), "--checkpoint", str(ck),
                     "--workers", "2"])
    assert rc == 1
    cap = capsys.readouterr()
    assert "broken.wav" in cap.err and "missing.ogg" in cap.err
    assert "tone.wav: SC" in cap.out and "noise.mp3: SC" in cap.out and "2/4 matched" in cap.out
    for stem in ("tone", "noise"):
        preset = json.loads((out / f"{stem}.json").read_text())
        assert preset["sc"] >= 0 and preset["model"] == "debug"
        assert preset["candidates"][0]["sc"] == preset["sc"] and preset["note"] in range(21, 109)
        name, v = values_from_json(preset, pmap)
        banks = read_bank(str(out / f"{stem}.bank"))
        assert len(banks) == 1 and banks[0].name == stem == name
        v_bank = pmap.to_normalised(banks[0].raw)
        np.testing.assert_allclose(v_bank, v, atol=1e-5)
        audio, rate = sf.read(out / f"{stem}.wav")
        assert rate == 22050 and audio.shape == (88200,)

    rc = match.main([str(src / "tone.wav"), "--out", str(out), "--checkpoint", str(ck), "--workers", "2",
                     "--budget", "13"])
    assert rc == 0
    preset = json.loads((out / "tone.json").read_text())
    assert preset["budget"]["renders"] == 13 and any(c["kind"] == "refined" for c in preset["candidates"])
    scores = [c["logmel_l1"] + c["sc"] for c in preset["candidates"]]
    assert scores == sorted(scores) and preset["logmel_l1"] == preset["candidates"][0]["logmel_l1"]


def test_parse_budget():
    from explorer.evaluate.pipeline import (  # --budget, and --match N@S of evaluate
        DEFAULT,
        FAST,
        parse_budget,
    )

    assert match.parse_budget is parse_budget
    assert parse_budget(None) == DEFAULT
    assert parse_budget("50").renders == 50 and parse_budget("50").seconds == DEFAULT.seconds
    assert parse_budget("2s").seconds == 2.0
    assert parse_budget("80,3s").renders == 80 and parse_budget("80,3s").seconds == 3.0
    assert parse_budget("0") == FAST and parse_budget(None, fast=True) == FAST
    for bad in ("x", "-3", "0s"):
        with pytest.raises(ValueError):
            parse_budget(bad)

"""Out-of-domain set builder: real fluidsynth and espeak-ng, two sounds each."""

from __future__ import annotations

import json
import os

import numpy as np
import soundfile as sf

from explorer.evaluate import ood


def test_midi_file_structure():
    data = ood.midi_file(40)
    assert data[:4] == b"MThd" and data[14:18] == b"MTrk"
    assert bytes([0xC0, 40]) in data and bytes([0x90, 60, 100]) in data and data.endswith(b"\xff\x2f\x00")


def test_build_small_set(tmp_path, monkeypatch):
    monkeypatch.setattr(ood, "GM_PROGRAMS", ood.GM_PROGRAMS[:2])
    monkeypatch.setattr(ood, "VOCAL_SKETCHES", ood.VOCAL_SKETCHES[:2])
    records = ood.main(["--out", str(tmp_path)])
    assert records == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    files = [r["file"] for r in manifest["files"]]
    assert len(files) == 4 and {r["source"] for r in manifest["files"]} == {"fluidsynth", "espeak-ng"}
    for f in files:
        audio, sr = sf.read(os.path.join(tmp_path, f))
        assert sr == 22050 and audio.shape == (88200,)
        assert np.isclose(np.abs(audio).max(), ood.PEAK, atol=1e-6)

"""The adaptation set builder: real fluidsynth and espeak-ng, real conditioning, none of the test set's sounds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from explorer.evaluate import ood, ood_adapt


def test_specs_are_disjoint_from_the_test_set(monkeypatch):
    gm = ood_adapt.gm_specs()
    test_programs = {p for p, _ in ood.GM_PROGRAMS}
    assert len(gm) == (128 - len(test_programs)) * len(ood_adapt.GM_NOTES)
    assert not {p for p, _, _ in gm} & test_programs
    assert {n for _, n, _ in gm} == set(ood_adapt.GM_NOTES) and {v for *_, v in gm} == set(ood_adapt.GM_VELOCITIES)
    voices = ood_adapt.voice_specs(50, seed=1)
    assert voices == ood_adapt.voice_specs(50, seed=1) and len(voices) == 50
    assert not {t for t, *_ in voices} & {t for t, *_ in ood.VOCAL_SKETCHES}
    monkeypatch.setattr(ood_adapt, "TEXTS", (*ood_adapt.TEXTS, ood.VOCAL_SKETCHES[3][0]))
    with pytest.raises(ValueError, match="overlap the test set"):
        ood_adapt.voice_specs(5)


def test_build_small_set(tmp_path):
    m = ood_adapt.build(str(tmp_path), ref_db=-27.0, n_voices=4, limit=8, log=lambda *_: None)
    f = np.load(tmp_path / ood_adapt.ADAPT_NPZ)
    assert f["mels"].shape == (m["n"], 64, 80) and f["mels"].dtype == np.float32 and m["n"] >= 6
    assert set(f["kind"]) == {"gm", "voice"} and len(f["valid"]) == m["n"]
    assert np.isfinite(f["mels"]).all() and f["mels"].std() > 0.5  # real sounds, not a floor
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["excluded"]["gm_programs"] == sorted(p for p, _ in ood.GM_PROGRAMS)
    # GM notes are played where asked: the detected note follows the requested one for pitched programs
    notes = {k: v for k, v in manifest["detected_notes"].items() if k.startswith("gm")}
    assert sum(abs(v - int(k.split("_n")[1].split("_")[0])) % 12 == 0 for k, v in notes.items()) >= len(notes) // 2


def test_cli_needs_an_index(tmp_path):
    with pytest.raises(SystemExit, match="no candidate index"):
        ood_adapt.main(["--out", str(tmp_path / "o"), "--index", str(tmp_path)])


def test_label_gives_each_sound_its_fast_match(synth, tmp_path):
    # a debug checkpoint with its candidate index (real renders); every label is the parameters of the best
    # rendered candidate, and its stored score is that candidate's log-mel L1 against the sound
    from explorer.app.map_export import build_debug_map
    from explorer.evaluate import candidates
    from explorer.evaluate.pipeline import MatchPipeline
    from explorer.models.checkpoint import load_model, make_debug_checkpoint

    ck = make_debug_checkpoint(tmp_path / "ck" / "debug.pt", n_params=16)
    build_debug_map(str(ck), synth, n=24)
    pipe = MatchPipeline(load_model(ck, device="cpu"), synth, candidates.load(str(ck)))
    m = ood_adapt.build(str(tmp_path / "set"), ref_db=pipe.loudness_ref, n_voices=2, limit=4, log=lambda *_: None,
                        label=pipe)
    f = np.load(tmp_path / "set" / ood_adapt.ADAPT_NPZ)
    assert f["params"].shape == (m["n"], 16) and ((f["params"] >= 0) & (f["params"] <= 1)).all()
    index_rows = {tuple(np.round(p, 3)) for p in pipe.index.params}
    predicted = sum(tuple(np.round(p, 3)) not in index_rows for p in f["params"])
    assert m["n"] == 4 and predicted < m["n"]  # some labels are index sounds the search rendered and kept
    assert (f["label_l1"] > 0).all() and m["labels"]["mean_logmel_l1"] == pytest.approx(float(f["label_l1"].mean()))

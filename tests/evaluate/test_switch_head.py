"""The switch head: labels from the real synth's switch search, fit, loaded beside the model, used by the pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.data.features import log_mel
from explorer.evaluate import discrete, switch_train
from explorer.evaluate.pipeline import MODEL_ONLY, MatchPipeline
from explorer.models import switch_head
from explorer.models.checkpoint import (
    CheckpointError,
    load_model,
    make_debug_checkpoint,
)

P = 16  # the debug model's set: the plugin's first 16 parameters; the stepped ones after them are searched


@pytest.fixture(scope="module")
def labelled(synth, tmp_path_factory):
    """A debug checkpoint, 8 note-60 sounds of the real synth with other switch values, their label file
    written by the CLI (2 held out) and a head fitted by the CLI."""
    root = tmp_path_factory.mktemp("switch")
    ck = make_debug_checkpoint(root / "model.pt", n_params=P, n_plugin=len(synth.params))
    model = load_model(ck, "cpu")
    rng = np.random.default_rng(0)
    full = np.tile(model.default_values.astype(np.float64), (8, 1))
    for p in discrete.searchable(synth.params, model.param_indices):
        full[:, p.index] = rng.integers(0, p.steps, 8) / (p.steps - 1)
    mels = log_mel(synth.render(full, chunk=4)).numpy()  # the encoder's copies, at note 60
    notes = np.array([55, 64] * 4)  # the sounds themselves are at other notes
    targets = np.concatenate([log_mel(synth.render(full[notes == n], chunk=4, note=int(n))).numpy() for n in (55, 64)])
    targets = targets[np.argsort(np.argsort(notes, kind="stable"), kind="stable")]  # back in sound order
    valid = np.zeros(8, bool)
    valid[[2, 5]] = True
    np.savez(root / "adapt.npz", mels=mels, target_mels=targets, notes=notes, valid=valid)
    assert switch_train.main(["label", "--checkpoint", str(ck), "--adapt", str(root / "adapt.npz"),
                             "--out", str(root / "labels.npz")]) == 0
    assert switch_train.main(["fit", "--checkpoint", str(ck), "--labels", str(root / "labels.npz"),
                             "--out", str(root / "head.pt"), "--epochs", "5", "--tau", "0.05"]) == 0
    return ck, root, mels, synth


def test_labels_are_the_switch_search_from_the_prediction(labelled, one_thread):
    ck, root, mels, synth = labelled
    f = np.load(root / "labels.npz")
    params = discrete.searchable(synth.params, list(range(P)))
    assert list(f["param_indices"]) == [p.index for p in params] and list(f["steps"]) == [p.steps for p in params]
    assert f["y"].shape == (8, len(params)) and np.all((f["y"] >= 0) & (f["y"] < f["steps"]))
    assert np.all(f["l1_search"] <= f["l1_model"] + 1e-9)  # a change is kept only when it lowers the L1
    assert np.any(f["l1_search"] < f["l1_model"] - 0.01)  # other switch values: the search finds something
    # the label of a sound is what the pipeline's own switch pass keeps (same model, same note)
    from dataclasses import replace

    model = load_model(ck, "cpu")
    r = MatchPipeline(model, synth).match_target(f["target_mels"][1], mels[1], 64,
                                                 replace(MODEL_ONLY, switches=discrete.MAX_STEPS))
    kept = next((c for c in r.candidates if c.kind == "switches"), None) or r.candidates[0]  # ranking aside
    got = [round(kept.full[p.index] * (p.steps - 1)) for p in params]
    assert got == list(f["y"][1]) and kept.scores["logmel_l1"] == pytest.approx(float(f["l1_search"][1]), abs=1e-5)
    # every value each pass tried is scored; the kept one is the best of its block
    o = np.concatenate([[0], np.cumsum(f["steps"])])
    assert f["l1_values"].shape == (8, o[-1]) and np.all(np.isfinite(f["l1_values"]))
    for k in range(len(params)):
        block = f["l1_values"][:, o[k]:o[k + 1]]
        assert np.allclose(block[np.arange(8), f["y"][:, k]], block.min(1))


def test_soft_targets_share_the_mass_among_values_that_sound_alike():
    labels = {"steps": np.array([3, 2]), "l1_values": np.array([[0.50, 0.51, 0.90, 0.7, 0.7]], np.float32)}
    t = switch_head.soft_targets(labels, 0.05)
    assert np.allclose(t[:, :3].sum(1), 1) and np.allclose(t[:, 3:].sum(1), 1)
    assert t[0, 0] > t[0, 1] > 0.3 and t[0, 2] < 0.001 and np.allclose(t[0, 3:], 0.5)
    assert np.allclose(switch_head.soft_targets(labels, 1e-4)[0, :3], [1, 0, 0], atol=1e-6)


def test_head_file_records_its_held_out_renders(labelled):
    ck, root, _, _ = labelled
    blob = torch.load(root / "head.pt", weights_only=False)
    h = blob["held_out"]
    assert h["sounds"] == 2 and h["search"] <= h["model"] + 1e-9 and np.isfinite(h["head"])
    assert blob["encoder_sha"] == switch_head.encoder_sha(load_model(ck, "cpu")) and "fit" in blob["command"]


def test_loaded_beside_the_model_and_used_by_the_models_own_candidate(labelled, one_thread):
    ck, root, mels, synth = labelled
    assert load_model(ck, "cpu").switches is None
    ck.with_name(switch_head.FILE_NAME).write_bytes((root / "head.pt").read_bytes())
    try:
        model = load_model(ck, "cpu")
        assert model.switches is not None
        full = model.predict_full(mels[:3])
        plain = model.full_params(model.infer(mels[:3]))
        idx = model.switches.param_indices
        others = [i for i in range(full.shape[1]) if i not in idx]
        assert np.array_equal(full[:, others], plain[:, others])
        steps = np.asarray(model.switches.steps)
        assert np.allclose(full[:, idx] * (steps - 1), np.round(full[:, idx] * (steps - 1)), atol=1e-5)
        assert np.allclose(full[:, idx], model.switches.values(model, mels[:3]))
        r = MatchPipeline(model, synth).match_target(mels[0], mels[0], 60, MODEL_ONLY)
        assert r.best.kind == "model" and np.allclose(r.best.full, full[0], atol=1e-6)
    finally:
        ck.with_name(switch_head.FILE_NAME).unlink()


def test_a_head_or_labels_of_another_model_are_refused(labelled, tmp_path):
    _, root, _, _ = labelled
    other = make_debug_checkpoint(tmp_path / "model.pt", n_params=P, seed=1)
    other.with_name(switch_head.FILE_NAME).write_bytes((root / "head.pt").read_bytes())
    with pytest.raises(CheckpointError, match="another model's encoder"):
        load_model(other)
    other.with_name(switch_head.FILE_NAME).write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="cannot read a switch head"):
        load_model(other)
    blob = torch.load(root / "head.pt", weights_only=True)
    torch.save({**blob, "steps": blob["steps"][:-1]}, other.with_name(switch_head.FILE_NAME))  # wrong shapes
    with pytest.raises(CheckpointError, match="malformed switch head"):
        load_model(other)
    with pytest.raises(SystemExit, match="another model's predictions"):
        switch_train.main(["fit", "--checkpoint", str(other), "--labels", str(root / "labels.npz"),
                          "--out", str(tmp_path / "h.pt")])


def test_fit_learns_a_rule_of_the_sound(tmp_path, one_thread):
    """Labels that follow the sound's level are learnt: held-out accuracy well above chance."""
    ck = make_debug_checkpoint(tmp_path / "model.pt", n_params=P)
    model = load_model(ck, "cpu")
    rng = np.random.default_rng(0)
    loud = rng.random(240) < 0.5
    mels = (rng.normal(-6, 1, (240, 64, 80)) + 4 * loud[:, None, None]).astype(np.float32)
    labels = {"mels": mels, "valid": np.arange(240) % 4 == 0, "y": np.stack([loud, ~loud], 1).astype(np.int64),
              "steps": np.array([2, 3]), "param_indices": np.array([20, 21]), "param_names": np.array(["a", "b"])}
    head, record = switch_head.fit(model, labels, epochs=20, log=lambda *_: None)
    assert record["held_out_accuracy"] > 0.9
    assert head.classes(head(switch_head.features(model, mels[:4]))).shape == (4, 2)


def test_dataset_sounds_are_labelled_with_their_own_values(synth, tmp_path, one_thread):
    from explorer.data.dataset import build, load_dataset

    build("16", str(tmp_path / "ds"), size=60, seed=3, limit=40, workers=2)
    ck = make_debug_checkpoint(tmp_path / "model.pt", n_params=P, n_plugin=len(synth.params))
    assert switch_train.main(["label", "--checkpoint", str(ck), "--data", str(tmp_path / "ds"), "--limit", "12",
                              "--out", str(tmp_path / "l.npz")]) == 0
    f, ds = np.load(tmp_path / "l.npz"), load_dataset(str(tmp_path / "ds"))
    n_valid = min(2, len(ds.indices("valid")))
    assert len(f["y"]) == min(12, len(ds.indices("train"))) + n_valid and f["valid"].sum() == n_valid
    rows = [int(np.flatnonzero((ds.mels == m).all((1, 2)))[0]) for m in f["mels"]]
    assert {int(ds.split[r]) for r in rows} <= {0, 1} and np.array_equal(np.asarray(ds.split[rows]) == 1, f["valid"])
    for k, (i, s) in enumerate(zip(f["param_indices"], f["steps"], strict=True)):
        assert np.array_equal(f["y"][:, k], np.rint(ds.full_params[rows, i] * (s - 1)))
    o = np.concatenate([[0], np.cumsum(f["steps"])])
    assert all(np.array_equal(np.argmin(f["l1_values"][:, o[k]:o[k + 1]], 1), f["y"][:, k]) for k in range(len(o) - 1))
    assert np.all(f["notes"] == 60) and np.array_equal(f["target_mels"], f["mels"])
    # the label files' sources are reported apart
    labels = switch_head.read_labels([str(tmp_path / "l.npz")] * 2, str(f["encoder_sha"]))
    assert np.array_equal(labels["source"], np.repeat([0, 1], len(f["y"])))

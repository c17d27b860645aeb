"""Issue 14's actions on a debug checkpoint, a tiny map of real renders and the real synth: drag previews,
audition at any note, find, history and favourites, A/B, the category classifier (no Gradio here)."""

import json
import os

import numpy as np
import plotly.graph_objects as go
import pytest
from engines import make_engine

from explorer.app import actions as A
from explorer.app import plots
from explorer.app.categories import classify, variant_names
from explorer.app.map_export import PROJECT, project_path


@pytest.fixture(scope="module")
def engine(tmp_path_factory, synth):
    return make_engine(tmp_path_factory.mktemp("ckpts"), synth, {16: (40, 16), 30: (40, 30)})


@pytest.fixture
def st(engine):
    return A.new_state(engine)


def test_drag_preview_moves_nothing_but_the_view(engine, st):
    vals = [0.0] * A.MAX_DIMS
    vals[2] = 1.5
    view = A.preview(engine, st, "latent", vals)
    drag = json.loads(view["drag"])
    assert view["audio"] is None and "(dragging)" in view["info"]
    assert drag["overlay"]["current"][0] and set(drag["overlay"]) == set(plots.OVERLAY_UIDS)  # the star moves
    assert np.all(st["z"] == 0) and view["z"][2] == np.float32(1.5)  # the state is untouched: the release commits
    # the model's own log-mel of the moved code, not a render; the moved parameters
    assert "model's log-mel" in drag["title"] and np.array(drag["mel"]).shape == (64, 80)
    m = engine.entry().model
    assert np.allclose(drag["params"], m.full_params(m.decode(view["z"][None]))[0], atol=1e-4)
    assert len(drag["params"]) == len(drag["texts"]) == 41
    # once the release has committed these values, a late preview changes nothing
    moved = A.set_latent(engine, st, vals)
    assert A.preview(engine, moved, "latent", vals) is None
    # semantic sliders and the optional render while dragging
    view = A.preview(engine, st, "semantic", [0.7] + [0.0] * 7, render=True)
    drag = json.loads(view["drag"])
    assert view["audio"][1].shape == (88200,) and "rendered while dragging" in drag["title"]
    assert "(release" not in drag["texts"][0]  # real units
    with pytest.raises(A.UserError):
        A.preview(engine, st, "volume", vals)


def test_synth_renders_at_any_note_deterministically(synth, st):
    full = st["full"]
    a60, a72 = synth.render_one(full), synth.render_one(full, note=72)
    assert not np.array_equal(a60, a72)
    assert np.array_equal(a72, synth.render_one(full, note=72))
    assert np.array_equal(a60, synth.render_one(full, note=60, velocity=100))
    quiet = synth.render_one(full, note=60, velocity=20)
    assert np.abs(quiet).max() < np.abs(a60).max()
    from explorer.synth.host import SynthError

    with pytest.raises(SynthError, match="MIDI note"):
        synth.render_one(full, note=200)


def test_audition_at_a_note_and_the_next_sounds_follow(engine, st):
    st, out = A.audition(engine, st, 72, 90)
    assert st["note"] == 72 and st["velocity"] == 90 and "C5" in out["status"]
    at72 = engine.synth.render_one(st["full"], 72, 90)
    assert np.array_equal(out["audio"][1], A.to_int16(at72))
    # every next sound plays at that note; the models (log-mel, comparisons) keep note 60
    st = A.select_point(engine, st, 3)
    view = A.render_view(engine, st)
    assert np.array_equal(view["audio"][1], A.to_int16(engine.synth.render_one(st["full"], 72, 90)))
    assert np.array_equal(view["audio_raw"], engine.synth.render_one(st["full"]))
    assert "note 72" in view["info"]
    for bad in ((10, 100), (60, 0), ("x", 100), (60, 300)):
        with pytest.raises(A.UserError):
            A.audition(engine, st, *bad)


def test_find_by_name_bank_and_category(engine, st):
    lmap = engine.entry().lmap
    choices, msg = A.search(engine, st, lmap.names[7])
    assert choices[0].startswith(f"7: {lmap.names[7]}") and "match" in msg
    assert A.search(engine, st, "debug")[0]  # the bank
    cat = lmap.category_names[int(lmap.category[0])]
    hits, _ = A.search(engine, st, cat)
    assert all(cat in h for h in hits) and hits
    assert A.search(engine, st, "")[0] == []
    assert A.search(engine, st, "no such preset qqq")[0] == []
    with pytest.raises(A.UserError):
        A.search(engine, st, "x" * 200)
    st = A.pick_result(engine, st, choices[0])
    assert st["label"].startswith(lmap.names[7]) and np.allclose(st["xy"], lmap.xy[7])
    with pytest.raises(A.UserError):
        A.pick_result(engine, st, "junk")


def test_history_back_forward_jump_and_model_change(engine, st):
    for i in (1, 2, 3):
        st = A.remember(A.select_point(engine, st, i))
    labels = [e["label"] for e in st["history"]]
    assert len(labels) == 3 and st["cursor"] == 2
    st = A.remember(A.go_history(engine, st, -1))
    assert st["label"] == labels[1] and st["cursor"] == 1 and len(st["history"]) == 3
    st = A.remember(A.go_history(engine, st, 1))
    assert st["label"] == labels[2]
    with pytest.raises(A.UserError, match="forward"):
        A.go_history(engine, st, 1)
    st = A.remember(A.jump_history(engine, st, A.history_choices(st)[-1]))  # the oldest
    assert st["label"] == labels[0]
    # a new sound after going back drops the forward entries, as in a browser
    st = A.remember(A.select_point(engine, st, 9))
    assert [e["label"] for e in st["history"]] == [labels[0], st["label"]]
    # another model keeps the history; an old entry comes back through its parameters
    st = A.remember(A.choose_model(engine, st, "dbg30"))
    st = A.go_history(engine, st, -1)
    assert "[from dbg16]" in st["label"] and st["model"] == "dbg30"
    assert np.allclose(st["full"], st["history"][1]["full"])


def test_favourites_export_one_bank_read_back(engine, st, tmp_path):
    from explorer.synth.presets import read_bank

    with pytest.raises(A.UserError, match="no favourites"):
        A.export_favourites(engine, st, "")
    names = []
    for i in (4, 5, 6):
        st = A.select_point(engine, st, i)
        st, _ = A.add_favourite(engine, st, "" if i != 5 else "My pad")
        names.append("My pad" if i == 5 else st["label"])
    with pytest.raises(A.UserError, match="already"):
        A.add_favourite(engine, st)
    bank, js = A.export_favourites(engine, st, "my sounds")
    presets = read_bank(bank)
    assert [p.name for p in presets] == names and all(len(p.raw) == 41 for p in presets)
    # the bank holds what the favourite was (in amsynth's raw units, as a single export writes it)
    back = engine.pmap.to_normalised(presets[1].raw)
    want = engine.pmap.to_normalised(engine.pmap.to_raw(st["favourites"][1]["full"]))
    assert np.allclose(back, want, atol=1e-6)
    with open(js) as f:
        data = json.load(f)
    assert [p["name"] for p in data["presets"]] == names
    st, _ = A.remove_favourite(st, A.favourite_choices(st)[0])
    assert [f["name"] for f in st["favourites"]] == names[1:]
    st = A.goto_favourite(engine, st, A.favourite_choices(st)[0])
    assert st["label"] == "My pad"
    with pytest.raises(A.UserError):
        A.remove_favourite(st, "99 nothing")


def test_ab_dataset_preset_and_latent(engine, st):
    lmap = engine.entry().lmap
    st = A.select_point(engine, st, 8)
    out = A.compare_ab(engine, st)
    assert out["a"][1].shape == out["b"][1].shape == (88200,) and np.isfinite(out["sc"])
    go.Figure(out["figure"])
    # A is the dataset's own preset, rendered
    a = engine.synth.render_one(engine.entry().model.full_params(lmap.params[8][None])[0])
    assert np.array_equal(out["a"][1], A.to_int16(a)) and "original preset" in out["text"]
    # a sound moved in the latent space has no original
    moved = A.set_dim(engine, st, 0, 1.0)
    with pytest.raises(A.UserError, match="latent space"):
        A.compare_ab(engine, moved)
    # a placed preset: A is the preset as loaded
    full = np.asarray(st["full"]).copy()
    full[0] = 0.9
    placed = A.set_current_params(engine, st, full[engine.entry().model.param_indices], "p", full=full,
                                  origin={"kind": "preset", "full": full})
    assert "as loaded" in A.compare_ab(engine, placed)["text"]


def test_categories_and_variant_names():
    assert variant_names(["Pianola", "Pianola", "Bass", "random-1", "Pianola"], [3, 3, 4, -1, 3],
                         [False, True, False, True, True]) == ["Pianola", "Pianola ~1", "Bass", "random-1",
                                                                "Pianola ~2"]
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 4, (4, 6))
    y_true = rng.integers(1, 4, 400)
    x = centres[y_true] + rng.normal(0, 1, (400, 6))
    cat = np.where(rng.random(400) < 0.4, y_true, 0).astype(np.int16)
    out, pred, prob, rep = classify(x, cat, np.arange(400) // 2, ["other", "a", "b", "c"])
    assert (out > 0).all() and pred.sum() == (cat == 0).sum() and rep["other_fraction"] == 0
    assert rep["heldout_accuracy"] > 0.9 and (out[pred] == y_true[pred]).mean() > 0.9
    assert np.all(prob[~pred] == 1) and np.all((prob[pred] > 0) & (prob[pred] <= 1))
    _, pred, _, rep = classify(x[:5], cat[:5], np.arange(5), ["other", "a", "b", "c"])
    assert "skipped" in rep and not pred.any()


def test_map_keeps_originals_predicted_categories_and_relative_paths(engine):
    lmap = engine.entry().lmap
    assert lmap.params.shape == (40, 16) and lmap.predicted.dtype == bool
    assert "heldout_accuracy" in lmap.meta["categories"]
    fig = plots.map_figure(lmap)
    names = [t["name"] for t in fig["data"] if t["uid"].startswith("ds:")]
    assert any("(predicted)" in n for n in names) and not any(n.startswith("other (") for n in names)
    assert any("(predicted from the sound" in t for tr in fig["data"] for t in tr.get("text", []) or [])
    assert project_path(os.path.join(PROJECT, "checkpoints", "x", "model.pt")) == "checkpoints/x/model.pt"
    assert project_path("/elsewhere/model.pt") == "/elsewhere/model.pt"


def test_render_with_texts_is_render_one_and_texts(synth, st):
    full = np.asarray(st["full"]).copy()
    full[3] = 0.77
    audio, texts = synth.render_with_texts(full)
    assert np.array_equal(audio, synth.render_one(full)) and texts == synth.texts(full)
    audio, _ = synth.render_with_texts(full, note=67)
    assert np.array_equal(audio, synth.render_one(full, note=67))

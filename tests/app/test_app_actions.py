"""The app's actions on a debug checkpoint, a tiny latent map and the real synth (no Gradio here)."""

import contextlib
import json

import numpy as np
import plotly.graph_objects as go
import pytest
import soundfile as sf
from engines import make_engine

from explorer.app import actions as A
from explorer.app import plots
from explorer.app.map_export import build_debug_map


@pytest.fixture(scope="module")
def engine(tmp_path_factory, synth):
    return make_engine(tmp_path_factory.mktemp("ckpts"), synth, {16: (32, 0)})  # dbg30 has no map


@pytest.fixture
def st(engine):
    return A.new_state(engine)


def valid(fig):
    go.Figure(fig)  # plotly validates every attribute
    return fig


def check_view(engine, view):
    sr, audio = view["audio"]
    assert sr == 22050 and audio.shape == (88200,) and audio.dtype == np.int16 and np.abs(audio).max() > 0
    valid(view["mel"]), valid(view["params"])
    ov = json.loads(view["overlay"])
    assert set(ov) == set(plots.OVERLAY_UIDS)
    assert set(view["timings"]) == {"decode", "render", "features", "figures"}
    assert len(view["texts"]) == 41


def test_select_point_renders_the_dataset_code(engine, st):
    lmap = engine.entry().lmap
    st = A.select_point(engine, st, 5)
    assert np.allclose(st["z"], lmap.z[5]) and st["label"].startswith(lmap.names[5])
    view = A.render_view(engine, st)
    check_view(engine, view)
    # the marker sits on the clicked dot
    assert np.allclose(json.loads(view["overlay"])["current"], [[round(float(lmap.xy[5, 0]), 4)],
                                                                [round(float(lmap.xy[5, 1]), 4)]], atol=1e-4)
    # rendering is the real synth: same parameters, same audio
    again = engine.synth.render_one(st["full"])
    assert np.array_equal(A.to_int16(again), view["audio"][1])
    with pytest.raises(A.UserError, match="no dataset point 999"):
        A.select_point(engine, st, 999)


def test_click_empty_space_decodes(engine, st):
    lmap = engine.entry().lmap
    x0, x1, y0, y1 = lmap.bounds
    st = A.map_click(engine, st, json.dumps({"kind": "xy", "x": (x0 + x1) / 2, "y": y0 + 0.01 * (y1 - y0)}))
    assert st["label"].startswith("map point")
    assert np.allclose(st["z"], lmap.unproject(np.array([[(x0 + x1) / 2, y0 + 0.01 * (y1 - y0)]]))[0])
    check_view(engine, A.render_view(engine, st))
    st2 = A.map_click(engine, st, json.dumps({"kind": "point", "index": 3, "t": 1}))
    assert np.allclose(st2["z"], lmap.z[3])
    # a click a hair off a dot (within the pixel tolerance the page sends) selects the dot
    near = {"kind": "xy", "x": float(lmap.xy[4, 0]) + 1e-6, "y": float(lmap.xy[4, 1]), "tol": [1e-4, 1e-4]}
    assert np.allclose(A.map_click(engine, st, json.dumps(near))["z"], lmap.z[4])
    with pytest.raises(A.UserError, match="bad map click"):
        A.map_click(engine, st, "{not json")


def test_sliders_move_the_point(engine, st):
    m = engine.entry().model
    z = np.linspace(-1, 1, m.latent_dim).tolist()
    st = A.set_latent(engine, st, z + [0.0] * (A.MAX_DIMS - m.latent_dim))
    assert np.allclose(st["z"], z) and st["label"].endswith("(moved)")
    v_before = st["v"].copy()
    dim = m.semantic[0][0]
    sem = A.semantic_values(engine, st)
    sem[0] = 2.5
    st2 = A.set_semantic(engine, st, sem)
    assert st2["z"][dim] == pytest.approx(2.5) and not np.allclose(st2["v"], v_before)
    assert np.allclose(np.delete(st2["z"], dim), np.delete(st["z"], dim))
    # the sliders show 2 decimals; moving one slider leaves the other dims exactly where they were
    st_fine = A.set_current_z(engine, st, np.full(m.latent_dim, 0.123456, np.float32), "fine")
    shown = [round(0.123456, 2)] * m.latent_dim
    shown[5] = 1.0
    st_moved = A.set_latent(engine, st_fine, shown + [0.0] * (A.MAX_DIMS - m.latent_dim))
    assert st_moved["z"][5] == pytest.approx(1.0) and np.allclose(np.delete(st_moved["z"], 5), 0.123456)
    sem_shown = A.semantic_values(engine, st_fine)
    sem_shown[1] = -2.0
    st_sem = A.set_semantic(engine, st_fine, sem_shown)
    d1 = m.semantic[1][0]
    assert st_sem["z"][d1] == pytest.approx(-2.0) and np.allclose(np.delete(st_sem["z"], d1), 0.123456)
    st3 = A.set_dim(engine, st2, 3, -1.5)
    assert st3["z"][3] == pytest.approx(-1.5)
    with pytest.raises(A.UserError):
        A.set_dim(engine, st, 99, 0.0)
    lat, semantic = A.slider_labels(engine, "dbg16")
    assert len(lat) == m.latent_dim and semantic[0].startswith("Dark <-> Bright")


def test_neighbourhood(engine, st):
    st = A.select_point(engine, st, 2)
    st, out = A.neighbourhood(engine, st, 0.5, 5, seed=1)
    assert len(st["neighbours"]) == 5 and out["choices"] == [f"n{i}" for i in range(5)]
    d = np.stack([n["z"] for n in st["neighbours"]]) - st["z"]
    assert 0.1 < d.std() < 1.5
    valid(out["strip"])
    assert len(json.loads(out["overlay"])["neighbours"][0]) == 5
    played = A.play_item(engine, st["neighbours"], "n2", "neighbour")
    assert played["audio"][1].shape == (88200,)
    st2 = A.neighbour_to_current(engine, st, "n2")
    assert np.allclose(st2["z"], st["neighbours"][2]["z"])
    with pytest.raises(A.UserError):
        A.neighbourhood(engine, st, 0.5, 0)


def test_interpolation(engine, st):
    with pytest.raises(A.UserError, match="end points"):
        A.interpolate(engine, st, 4)
    st, _ = A.set_end(engine, A.select_point(engine, st, 0), "A")
    st, text = A.set_end(engine, A.select_point(engine, st, 9), "B")
    assert "**A**" in text and "**B**" in text
    st, out = A.interpolate(engine, st, 5)
    lmap = engine.entry().lmap
    assert np.allclose(st["steps"][0]["z"], lmap.z[0]) and np.allclose(st["steps"][-1]["z"], lmap.z[9])
    valid(out["strip"]), valid(out["trajectories"])
    assert len(out["trajectories"]["data"]) == 16
    assert len(json.loads(out["overlay"])["path"][0]) == 5
    st2 = A.step_to_current(engine, st, "s4")
    assert np.allclose(st2["z"], lmap.z[9])


def test_audio_in_matches_a_rendered_sound(engine, st, tmp_path):
    target = engine.synth.render_one(A.new_state(engine)["full"])
    path = str(tmp_path / "target.wav")
    sf.write(path, target, 22050)
    st, view = A.audio_in(engine, st, path, shift=True, at_detected=False)
    check_view(engine, view)
    assert st["label"].startswith("audio: target.wav")
    assert np.isfinite(view["sc"]) and "SC =" in view["sc_text"]
    valid(view["compare"])
    assert view["input_audio"][1].shape == (88200,)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    with pytest.raises(A.UserError, match="bad.wav: not a readable audio file"):
        A.audio_in(engine, st, str(bad))


def test_audio_in_at_detected_pitch(engine, st, tmp_path):
    t = np.arange(44100 * 2) / 44100
    path = str(tmp_path / "a440.wav")
    sf.write(path, (0.3 * np.sign(np.sin(2 * np.pi * 440 * t))).astype(np.float32), 44100)
    st, view = A.audio_in(engine, st, path, shift=True, at_detected=True)
    assert st["ratio"] == pytest.approx(261.63 / 440, rel=0.02) and st["input_note"] == 69
    assert "detected f0 44" in view["sc_text"] and "note 69" in view["sc_text"]
    # every candidate was rendered at the input's note, is on the map, playable, and can become current
    assert all(c["audio"].shape == (88200,) for c in st["candidates"])
    assert len(json.loads(view["overlay"])["candidates"][0]) == len(st["candidates"]) == len(view["candidates"])
    assert A.play_candidate(engine, st, "c2")["audio"][1].shape == (88200,)
    st2 = A.candidate_to_current(engine, st, "c2")
    assert st2["label"].startswith("candidate c2") and np.allclose(st2["full"], st["candidates"][2]["full"])


def test_refine_needs_target_and_improves(engine, st, tmp_path):
    with pytest.raises(A.UserError, match="refine needs a target"):
        A.refine_current(engine, st, 20)
    path = str(tmp_path / "t.wav")
    sf.write(path, engine.synth.render_one(A.select_point(engine, st, 4)["full"]), 22050)
    st, _view = A.audio_in(engine, st, path)
    seen = []
    st2, view2 = A.refine_current(engine, st, 20, on_best=lambda f, t: seen.append((f, t)))
    # the current sound after a refine is never worse by the pipeline's ranking (log-mel L1 + SC): the
    # refine renders a superset of the match's candidates and adds its own (it optimises log-mel L1, so SC
    # alone may rise)
    before, after = st["candidates"][0]["scores"], st2["candidates"][0]["scores"]
    assert "[refined 20]" in st2["label"]
    assert after["logmel_l1"] + after["sc"] <= before["logmel_l1"] + before["sc"] + 1e-9
    assert view2["sc"] == pytest.approx(after["sc"], abs=1e-3)  # what the panel shows is that candidate
    assert seen and "best so far" in seen[-1][1] and 0 < seen[-1][0] <= 1
    st3, view3 = A.refine_current(engine, st, 50, stop=lambda: True)  # cancelled at once: candidates kept
    assert "cancelled" in st3["label"] and view3["candidates"]


def test_presets_export_and_read_back(engine, st, tmp_path):
    from explorer.synth.presets import read_bank

    st = A.select_point(engine, st, 1)
    bank, js = A.export_preset(engine, st, "My sound")
    assert bank.endswith("My_sound.bank") and js.endswith("My_sound.json")
    presets = read_bank(bank)
    assert presets[0].name == "My sound"
    back = engine.pmap.to_normalised(presets[0].raw)
    assert np.allclose(back, engine.pmap.to_normalised(engine.pmap.to_raw(st["full"])), atol=1e-6)
    st2, choices, msg = A.load_presets(engine, st, bank)
    assert choices == ["000 My sound"] and "1 preset" in msg
    st3 = A.place_preset(engine, st2, choices[0])
    m = engine.entry().model
    # through the inverse regression flow: decoding the placed code gives the preset's parameters back
    expected = back[m.param_indices]  # discrete parameters land on their steps in a bank
    assert np.allclose(m.decode(st3["z"][None]).numpy()[0], expected, atol=2e-3)
    st4, choices, _ = A.load_presets(engine, st, js)
    assert choices == ["My sound"]
    assert np.allclose(A.place_preset(engine, st4, "My sound")["v"], expected, atol=1e-5)


@pytest.mark.parametrize("content,match", [
    (b"\x00\x01\x02\xff\xfe", "not a text file"),
    (b"hello world\n", "not an amsynth bank"),
    (b"amSynth\n<preset> <name> x\n<parameter> amp_attack banana\n", "bad.bank, line 3: value 'banana' is not a number"),
    (b'{"name": "x", "parameters": {"nope": 1}}', "none of the synth's parameters"),
])
def test_bad_presets_give_specific_messages(engine, st, tmp_path, content, match):
    p = tmp_path / "bad.bank"
    p.write_bytes(content)
    with pytest.raises(A.UserError, match=match):
        A.load_presets(engine, st, str(p))
    with pytest.raises(A.UserError, match="load a .bank"):
        A.place_preset(engine, st, "x")


def test_model_choice_and_missing_map(engine, st):
    st30 = A.choose_model(engine, st, "dbg30")
    assert st30["model"] == "dbg30" and len(st30["z"]) == engine.entry("dbg30").model.latent_dim
    view = A.render_view(engine, st30)
    assert json.loads(view["overlay"])["current"] == [[], []]  # no map: no marker
    assert "no latent map" in A.status_line(engine, st30)
    with pytest.raises(A.UserError, match="no latent map"):
        A.select_point(engine, st30, 0)
    assert valid(engine.map_figure("dbg30", "category", plots.empty_overlay()))["data"] == []
    with pytest.raises(A.UserError, match="unknown model"):
        A.choose_model(engine, st, "nope")


def test_map_figures(engine, st):
    lmap = engine.entry().lmap
    fig = valid(engine.map_figure("dbg16", "category", A.overlay(engine, st)))
    uids = [t["uid"] for t in fig["data"]]
    assert uids[0].startswith("ds:") and uids[-len(plots.OVERLAY_UIDS):] == list(plots.OVERLAY_UIDS)
    n_dots = sum(len(t["x"]) for t in fig["data"] if t["uid"].startswith("ds:"))
    assert n_dots == len(lmap)
    idx = sorted(i for t in fig["data"] if t["uid"].startswith("ds:") for i in t["customdata"])
    assert idx == list(range(len(lmap)))
    tag = plots.colour_options(lmap)[1]
    fig2 = valid(engine.map_figure("dbg16", tag, A.overlay(engine, st)))
    assert {t["name"].split(" (")[0] for t in fig2["data"] if t["uid"].startswith("ds:")} <= \
        {"untagged", *lmap.tag_pairs[0][:2]}
    summary = A.summary(engine, st)
    assert summary["xy"] is not None and len(summary["texts"]) == 41
    # what the page gets: the same figure, its dots' JSON written once per colouring, the overlay each time
    for colour in ("category", tag):
        for overlay in (A.overlay(engine, st), plots.empty_overlay()):
            sent = json.loads(engine.map_plot("dbg16", colour, overlay).plot)
            assert sent == json.loads(plots.dumps(engine.map_figure("dbg16", colour, overlay)))
    assert json.loads(engine.map_plot("dbg30", "category", plots.empty_overlay()).plot)["data"] == []


def test_large_maps_use_webgl_for_dots_and_overlay():
    from explorer.app.latent_map import LatentMap

    n = 6000
    rng = np.random.default_rng(0)
    z = rng.standard_normal((n, 4)).astype(np.float32)
    lmap = LatentMap(z, z[:, :2], [f"p{i}" for i in range(n)], ["b"] * n, np.zeros(n, np.int16), ["other"],
                     np.zeros((n, 1), np.int8), [["dark", "bright", "centroid"]])
    fig = valid(plots.map_figure(lmap, "category", {"current": [0.0, 0.0]}))
    types = {t["uid"]: t["type"] for t in fig["data"]}
    assert types["ds:0"] == "scattergl"
    assert all(types[u] == "scattergl" for u in plots.OVERLAY_UIDS)  # drawn above the WebGL dots


@contextlib.contextmanager
def untrained_model(engine, tmp_path, family: str):
    """An untrained 16-parameter `family` checkpoint in the engine's menu as `<family>16` while in use."""
    from explorer.models import build_model, make_config
    from explorer.models.checkpoint import checkpoint_dict, save_checkpoint

    model = build_model(family, make_config(family, n_params=16))
    meta = {"param_names": [f"p{i}" for i in range(16)], "param_indices": list(range(16)),
            "param_steps": [0] * 16, "default_values": [0.5] * 41, "stats": {"mean": -4.0, "std": 2.5}}
    path = tmp_path / family / "model.pt"
    path.parent.mkdir()
    save_checkpoint(str(path), checkpoint_dict(family, model, meta))
    engine.checkpoints[f"{family}16"] = str(path)
    try:
        yield f"{family}16"
    finally:
        del engine.checkpoints[f"{family}16"]


def test_models_without_a_latent_space_are_refused_clearly(engine, st, tmp_path):
    with untrained_model(engine, tmp_path, "mlp") as name, \
            pytest.raises(A.UserError, match="no latent space to explore"):
        A.choose_model(engine, st, name)


def test_non_invertible_model_places_presets_by_encoding(engine, tmp_path):
    with untrained_model(engine, tmp_path, "vae") as name:
        st = A.choose_model(engine, A.new_state(engine), name)
        st = dict(st, presets={"p": np.full(41, 0.3, np.float32)})
        st = A.place_preset(engine, st, "p")
        assert st["z"].shape == (16,) and np.allclose(st["v"], 0.3)
        check_view(engine, A.render_view(engine, st))


def test_stale_map_is_flagged(tmp_path, synth):
    from explorer.models.checkpoint import make_debug_checkpoint

    ckpt = tmp_path / "m" / "model.pt"
    ckpt.parent.mkdir()
    make_debug_checkpoint(str(ckpt), n_params=16, seed=1)
    build_debug_map(str(ckpt), synth, n=10)
    make_debug_checkpoint(str(ckpt), n_params=16, seed=2)  # retrained: the map's codes are now stale
    eng = A.Engine({"m": str(ckpt)}, synth=synth)
    st = A.new_state(eng)
    assert "exported for another model file" in A.status_line(eng, st)
    st = A.select_point(eng, st, 3)  # still usable: decoded by the current model
    m = eng.entry().model
    assert np.allclose(st["v"], m.decode(st["z"][None]).numpy()[0], atol=1e-6)

"""Steering macros: fit on a dataset whose descriptors are known functions of the parameters, steer one
pair while the others hold, real units, loading beside a checkpoint, and the app's semantic sliders."""

from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.data.dataset import save_dataset
from explorer.data.tags import STEER_PAIRS
from explorer.models.checkpoint import (
    CheckpointError,
    load_model,
    make_debug_checkpoint,
)
from explorer.models.steer import (
    FILE_NAME,
    LEVEL_RANGE,
    PATH_MARGIN,
    PATH_STEP,
    Steerer,
    fit,
)
from explorer.models.steer_path import calibrate, calibrate_towards, longest_rise

P = 16
NAMES = [f"param_{i:02d}" for i in range(P)]  # the debug checkpoint's parameter names


def make_dataset(root: Path, n: int = 600, seed: int = 0) -> Path:
    """Descriptors 0-3 are smooth functions of parameters 11 (centroid: the debug checkpoint's parameter 11
    is amsynth's filter cutoff, so the real synth's centroid follows it too) and 1-3; the mels (hence
    duration and spread) depend on parameters 4-5."""
    rng = np.random.default_rng(seed)
    v = rng.random((n, P)).astype(np.float32)
    desc = np.stack([200 + 3000 * v[:, 11] ** 2, v[:, 1] + 0.3 * v[:, 2], v[:, 2] - 0.5 * v[:, 1] ** 2,
                     0.01 + 0.2 * v[:, 3]], 1).astype(np.float32)
    frames = np.arange(80)[None, :]
    env = np.where(frames < (10 + 60 * v[:, 4:5]), 0.0, -30.0)  # log power: loud, then 30 log units down
    bands = -((np.arange(64)[None, :] - 32) ** 2) / (4 + 300 * v[:, 5:6])  # narrow or wide band
    mels = (env[:, None, :] + bands[:, :, None]).astype(np.float32)
    split = np.zeros(n, np.uint8)
    split[-n // 5:] = 2
    meta = {"version": 1, "param_names": NAMES, "param_indices": list(range(P)), "param_steps": [0] * P,
            "default_values": [0.5] * 41, "stats": {"mean": -10.0, "std": 10.0},
            "tag_pairs": [list(p) for p in STEER_PAIRS[:4]], "categories": ["other"], "n": n}
    save_dataset(str(root), meta, [{"name": str(i), "bank": "", "source": i, "augmented": False} for i in range(n)],
                 mels=mels, params=v, full_params=np.full((n, 41), 0.5, np.float32), split=split,
                 tags=np.zeros((n, 4), np.int8), descriptors=desc, category=np.zeros(n, np.int16))
    return root


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    torch.set_num_threads(1)
    root = make_dataset(tmp_path_factory.mktemp("steer") / "ds")
    return fit(str(root), epochs=60, hidden=64)


def test_fit_predicts_held_out_descriptors(fitted):
    assert fitted["pairs"] == [list(p) for p in STEER_PAIRS] and fitted["param_names"] == NAMES
    r2 = fitted["r2_test"]
    assert len(r2) == len(STEER_PAIRS) and min(r2[:4]) > 0.8, r2
    assert r2[4] > 0.8 and r2[5] > 0.8, r2  # duration and spread, from the mels


def test_written_out_jacobian_is_autograds(fitted):
    st = Steerer(fitted)
    net = st.net.double()
    for seed in range(3):
        x = np.random.default_rng(seed).uniform(0, 1, P)
        f, jac = st.value_and_jacobian(x)
        xt = torch.from_numpy(x)
        assert np.allclose(f, net(xt).detach().numpy(), atol=1e-10) and np.allclose(st.levels(x), f, atol=1e-10)
        ref = torch.autograd.functional.jacobian(net, xt).numpy()
        assert jac.shape == ref.shape == (len(STEER_PAIRS), P)
        assert np.allclose(jac, ref, rtol=1e-8, atol=1e-10) and np.abs(ref).max() > 0.1


def test_steer_moves_one_pair_and_holds_the_others(fitted):
    st = Steerer(fitted)
    v0 = np.full(P, 0.5, np.float32)
    before = st.levels(v0)
    for k, target in ((0, 1.5), (0, -1.5), (3, 1.0)):
        v = st.steer(v0, k, target)
        after = st.levels(v)
        assert after[k] == pytest.approx(target, abs=0.1)
        others = [j for j in range(4) if j != k]
        assert np.abs(after[others] - before[others]).max() < 0.25
        assert v.min() >= 0.0 and v.max() <= 1.0
    # real units grow with the level: the quantiles of the training sounds; level_of inverts to_units
    units = [st.to_units(0, x) for x in (-2, -1, 0, 1, 2)]
    assert units == sorted(units) and 200 <= units[0] < units[-1] <= 3200
    assert [st.level_of(0, u) for u in units] == pytest.approx([-2, -1, 0, 1, 2], abs=0.05)


def test_path_steps_away_from_the_start_the_others_held(fitted):
    st = Steerer(fitted)
    v0 = np.full(P, 0.5, np.float32)
    before = st.levels(v0)
    for side in (-1, 1):
        params = st.path(v0, 0, side)
        pred = st.levels(params)
        aims = before[0] + side * PATH_STEP * np.arange(1, len(params) + 1)
        assert len(params) >= 5 and np.abs(aims).max() <= LEVEL_RANGE + 1e-6
        assert np.abs(aims[-1]) > LEVEL_RANGE - PATH_STEP  # to the end of the slider's range
        inner = np.abs(aims) <= 1.5  # reachable levels: the predictor gets there
        assert np.abs(pred[inner, 0] - aims[inner]).max() < 0.1
        assert np.abs(pred[inner][:, [1, 2, 3]] - before[[1, 2, 3]]).max() < 0.3
        assert params.min() >= 0 and params.max() <= 1 and params.dtype == np.float32
        # computed in pieces (as the app extends a path) it is the same path
        head = st.path(v0, 0, side, until=3)
        tail = st.path(v0, 0, side, done=3, last=head[-1])
        assert np.array_equal(np.concatenate([head, tail]), params)


def test_longest_rise_keeps_a_longest_strictly_rising_run_above_the_floor():
    x = np.array([0.0, -1.0, 0.5, 0.4, 1.0, np.nan, 0.9, 2.0])
    kept = longest_rise(x, -np.inf)
    assert kept == sorted(kept) and np.all(np.diff(x[kept]) > 0) and len(kept) == 4
    kept = longest_rise(x, 0.45)  # only entries above the floor (the start's level)
    assert np.all(x[kept] > 0.45) and np.all(np.diff(x[kept]) > 0) and len(kept) == 3
    assert longest_rise(np.array([np.nan, 0.1]), 0.2) == [] and longest_rise(np.array([3.0, 1, 2]), 0) == [1, 2]


def test_loaded_beside_a_checkpoint_or_refused(fitted, tmp_path):
    ck = make_debug_checkpoint(tmp_path / "a" / "model.pt", n_params=P)
    assert load_model(ck).steer is None
    torch.save(fitted, ck.with_name(FILE_NAME))
    m = load_model(ck)
    assert m.steer is not None and m.steer.shown == list(range(len(STEER_PAIRS)))
    other = make_debug_checkpoint(tmp_path / "b" / "model.pt", n_params=P + 2)
    torch.save(fitted, other.with_name(FILE_NAME))
    with pytest.raises(CheckpointError, match="refit"):
        load_model(other)


def test_app_semantic_sliders_steer(fitted, tmp_path, synth):
    """A slider move calibrates its pair's path with real renders on the side it moves to, once (cached for
    later moves); the sound played is the point measured nearest the slider, and its own audio measures it."""
    from explorer.app import actions as A
    from explorer.data.tags import steer_descriptors

    ck = make_debug_checkpoint(tmp_path / "dbg" / "model.pt", n_params=P)
    torch.save(dict(fitted, shown=[0, 3]), ck.with_name(FILE_NAME))
    engine = A.Engine({"dbg": str(ck)}, "dbg", synth=synth)
    steer = engine.entry().model.steer
    st = A.new_state(engine)
    assert A.slider_labels(engine, "dbg")[1] == ["Dark <-> Bright", "Clean <-> Dirty"]
    levels = A.semantic_values(engine, st)
    assert len(levels) == 2 and len(engine.steer_paths) == 0
    st2 = A.set_semantic(engine, st, [levels[0] + 1.0, levels[1]])
    path, heard_level = engine.steer_paths.find("dbg", 0, st2["v"])
    assert len(engine.steer_paths) == 1 and np.array_equal(path.start, st["v"])
    measured = path.points()[1]
    assert np.all(np.diff(measured) > 0) and heard_level == path.pick(levels[0] + 1.0)[1]
    after = A.semantic_values(engine, st2)
    assert after[0] == pytest.approx(heard_level, abs=0.006)  # the slider shows the measured level
    view = A.render_view(engine, st2)
    assert view["semantic"] == after and view["semantic_info"][0].startswith("centroid ")
    assert view["semantic_info"][0].endswith(" Hz")
    heard = steer.level_of(0, float(steer_descriptors(view["audio_raw"][None])[0, 0]))
    assert heard == pytest.approx(heard_level, abs=1e-9)
    # later moves along the same pair reuse the path (the other side calibrated when first needed); the
    # centroid heard never falls as the slider rises
    centroids = []
    for t in np.linspace(-2, 2, 5):
        st3 = A.set_semantic(engine, st2, [float(t), after[1]])
        centroids.append(float(steer_descriptors(engine.synth.render_one(st3["full"])[None])[0, 0]))
    assert len(engine.steer_paths) == 1 and centroids == sorted(centroids) and centroids[-1] > centroids[0]
    assert sorted(path.sides) == [-1, 1]
    # a path calibrated in pieces, as far as the moves asked, has the points of one calibrated at once
    both = calibrate(steer, st["v"], 0, lambda p: synth.render(engine.entry().model.full_params(p)))
    for side in (-1, 1):
        n = len(path.raw[side][0])
        assert np.array_equal(both.raw[side][0][:n], path.raw[side][0])
        assert np.allclose(both.raw[side][1][:n], path.raw[side][1], equal_nan=True)


def test_a_slider_move_renders_only_what_it_needs(fitted, tmp_path, synth):
    """The first move of a slider renders the start and the points up to a little past its level (then more,
    while none measures that far), not the whole side; completed, it has the points of the path calibrated
    at once, and still plays what it played before."""
    steer = Steerer(fitted)
    model = load_model(make_debug_checkpoint(tmp_path / "dbg" / "model.pt", n_params=P))
    rendered = []

    def render(p):
        rendered.append(len(p))
        return synth.render(model.full_params(p))

    v0 = np.full(P, 0.5, np.float32)
    f0 = float(steer.levels(v0)[0])
    path = calibrate_towards(steer, v0, 0, f0 + 0.5, render)
    assert rendered[0] == 1 + 0.5 / PATH_STEP + PATH_MARGIN  # the start, two steps, the margin
    assert all(n == PATH_MARGIN for n in rendered[1:])  # then more, while none measures that far
    assert path.covers(f0 + 0.5) and sum(rendered) == 1 + len(path.raw[1][0]) and -1 not in path.raw
    assert not path.complete(1) and sum(rendered) < 1 + len(steer.path(v0, 0, 1))
    played = path.points()
    assert path.level < path.pick(f0 + 0.5)[1] and np.all(np.diff(played[1]) > 0)
    calibrate(steer, v0, 0, render, sides=(1,), path=path)  # the rest of the side
    whole = calibrate(steer, v0, 0, render, sides=(1,))
    assert path.complete(1) and np.array_equal(whole.raw[1][0], path.raw[1][0])
    assert np.array_equal(whole.raw[1][1], path.raw[1][1], equal_nan=True)
    # the points kept earlier stay (what the slider played there does not change), the run only grows
    kept = path.points()
    assert np.array_equal(kept[0][: len(played[0])], played[0]) and np.all(np.diff(kept[1]) > 0)
    assert len(kept[1]) <= len(whole.points()[1])
    n = sum(rendered)
    assert calibrate_towards(steer, v0, 0, f0 + 1.0, render, path) is path and sum(rendered) == n  # cached


def test_path_cache_is_bounded(fitted, tmp_path, synth):
    """The app's path cache drops the least recently used path (and the index of its points) beyond its size."""
    from explorer.app.steering import PathCache

    ck = make_debug_checkpoint(tmp_path / "dbg" / "model.pt", n_params=P)
    steer = Steerer(fitted)
    model = load_model(ck)

    def render(p):
        return synth.render(model.full_params(p))

    cache = PathCache(size=1)
    a, b = np.full(P, 0.3, np.float32), np.full(P, 0.6, np.float32)
    va = cache.move("dbg", steer, 0, a, 1.0, render)
    assert cache.find("dbg", 0, a) is not None and cache.find("dbg", 0, va) is not None
    cache.move("dbg", steer, 0, b, 1.0, render)
    assert len(cache) == 1 and cache.find("dbg", 0, b) is not None
    assert cache.find("dbg", 0, a) is None and cache.find("dbg", 0, va) is None
    kept = cache._paths[next(iter(cache._paths))].measured()[0]
    assert len(cache._points) == len({x.tobytes() for x in kept})  # only the kept path's points are indexed
    assert len(cache._turns) == 1

    def broken(p):
        raise RuntimeError("synth worker died")

    with pytest.raises(RuntimeError, match="worker died"):
        cache.move("dbg", steer, 0, np.full(P, 0.8, np.float32), 1.0, broken)
    assert len(cache._turns) == 1 and len(cache) == 1  # nothing of the failed move is left behind


def test_steering_evaluation_on_rendered_audio(fitted, tmp_path, synth):
    """`explorer.evaluate.semantic_steer` steers from test, prior and mixed starts, renders with the real
    synth and scores level vs descriptor; a pair is shown only when test and prior starts reach the bar."""
    from explorer.evaluate.semantic_steer import BAR, evaluate_steering, spearman_rows

    assert spearman_rows(np.arange(4.0), np.array([[1, 2, 3, 4], [4, 3, 2, 1], [1, 1, 1, 1]])) == \
        pytest.approx([1.0, -1.0, float("nan")], nan_ok=True)
    ck = make_debug_checkpoint(tmp_path / "m" / "model.pt", n_params=P)
    torch.save(fitted, ck.with_name(FILE_NAME))
    model = load_model(ck)
    test_z = torch.randn(6, model.latent_dim, generator=torch.Generator().manual_seed(0))
    res = evaluate_steering(model, test_z, synth, n_starts=2, steps=3, seed=0)
    assert [r["descriptor"] for r in res] == [p[2] for p in STEER_PAIRS]
    for r in res:
        assert set(r) >= {"test", "prior", "mix", "shown", "r2_test"}
        assert np.asarray(r["test"]["descriptor_values"]).shape == (2, 3)
        means = [r[k]["spearman_mean"] for k in ("test", "prior")]
        assert r["shown"] == all(m is not None and m >= BAR for m in means)
    # without test codes only prior starts are scored, and nothing can be shown
    res = evaluate_steering(model, None, synth, n_starts=2, steps=3, seed=0)
    assert all(set(r) & {"test", "prior", "mix"} == {"prior"} and not r["shown"] for r in res)

import filecmp
import json

import numpy as np
import pytest

from explorer.data import tags as tagging
from explorer.data.dataset import build, load_dataset, main, plan


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "a"
    build("16", str(out), size=60, seed=3, limit=40, workers=2)
    return out


def test_layout_and_meta(tiny):
    ds = load_dataset(str(tiny))
    m = ds.meta
    n = len(ds)
    assert n == m["n"] and n + m["dropped_silent"] == 60 and m["dropped_crashed"] == 0
    assert ds.mels.shape == (n, 64, 80) and ds.params.shape == (n, 16)
    assert ds.full_params.shape == (n, 41)
    assert np.allclose(ds.full_params[:, m["param_indices"]], ds.params)
    held = [i for i in range(41) if i not in m["param_indices"]]
    assert np.allclose(ds.full_params[:, held], np.asarray(m["default_values"])[held])
    assert ds.tags.shape == (n, len(tagging.TAG_PAIRS)) and set(np.unique(ds.tags)) <= {-1, 0, 1}
    assert len(ds.index) == n and m["param_names"][1] == "filter_cutoff"
    # normalisation statistics come from the training split only
    train = ds.mels[ds.indices("train")]
    assert m["stats"]["mean"] == pytest.approx(float(train.mean()), rel=1e-5)
    assert m["stats"]["mean"] != pytest.approx(float(ds.mels[ds.indices("test")].mean()), rel=1e-3)


def test_no_split_leakage(tiny):
    ds = load_dataset(str(tiny))
    src = np.array([r["source"] for r in ds.index])
    aug = np.array([r["augmented"] for r in ds.index])
    sets = {s: set(src[ds.indices(s)]) - {-1} for s in ("train", "valid", "test")}
    assert not sets["train"] & sets["test"] and not sets["valid"] & sets["test"]
    assert not sets["train"] & sets["valid"]
    assert not aug[ds.indices("test")].any()  # test holds human presets only
    assert len(ds.indices("test")) > 0


def test_plan_split_by_source():
    human = np.random.default_rng(0).random((50, 4))
    values, source, split, aug = plan(human, 500, [0, 0, 3, 0], seed=1)
    assert len(values) == 500 and aug.sum() == 450
    for s in np.unique(source[source >= 0]):
        assert len(set(split[source == s])) == 1
    steps = np.unique(values[:, 2][aug])
    assert set(np.round(steps * 2, 6)) <= {0.0, 1.0, 2.0}  # discrete re-quantised


def test_same_seed_same_files(tiny, tmp_path):
    other = tmp_path / "b"
    assert main(["build", "--params", "16", "--out", str(other), "--size", "60", "--seed", "3",
                 "--limit", "40", "--workers", "1"]) == 0
    for f in ("mels.npy", "params.npy", "full_params.npy", "split.npy", "tags.npy",
              "descriptors.npy", "category.npy", "index.json"):
        assert filecmp.cmp(tiny / f, other / f, shallow=False), f
    a, b = (json.loads((p / "meta.json").read_text()) for p in (tiny, other))
    for volatile in ("build_seconds", "created"):
        a.pop(volatile), b.pop(volatile)
    assert a == b


def test_missing_dataset_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="explorer.data build"):
        load_dataset(str(tmp_path / "nothing"))


def test_tag_rules():
    desc = np.array([[1.0], [2.0], [3.0], [4.0], [np.nan]])
    thr = tagging.thresholds(desc[:4])
    assert list(tagging.tags(desc, thr)[:, 0]) == [-1, 0, 0, 1, 0]
    assert tagging.CATEGORY_NAMES[tagging.category("Fat Bass 2")] == "bass"
    assert tagging.CATEGORY_NAMES[tagging.category("Warm PAD")] == "pad"
    assert tagging.category("Xyzzy") == 0


def test_descriptors_follow_the_sound():
    sr = 22050
    t = np.arange(88200) / sr
    dark = np.sin(2 * np.pi * 200 * t)
    bright = np.sin(2 * np.pi * 4000 * t)
    noise = np.random.default_rng(0).standard_normal(len(t)) * 0.3
    slow = dark * np.minimum(t / 1.0, 1)  # 1 s fade-in
    wobble = dark * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    d = tagging.descriptors(np.stack([dark, bright, noise, slow, wobble]).astype(np.float32))
    c, flux, attack, flat = d.T
    assert c[1] > 5 * c[0]
    assert flat[2] > 10 * flat[0]
    assert attack[0] > attack[3] + 1  # the instant sine attacks faster than the fade-in
    assert flux[4] > 2 * flux[0]
    assert np.isnan(tagging.descriptors(np.zeros((1, 88200), np.float32))).all()


def test_duration_moves_continuously_with_the_release():
    # frame energy 1 up to frame T, then 10 dB lower per frame: above -30 dB for T + 3 frame intervals,
    # also when T falls between frames (the log energy is interpolated between them)
    hop_s = 1024 / 22050
    for t_end in (20.0, 20.25, 20.5, 37.75):
        frames = np.arange(80.0)
        power = np.zeros((1, 64, 80))
        power[0, 10] = np.where(frames <= t_end, 1.0, 10.0 ** (-(frames - t_end)))
        assert tagging.envelope_descriptors(power)[0, 0] == pytest.approx((t_end + 3) * hop_s, rel=1e-9)
    sr = 22050
    t = np.arange(88200) / sr
    short, long = (np.sin(2 * np.pi * 300 * t) * np.exp(-t / tau) for tau in (0.05, 0.5))
    d = tagging.steer_descriptors(np.stack([short, long]).astype(np.float32))[:, 4]
    assert d[1] > 5 * d[0] > 0


def test_render_blocks_get_past_a_plugin_crash(synth, pmap, crash_vector):
    """A dataset's renders go on past a preset the plugin crashes on: it comes back silent (so the build drops
    it with the silent sounds, counted in `dropped_crashed`) and its row is reported."""
    from explorer.data.dataset import _blocks

    ok = pmap.to_normalised({})
    full = np.stack([ok, crash_vector, ok, crash_vector]).astype(np.float32)
    blocks = list(_blocks(synth, full))
    assert len(blocks) == 1
    start, audio, crashed = blocks[0]
    assert start == 0 and crashed == [1, 3] and not audio[1].any() and not audio[3].any()
    assert np.abs(audio[0]).max() > 1e-3 and np.array_equal(audio[0], audio[2])

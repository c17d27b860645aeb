"""Latent map: kNN 2-D <-> latent maps, save/load, the export CLI on a tiny real dataset."""

import json
import os
import pickle

import numpy as np
import pytest

from explorer.app import latent_map as L
from explorer.app import map_export as X


def random_map(n=60, d=8, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d)).astype(np.float32)
    return L.LatentMap(z, z[:, :2] * 3 + 1, [f"p{i}" for i in range(n)], ["bank"] * n,
                       rng.integers(0, 3, n), ["other", "bass", "pad"], rng.integers(-1, 2, (n, 2)),
                       [["dark", "bright", "centroid"], ["clean", "dirty", "flatness"]])


def test_maps_are_exact_on_dataset_points():
    m = random_map()
    assert np.allclose(m.project(m.z), m.xy, atol=1e-5)
    assert np.allclose(m.unproject(m.xy), m.z, atol=1e-5)
    assert m.nearest(m.xy[7]) == 7


def test_maps_interpolate_between_points():
    m = random_map()
    mid_xy = (m.xy[0] + m.xy[1]) / 2
    z = m.unproject(mid_xy[None])[0]
    lo, hi = m.z.min(0), m.z.max(0)
    assert z.shape == (8,) and np.all(z >= lo - 1e-6) and np.all(z <= hi + 1e-6)
    xy = m.project(m.z[:3] + 0.01)
    assert xy.shape == (3, 2) and np.all(np.isfinite(xy))
    x0, x1, y0, y1 = m.bounds
    assert x0 < m.xy[:, 0].min() and x1 > m.xy[:, 0].max() and y0 < y1


def test_save_load_round_trip(tmp_path):
    m = random_map()
    ckpt = tmp_path / "model.pt"
    m.meta["projection"] = "pca"
    m.save(str(tmp_path))
    back = L.load_map(str(ckpt))
    assert np.array_equal(back.z, m.z) and np.array_equal(back.xy, m.xy)
    assert back.names == m.names and back.tag_pairs == m.tag_pairs and back.meta["projection"] == "pca"
    assert np.array_equal(back.tags, m.tags) and np.array_equal(back.category, m.category)


def test_missing_map_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m explorer.app.map_export export"):
        L.load_map(str(tmp_path / "model.pt"))


def test_quality_measured():
    m = random_map()
    lmap, reducer = X.build_map(m.z, m.names, m.banks, m.category, m.category_names, m.tags, m.tag_pairs,
                                method="pca")
    q = lmap.meta["quality"]
    assert reducer is None and q["n_eval"] == 60
    assert 0 <= q["knn_forward_error"] < 1 and 0 <= q["knn_inverse_error"] < 2


def test_export_cli_umap(tmp_path, synth):
    """The real path: a tiny dataset built with the real synth, a debug checkpoint, UMAP projection."""
    from explorer.data.dataset import build, load_dataset
    from explorer.models.checkpoint import make_debug_checkpoint

    data = tmp_path / "ds"
    build("16", str(data), size=40, seed=1, limit=30, workers=2)
    ckpt = tmp_path / "m" / "model.pt"
    ckpt.parent.mkdir()
    make_debug_checkpoint(str(ckpt), n_params=16, tag_pairs=load_dataset(str(data)).meta["tag_pairs"])
    assert X.main(["export", "--checkpoint", str(ckpt), "--data", str(data), "--projection", "umap"]) == 0
    m = L.load_map(str(ckpt))
    ds = load_dataset(str(data))
    assert len(m) == len(ds) and m.z.shape == (len(ds), 16) and m.xy.shape == (len(ds), 2)
    assert np.array_equal(m.tags, ds.tags)
    # variants carry their preset's name and a number; human presets and uniform draws keep theirs
    for name, r in zip(m.names, ds.index):
        if r["augmented"] and r["source"] >= 0:
            assert name.startswith(r["name"] + " ~") and name.rsplit("~", 1)[1].isdigit()
        else:
            assert name == r["name"]
    assert m.v.shape == (len(ds), 16) and np.all((m.v >= 0) & (m.v <= 1))
    assert np.array_equal(m.params, ds.params)  # each sound's own preset, for A/B
    # name-derived categories are kept; the classifier fills in the rest (or says why it did not)
    named = np.asarray(ds.category) > 0
    assert np.array_equal(m.category[named], np.asarray(ds.category)[named]) and not m.predicted[named].any()
    with open(ckpt.parent / L.UMAP_PKL, "rb") as f:
        reducer = pickle.load(f)
    assert np.allclose(reducer.embedding_, m.xy, atol=1e-5)
    meta = json.loads((ckpt.parent / L.MAP_JSON).read_text())
    q = meta["quality"]
    for k in ("knn_forward_error", "knn_inverse_error", "umap_forward_error", "umap_inverse_error",
              "umap_inverse_ms", "knn_inverse_ms"):
        assert np.isfinite(q[k]), k
    assert meta["projection"] == "umap" and os.path.samefile(meta["data"], data)
    assert "n_named" in meta["categories"]


def test_debug_map_stores_decoded_params(tmp_path, synth):
    import torch

    from explorer.models.checkpoint import load_model, make_debug_checkpoint

    ckpt = tmp_path / "model.pt"
    make_debug_checkpoint(str(ckpt), n_params=16)
    X.build_debug_map(str(ckpt), synth, n=12)
    m = L.load_map(str(ckpt))
    model = load_model(str(ckpt), device="cpu")
    assert m.v.shape == (12, 16)
    assert np.allclose(m.v, model.decode(torch.from_numpy(m.z)).numpy(), atol=1e-5)

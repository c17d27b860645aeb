"""Checkpoint format, load_model and the LoadedModel API (on the tiny debug model)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.models.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    load_model,
    make_debug_checkpoint,
    read_checkpoint,
    save_checkpoint,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def debug_ckpt(tmp_path_factory: pytest.TempPathFactory):
    return make_debug_checkpoint(tmp_path_factory.mktemp("ckpt") / "debug.pt", n_params=16, n_plugin=41,
                                 tag_pairs=[["dark", "bright", "centroid"], ["soft", "hard", "attack"]])


def test_plain_dict_weights_only(debug_ckpt):
    ck = torch.load(debug_ckpt, weights_only=True)
    assert ck["format_version"] == FORMAT_VERSION and ck["model"] == "debug"
    for key in ("config", "param_names", "param_indices", "param_steps", "default_values", "stats",
                "tag_pairs", "semantic_dims", "state_dict", "train"):
        assert key in ck
    assert ck["semantic_dims"] == [0, 1]
    assert len(ck["default_values"]) == 41 and len(ck["param_names"]) == 16


def test_loaded_model_api(debug_ckpt):
    m = load_model(debug_ckpt, device="cpu")
    assert m.name == "debug" and m.latent_dim == 16 and len(m.param_names) == 16
    assert m.semantic == [(0, "dark", "bright"), (1, "soft", "hard")]
    assert m.meta["stats"] == {"mean": -4.0, "std": 2.5} and "state_dict" not in m.meta
    x = torch.randn(5, 64, 80) * 2.5 - 4.0
    z = m.encode(x)
    v = m.decode(z)
    assert z.shape == (5, 16) and v.shape == (5, 16)
    assert ((v > 0) & (v < 1)).all()
    # infer = decode(encode(.)) and encode is deterministic (posterior mean, never sampled)
    torch.testing.assert_close(m.infer(x), v)
    torch.testing.assert_close(m.encode(x), z)
    # numpy in, [1, 64, 80] / [B, 1, 64, 80] shapes accepted
    torch.testing.assert_close(m.encode(x.numpy()[:2, None]), z[:2])
    torch.testing.assert_close(m.params_to_latent(v), z, atol=1e-4, rtol=1e-4)
    full = m.full_params(v)
    assert full.shape == (5, 41)
    np.testing.assert_allclose(full[:, :16], v.numpy(), atol=1e-7)
    np.testing.assert_allclose(full[:, 16:], 0.5)


def test_save_load_identity(debug_ckpt, tmp_path):
    m1 = load_model(debug_ckpt)
    ck = read_checkpoint(debug_ckpt)
    p2 = save_checkpoint(tmp_path / "copy.pt", ck)
    m2 = load_model(p2)
    x = torch.randn(3, 64, 80)
    torch.testing.assert_close(m1.encode(x), m2.encode(x), rtol=0, atol=0)
    # a different seed gives a different model: the comparison above can fail
    m3 = load_model(make_debug_checkpoint(tmp_path / "other.pt", seed=1))
    assert not torch.allclose(m1.encode(x), m3.encode(x))


def test_errors(debug_ckpt, tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found: .*nope.pt"):
        load_model(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_text("hello")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_model(bad)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "dict.pt")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_model(tmp_path / "dict.pt")
    ck = read_checkpoint(debug_ckpt)
    ck["format_version"] = 99
    save_checkpoint(tmp_path / "v99.pt", ck)
    with pytest.raises(CheckpointError, match="format version 99"):
        load_model(tmp_path / "v99.pt")


def test_params_to_latent_needs_invertible_regressor(tmp_path):
    from explorer.models import build_model, make_config
    from explorer.models.checkpoint import checkpoint_dict
    meta = {"param_names": ["a", "b"], "param_indices": [3, 5], "param_steps": [0, 0],
            "default_values": [0.1] * 8, "stats": {"mean": 0.0, "std": 1.0}, "tag_pairs": []}
    for name, tiny in (("vae", {"channels": (4, 4, 4, 4), "hidden": 8, "reg_hidden": 4}),
                       ("cnn", {"channels": (4, 4, 4, 4), "hidden": 8})):
        model = build_model(name, make_config(name, n_params=2, **tiny))
        m = load_model(save_checkpoint(tmp_path / f"{name}.pt", checkpoint_dict(name, model, meta)))
        with pytest.raises(ValueError, match="no invertible regressor"):
            m.params_to_latent(torch.rand(3, 2))
        assert m.infer(torch.randn(3, 64, 80)).shape == (3, 2)
        np.testing.assert_allclose(m.full_params(np.array([0.2, 0.7]))[0, [3, 5]], [0.2, 0.7], atol=1e-7)

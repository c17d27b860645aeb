"""Per-parameter loss weights: the synth's sensitivity measured with the real plugin, the weighted
regression loss, and training that selects its best epoch on the weighted error."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from explorer.data.features import MelConfig
from explorer.models import build_model, make_config
from explorer.models.checkpoint import load_model
from explorer.models.param_weights import slopes, weights_from_slopes
from explorer.models.train import train
from tests.models.test_train import P, make_tiny_dataset


def test_slopes_rank_loud_parameters_above_ones_a_single_note_cannot_hear(synth, pmap):
    names = pmap.names
    probe = [names.index(k) for k in ("master_vol", "filter_cutoff", "portamento_time", "amp_vel_sens")]
    full = np.stack([pmap.to_normalised({}), pmap.to_normalised({"filter_resonance": 0.5})]).astype(np.float32)
    s = slopes(synth, full, probe, 0.2, MelConfig(), chunk=1)
    assert s.shape == (2, 4) and np.isfinite(s).all()
    vol, cutoff, porta, vel = s.mean(0)
    # portamento needs a second note and velocity sensitivity a second velocity: one note at one
    # velocity does not hear them, while the master volume and the filter cutoff change the sound
    assert min(vol, cutoff) > 0.3 and max(porta, vel) < 0.05 * min(vol, cutoff)


def test_weights_average_one_before_clipping():
    s = np.array([[1.0, 2.0, 4.0, 0.0], [1.0, 2.0, 6.0, 0.0]])
    w = weights_from_slopes(s)
    assert w == pytest.approx([0.5, 1.0, 2.5, 0.1])  # means 1, 2, 5, 0 over their mean 2; the last at the floor
    with pytest.raises(ValueError, match="did not react"):
        weights_from_slopes(np.zeros((3, 2)))


def test_weighted_regression_loss_scales_each_parameters_error(one_thread):
    torch.manual_seed(0)
    plain = build_model("debug", make_config("debug", n_params=4, n_pairs=2)).eval()
    w = (2.0, 0.0, 1.0, 1.0)
    weighted = build_model("debug", make_config("debug", n_params=4, n_pairs=2, param_weights=w)).eval()
    weighted.load_state_dict(plain.state_dict())
    z, v = torch.randn(5, 4), torch.rand(5, 4)
    (l0, v_hat), (l1, _) = plain.regression_loss(z, v), weighted.regression_loss(z, v)
    se = (v_hat - v) ** 2
    extra = plain.cfg.mse_weight * (se[:, 0] - se[:, 1]).mean()  # weights 2, 0, 1, 1 minus 1, 1, 1, 1
    assert (l1 - l0).item() == pytest.approx(extra.item(), rel=1e-4)
    logs = weighted.param_logs(v_hat, v)
    assert logs["param_wmse"] == pytest.approx((se * torch.tensor(w)).sum(-1).mean().item() / 4, rel=1e-5)
    assert "param_wmse" not in plain.param_logs(v_hat, v)
    with pytest.raises(ValueError, match="3 values for 4"):
        build_model("debug", make_config("debug", n_params=4, n_pairs=2, param_weights=(1.0, 1.0, 1.0)))


def test_training_selects_on_the_weighted_error_and_restarts_the_best_when_weights_are_added(tmp_path, one_thread):
    data = make_tiny_dataset(tmp_path / "tiny")
    out = tmp_path / "run"
    args = ["--model", "debug", "--data", str(data), "--out", str(out), "--batch", "8", "--seed", "1",
            "--threads", "1", "--set", "reg_start=0", "--set", "beta_warmup=1"]
    first = train([*args, "--epochs", "2"])
    assert first["metrics"]["select"] == "param_mse" and first["best_epoch"] in (0, 1)
    wfile = tmp_path / "w.json"
    weights = [0.5] * (P // 2) + [1.5] * (P - P // 2)
    wfile.write_text(json.dumps({"weights": weights, "param_names": [f"p{i}" for i in range(P)]}))
    res = train([*args, "--epochs", "3", "--resume", "--set", f"param_weights=@{wfile}"])
    hist = torch.load(out / "last.pt", weights_only=True)["history"]
    assert "val_param_wmse" in hist[2] and "val_param_wmse" not in hist[1]
    # the unweighted best of epochs 1-2 is not comparable: epoch 3 is the only weighted one, so it is best
    assert res["metrics"]["select"] == "param_wmse" and res["best_epoch"] == 2
    assert res["metrics"]["val_param_wmse"] == pytest.approx(hist[2]["val_param_wmse"], abs=1e-6)
    m = load_model(out / "model.pt")
    assert list(m.model.cfg.param_weights) == pytest.approx(weights)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"weights": weights, "param_names": [f"q{i}" for i in range(P)]}))
    with pytest.raises(SystemExit, match="the weights are for parameters q0"):
        train([*args, "--epochs", "4", "--resume", "--set", f"param_weights=@{wrong}"])
    with pytest.raises(SystemExit, match="3 values for 16"):
        train([*args, "--epochs", "4", "--resume", "--set", "param_weights=[1, 1, 1]"])
    with pytest.raises(SystemExit, match="cannot read"):
        train([*args, "--epochs", "4", "--resume", "--set", f"param_weights=@{tmp_path / 'missing.json'}"])

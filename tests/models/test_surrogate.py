"""The synth surrogate (parameters -> log-mel) and fine-tuning a flow with its spectral term (`train --init`)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from explorer.models import build_model, make_config
from explorer.models.surrogate import SurrogateError, fit, load_surrogate
from explorer.models.train import train
from tests.models.test_train import ROOT, P, make_tiny_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    # smooth fields (a band of harmonics per parameter, fading in time), like a synth's log-mels
    f, t = np.meshgrid(np.arange(64), np.arange(80), indexing="ij")
    fields = np.stack([2 * np.sin((k + 1) * f / 10.0) * np.exp(-t / (10.0 + 5 * k)) for k in range(P)])
    return make_tiny_dataset(tmp_path_factory.mktemp("data") / "sur", n=240, seed=3, fields=fields)


@pytest.fixture(scope="module")
def sur_file(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("sur") / "surrogate.pt"
    res = fit(["--data", str(data), "--out", str(out), "--epochs", "25", "--batch", "8", "--threads", "1",
               "--hidden", "128", "--channels", "16,16,32,32"])
    return out, res


def test_surrogate_learns_the_mapping(sur_file):
    # the tiny data set's log-mels are a fixed linear function of the parameters: a fitted surrogate must
    # predict held-out sounds much better than their mean log-mel does
    _, res = sur_file
    assert res["val_l1"] < 0.6 * res["mean_l1"], res


def test_load_surrogate_checks_the_file(sur_file, tmp_path):
    path, _ = sur_file
    names = [f"p{i}" for i in range(P)]
    sur = load_surrogate(path, names)
    assert sur(torch.rand(3, P)).shape == (3, 1, 64, 80)
    assert not any(p.requires_grad for p in sur.parameters())
    with pytest.raises(SurrogateError, match="fitted on parameters"):
        load_surrogate(path, names[::-1])
    with pytest.raises(SurrogateError, match="no such file"):
        load_surrogate(tmp_path / "none.pt")
    (tmp_path / "bad.pt").write_bytes(b"not torch")
    with pytest.raises(SurrogateError, match="not a readable"):
        load_surrogate(tmp_path / "bad.pt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(SurrogateError, match="not a surrogate"):
        load_surrogate(tmp_path / "other.pt")


def test_spectral_term_is_the_surrogates_l1(sur_file):
    path, _ = sur_file
    cfg = make_config("debug", n_params=P, n_pairs=3, spectral_weight=7.0, surrogate=str(path))
    model = build_model("debug", cfg).eval()
    x = torch.randn(4, 1, 64, 80)
    heard = x + torch.randn_like(x)  # an augmented copy the encoder sees
    v_hat = torch.rand(4, P)
    logs: dict[str, float] = {}
    term = model.spectral_loss(v_hat, heard, x, logs)
    want = (load_surrogate(path)(v_hat) - x).abs().mean()
    assert torch.allclose(term, 7.0 * want) and logs["spec"] == pytest.approx(want.item())
    model.cfg.spectral_target = "input"  # the augmented sound is the target instead of the clean one
    want_in = (load_surrogate(path)(v_hat) - heard).abs().mean()
    assert torch.allclose(model.spectral_loss(v_hat, heard, x, {}), 7.0 * want_in)
    assert not torch.allclose(want_in, want)
    model.cfg.spectral_target = "dry"
    with pytest.raises(ValueError, match="spectral_target"):
        model.spectral_loss(v_hat, heard, x, {})
    assert "_surrogate" not in model.state_dict() and all(
        not n.startswith("_surrogate") for n, _ in model.named_parameters())
    off = build_model("debug", make_config("debug", n_params=P, n_pairs=3))
    assert off.spectral_loss(v_hat, x, x, {}).item() == 0.0
    wrong = build_model("debug", make_config("debug", n_params=P + 1, n_pairs=3, spectral_weight=1.0,
                                             surrogate=str(path)))
    with pytest.raises(ValueError, match="parameters"):
        wrong.spectral_loss(torch.rand(2, P + 1), x[:2], x[:2], {})


def test_fine_tune_starts_from_init_and_selects_on_spec(data, sur_file, tmp_path):
    path, _ = sur_file
    base = ["--model", "debug", "--data", str(data), "--batch", "16", "--threads", "1", "--seed", "2"]
    train([*base, "--out", str(tmp_path / "a"), "--epochs", "2"])
    init = torch.load(tmp_path / "a" / "model.pt", weights_only=True)
    # learning rate 0: the fine-tuned weights are the init's (BatchNorm statistics aside)
    res = train([*base, "--out", str(tmp_path / "b"), "--epochs", "1", "--lr", "0", "--init",
                 str(tmp_path / "a" / "model.pt"), "--set", "spectral_weight=5", "--set", f"surrogate={path}"])
    assert res["metrics"]["select"] == "spec" and res["metrics"]["val_spec"] > 0
    ft = torch.load(tmp_path / "b" / "model.pt", weights_only=True)
    assert ft["config"]["spectral_weight"] == 5 and ft["config"]["surrogate"] == str(path)
    # the record names what it started from and the surrogate (how it was fitted)
    assert ft["train"]["init"]["path"] == str(tmp_path / "a" / "model.pt")
    assert ft["train"]["init"]["train"]["epochs"] == 2
    assert ft["train"]["surrogate"]["path"] == str(path) and ft["train"]["surrogate"]["best_epoch"] > 0
    assert "explorer.models.surrogate --data" in ft["train"]["surrogate"]["command"]
    subprocess.run([sys.executable, str(ROOT / "scripts" / "model_card.py"), str(tmp_path / "b" / "model.pt")],
                   check=True, capture_output=True)
    card = (tmp_path / "b" / "MODEL_CARD.md").read_text()
    assert "best validation log-mel L1 of the prediction through the synth's surrogate" in card
    assert f"started from (`--init`) `{tmp_path / 'a' / 'model.pt'}`" in card and "spectral term through" in card
    names = {n for n, _ in build_model("debug", ft["config"]).named_parameters()}
    for n in names:
        assert torch.equal(ft["state_dict"][n], init["state_dict"][n]), n
    with pytest.raises(SystemExit, match="not flow_reg"):
        train([*base[:1], "flow_reg", *base[2:], "--out", str(tmp_path / "c"), "--init",
               str(tmp_path / "a" / "model.pt")])
    other = make_tiny_dataset(tmp_path / "other", n=40, seed=9)  # other log-mel statistics
    with pytest.raises(SystemExit, match="fit the surrogate on this data set"):
        train(["--model", "debug", "--data", str(other), "--out", str(tmp_path / "e"), "--epochs", "1",
               "--set", "spectral_weight=5", "--set", f"surrogate={path}"])
    renamed = torch.load(path, weights_only=False)  # the same surrogate claiming other parameters
    renamed["param_names"] = list(reversed(renamed["param_names"]))
    torch.save(renamed, tmp_path / "renamed.pt")
    with pytest.raises(SystemExit, match="fitted on other parameters"):
        train([*base, "--out", str(tmp_path / "f"), "--set", "spectral_weight=5",
               "--set", f"surrogate={tmp_path / 'renamed.pt'}"])
    with pytest.raises(SystemExit, match="not a model checkpoint"):
        train([*base, "--out", str(tmp_path / "d"), "--init", str(path)])


def _adapt_set(path, data, valid: np.ndarray) -> str:
    """An adapt.npz of sounds without parameters: the data set's log-mels played backwards in time."""
    from explorer.data.dataset import load_dataset

    mels = np.asarray(load_dataset(str(data)).mels[: len(valid)], np.float32)[:, :, ::-1]
    np.savez(path, mels=np.ascontiguousarray(mels), valid=valid, kind=np.asarray(["gm"] * len(valid)))
    return str(path)


def test_adaptation_term(data, sur_file, tmp_path):
    path, _ = sur_file
    valid = np.arange(30) % 5 == 0
    npz = _adapt_set(tmp_path / "adapt.npz", data, valid)
    cfg = make_config("debug", n_params=P, n_pairs=3, spectral_weight=1.0, surrogate=str(path))
    model = build_model("debug", cfg).eval()
    x = torch.randn(5, 1, 64, 80)
    # the per-sound term is the surrogate's L1 between the deterministic prediction and the sound itself
    want = (load_surrogate(path)(model.infer(x)) - x).abs().flatten(1).mean(1)
    assert torch.allclose(model.unlabelled_spec(x), want, atol=1e-6)
    model.train()
    model.unlabelled_spec(x).mean().backward()  # it reaches the encoder: the term trains what the model hears
    assert next(model.encoder.parameters()).grad.abs().sum() > 0

    base = ["--model", "debug", "--data", str(data), "--batch", "16", "--threads", "1", "--seed", "2",
            "--set", "spectral_weight=5", "--set", f"surrogate={path}"]
    res = train([*base, "--out", str(tmp_path / "a"), "--epochs", "2", "--set", f"adapt={npz}",
                 "--set", "adapt_weight=5", "--set", "adapt_batch=4"])
    assert res["metrics"]["select"] == "spec_adapt"
    # stopped after one epoch and resumed: the same two epochs as the uninterrupted run (adaptation batches
    # are drawn from the seed and the epoch)
    for extra in (["--epochs", "1"], ["--epochs", "2", "--resume"]):
        again = train([*base, "--out", str(tmp_path / "r"), "--set", f"adapt={npz}", "--set", "adapt_weight=5",
                       "--set", "adapt_batch=4", *extra])
    assert again["metrics"]["last"]["train_adapt_spec"] == pytest.approx(res["metrics"]["last"]["train_adapt_spec"])
    assert res["adapt"] == {"path": npz, "train": int((~valid).sum()), "held_out": int(valid.sum()), "weight": 5.0,
                            "labelled": False}
    last = res["metrics"]["last"]
    assert last["train_adapt_spec"] > 0 and last["val_spec_adapt"] == pytest.approx(
        last["val_spec"] + last["val_adapt_spec"])
    subprocess.run([sys.executable, str(ROOT / "scripts" / "model_card.py"), str(tmp_path / "a" / "model.pt")],
                   check=True, capture_output=True)
    card = (tmp_path / "a" / "MODEL_CARD.md").read_text()
    assert f"adaptation term (weight 5.0) on `{npz}`" in card and "plus the adaptation set's held-out" in card
    common = ["--model", "debug", "--data", str(data), "--batch", "16", "--threads", "1", "--epochs", "1",
              "--out", str(tmp_path / "b"), "--set", "adapt_weight=5"]
    with pytest.raises(SystemExit, match="cannot read"):
        train([*base, *common[-4:], "--set", f"adapt={tmp_path / 'none.npz'}"])
    with pytest.raises(SystemExit, match="needs the spectral term"):
        train([*common, "--set", f"adapt={npz}"])
    # pseudo-labelled sounds (ood_adapt --label) also train as ordinary examples: their parameter error is
    # logged, and labels of the wrong width are refused
    labelled = dict(np.load(npz))
    labelled["params"] = np.random.default_rng(0).random((len(valid), P)).astype(np.float32)
    np.savez(tmp_path / "labelled.npz", **labelled)
    res = train([*base, "--out", str(tmp_path / "l"), "--epochs", "1", "--set", f"adapt={tmp_path / 'labelled.npz'}",
                 "--set", "adapt_weight=5", "--set", "adapt_batch=4"])
    assert res["adapt"]["labelled"] and res["metrics"]["last"]["train_adapt_param_mse"] > 0
    labelled["params"] = labelled["params"][:, :-1]
    np.savez(tmp_path / "narrow.npz", **labelled)
    with pytest.raises(SystemExit, match="labels"):
        train([*base, "--out", str(tmp_path / "n"), "--set", f"adapt={tmp_path / 'narrow.npz'}",
               "--set", "adapt_weight=5"])
    all_valid = _adapt_set(tmp_path / "all.npz", data, np.ones(10, bool))
    with pytest.raises(SystemExit, match="held-out"):
        train([*base, "--out", str(tmp_path / "c"), "--set", f"adapt={all_valid}", "--set", "adapt_weight=5"])

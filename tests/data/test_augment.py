"""Training-time augmentation (explorer.data.augment): what each transform does to a real synth sound, that
unchosen examples pass untouched, repeatability, and a training run with it on."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from explorer.data import augment as A
from explorer.data.features import log_mel
from explorer.models.train import train
from tests.models.test_train import make_tiny_dataset

STATS = {"mean": -4.46, "std": 3.39}


@pytest.fixture(scope="module")
def pluck(synth) -> torch.Tensor:
    """Linear mel power `[1, 1, 64, 80]` of a real short note (fast decay, released early)."""
    v = np.full(synth.n_params, 0.0)
    v[synth.param_index("amp_decay")] = 0.3
    v[synth.param_index("amp_sustain")] = 0.0
    v[synth.param_index("filter_cutoff")] = 0.8
    v[synth.param_index("master_vol")] = 0.67
    lm = log_mel(synth.render_one(v))
    return (torch.exp(lm) - 1e-3).clamp_min(0)[None]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _frame_energy(p: torch.Tensor) -> torch.Tensor:
    return p[0, 0].sum(0)  # [80]


def test_the_note_used_has_a_tail_of_silence(pluck):
    e = _frame_energy(pluck)
    assert e[:5].max() > 1e4 * e[-20:].max()


def test_reverb_adds_a_decaying_tail_after_the_note(pluck):
    on, off = torch.tensor([True]), torch.tensor([False])
    assert torch.equal(A._reverb(pluck, _gen(), off), pluck)  # off: the dry sound, exactly
    wet = A._reverb(pluck, _gen(), on)
    e0, e1 = _frame_energy(pluck), _frame_energy(wet)
    assert torch.all(e1 >= e0 * (1 - 1e-5))  # only adds energy
    late = slice(40, 50)
    assert e1[late].sum() > 100 * e0[late].sum()  # a tail where the note had ended
    assert e1[45] < e1[41]  # and it decays


def test_warp_delays_the_onset_and_shifts_pitch(pluck):
    g = _gen(1)
    on = torch.tensor([[True], [False]])
    warped = A._warp(pluck, g, on)
    # the draws _warp makes for this one-note batch: delay, then stretch (drawn whether on or not)
    g2 = _gen(1)
    delay, stretch = A._u(1, 0.0, 3.0, g2, "cpu").item(), math.exp(A._u(1, math.log(0.8), math.log(1.25), g2, "cpu"))
    assert 0.5 < delay < 3.0 and abs(stretch - 1) > 0.02  # this seed draws a real delay and stretch
    # output frame t reads the note at (t - delay) / stretch, linearly between frames, silence before it
    e0 = _frame_energy(pluck).double().numpy()
    src = (np.arange(len(e0)) - delay) / stretch
    expected = np.interp(src, np.arange(-1, len(e0) + 1), np.concatenate([[0.0], e0, [0.0]]), left=0.0, right=0.0)
    assert np.allclose(_frame_energy(warped).double().numpy(), expected, rtol=1e-4, atol=1e-6 * e0.max())
    assert int(np.argmax(expected > 1e-3 * e0.max())) == math.floor(delay - stretch) + 1  # the onset, delayed
    only_pitch = A._warp(pluck, _gen(4), torch.tensor([[False], [True]]))
    centroid = lambda p: float((p[0, 0].sum(1) * torch.arange(64)).sum() / p[0, 0].sum())
    assert abs(centroid(only_pitch) - centroid(pluck)) < 1.01  # at most one mel band
    assert not torch.equal(only_pitch, pluck)
    assert torch.allclose(A._warp(pluck, g, torch.zeros(2, 1, dtype=torch.bool)), pluck, atol=1e-6 * pluck.max())


def test_noise_raises_the_floor_at_the_chosen_level(pluck):
    noisy = A._noise(pluck, _gen(), torch.tensor([True]))
    floor = noisy[0, 0, :, -20:].mean()
    ratio_db = 10 * torch.log10(pluck.mean() / floor)
    assert 10 < ratio_db < 50  # SNR drawn in 15-45 dB (per-band profile and draws spread it a little)
    assert torch.equal(A._noise(pluck, _gen(), torch.tensor([False])), pluck)


def test_augment_mels_changes_only_the_chosen_examples_and_repeats(pluck):
    x = ((torch.log(pluck + 1e-3) - STATS["mean"]) / STATS["std"]).repeat(16, 1, 1, 1)
    x = x + 0.01 * torch.arange(16.0)[:, None, None, None]  # distinct examples
    assert A.augment_mels(x, STATS, 0.0, seed=(0,)) is x
    out = A.augment_mels(x, STATS, 0.5, seed=(1, 0, 2, 3))
    assert out.shape == x.shape and torch.isfinite(out).all()
    same = [torch.equal(out[i], x[i]) for i in range(16)]
    assert 0 < sum(same) < 16  # about half untouched, bit for bit
    assert torch.equal(out, A.augment_mels(x, STATS, 0.5, seed=(1, 0, 2, 3)))
    assert not torch.equal(out, A.augment_mels(x, STATS, 0.5, seed=(1, 0, 2, 4)))
    assert not any(torch.equal(o, x[i]) for i, o in enumerate(A.augment_mels(x, STATS, 1.0, seed=(5,))))


def test_training_with_augmentation_runs_and_is_recorded(tmp_path):
    data = make_tiny_dataset(tmp_path / "tiny")
    res = train(["--model", "flow_reg", "--data", str(data), "--out", str(tmp_path / "run"), "--batch", "8",
                 "--epochs", "2", "--threads", "1", "--set", "reg_start=0", "--set", "augment=0.5",
                 "--set", "channels=[4,8,8,8]", "--set", "hidden=32", "--set", "flow_steps=2"])
    assert res["epochs"] == 2 and np.isfinite(res["metrics"]["val_param_mse"])
    ck = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert ck["config"]["augment"] == 0.5

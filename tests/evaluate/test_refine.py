"""Refinement (Levenberg-Marquardt and CMA-ES) with the real synth (small budgets; `synth` is the session fixture of conftest.py)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from explorer.data.features import log_mel
from explorer.evaluate.refine import components, losses, refine


@pytest.fixture(scope="module")
def problem(synth):
    cont = [p.index for p in synth.params if not p.discrete][:8]
    rng = np.random.default_rng(0)
    vt = np.full(synth.n_params, 0.5)
    vt[cont] = rng.uniform(0.2, 0.8, len(cont))
    audio = synth.render_one(vt)
    v0 = vt.copy()
    v0[cont] = np.clip(vt[cont] + rng.normal(0, 0.25, len(cont)), 0, 1)
    return cont, vt, v0, audio


def test_refine_improves_and_keeps_fixed(synth, problem):
    cont, _vt, v0, audio = problem
    calls = []
    tgt = log_mel(audio[None])[0]
    v, hist = refine(synth, tgt, v0, cont, budget=40, progress_callback=lambda d, b, l: calls.append((d, b, l)))
    assert v.shape == v0.shape
    fixed = np.setdiff1d(np.arange(synth.n_params), cont)
    np.testing.assert_array_equal(v[fixed], v0[fixed])
    assert hist[0]["renders"] == 1 and hist[-1]["renders"] == 40
    bests = [h["best"] for h in hist]
    assert all(b2 <= b1 for b1, b2 in itertools.pairwise(bests))
    assert bests[-1] < bests[0]
    assert calls and calls[-1][0] == 40 and calls[-1][1] == 40
    # the returned vector really has the reported metrics (deterministic synth); mix is relative to the start
    again = components(tgt, synth.render(v[None]))
    assert again["logmel_l1"][0] == pytest.approx(hist[-1]["logmel_l1"], rel=1e-5)
    assert again["sc"][0] == pytest.approx(hist[-1]["sc"], rel=1e-5)
    start = {k: hist[0][k] for k in ("logmel_l1", "sc")}
    assert losses(tgt, synth.render(v[None]), "mix", ref=start)[0] == pytest.approx(bests[-1], rel=1e-5)
    assert bests[0] == pytest.approx(2.0)
    assert hist[-1]["logmel_l1"] < hist[0]["logmel_l1"] or hist[-1]["sc"] < hist[0]["sc"]
    assert np.all((v >= 0) & (v <= 1))


def test_refine_audio_target_and_early_stop(synth, problem):
    cont, _vt, v0, audio = problem
    _v, hist = refine(synth, audio, v0, cont, budget=100, progress_callback=lambda d, b, l: False)
    assert len(hist) == 2 and hist[-1]["renders"] < 100  # one generation then stopped
    v1, hist1 = refine(synth, audio, v0, cont, budget=1, loss="logmel_l1")
    np.testing.assert_array_equal(v1, v0)
    assert len(hist1) == 1
    assert hist1[0]["best"] == hist1[0]["logmel_l1"]
    _, hist2 = refine(synth, audio, v0, cont, budget=30, loss="logmel_l1")
    assert hist2[-1]["best"] == hist2[-1]["logmel_l1"] <= hist2[0]["logmel_l1"]
    with pytest.raises(ValueError):
        refine(synth, np.zeros((3, 3)), v0, cont, budget=5)
    with pytest.raises(ValueError, match="unknown loss"):
        refine(synth, audio, v0, cont, budget=5, loss="nope")


def test_lm_beats_cma_and_spends_the_budget(synth, problem):
    cont, _vt, v0, audio = problem
    tgt = log_mel(audio[None])[0]
    results = {}
    for method in ("lm", "cma"):
        v, hist = refine(synth, tgt, v0, cont, budget=60, method=method)
        assert hist[0]["renders"] == 1 and hist[-1]["renders"] == 60
        assert all(b2 <= b1 for b1, b2 in itertools.pairwise(h["best"] for h in hist))
        again = components(tgt, synth.render(v[None]))
        assert again["logmel_l1"][0] == pytest.approx(hist[-1]["logmel_l1"], rel=1e-5)
        results[method] = hist
    lm, cma = results["lm"], results["cma"]
    assert lm[-1]["logmel_l1"] < 0.7 * lm[0]["logmel_l1"]  # a real gain, not noise
    assert lm[-1]["best"] < cma[-1]["best"]


def test_lm_hands_a_silent_start_to_cma(synth, problem):
    """Silence everywhere: the Jacobian is 0, LM stalls after its first rounds (1 + 8 differences + 2 x 4
    steps), CMA-ES takes over and stops on its flat fitness; nothing beats the start."""
    cont, _vt, v0, audio = problem
    silent = v0.copy()
    vol = synth.param_index("master_vol")
    silent[vol] = 0.0
    free = [i for i in cont if i != vol]
    v, hist = refine(synth, audio, silent, free, budget=40)
    assert 1 + len(free) + 8 < hist[-1]["renders"] <= 40
    np.testing.assert_array_equal(v, silent)
    with pytest.raises(ValueError, match="unknown refine method"):
        refine(synth, audio, v0, cont, budget=5, method="nope")


def test_lm_weights_turn_least_squares_into_an_l1_fit():
    """The weights LM uses for the log-mel L1 objective: weighted least-squares steps repeated from the L2 fit
    reach a lower L1 error than the L2 fit on data with a few bins far off (as a log-mel has where a
    candidate lacks a partial); without it, plain least squares."""
    from explorer.evaluate.lm import _weights

    rng = np.random.default_rng(0)
    jac = rng.standard_normal((400, 3))
    y = jac @ np.array([1.0, -2.0, 0.5]) + 0.01 * rng.standard_normal(400)
    y[:20] += 5.0  # outliers
    x = np.linalg.lstsq(jac, y, rcond=None)[0]
    l1_l2fit = np.abs(jac @ x - y).sum()
    assert not np.allclose(x, [1.0, -2.0, 0.5], atol=0.05)  # the outliers pull the L2 fit off
    for _ in range(20):
        w = _weights(jac @ x - y, True)
        x = np.linalg.solve(jac.T @ (jac * w[:, None]), (jac * w[:, None]).T @ y)
    assert np.abs(jac @ x - y).sum() < 0.95 * l1_l2fit  # (the 20 outliers alone cost 100 of it)
    assert np.allclose(x, [1.0, -2.0, 0.5], atol=0.05)  # the outliers no longer pull the fit
    assert np.array_equal(_weights(jac @ x - y, False), np.ones(400))

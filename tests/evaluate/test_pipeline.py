"""The matching pipeline with a debug checkpoint, a debug candidate index and the real synth."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.data.features import log_mel
from explorer.evaluate import candidates, discrete
from explorer.evaluate.pipeline import (
    FAST,
    L1_SLACK,
    MODEL_ONLY,
    Budget,
    MatchPipeline,
    rank,
)
from explorer.models.checkpoint import load_model, make_debug_checkpoint


@pytest.fixture(scope="module")
def pipe(synth, tmp_path_factory):
    from explorer.app.map_export import build_debug_map

    ck = make_debug_checkpoint(tmp_path_factory.mktemp("pipe") / "debug.pt", n_params=16)
    build_debug_map(str(ck), synth, n=24)  # writes latent_map.* and match_index.npz beside the checkpoint
    return MatchPipeline(load_model(ck, device="cpu"), synth, candidates.load(str(ck)))


def test_index_round_trip(pipe):
    idx = pipe.index
    assert len(idx) == 24 and idx.z.shape == (24, pipe.model.latent_dim) and idx.params.shape == (24, 16)
    lm = log_mel(pipe.synth.render(pipe.model.full_params(idx.params[5:6])))[0].numpy()
    assert idx.nearest_logmel(lm, 3)[0] == 5 and idx.nearest_latent(idx.z[7], 1)[0] == 7


def test_fast_finds_an_index_sound_at_another_note(pipe, one_thread):
    """Target: index sound 3 played at note 67. Candidates render at the target's note and are scored there."""
    full = pipe.model.full_params(pipe.index.params[3:4])
    audio = pipe.synth.render(full, note=67)[0]
    target = log_mel(audio)[0]
    enc = log_mel(pipe.synth.render(full)[0])[0]  # what the encoder would see (moved to note 60)
    res = pipe.match_target(target, enc, 67, FAST)
    assert res.note == 67 and res.renders == len(res.candidates)
    assert res.best.kind == "nearest (log-mel)" and res.best.scores["logmel_l1"] < 0.05
    kinds = {c.kind for c in res.candidates}
    assert {"model", "nearest (log-mel)", "nearest (latent)"} <= kinds
    assert [id(c) for c in rank(res.candidates, L1_SLACK)] == [id(c) for c in res.candidates]
    best_l1 = min(c.scores["logmel_l1"] for c in res.candidates)
    assert res.best.scores["logmel_l1"] <= best_l1 * (1 + L1_SLACK)
    # the same sound scored at note 60 is far off: the note matters
    at60 = pipe.match_target(target, enc, 60, Budget(renders=0, seconds=None, k_logmel=1, k_latent=0, explore=0))
    assert at60.best.scores["logmel_l1"] > res.best.scores["logmel_l1"] + 0.1


def test_model_only_is_the_prediction_at_the_targets_note(pipe, one_thread):
    """`--match model`: one candidate, the model's prediction from the encoder copy, rendered at the target's note."""
    full = pipe.model.full_params(pipe.index.params[3:4])
    target = log_mel(pipe.synth.render(full, note=67)[0])[0]
    enc = log_mel(pipe.synth.render(full)[0])[0]
    res = pipe.match_target(target, enc, 67, MODEL_ONLY)
    assert res.renders == 1 and [c.kind for c in res.candidates] == ["model"]
    want = pipe.model.full_params(pipe.model.infer(enc[None]))[0]
    np.testing.assert_allclose(res.best.full, want, atol=1e-6)
    heard = log_mel(pipe.synth.render(want[None], note=67))[0]
    assert float((heard - target).abs().mean()) == pytest.approx(res.best.scores["logmel_l1"], abs=1e-4)


def test_budget_refine_and_cancel(pipe, one_thread):
    rng = np.random.default_rng(1)
    full = pipe.model.full_params(rng.random((1, 16)).astype(np.float32))
    target = log_mel(pipe.synth.render(full)[0])[0]
    res = pipe.match_target(target, target, 60, Budget(renders=20, seconds=None, k_logmel=4, k_latent=2, explore=3,
                                                       switches=0))
    n_cand = sum(c.kind != "refined" for c in res.candidates)
    assert res.renders == n_cand + 20  # the refine renders shared by the two starts
    unrefined = sorted((c for c in res.candidates if c.kind != "refined"), key=lambda c: c.score)
    refined = [c.name for c in res.candidates if c.kind == "refined"]
    assert sorted(refined) == sorted(f"{c.name}, refined" for c in unrefined[:2])  # from the two best
    assert res.best.score <= unrefined[0].score + 1e-9  # default budgets rank by the plain sum
    one = pipe.match_target(target, target, 60, Budget(renders=20, seconds=None, k_logmel=4, k_latent=2, explore=3,
                                                       starts=1, switches=0))
    assert [c.name for c in one.candidates if c.kind == "refined"] == [f"{unrefined[0].name}, refined"]
    assert [c.score for c in res.candidates] == sorted(c.score for c in res.candidates)
    seen = []

    def stop_after_candidates(stage, done, total, best):
        seen.append((stage, done, total, best.score))
        return stage == "candidates"  # False at the next report: cancel

    res = pipe.match_target(target, target, 60, Budget(renders=50, seconds=None, explore=3), stop_after_candidates)
    assert res.cancelled and all(c.kind != "refined" for c in res.candidates) and seen[0][0] == "candidates"


def test_switches_reach_a_filter_type_the_model_cannot_set(pipe, one_thread):
    """Target: index sound 3 through a high-pass filter instead of the low-pass, a parameter outside the model's
    set (the debug model has the plugin's first 16). The candidates all play low-pass; the switch step finds
    the high-pass, changes only stepped parameters outside the set (one pass is greedy: on the debug model's
    mid-range values it also flips keyboard_mode), and its renders come on top of the (zero) refine renders."""
    ftype = pipe.synth.param_index("filter_type")
    assert ftype not in pipe.model.param_indices
    full = pipe.model.full_params(pipe.index.params[3:4])[0]
    high_pass = full.copy()
    high_pass[ftype] = 0.25
    assert abs(full[ftype] - high_pass[ftype]) > 0.2  # the model's sounds use another filter
    target = log_mel(pipe.synth.render(high_pass[None])[0])[0]
    budget = Budget(renders=0, seconds=None, k_logmel=4, k_latent=0, explore=0)
    shown = []
    res = pipe.match_target(target, target, 60, budget,
                            lambda stage, done, total, b: shown.append((stage, b.kind, float(b.full[ftype]))))
    params = discrete.searchable(pipe.synth.params, pipe.model.param_indices)
    assert "filter_type" in {p.name for p in params} and all(2 <= p.steps <= 8 for p in params)
    # the progress shows the switch pass's best as it goes: the high-pass, before the parameters after it
    assert params[-1].name != "filter_type" and ("switches", "switches", 0.25) in shown
    assert res.renders == 1 + 4 + discrete.planned(params)
    best = res.best
    assert best.kind == "switches"
    assert best.full[ftype] == 0.25
    start = next(c for c in res.candidates if c.kind == "nearest (log-mel)" and best.name.startswith(c.name))
    changed = np.flatnonzero(best.full != start.full)
    assert set(changed) <= {p.index for p in params}
    without = pipe.match_target(target, target, 60, Budget(renders=0, seconds=None, k_logmel=4, k_latent=0, explore=0,
                                                           switches=0))
    assert best.scores["logmel_l1"] < 0.3 * without.best.scores["logmel_l1"]
    seen = []

    def cancel_in_switches(stage, done, total, best):
        seen.append((stage, done))
        return not (stage == "switches" and done > 5)

    res = pipe.match_target(target, target, 60, Budget(renders=20, seconds=None, k_logmel=4, k_latent=0, explore=0),
                            cancel_in_switches)
    assert res.cancelled and seen[0] == ("candidates", 5) and seen[1] == ("switches", 5)
    assert all(c.kind not in ("switches", "refined") for c in res.candidates)
    assert seen[-1][0] == "switches" and seen[-1][1] == 5 + params[0].steps - 1  # cancelled after one parameter


def test_coordinate_pass_keeps_only_improvements():
    """Pure: stepped parameters a, b, c (b is the model's), a score that wants a at 1.0 and c at 0.0."""
    from explorer.synth.host import Param

    params = [Param(0, "a", "", 3), Param(1, "b", "", 2), Param(2, "c", "", 5), Param(3, "d", "", 0)]
    assert [p.name for p in discrete.searchable(params, [1])] == ["a", "c"]
    assert discrete.searchable(params, [], max_steps=4) == params[:2]
    picked = discrete.searchable(params, [1])
    calls = []

    def score(rows):
        calls.append(rows.copy())
        return np.abs(rows[:, 0] - 1.0) + np.abs(rows[:, 2])

    start = np.array([0.5, 0.3, 0.75, 0.9])
    best, l1, renders = discrete.coordinate_pass(start, float(score(start[None])[0]), picked, score)
    calls = calls[1:]
    np.testing.assert_array_equal(best, [1.0, 0.3, 0.0, 0.9])
    assert l1 == 0.0 and renders == discrete.planned(picked) == 2 + 4
    np.testing.assert_array_equal(calls[0][:, 0], [0.0, 1.0])  # the current value (0.5) is not rendered again
    np.testing.assert_array_equal(calls[1][:, 0], [1.0] * 4)  # the second parameter is tried from the first's best
    worse, l1_w, _ = discrete.coordinate_pass(best, 0.0, picked, lambda rows: np.ones(len(rows)))
    np.testing.assert_array_equal(worse, best)
    assert l1_w == 0.0
    asked = []

    def first_only(renders):  # a time cap or a cancel after the first parameter
        asked.append(renders)
        return renders == 0

    cut, _, renders = discrete.coordinate_pass(start, float(score(start[None])[0]), picked, score, first_only)
    assert asked == [0, 2] and renders == 2
    np.testing.assert_array_equal(cut, [1.0, 0.3, 0.75, 0.9])  # "c" never tried


def test_the_pipeline_gets_past_a_plugin_crash_and_never_returns_it(pipe, pmap, crash_vector, one_thread):
    """Every candidate of the index: amsynth's initial preset at the LFO rate on which the LFO's second waveform
    crashes the plugin (the `crash_vector` fixture). The switch step tries that waveform: the render crashes,
    scores inf, and the match goes on; nothing returned plays it."""
    import copy
    from dataclasses import replace

    from explorer.evaluate.refine import render_scores

    synth, init, bad = pipe.synth, pmap.to_normalised({}), crash_vector
    ok = bad.copy()
    ok[synth.param_index("lfo_waveform")] = init[synth.param_index("lfo_waveform")]
    target = log_mel(synth.render(ok[None]))[0]
    _, scores = render_scores(synth, target, np.stack([bad, ok]), 60)
    assert all(np.isinf(v[0]) and np.isfinite(v[1]) for v in scores.values()) and scores["logmel_l1"][1] < 1e-6

    model = copy.copy(pipe.model)  # the debug model with the plugin's initial preset outside its parameters
    model.default_values = init.astype(np.float32)
    assert synth.param_index("lfo_freq") in model.param_indices
    assert synth.param_index("lfo_waveform") not in model.param_indices
    idx = pipe.index
    index = replace(idx, params=np.tile(ok[model.param_indices], (len(idx), 1)).astype(np.float32))
    res = MatchPipeline(model, synth, index).match_target(target, target, 60,
                                                          Budget(renders=0, seconds=None, k_logmel=2, k_latent=0, explore=0))
    params = discrete.searchable(synth.params, model.param_indices)
    assert res.renders == 1 + 2 + discrete.planned(params)  # the whole switch pass ran, crash included
    wave, freq = synth.param_index("lfo_waveform"), synth.param_index("lfo_freq")
    assert res.best.scores["logmel_l1"] < 1e-6 and all(np.isfinite(c.score) for c in res.candidates)
    assert not any(abs(c.full[wave] - bad[wave]) < 1e-6 and abs(c.full[freq] - bad[freq]) < 1e-7
                   for c in res.candidates)

"""evaluate CLI on a tiny dataset built by the real builder, with a debug checkpoint and the real synth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from explorer.evaluate import baselines
from explorer.evaluate import rows as evaluate
from explorer.models.checkpoint import make_debug_checkpoint, save_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def debug_checkpoint_for(meta: dict, path) -> str:
    """A debug checkpoint whose parameter set and stats are the dataset's (so evaluate accepts it)."""
    make_debug_checkpoint(path, n_params=len(meta["param_names"]), tag_pairs=meta["tag_pairs"])
    ck = torch.load(path, weights_only=True)
    for k in ("param_names", "param_indices", "param_steps", "default_values", "stats"):
        ck[k] = meta[k]
    save_checkpoint(path, ck)
    return str(path)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from explorer.data.dataset import build

    root = tmp_path_factory.mktemp("ds")
    ds = build("16", str(root / "ds16"), size=30, seed=0, limit=24, workers=2)
    ck = debug_checkpoint_for(ds.meta, root / "debug.pt")
    return ds, ck, root


def test_dataset_rows(tiny):
    ds, ck, root = tiny
    out = root / "res.json"
    rc = evaluate.main(["--checkpoint", ck, "--data", ds.root, "--split", "test", "--limit", "2", "--workers", "2",
                        "--baseline", "nearest,mean,silence", "--refine", "13", "--out", str(out), "--quiet"])
    assert rc == 0
    res = json.loads(out.read_text())
    assert res["n"] == 2 and res["split"] == "test" and res["n_params"] == 16 and len(res["sounds"]) == 2
    assert "--refine 13" in res["command"] and res["elapsed"] > 0
    rows = {r["name"]: r for r in res["rows"]}
    assert set(rows) == {"debug", "debug+refine13", "baseline:nearest", "baseline:mean", "baseline:silence"}
    for r in rows.values():
        assert set(r["metrics"]) == {"mse_n", "sc", "sc_ln", "mse", "lsd", "mfcc", "logmel_l1"}
        assert len(r["per_sound"]["sc"]) == 2
    assert rows["baseline:silence"]["per_sound"]["sc"] == [1.0, 1.0]
    assert rows["baseline:silence"]["metrics"]["mse_n"]["mean"] is None
    assert rows["debug"]["metrics"]["mse_n"]["mean"] > 0
    # refine starts from the model's prediction and keeps the best: its objective (log-mel L1 + SC, each
    # relative to the start) is never worse than 2, the start's value
    ps, pr = rows["debug"]["per_sound"], rows["debug+refine13"]["per_sound"]
    rel = [np.array(pr[k]) / np.array(ps[k]) for k in ("logmel_l1", "sc")]
    assert np.all(rel[0] + rel[1] <= 2 + 1e-5)


def test_nearest_on_train_finds_itself(tiny):
    ds, _, root = tiny
    out = root / "train.json"
    assert evaluate.main(["--data", ds.root, "--split", "train", "--limit", "3", "--baseline", "nearest",
                          "--workers", "2", "--out", str(out), "--quiet"]) == 0
    row = json.loads(out.read_text())["rows"][0]
    assert row["metrics"]["sc"]["mean"] < 1e-3  # same sound rendered again: deterministic synth
    assert row["metrics"]["mse_n"]["mean"] == 0.0
    idx, d = baselines.nearest_indices(ds.mels[:3], ds.mels[:10])
    assert list(idx) == [0, 1, 2] and np.all(d == 0)


def test_audio_folder_and_errors(tiny, tmp_path, capsys):
    ds, ck, _ = tiny
    sr = 44100
    t = np.arange(sr * 2) / sr
    sf.write(tmp_path / "sine.wav", np.stack([np.sin(2 * np.pi * 261.6 * t)] * 2, 1) * 0.3, sr)
    sf.write(tmp_path / "noise.flac", np.random.default_rng(0).standard_normal(22050 * 5) * 0.1, 22050)
    (tmp_path / "broken.wav").write_bytes(b"RIFF garbage")
    out = tmp_path / "ood.json"
    assert evaluate.main(["--checkpoint", ck, "--audio", str(tmp_path), "--data", ds.root, "--workers", "2",
                          "--baseline", "silence,nearest", "--out", str(out), "--quiet"]) == 0
    res = json.loads(out.read_text())
    assert res["split"] == "ood" and res["sounds"] == ["noise.flac", "sine.wav"]
    assert "broken.wav" in capsys.readouterr().err
    assert res["rows"][0]["metrics"]["mse_n"]["mean"] is None
    # mismatched parameter set -> clear error, exit 2
    other = tmp_path / "p8.pt"
    make_debug_checkpoint(other, n_params=8)
    assert evaluate.main(["--checkpoint", str(other), "--data", ds.root, "--out", str(tmp_path / "x.json")]) == 2
    assert "predicts 8 parameters" in capsys.readouterr().err
    assert evaluate.main(["--audio", str(tmp_path), "--baseline", "mean"]) == 2


def test_semantic_eval_and_results_table(tiny, tmp_path):
    import importlib.util

    from explorer.evaluate import semantic as semantic_eval

    ds, ck, _ = tiny
    res_dir = tmp_path / "results"
    assert semantic_eval.main(["--checkpoint", ck, "--data", ds.root, "--starts", "2", "--steps", "3",
                               "--pairs", "1", "--workers", "2", "--out", str(res_dir / "sem.json")]) == 0
    sem = json.loads((res_dir / "sem.json").read_text())
    assert sem["kind"] == "semantic_eval" and len(sem["dims"]) == len(ds.meta["tag_pairs"])
    assert all(d["descriptor"] in ("centroid", "flux", "attack", "flatness") for d in sem["dims"])
    assert sem["smoothness"]["latent"]["mean"] is not None
    # a straight line in log-mel space is perfectly smooth; a zig-zag is not
    line = torch.linspace(0, 1, 5)[:, None, None] * torch.ones(5, 64, 80)
    assert semantic_eval.path_smoothness(line) == 0.0
    assert semantic_eval.path_smoothness(line * torch.tensor([1, -1, 1, -1, 1.0])[:, None, None]) > 1

    assert evaluate.main(["--data", ds.root, "--split", "test", "--limit", "2", "--baseline", "silence",
                          "--out", str(res_dir / "sil.json"), "--quiet"]) == 0
    (res_dir / "bad.json").write_text("{not json")
    spec = importlib.util.spec_from_file_location("results_table", ROOT / "scripts" / "results_table.py")
    rt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rt)
    out = tmp_path / "RESULTS.md"
    assert rt.main(["--results", str(res_dir), "--out", str(out)]) == 0
    text = out.read_text()
    assert "## 16 parameters, test split" in text and "baseline: silence | 2 | 1.000 (1.000)" in text
    assert "## 30 parameters, test split" in text and "_No results yet._" in text
    assert "--baseline silence" in text and "Semantic controls" in text and "**Budget.**" in text
    # a model row whose SC is >= 1 is flagged
    res = json.loads((res_dir / "sil.json").read_text())
    res["rows"][0].update(name="cnn", kind="model", model="cnn")
    (res_dir / "sil.json").write_text(json.dumps(res))
    rt.main(["--results", str(res_dir), "--out", str(out)])
    line = next(x for x in out.read_text().splitlines() if x.startswith("| cnn |"))
    assert "worse than silence" in line and "1.372" in line  # the paper's CNN SC beside ours


def test_match_rows_and_index_without_test_split(tiny):
    """`--match` rows from an index built by the committed command; the index never holds test sounds."""
    ds, ck, root = tiny
    from explorer.evaluate import candidates
    from explorer.evaluate.candidates import main as build_index

    assert build_index(["--checkpoint", ck, "--data", ds.root]) == 0
    idx = candidates.load(ck)
    test_rows = set(ds.indices("test").tolist())
    assert len(idx) == len(ds.indices("train")) + len(ds.indices("valid")) and not test_rows & set(idx.rows.tolist())
    out = root / "match.json"
    rc = evaluate.main(["--checkpoint", ck, "--data", ds.root, "--split", "train", "--limit", "2", "--workers", "2",
                        "--match", "fast,7", "--baseline", "nearest", "--out", str(out), "--quiet"])
    assert rc == 0
    rows = {r["name"]: r for r in json.loads(out.read_text())["rows"]}
    assert {"match:fast", "match:7", "baseline:nearest"} <= set(rows)
    # a train sound is in the index: the fast pipeline finds it again (float16 parameters: nearly exact)
    assert max(rows["match:fast"]["per_sound"]["logmel_l1"]) < 0.05
    assert rows["match:7"]["seconds_per_sound"] > 0 and "sc_ln" in rows["match:7"]["metrics"]


def test_match_budgets_parse():
    from explorer.evaluate.match_rows import parse_budgets
    from explorer.evaluate.pipeline import DEFAULT, FAST, MODEL_ONLY
    from explorer.evaluate.targets import EvalError

    got = dict(parse_budgets("model, fast, 50, default, 400@4.8, 200@3s"))
    assert got["fast"] == FAST and got["default"] == DEFAULT and got["model"] == MODEL_ONLY
    assert (got["50"].renders, got["50"].seconds) == (50, None)
    assert (got["400@4.8"].renders, got["400@4.8"].seconds) == (400, 4.8)
    assert (got["200@3s"].renders, got["200@3s"].seconds, got["200@3s"].k_logmel) == (200, 3.0, DEFAULT.k_logmel)
    for bad in ("400@", "@4", "400@-1", "400@x", "many"):
        with pytest.raises(EvalError, match="unknown budget"):
            parse_budgets(bad)

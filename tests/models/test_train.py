"""Training CLI smoke tests on a tiny synthetic dataset: outputs, resume, time limit, warm-up schedule,
and one distributed run (2 processes, gloo, CPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.data.dataset import load_dataset, save_dataset
from explorer.models.checkpoint import load_model
from explorer.models.train import beta_at, train

ROOT = Path(__file__).resolve().parents[2]
P, PAIRS, N_PLUGIN = 16, 3, 41


def make_tiny_dataset(root: Path, n: int = 40, seed: int = 0, fields: np.ndarray | None = None) -> Path:
    """A dataset directory in the documented layout whose mels depend on the parameters: a sum of one
    field per parameter, weighted by its value (`fields` `[P, 64, 80]`, default white noise)."""
    rng = np.random.default_rng(seed)
    v = rng.random((n, P)).astype(np.float32)
    if fields is None:
        fields = rng.standard_normal((P, 64, 80))
    mels = (np.einsum("np,pij->nij", v, fields) - 4.0).astype(np.float32)
    full = np.full((n, N_PLUGIN), 0.5, np.float32)
    full[:, 2 : 2 + P] = v
    split = np.zeros(n, np.uint8)
    split[-n // 4 :] = 1
    meta = {"version": 1, "param_names": [f"p{i}" for i in range(P)], "param_indices": list(range(2, 2 + P)),
            "param_steps": [0] * P, "default_values": [0.5] * N_PLUGIN,
            "stats": {"mean": float(mels[split == 0].mean()), "std": float(mels[split == 0].std())},
            "tag_pairs": [["dark", "bright", "centroid"], ["soft", "hard", "attack"], ["thin", "phat", "w"]],
            "categories": ["other"], "n": n}
    save_dataset(str(root), meta, [{"name": str(i), "bank": "", "source": i, "augmented": False}
                                   for i in range(n)],
                 mels=mels, params=v, full_params=full, split=split,
                 tags=rng.integers(-1, 2, (n, PAIRS)).astype(np.int8),
                 descriptors=rng.random((n, PAIRS)).astype(np.float32), category=np.zeros(n, np.int16))
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny")


def _rows(out: Path) -> list[dict]:
    return torch.load(out / "last.pt", weights_only=True)["history"]


def test_train_writes_checkpoint_log_and_resumes(tiny, tmp_path):
    out = tmp_path / "run"
    args = ["--model", "debug", "--data", str(tiny), "--out", str(out), "--batch", "8", "--seed", "1",
            "--threads", "1"]
    res = train([*args, "--epochs", "2", "--set", "reg_start=1", "--set", "beta_warmup=2"])
    assert res["epochs"] == 2 and res["stopped"] == "epochs"
    rows = _rows(out)
    assert [r["reg_on"] for r in rows] == [False, True]  # regression switched on at epoch reg_start
    assert 0.0 <= rows[0]["beta"] < rows[1]["beta"] <= 1.0  # KL weight warming up
    m = load_model(out / "model.pt")
    assert m.name == "debug" and m.param_names[0] == "p0" and len(m.semantic) == PAIRS
    assert m.meta["stats"] == load_dataset(str(tiny)).meta["stats"]  # train-split stats from meta.json
    assert m.meta["train"]["best_epoch"] == 1  # best is chosen among epochs with the regression on
    assert m.meta["train"]["metrics"]["val_param_mse"] == pytest.approx(rows[1]["val_param_mse"], abs=1e-6)
    x = torch.from_numpy(np.load(tiny / "mels.npy")[:3])
    assert m.infer(x).shape == (3, P)
    log = (out / "train.log").read_text()
    assert "epoch=1" in log and "epoch=2" in log and "done (epochs)" in log

    first = res["seconds"]
    res = train([*args, "--epochs", "3", "--resume"])
    rows = _rows(out)
    assert [r["epoch"] for r in rows] == [1, 2, 3] and res["epochs"] == 3
    runs = res["sessions"]  # both sessions' commands and times, the total in "seconds"
    assert len(runs) == 2 and "--resume" in runs[1]["command"] and "--resume" not in runs[0]["command"]
    assert runs[0]["seconds"] == pytest.approx(first, abs=0.5) and res["seconds"] >= first
    assert res["seconds"] == pytest.approx(runs[0]["seconds"] + runs[1]["seconds"], abs=0.11)
    assert "resume:" in (out / "train.log").read_text()


def test_time_limit_stops_and_keeps_a_model(tiny, tmp_path):
    out = tmp_path / "run"
    res = train(["--model", "debug", "--data", str(tiny), "--out", str(out), "--batch", "8", "--epochs", "50", "--threads", "1",
                 "--max-minutes", "0.0001"])
    assert res["stopped"] == "max-minutes" and res["epochs"] == 1
    assert _rows(out)[0]["steps"] == 1  # stopped inside the first epoch
    load_model(out / "model.pt")


def test_beta_ramp():
    assert beta_at(0, 4) == 0.0 and beta_at(2, 4) == 0.5 and beta_at(9, 4) == 1.0 and beta_at(0, 0) == 1.0


def test_bad_override(tiny, tmp_path):
    with pytest.raises(SystemExit, match="not a field"):
        train(["--model", "cnn", "--data", str(tiny), "--out", str(tmp_path), "--set", "flow_steps=3"])


def test_distributed_two_processes_gloo(tiny, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "explorer.models.train", "--model", "debug", "--data", str(tiny), "--out", str(out),
           "--batch", "8", "--epochs", "1", "--device", "cpu", "--threads", "1"]
    r = subprocess.run(cmd, check=False, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    log = (out / "train.log").read_text()
    assert "x2" in log and log.count("start:") == 1  # one writer (rank 0)
    rows = _rows(out)
    # 30 train examples, 2 ranks x 15, batches of 8 with the short last batch dropped: 1 step each
    assert rows[0]["steps"] == 1
    ck = load_model(out / "model.pt")
    assert json.loads(json.dumps(ck.meta["train"]))["world_size"] == 2

"""`python -m explorer.evaluate.compare`: paired per-sound comparison of two evaluation results."""

from __future__ import annotations

import json

import numpy as np
import pytest

from explorer.evaluate.compare import main


def _result(path, sounds, rows):
    path.write_text(json.dumps({"sounds": sounds, "rows": rows}))
    return str(path)


def _row(name, sc, l1, kind="model"):
    return {"name": name, "kind": kind, "per_sound": {"sc": list(sc), "logmel_l1": list(l1)}}


def test_counts_and_interval(tmp_path, capsys):
    rng = np.random.default_rng(3)
    n = 200
    sounds = [f"s{i}" for i in range(n)]
    sc_a = rng.uniform(0.3, 0.9, n)
    l1_a = rng.uniform(0.4, 1.0, n)
    sc_b = sc_a - 0.1  # B better on every sound by 0.1
    l1_b = l1_a.copy()
    l1_b[:50] += 0.2  # worse on 50, equal on the rest
    a = _result(tmp_path / "a.json", sounds, [_row("base", sc_a, l1_a), _row("baseline:nearest", sc_a, l1_a, "baseline")])
    b = _result(tmp_path / "b.json", sounds, [_row("new", sc_b, l1_b)])
    assert main([a, b, "--resamples", "500"]) == 0
    out = capsys.readouterr().out
    assert "[base]" in out and "[new]" in out
    lines = {ln.split()[0]: ln.split() for ln in out.splitlines()[3:]}
    sc = lines["sc"]
    assert sc[5:8] == ["200", "0", "0"]  # B < A on all
    lo, hi = float(sc[8]), float(sc[10])
    assert lo == pytest.approx(-0.1, abs=1e-9) and hi == pytest.approx(-0.1, abs=1e-9)  # a constant shift
    l1 = lines["logmel_l1"]
    assert l1[5:8] == ["0", "50", "150"]
    assert 0 < float(l1[8]) <= float(l1[10]) < 0.2  # B's median is higher (worse), by less than the 0.2 added

    # another row by name: the baseline of A against A's model row: equal everywhere
    assert main([a, a, "--row-b", "baseline:nearest", "--stat", "mean", "--resamples", "50"]) == 0
    lines = {ln.split()[0]: ln.split() for ln in capsys.readouterr().out.splitlines()[3:]}
    assert lines["sc"][5:8] == ["0", "0", "200"] and float(lines["sc"][8]) == 0.0


def test_clear_errors(tmp_path, capsys):
    a = _result(tmp_path / "a.json", ["x", "y"], [_row("m", [1, 2], [1, 2])])
    b = _result(tmp_path / "b.json", ["x", "z"], [_row("m", [1, 2], [1, 2])])
    assert main([a, b]) == 2
    assert "not on the same sounds" in capsys.readouterr().err
    assert main([a, a, "--row-b", "nope"]) == 2
    assert "no row 'nope' (rows: m)" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main([str(bad), a]) == 2
    assert "not a result of" in capsys.readouterr().err

"""Loss-curve PNGs (explorer.models.curves) from run histories, by epoch or by training steps."""

from __future__ import annotations

import json

from explorer.models import curves


def _run(folder, steps: int, n: int = 4):
    folder.mkdir()
    hist = [{"epoch": e + 1, "steps": steps, "reg_on": e > 0, "train_param_mse": 0.1 / (e + 1),
             "val_param_mse": 0.12 / (e + 1) + 0.01 * (e == n - 1), "val_loss": 100.0 / (e + 1)} for e in range(n)]
    (folder / "history.json").write_text(json.dumps(hist))
    return hist


def test_x_axis_by_epoch_or_by_steps(tmp_path):
    hist = _run(tmp_path / "a", steps=421)
    assert curves.x_values(hist) == [1, 2, 3, 4]
    assert curves.x_values(hist, "steps") == [421, 842, 1263, 1684]


def test_png_written_for_runs_of_different_lengths(tmp_path):
    _run(tmp_path / "small", steps=136, n=6)
    _run(tmp_path / "large", steps=421, n=3)
    out = tmp_path / "c.png"
    assert curves.main([str(tmp_path / "small"), str(tmp_path / "large"), "--x", "steps", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_missing_history_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert curves.main([str(tmp_path / "empty"), "--out", str(tmp_path / "x.png")]) == 1
    assert "no history" in capsys.readouterr().err and not (tmp_path / "x.png").exists()

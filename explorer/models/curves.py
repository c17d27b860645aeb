"""Loss curves of training runs as a PNG: `python -m explorer.models.curves RUN [RUN ...] --out curves.png`.

Reads each run folder's `history.json` (written every epoch by `explorer.models.train`) and draws, per run,
the training and validation parameter MSE (the early-stopping criterion) and the validation loss, with the
best epoch marked. `--label` names the runs in the legend (default: folder names). `--x steps` puts the
training steps on the x axis instead of epochs, to compare runs whose epochs differ in length (datasets
of different sizes).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: render to a file
import matplotlib.pyplot as plt  # after the backend choice


def load_history(run: str | Path) -> list[dict]:
    path = Path(run) / "history.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no history (runs of explorer.models.train write one every epoch)")
    with open(path) as f:
        return json.load(f)


def x_values(hist: list[dict], x: str = "epoch") -> list[int]:
    """Each epoch's position on the x axis: its number, or the optimiser steps done by its end."""
    if x == "steps":
        total, out = 0, []
        for h in hist:
            total += h.get("steps", 0)
            out.append(total)
        return out
    return [h["epoch"] for h in hist]


def plot(runs: list[str], labels: list[str], out: str, title: str = "", x: str = "epoch") -> None:
    fig, (ax_mse, ax_loss) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for i, (run, label) in enumerate(zip(runs, labels, strict=True)):
        hist = load_history(run)
        ep = x_values(hist, x)
        colour = f"C{i % 10}"
        ax_mse.plot(ep, [h.get("train_param_mse") for h in hist], "--", color=colour, alpha=0.6)
        val = [h.get("val_param_mse") for h in hist]
        ax_mse.plot(ep, val, "-", color=colour, label=label)
        reg = [(e, v) for e, v, h in zip(ep, val, hist, strict=True) if h.get("reg_on", True) and v is not None]
        if reg:
            best = min(reg, key=lambda ev: ev[1])
            ax_mse.plot(*best, "o", color=colour)
        ax_loss.plot(ep, [h.get("val_loss") for h in hist], "-", color=colour, label=label)
    ax_mse.set(xlabel=x, ylabel="parameter MSE", title="train (dashed) / validation; o = best")
    ax_loss.set(xlabel=x, ylabel="validation loss", yscale="log", title="validation loss")
    ax_mse.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m explorer.models.curves", description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", help="run folders (explorer.models.train --out)")
    ap.add_argument("--out", required=True, help="PNG file")
    ap.add_argument("--label", action="append", help="legend label per run, in order")
    ap.add_argument("--title", default="")
    ap.add_argument("--x", choices=["epoch", "steps"], default="epoch", help="x axis (default: epoch)")
    args = ap.parse_args(argv)
    labels = args.label or [Path(r).name for r in args.runs]
    if len(labels) != len(args.runs):
        ap.error(f"{len(labels)} labels for {len(args.runs)} runs")
    try:
        plot(args.runs, labels, args.out, args.title, args.x)
    except (FileNotFoundError, KeyError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

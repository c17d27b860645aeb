"""Write MODEL_CARD.md next to a shipped checkpoint from what the checkpoint and its results record.

    .venv/bin/python scripts/model_card.py checkpoints/flow_dis_16/model.pt results/ship_flow_dis_16_test.json

Everything in the card is read from the checkpoint's `train` record, its dataset's meta.json and the
evaluation JSON written by `python -m explorer.evaluate`: no number is typed by hand.
"""

from __future__ import annotations

import json
import os
import re
import sys

import torch

# modules that moved when the code was split by pipeline stage (issue 10): a checkpoint keeps the command
# it was trained with, the card also gives today's equivalent
MOVED = {"python -m explorer.train ": "python -m explorer.models.train "}


def today(command: str) -> str | None:
    for old, new in MOVED.items():
        if command.startswith(old):
            return new + command[len(old):]
    return None


def _threads(runs: list[dict]) -> str:
    """' (shared 2-core CPU, N torch threads)' from the sessions' --threads, for CPU runs."""
    counts = sorted({int(m.group(1)) for r in runs for m in [re.search(r"--threads (\d+)", r["command"])] if m})
    if not counts:
        return ""
    n = " or ".join(str(c) for c in counts)
    return f" (shared 2-core CPU, {n} torch thread{'s' if counts != [1] else ''})"


def _epoch(best_epoch: int | None) -> str:
    """The checkpoint's 0-based best epoch as the logs count it (from 1)."""
    return "?" if best_epoch is None or best_epoch < 0 else str(best_epoch + 1)


def _best(metrics: dict) -> str:
    """The line naming the validation metric that picked the best epoch, and its value."""
    select = metrics.get("select", "param_mse")
    what = {"param_mse": "parameter MSE",
            "param_wmse": "parameter MSE weighted by the synth's sensitivity (`param_weights`)",
            "spec": "log-mel L1 of the prediction through the synth's surrogate (normalised log-mel)",
            "spec_adapt": "log-mel L1 of the prediction through the synth's surrogate (normalised log-mel), "
                          "valid split plus the adaptation set's held-out sounds"}
    return f"- best validation {what.get(select, select)}: {metrics.get(f'val_{select}')}"


def _origin(tr: dict) -> list[str]:
    """Lines on what a fine-tuning started from (`--init`), the surrogate of its spectral term and the
    adaptation set of its adaptation term."""
    out = []
    if "init" in tr:
        it = tr["init"].get("train", {})
        out.append(f"- started from (`--init`) `{tr['init']['path']}`, itself trained by `{it.get('command')}`: "
                   f"{it.get('epochs')} epochs (best {_epoch(it.get('best_epoch'))}), {it.get('seconds')} s"
                   f"{'' if 'sessions' in it or '--resume' not in str(it.get('command')) else ' in its last session'}, "
                   f"stopped by {it.get('stopped')}")
    if "surrogate" in tr:
        su = tr["surrogate"]
        out.append(f"- spectral term through the surrogate `{su['path']}` (not shipped), fitted on "
                   f"`{su.get('data')}` by `{su.get('command')}`: best epoch {su.get('best_epoch')}, valid L1 "
                   f"{su.get('val_l1', 0):.4f} of the normalised log-mel (the mean log-mel's: {su.get('mean_l1', 0):.4f})")
    if "adapt" in tr:
        ad = tr["adapt"]
        out.append(f"- adaptation term (weight {ad.get('weight')}) on `{ad['path']}` (not shipped; "
                   "`python -m explorer.evaluate.ood_adapt`): "
                   f"{ad.get('train')} unlabelled sounds from outside the dataset, {ad.get('held_out')} held out")
    return out


def _switch_head(path: str) -> list[str]:
    """The card's lines on the switch head beside the checkpoint (`explorer.models.switch_head`), if any."""
    if not os.path.isfile(path):
        return []
    h = torch.load(path, map_location="cpu", weights_only=True)
    held = h["held_out"]
    return ["## Switch head (`switches.pt`)",
            (f"- predicts {', '.join(h['param_names'])} from the sound (the model's frozen encoder features); "
            "the model's candidate in the matching pipeline uses it"),
            (f"- fitted by `{h['command']}` on labels (`python -m explorer.evaluate.switch_train label`: the "
            f"switch step's values for outside sounds, the dataset's own for its sounds; not shipped): best epoch {h['epoch']}, held-out accuracy {h['held_out_accuracy']:.3f}"),
            *[f"- held-out sounds of `{name}`: {r['sounds']}, mean log-mel L1 rendered at their notes: model alone "
              f"{r['model']:.3f}, with the head {r['head']:.3f}, with the labels' values {r['search']:.3f}"
              for name, r in zip(h["labels"], held.get("by_file", [held]), strict=False)], ""]


def main(ckpt_path: str, results_path: str | None = None) -> None:
    ck = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    tr = ck.get("train", {})
    lines = [f"# {ck['model']} ({len(ck['param_names'])} parameters)", ""]
    lines += ["## Data", f"- parameters: {', '.join(ck['param_names'])}",
              (f"- semantic dims: {ck.get('semantic_dims')} for pairs "
               f"{[f'{a} <-> {b}' for a, b, *_ in ck.get('tag_pairs', [])]}"), ""]
    runs = tr.get("sessions") or [{"command": tr.get("command", "?"), "seconds": tr.get("seconds")}]
    lines += ["## Training"]
    for k, run in enumerate(runs):
        what = "command" if len(runs) == 1 else f"session {k + 1} ({run['seconds']} s)"
        lines += [f"- {what}: `{run['command']}`"]
        if today(run["command"]):
            lines += [f"- the same command today: `{today(run['command'])}`"]
    lines += [
              (f"- epochs run: {tr.get('epochs')} (best {_epoch(tr.get('best_epoch'))}), stopped by: "
               f"{tr.get('stopped')}"),
              (f"- wall time: {tr.get('seconds')} s in all on {tr.get('device')}"
               f"{_threads(runs) if str(tr.get('device')) == 'cpu' else ''}" if "sessions" in tr or "--resume" not in runs[0]["command"]
               else f"- wall time: {tr.get('seconds')} s for the last session only (trained before sessions were "
               "recorded: the earlier sessions' times are in the run's train.log)"),
              _best(tr.get("metrics", {})),
              f"- config: `{json.dumps(ck['config'])}`", *_origin(tr), ""]
    if results_path and os.path.isfile(results_path):
        with open(results_path) as f:
            res = json.load(f)
        lines += ["## Evaluation", f"- command: `{res['command']}`",
                  f"- {res['n']} sounds of split `{res.get('split')}` of `{res.get('dataset')}`", "",
                  "| row | " + " | ".join(res["rows"][0]["metrics"]) + " |",
                  "|---|" + "---|" * len(res["rows"][0]["metrics"])]
        for row in res["rows"]:
            cells = [f"{m['mean']:.4g}" for m in row["metrics"].values()]
            lines.append(f"| {row['name']} | " + " | ".join(cells) + " |")
        lines.append("")
        lines.append("Means over sounds; SC = spectral convergence on linear mel magnitude (1.0 = silence).")
    lines += _switch_head(os.path.join(os.path.dirname(ckpt_path), "switches.pt"))
    if os.path.isfile(os.path.join(os.path.dirname(ckpt_path), "curves.png")):  # written by scripts/ship.sh
        lines += ["", "## Training curves", "", "![training and validation curves](curves.png)"]
    out = os.path.join(os.path.dirname(ckpt_path), "MODEL_CARD.md")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:3])

"""Results JSON -> docs/RESULTS.md: `python scripts/results_table.py [--results results] [--out docs/RESULTS.md]`.

Reads every `results/*.json` written by `python -m explorer.evaluate` (rows of model / refine / baseline
scores) and by `python -m explorer.evaluate.semantic` (semantic dims), and writes one model x metric table per
(parameter count, split): 16 and 30 parameters, test split and out of domain (other splits or counts that
appear get tables too). Each table has the paper's SC beside ours (DESIGN.md; the paper's 32-parameter
numbers stand beside our 30), a budget note above it (data, training and refine budgets, which differ
from the paper's), baseline rows, a flag on rows whose mean SC >= 1.0 ("worse than silence"), and the
command that produced each row. When several files hold the same row for the same table, the newest wins.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # explorer's paired bootstrap (`_paired_smoothness`)

# Esling et al. 2019, test-set spectral convergence (DESIGN.md section 1)
PAPER_SC = {
    16: {"mlp": 6.226, "cnn": 1.372, "resnet": 1.004, "ae": 0.893, "vae": 0.810, "wae": 0.787,
         "vae_flow": 0.838, "flow_reg": 0.752, "flow_dis": 0.831},
    32: {"cnn": 19.18, "vae": 5.519, "vae_flow": 1.418, "flow_reg": 0.911},
}
PAPER_OOD_SC = {32: {"flow_reg": 1.101}}
PAPER_MSE_N = {16: {"wae": 0.159}, 32: {"wae": 0.147}}
MODEL_ORDER = ["mlp", "cnn", "resnet", "ae", "vae", "wae", "vae_flow", "flow_reg", "flow_dis", "debug"]
BASELINE_ORDER = ["nearest", "mean", "silence"]
METRIC_COLS = [("sc", "SC"), ("mse", "MSE"), ("lsd", "LSD (dB)"), ("mfcc", "MFCC dist."),
               ("logmel_l1", "log-mel L1"), ("mse_n", "MSE_n")]


def paper_p(n_params: int) -> int | None:
    """The paper's parameter count to compare with: 16 -> 16, 30 -> 32 (closest set), else None."""
    return {16: 16, 30: 32, 32: 32}.get(n_params)


def load_results(folder: str) -> tuple[list[dict], list[dict], list[dict]]:
    """-> (evaluate result dicts, semantic_eval result dicts, matching-pipeline result dicts), each with `_file`.

    Files with `match` rows (`--match`) get their own section, all their rows together: their targets may
    be conditioned (out of domain: loudness-normalised), so their reference rows must not mix with others."""
    evals, sems, matches = [], [], []
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, json.JSONDecodeError) as exc:
            print(f"skipped {path}: {exc}", file=sys.stderr)
            continue
        if not isinstance(data, dict):
            continue
        data["_file"] = os.path.relpath(path, ROOT)
        if data.get("kind") == "semantic_eval":
            sems.append(data)
        elif isinstance(data.get("rows"), list):
            (matches if any(r.get("kind") == "match" for r in data["rows"]) else evals).append(data)
    return evals, sems, matches


def match_section(matches: list[dict]) -> list[str]:
    """The matching pipeline's rows (`python -m explorer.evaluate --match ...`), one table per file."""
    if not matches:
        return []
    lines = ["## Matching pipeline (`explorer.evaluate.pipeline`)", "",
             ("Every row of a table scores the same sounds in one run. `match:fast`: the candidates only (model "
              "prediction, 10 log-mel + 4 latent nearest sounds of the candidate index); `match:N`: 12 + 6 "
              "nearest, 6 latent neighbours, then N refine renders, no time cap; `match:default`: the default "
              "renders (200 in the older runs, 300 since the Levenberg-Marquardt refinement) capped at 4.5 s per "
              "sound (so it depends on the machine's load). Tables that say \"switches\" tried, before "
              "refinement (in `match:N` and `match:default`), the synth's stepped parameters outside the model's "
              "set one at a time on the best candidate (`explorer/evaluate/discrete.py`; their renders come on "
              "top of N). Each table names its refinement: CMA-ES, or "
              "Levenberg-Marquardt with CMA-ES for what it leaves (`explorer/evaluate/lm.py`). The candidate index holds the "
              "train + valid splits only (test presets are never candidates). `baseline:nearest`: the training "
              "sound nearest in log-mel L1 to the target (an oracle lookup, re-rendered). Out of domain, every "
              "row is scored against the loudness-normalised target; the match rows render at the detected "
              "note. SC_ln: SC after the best gain on the output (loudness-normalised). Seconds per sound "
              "include conditioning (CREPE, pitch shift) for audio targets; load = load average of the 2-core "
              "machine during the run."), ""]
    for res in sorted(matches, key=lambda r: (int(r.get("n_params") or 0), str(r.get("split")))):
        title = {"test": "test split", "ood": "out of domain"}.get(res.get("split"), res.get("split"))
        load = f", load {res['load']}" if res.get("load") else ""
        methods = {(r.get("budget") or {}).get("method", "cma") for r in res["rows"]
                   if r.get("kind") == "match" and (r.get("budget") or {}).get("renders")}
        how = {"lm": "Levenberg-Marquardt + CMA-ES", "cma": "CMA-ES"}
        starts = max([(r.get("budget") or {}).get("starts", 1) for r in res["rows"] if r.get("kind") == "match"] or [1])
        refined = f", refined by {' / '.join(how.get(m, m) for m in sorted(methods))}" if methods else ""
        refined += f" from the {starts} best candidates" if methods and starts > 1 else ""
        if any((r.get("budget") or {}).get("switches") for r in res["rows"] if r.get("kind") == "match"):
            refined += ", after switches"
        tr = next((r.get("train") for r in res["rows"] if r.get("train")), None)
        data = f", trained on `{_train_data(tr)}`" if _train_data(tr) else ""
        model = f" ({_trained({'train': tr})}{data})" if tr else ""  # which model the path held then
        lines += [(f"### {res.get('n_params')} parameters, {title}: {res.get('n')} sounds, "
                   f"`{res.get('checkpoint')}`{model}{load}{refined}"), "",
                  "| row | log-mel L1 mean (median) | SC mean (median) | SC_ln mean | s / sound mean (max) | best from |",
                  "|---|---|---|---|---|---|"]
        for row in res["rows"]:
            m = row["metrics"]
            secs = (f"{row['seconds_per_sound']:.2f} ({row['seconds_per_sound_max']:.2f})"
                    if row.get("seconds_per_sound_max") is not None else "")
            won = ", ".join(f"{k} {v}" for k, v in (row.get("best_kind") or {}).items())
            lines.append(f"| {row['name']} | {_fmt(m['logmel_l1']['mean'], 3)} ({_fmt(m['logmel_l1']['median'], 3)}) | "
                         f"{_fmt(m['sc']['mean'], 3)} ({_fmt(m['sc']['median'], 3)}) | "
                         f"{_fmt((m.get('sc_ln') or {}).get('mean'), 3)} | {secs} | {won} |")
        note = f" {res['note']}" if res.get("note") else ""
        lines += ["", f"`{res.get('command')}` ({res.get('_file')}).{note}", ""]
    return lines


def _fmt(x: float | None, digits: int = 4) -> str:
    if x is None:
        return "–"
    if abs(x) >= 1000 or (abs(x) < 1e-3 and x != 0):
        return f"{x:.3g}"
    return f"{x:.{digits}g}"


def _cell(m: dict | None, fixed: int | None = None) -> str:
    """'mean (median)' for one metric summary (`fixed` decimals, else 4 significant digits)."""
    if not m or m.get("mean") is None:
        return "–"
    if fixed is not None:
        return f"{m['mean']:.{fixed}f} ({m['median']:.{fixed}f})"
    return f"{_fmt(m['mean'])} ({_fmt(m['median'])})"


def _row_key(row: dict) -> tuple:
    kind = row.get("kind")
    model = row.get("model", "")
    if kind == "baseline":
        return (2, BASELINE_ORDER.index(model) if model in BASELINE_ORDER else 99, row["name"])
    base = MODEL_ORDER.index(model) if model in MODEL_ORDER else 99
    epochs = (row.get("train") or {}).get("epochs") or 0
    return (0, epochs, base, 0 if kind == "model" else 1, row.get("budget") or 0, row["name"])


def _train_data(train: dict | None) -> str | None:
    """The dataset a training command named (`--data`), or None."""
    words = (train or {}).get("command", "").split()
    return words[words.index("--data") + 1].rstrip("/") if "--data" in words[:-1] else None


def _trained(row: dict, evaluated_on: str | None = None) -> str:
    """Epochs (and the best one, when not the last), minutes, device, and the training data when it is not the
    data evaluated on."""
    t = row.get("train") or {}
    if not t or t.get("epochs") is None:
        return "–"
    mins = f", {t['seconds'] / 60:.0f} min" if t.get("seconds") else ""
    if t.get("seconds") and "sessions" not in t and "--resume" in t.get("command", ""):
        mins += " (last session)"
    dev = f" {t['device']}" if t.get("device") else ""
    data = _train_data(t)  # named when it is not the data evaluated on (that one is said above the table)
    on = f", trained on `{data}`" if data and data != (evaluated_on or data).rstrip("/") else ""
    commands = [t.get("command") or ""] + [s.get("command") or "" for s in t.get("sessions") or []]
    weighted = ", parameter error weighted by sensitivity" if any("param_weights" in c for c in commands) else ""
    b = t.get("best_epoch")  # counted from 0 in the checkpoint
    best = f" (best {b + 1})" if b is not None and b + 1 != t["epochs"] else ""
    return f"{t['epochs']} ep{best}{mins}{dev}{on}{weighted}"


RowKey = tuple[str, int, int | None, str | None]


def collect(evals: list[dict]) -> dict[tuple[int, str], dict[RowKey, tuple[dict, dict]]]:
    """-> {(n_params, split): {(row name, n, epochs, training data): (row, result)}}, the newest result
    winning per key.

    Keyed by the number of sounds too: a `--limit 50 --refine 200` run keeps its own model row on its 50
    sounds beside the full-split model row instead of replacing it; and by epochs and training data: a
    6-epoch zoo row on 10k sounds, one on 30k and a shipped one all stay.
    """
    tables: dict[tuple[int, str], dict[RowKey, tuple[dict, dict]]] = {}
    for res in sorted(evals, key=lambda r: r.get("created", "")):
        key = (int(res.get("n_params") or 0), str(res.get("split")))
        for row in res["rows"]:
            t = row.get("train") or {}
            k = (row["name"], int(res.get("n") or 0), t.get("epochs"), _train_data(t))
            tables.setdefault(key, {})[k] = (row, res)
    return tables


def budget_note(n_params: int, split: str, entries: list[tuple[dict, dict]]) -> str:
    """The paragraph above a table: what the numbers rest on, ours vs the paper's."""
    datasets = {}
    for _, res in entries:
        if res.get("dataset"):
            info = res.get("dataset_info") or {}
            datasets[res["dataset"]] = info
    parts = []
    for d, info in datasets.items():
        if not info:
            parts.append(f"`{d}`")
            continue
        counts = info.get("split_counts") or {}
        parts.append(f"`{d}`: {info.get('n', '?')} sounds ({info.get('n_human', '?')} human presets; "
                     + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")")
    sounds = sorted({res["n"] for _, res in entries})
    refines = sorted({f"{row['budget']} ({row.get('refine_method', 'cma')}, {row.get('refine_loss') or 'logmel_l1'} "
                      "objective)" for row, _ in entries
                      if row.get("kind") == "refine" and row.get("budget")})
    where = ("test split (human presets only, split by source preset)" if split == "test" else
             "out-of-domain audio (`python -m explorer.evaluate.ood`: fluidsynth GM instruments and espeak-ng vocal "
             "sketches)" if split == "ood" else f"{split} split")
    pp = paper_p(n_params)
    paper = ("paper: Diva VST, 11,217 human presets (80/10/10), models trained to convergence on a GPU"
             + ("" if pp == n_params or pp is None else f"; the paper's set has {pp} parameters, ours {n_params}")
             + ". Different synth, presets and budgets: compare trends, not digits.")
    note = [f"**Budget.** Scored on the {where}: {', '.join(map(str, sounds))} sounds per row."]
    if parts:
        note.append("Data: " + "; ".join(parts) + ".")
    note.append("Training budget per model in the *trained* column (epochs, the best one when not the last, minutes, device): the 6-epoch "
                "CPU zoo rows all had the same budget (`scripts/train_zoo.sh`: 6 epochs of `data/ds16` on one "
                "thread, or, where they say `data/ds16_30k`, 6 epochs of those 30k sounds on 2 threads: three "
                "times the steps; their 12-epoch rows are the same runs continued to 12 epochs); the *cuda* rows are the GPU zoo "
                "(`scripts/gpu_zoo.sh`: every family at once on one H100, each capped at 6.5 minutes and stopped "
                "early on validation parameter MSE; flow_dis, flow_dis_desc and flow_reg were then resumed for "
                "up to 4.6 more minutes and early-stopped, their minutes show that second session only); the "
                "22-27-epoch CPU rows are the shipped checkpoints (`checkpoints/*/MODEL_CARD.md`). Rows trained on "
                "other data say so (`data/ds16_30k`: 29,967 sounds, the same test split): the `runs/ds30k` rows "
                "are Flow_reg on 10k sounds, on 30k, and on 30k with input augmentation (`--set augment=0.5`), "
                "trained at once on the 2-core CPU (one thread each, 40 min cap, warm-ups and patience scaled to "
                "the same number of steps); the 10k run stopped early within the cap, the two 30k runs were resumed "
                "until they did (their minutes show the last session only; 40 min before it). The plain 30k "
                "run is the shipped `flow_reg_16`.")
    if refines:
        note.append(f"Refine rows: the model's prediction refined (cma: CMA-ES; lm: Levenberg-Marquardt, then "
                    f"CMA-ES) with {', '.join(refines)} renders per sound.")
    note.append(paper[0].upper() + paper[1:])
    return " ".join(note)


def table(n_params: int, split: str, rows: dict[RowKey, tuple[dict, dict]]) -> list[str]:
    pp = paper_p(n_params)
    paper_sc = (PAPER_OOD_SC if split == "ood" else PAPER_SC if split == "test" else {}).get(pp or -1, {})
    paper_msen = PAPER_MSE_N.get(pp or -1, {}) if split == "test" else {}
    # full-split rows first, then each subset (largest first) with its model, refine and baseline rows together
    entries = sorted(rows.values(), key=lambda e: (-int(e[1].get("n") or 0), _row_key(e[0])))
    title = {"test": "test split", "ood": "out of domain"}.get(split, f"{split} split")
    out = [f"## {n_params} parameters, {title}", "", budget_note(n_params, split, entries), "",
           "Values: mean (median) over sounds. SC = ||Y - X|| / ||X|| on linear mel magnitude, 1.0 = silence.",
           "",
           "| row | n | " + " | ".join(h for _, h in METRIC_COLS[:1]) + f" | paper SC ({pp or '–'} p.) | "
           + " | ".join(h for _, h in METRIC_COLS[1:]) + " | trained | flag | command |",
           "|" + "---|" * (len(METRIC_COLS) + 6)]
    for row, res in entries:
        m = row["metrics"]
        sc = (m.get("sc") or {}).get("mean")
        flag = "**worse than silence**" if sc is not None and sc >= 1.0 and row.get("model") != "silence" else ""
        model = row.get("model", "")
        paper = "–"
        if row.get("kind") == "model" and model in paper_sc:
            paper = f"{paper_sc[model]:.3f}"
        msen = _cell(m.get("mse_n"))
        if row.get("kind") == "model" and model in paper_msen:
            msen += f" (paper {paper_msen[model]})"
        cells = [_cell(m.get("sc"), 3), paper] + [_cell(m.get(k)) for k, _ in METRIC_COLS[1:-1]] + [msen]
        name = row["name"].replace("baseline:", "baseline: ")
        out.append(f"| {name} | {res['n']} | " + " | ".join(cells)
                   + f" | {_trained(row, res.get('dataset'))} | {flag} | `{res.get('command', '?')}` |")
    out.append("")
    return out


def _steer_cell(r: dict) -> str:
    """Mean Spearman (min over starts; span of levels where measured; valid starts where some were not)."""
    extra = f"; span {_fmt(r['span_mean'], 2)}" if r.get("span_mean") is not None else ""
    n = len(r.get("per_start", []))
    if r.get("n_valid") is not None and n and r["n_valid"] < n:
        extra += f"; {r['n_valid']}/{n} starts moved it"
    return f"{_fmt(r['spearman_mean'], 3)} ({_fmt(r['spearman_min'], 2)}{extra})"


def _paired_smoothness(per_pair: dict, n_boot: int = 10000, seed: int = 0) -> str:
    """Latent vs parameter interpolation over the same end-point pairs: how many latent paths are smoother,
    and the mean difference with a 95 % bootstrap interval (resampling the pairs)."""
    lat, par = (np.asarray(per_pair.get(k, []), np.float64) for k in ("latent", "params"))
    if len(lat) < 2 or len(lat) != len(par):
        return ""
    from explorer.evaluate.compare import paired_bootstrap

    diff = lat - par
    lo, hi = paired_bootstrap(par, lat, "mean", n_boot, seed)
    return (f"Paired over the same {len(diff)} end-point pairs: latent smoother on {(diff < 0).sum()} of "
            f"{len(diff)}; mean difference latent - parameters {diff.mean():+.3f}, 95 % bootstrap interval "
            f"{lo:+.3f} to {hi:+.3f}.")


def semantic_section(sems: list[dict]) -> list[str]:
    if not sems:
        return []
    out = ["## Semantic controls", "",
           ("Each semantic latent dim swept -3..+3 from random starting points, rendered; Spearman correlation "
           "between the dim's value and its descriptor (`explorer.data.tags`), mean ± std over starts. Smoothness: "
           "mean squared second difference of the log-mel along a path, normalised by the squared distance of "
           "its end points (lower = smoother), latent interpolation vs plain parameter interpolation."), ""]
    for s in sorted(sems, key=lambda r: r.get("created", "")):
        out.append(f"`{s.get('command', '?')}` ({s.get('checkpoint')}, {s.get('n_starts')} starts, "
                   f"{s.get('n_steps')} steps)")
        out.append("")
        if s.get("steering"):
            calibrated = s.get("steering_method", "").startswith("calibrated")
            how = ("the slider moved to 9 levels -2..+2 in turn from each start, playing the point of the pair's "
                   "calibrated path (rendered and measured as far as each move needs, "
                   "`explorer.models.steer_path.calibrate_towards`) nearest each level"
                   if calibrated else "steered to 9 levels -2..+2 with one correction render")
            out += [(f"Steering macros (`explorer.models.steer`, the app's semantic sliders): {how}, from test-split "
                     "sounds (the model's reconstruction), prior samples and mixes of three test codes (points "
                     "between the map's dots); Spearman of level vs descriptor on the rendered audio, mean (min) "
                     "over starts, and where measured the span: how many levels the played sound's descriptor "
                     "moves while the slider goes from -2 to +2 (4 would follow it exactly), mean over starts. "
                     "Shown in the app when the mean Spearman reaches 0.9 from test and prior starts."), "",
                    "| pair | descriptor | predictor R² (test) | test starts | prior starts | mixed starts | shown |",
                    "|---|---|---|---|---|---|---|"]
            for d in s["steering"]:
                cells = [_steer_cell(d[k]) if k in d else "–" for k in ("test", "prior", "mix")]
                unit = f" ({d['unit']})" if d.get("unit") else ""
                out.append(f"| {d['negative']} ↔ {d['positive']} | {d['descriptor']}{unit} | "
                           f"{_fmt(d.get('r2_test'), 2)} | " + " | ".join(cells) +
                           f" | {'yes' if d['shown'] else 'no'} |")
            if s.get("dims"):
                out += ["", "Flow_dis semantic latent dims (swept -3..+3), for comparison:", ""]
        if s.get("dims"):
            out.append("| pair | dim | descriptor | Spearman mean | std | fraction > 0 |")
            out.append("|---|---|---|---|---|---|")
        for d in s.get("dims", []):
            out.append(f"| {d['negative']} ↔ {d['positive']} | {d['dim']} | {d['descriptor']} | "
                       f"{_fmt(d['spearman_mean'], 3)} | {_fmt(d['spearman_std'], 3)} | "
                       f"{_fmt(d['fraction_positive'], 3)} |")
        sm = s.get("smoothness")
        if sm:
            out += ["", "| path | smoothness mean | median |", "|---|---|---|",
                    f"| latent interpolation | {_fmt(sm['latent']['mean'])} | {_fmt(sm['latent']['median'])} |",
                    f"| parameter interpolation | {_fmt(sm['params']['mean'])} | {_fmt(sm['params']['median'])} |"]
            paired = _paired_smoothness(sm.get("per_pair", {}))
            if paired:
                out += ["", paired]
        out.append("")
    return out


def render(evals: list[dict], sems: list[dict], matches: list[dict] | None = None) -> str:
    lines = ["# Results", "",
             ("Generated by `python scripts/results_table.py` from `results/*.json` (each written by the command "
             "shown in its row). Metric definitions: `explorer/evaluate/metrics.py` and DESIGN.md section 1."), ""]
    tables = collect(evals)
    canonical = [(p, sp) for p in (16, 30) for sp in ("test", "ood")]
    others = sorted((k for k in tables if k not in canonical), key=lambda k: (k[0], k[1]))
    for key in canonical + others:
        if key in tables:
            lines += table(key[0], key[1], tables[key])
        else:
            title = {"test": "test split", "ood": "out of domain"}[key[1]]
            lines += [f"## {key[0]} parameters, {title}", "", "_No results yet._", ""]
    lines += match_section(matches or [])
    lines += semantic_section(sems)
    lines += curves_section()
    return "\n".join(lines).rstrip() + "\n"


CURVES = [("img/curves_gpu16.png", "GPU zoo, 16 parameters (`scripts/gpu_zoo.sh`)",
           ("python -m explorer.models.curves runs/gpu16/{flow_dis,flow_dis_desc,flow_reg,vae_flow,resnet,wae} "
            "--out docs/img/curves_gpu16.png")),
          ("img/curves_ds30k.png", "Flow_reg on 10k vs 30k sounds, and 30k with augmentation (CPU)",
           ("python -m explorer.models.curves runs/ds30k/{flow_reg_10k,flow_reg,flow_reg_aug} --x steps "
            "--label '10k sounds' --label '30k sounds' --label '30k + augmentation' "
            "--out docs/img/curves_ds30k.png"))]


def curves_section() -> list[str]:
    """Loss curves drawn by `explorer.models.curves` from the runs' history.json (images in docs/img)."""
    found = [c for c in CURVES if os.path.isfile(os.path.join(ROOT, "docs", c[0]))]
    if not found:
        return []
    out = ["## Training curves", ""]
    for path, title, command in found:
        out += [f"{title}: `{command}`", "", f"![{title}]({path})", ""]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", default=os.path.join(ROOT, "results"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "RESULTS.md"))
    args = ap.parse_args(argv)
    evals, sems, matches = load_results(args.results)
    text = render(evals, sems, matches)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print(f"wrote {args.out} ({len(evals)} evaluation files, {len(matches)} matching files, "
          f"{len(sems)} semantic files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

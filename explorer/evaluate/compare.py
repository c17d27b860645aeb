"""Compare two evaluation rows sound by sound: `python -m explorer.evaluate.compare A.json B.json`.

Both files come from `python -m explorer.evaluate` on the same sounds (the same `sounds` list, checked).
Each row is picked by name (`--row-a` / `--row-b`; default: the file's only row or its first model row).
For every metric both rows hold per sound, it prints: the mean and median of A and B, on how many sounds B
is lower (better), higher and equal, and a paired bootstrap of the difference B - A of the statistic
(`--stat`, median or mean): the same resampled sounds for both rows, `--resamples` draws with `--seed`,
the 2.5 and 97.5 percentiles. An interval wholly below 0 means B is better on that statistic.

    python -m explorer.evaluate.compare results/ds30k_flow_reg_30_test.json results/ds30k_flow_reg_w_30_test.json
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

METRICS = ("sc", "sc_ln", "logmel_l1", "mse_n", "lsd", "mfcc")  # lower is better for each


class CompareError(RuntimeError):
    pass


def load_row(path: str, name: str | None) -> tuple[list[str], dict]:
    """(sounds, row) of an evaluation result; `CompareError` with the choices when `name` is not there."""
    try:
        with open(path) as f:
            d = json.load(f)
        rows, sounds = d["rows"], list(d["sounds"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CompareError(f"{path}: not a result of `python -m explorer.evaluate` ({exc})") from None
    names = [r["name"] for r in rows]
    if name is None:
        picked = [r for r in rows if r.get("kind") == "model"] or rows
    else:
        picked = [r for r in rows if r["name"] == name]
    if not picked:
        raise CompareError(f"{path}: no row {name!r} (rows: {', '.join(names)})")
    row = picked[0]
    if not row.get("per_sound"):
        raise CompareError(f"{path}: row {row['name']!r} has no per-sound values")
    return sounds, row


def paired_bootstrap(a: np.ndarray, b: np.ndarray, stat: str, resamples: int, seed: int) -> tuple[float, float]:
    """95 % interval of stat(b) - stat(a) over paired resamples of the sounds."""
    f = np.median if stat == "median" else np.mean
    idx = np.random.default_rng(seed).integers(0, len(a), (resamples, len(a)))
    diff = f(b[idx], axis=1) - f(a[idx], axis=1)
    lo, hi = np.percentile(diff, [2.5, 97.5])
    return float(lo), float(hi)


def compare(sounds_a: list[str], row_a: dict, sounds_b: list[str], row_b: dict, stat: str = "median",
            resamples: int = 2000, seed: int = 0) -> list[dict]:
    """One dict per metric both rows hold: means, medians, counts B < A / B > A / equal, bootstrap interval."""
    if sounds_a != sounds_b:
        raise CompareError(f"the two results are not on the same sounds ({len(sounds_a)} and {len(sounds_b)}; "
                           "run both with the same --data/--split/--limit or --audio)")
    out = []
    for m in METRICS:
        va, vb = row_a["per_sound"].get(m), row_b["per_sound"].get(m)
        if va is None or vb is None:
            continue
        a, b = np.asarray(va, np.float64), np.asarray(vb, np.float64)
        ok = np.isfinite(a) & np.isfinite(b)
        a, b = a[ok], b[ok]
        if not len(a):
            continue
        lo, hi = paired_bootstrap(a, b, stat, resamples, seed)
        out.append({"metric": m, "n": len(a), "mean_a": float(a.mean()), "mean_b": float(b.mean()),
                    "median_a": float(np.median(a)), "median_b": float(np.median(b)),
                    "b_better": int((b < a).sum()), "b_worse": int((b > a).sum()), "equal": int((b == a).sum()),
                    "stat": stat, "ci_low": lo, "ci_high": hi})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m explorer.evaluate.compare", description=__doc__.split("\n")[0])
    ap.add_argument("a", help="result file A (the reference)")
    ap.add_argument("b", help="result file B (compared with A)")
    ap.add_argument("--row-a", help="row name in A (default: its first model row)")
    ap.add_argument("--row-b", help="row name in B (default: its first model row)")
    ap.add_argument("--stat", choices=("median", "mean"), default="median", help="bootstrapped statistic")
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.resamples < 1:
        ap.error("--resamples must be >= 1")
    try:
        sa, ra = load_row(args.a, args.row_a)
        sb, rb = load_row(args.b, args.row_b)
        res = compare(sa, ra, sb, rb, args.stat, args.resamples, args.seed)
    except CompareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"A = {args.a} [{ra['name']}]\nB = {args.b} [{rb['name']}]  ({res[0]['n'] if res else 0} sounds)")
    print(f"{'metric':>9}  {'mean A':>8} {'mean B':>8}  {'med A':>8} {'med B':>8}  {'B<A':>5} {'B>A':>5} {'=':>4}"
          f"  95 % interval of {args.stat} B - A ({args.resamples} paired resamples, seed {args.seed})")
    for r in res:
        print(f"{r['metric']:>9}  {r['mean_a']:8.4f} {r['mean_b']:8.4f}  {r['median_a']:8.4f} {r['median_b']:8.4f}  "
              f"{r['b_better']:5d} {r['b_worse']:5d} {r['equal']:4d}  {r['ci_low']:+.4f} .. {r['ci_high']:+.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Dataset builder and loader.

    python -m explorer.data build --params 16 --out data/ds16 [--size 10000 --seed 0 --limit K]

Renders every (deduplicated) human preset of the banks, then augmented presets up to `--size`:
80 % are perturbations of a train/valid human preset (Gaussian noise, sigma 0.1, on the set's parameters;
discrete ones re-quantised) and 20 % uniform random draws. Parameters outside the set are held at the
default preset (the plugin's initial state). Splits are by source preset: a human preset and all its
perturbations land in one split; test holds human presets only; random draws are train. Silent renders
(peak below 1e-4) are dropped: they carry no timbre and make spectral convergence undefined.
Normalisation statistics and tag thresholds come from the training split only. The layout is described in
docs/ARCHITECTURE.md; the same seed gives identical files.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

from explorer import cli
from explorer.data import tags as tagging
from explorer.data.features import MelConfig, log_mel

FORMAT_VERSION = 1
SPLITS = ("train", "valid", "test")
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
PERTURB_SIGMA = 0.1
RANDOM_FRACTION = 0.2
CHUNK = 256  # rows per feature batch (fixed: features are computed on the same batches whatever renders)
MAX_BLOCK = 16 * CHUNK  # rows rendered per call at most (a block of audio: 4096 x 4 s = 1.4 GB)


@dataclass
class Dataset:
    """A built dataset: memory-mapped arrays plus its metadata (see docs/ARCHITECTURE.md)."""

    root: str
    meta: dict
    mels: np.ndarray  # float32 [N, 64, 80] log-mel, not normalised
    params: np.ndarray  # float32 [N, P]
    full_params: np.ndarray  # float32 [N, n_plugin]
    split: np.ndarray  # uint8 [N]
    tags: np.ndarray  # int8 [N, n_pairs]
    descriptors: np.ndarray  # float32 [N, n_pairs]
    category: np.ndarray  # int16 [N]
    index: list[dict]

    def __len__(self) -> int:
        return len(self.split)

    def indices(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.split == SPLITS.index(split))

    def normalise(self, mels: np.ndarray) -> np.ndarray:
        s = self.meta["stats"]
        return (mels - s["mean"]) / s["std"]


ARRAYS = ("mels", "params", "full_params", "split", "tags", "descriptors", "category")


def load_dataset(root: str) -> Dataset:
    """Open a dataset directory written by `build` (arrays memory-mapped)."""
    meta_path = os.path.join(root, "meta.json")
    if not os.path.isfile(meta_path):
        raise FileNotFoundError(f"no dataset at {root} (missing meta.json); build one with "
                                "`python -m explorer.data build --params 16 --out {root}`")
    with open(meta_path) as f:
        meta = json.load(f)
    if meta.get("version") != FORMAT_VERSION:
        raise ValueError(f"{root}: dataset format {meta.get('version')} (expected {FORMAT_VERSION})")
    arrays = {k: np.load(os.path.join(root, f"{k}.npy"), mmap_mode="r") for k in ARRAYS}
    with open(os.path.join(root, "index.json")) as f:
        index = json.load(f)
    return Dataset(root, meta, index=index, **arrays)


def save_dataset(root: str, meta: dict, index: list[dict], **arrays: np.ndarray) -> None:
    """Write a dataset directory (also used by tests to make tiny datasets)."""
    os.makedirs(root, exist_ok=True)
    missing = set(ARRAYS) - set(arrays)
    if missing:
        raise ValueError(f"missing arrays: {sorted(missing)}")
    for k in ARRAYS:
        np.save(os.path.join(root, f"{k}.npy"), arrays[k])
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(root, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)


def _quantise(v: np.ndarray, steps: list[int]) -> np.ndarray:
    v = np.clip(v, 0.0, 1.0)
    for j, s in enumerate(steps):
        if s:
            v[:, j] = np.round(v[:, j] * (s - 1)) / (s - 1)
    return v


def plan(human: np.ndarray, size: int, steps: list[int], seed: int):
    """Choose the rows to render. `human[H, P]` set values of the human presets.

    Returns (values[N, P], source[N] (human id, -1 for random), split[N], augmented[N]).
    """
    rng = np.random.default_rng(seed)
    h = len(human)
    order = rng.permutation(h)
    n_test = max(1, round(h * SPLIT_FRACTIONS[2]))
    n_valid = max(1, round(h * SPLIT_FRACTIONS[1]))
    split_h = np.zeros(h, np.uint8)
    split_h[order[:n_test]] = 2
    split_h[order[n_test : n_test + n_valid]] = 1
    n_aug = max(0, size - h)
    n_rand = round(n_aug * RANDOM_FRACTION)
    n_pert = n_aug - n_rand
    pool = np.flatnonzero(split_h != 2)  # test stays human only
    src = rng.choice(pool, n_pert) if n_pert else np.zeros(0, int)
    pert = _quantise(human[src] + rng.normal(0, PERTURB_SIGMA, (n_pert, human.shape[1])), steps)
    rand = _quantise(rng.random((n_rand, human.shape[1])), steps)
    values = np.concatenate([human, pert, rand]).astype(np.float32)
    source = np.concatenate([np.arange(h), src, -np.ones(n_rand, int)])
    split = np.concatenate([split_h, split_h[src], np.zeros(n_rand, np.uint8)])
    augmented = np.concatenate([np.zeros(h, bool), np.ones(n_aug, bool)])
    return values, source, split, augmented


def _blocks(synth, full: np.ndarray):
    """Yield (start, audio, crashed) blocks of renders; the next block renders while the caller works on this
    one. `crashed`: the block's rows the plugin crashed on (silent in `audio`, so dropped as silent sounds;
    the same rows whichever backend renders them, since a crash is as deterministic as a render).

    A block holds about four render chunks per worker (a multiple of CHUNK), so a large pool is kept busy.
    """
    n = len(full)
    block = min(MAX_BLOCK, CHUNK * max(1, -(-4 * synth.workers * 16 // CHUNK)))
    starts = list(range(0, n, block))

    def render(a):
        failed: list[int] = []
        return synth.render(full[a : a + block], failed=failed), failed

    with ThreadPoolExecutor(1) as ex:
        pending = ex.submit(render, 0) if n else None
        for k, a in enumerate(starts):
            audio, crashed = pending.result()
            if k + 1 < len(starts):
                pending = ex.submit(render, starts[k + 1])
            yield a, audio, crashed


def build(param_set: str, out: str, size: int = 10000, seed: int = 0, limit: int | None = None,
          plugin: str | None = None, workers: int | None = None, bank_dir: str | None = None,
          ray: str | None = None) -> Dataset:
    """Render and write a dataset. `ray`: None for local render processes, or a Ray address ("auto",
    "local", "HOST:PORT") to render on Ray actors (`explorer.synth.ray_pool`); the files are identical."""
    from explorer.synth.host import DEFAULT_PLUGIN, Synth
    from explorer.synth.param_sets import load_param_set
    from explorer.synth.presets import BANK_DIR, ParamMap, dedupe, read_all_banks

    t0 = time.time()
    pset = load_param_set(param_set)
    backend = None
    if ray:
        from explorer.synth.ray_pool import RayBackend

        backend = RayBackend(ray)
    with Synth(plugin or DEFAULT_PLUGIN, workers=workers, backend=backend) as synth:
        pmap = ParamMap.from_synth(synth)
        by_name = {p.name: p for p in synth.params}
        unknown = [n for n in pset["params"] if n not in by_name]
        if unknown:
            raise ValueError(f"parameter set {param_set} names unknown parameters {unknown}")
        idx = [by_name[n].index for n in pset["params"]]
        steps = [by_name[n].steps for n in pset["params"]]
        default = pmap.to_normalised({})  # every parameter at the plugin's initial preset

        presets = dedupe(read_all_banks(bank_dir or BANK_DIR), pmap)
        full_h = np.stack([pmap.to_normalised(p.raw) for p in presets])
        # projected onto the set, different presets may coincide: keep the first of each
        _, first = np.unique(np.round(full_h[:, idx], 6), axis=0, return_index=True)
        keep = np.sort(first)[:limit] if limit else np.sort(first)
        presets = [presets[i] for i in keep]
        human = full_h[keep][:, idx]

        values, source, split, augmented = plan(human, max(size, len(human)), steps, seed)
        full = np.repeat(default[None], len(values), 0).astype(np.float32)
        full[:, idx] = values

        cfg = MelConfig(sample_rate=synth.settings.sample_rate)
        n = len(values)
        mels = np.empty((n, cfg.n_mels, cfg.frames), np.float32)
        desc = np.empty((n, len(tagging.TAG_PAIRS)), np.float32)
        peak = np.empty(n, np.float32)
        from tqdm import tqdm

        bar = tqdm(total=n, desc=f"build ds{param_set}", unit="sound", file=sys.stderr)
        crashed: list[int] = []
        for start, block, failed in _blocks(synth, full):
            crashed += [start + k for k in failed]
            for c in range(0, len(block), CHUNK):
                audio, a = block[c : c + CHUNK], start + c
                mels[a : a + len(audio)] = log_mel(audio, cfg).numpy()
                desc[a : a + len(audio)] = tagging.descriptors(audio, cfg)
                peak[a : a + len(audio)] = np.abs(audio).max(1)
                bar.update(len(audio))
        bar.close()
        plugin_path = synth.plugin_path
        settings = asdict(synth.settings)

    ok = peak >= tagging.SILENCE_PEAK
    train = ok & (split == 0)
    thr = tagging.thresholds(desc[train])
    names = [presets[s].name if s >= 0 else f"random-{i}" for i, s in enumerate(source)]
    index = [{"name": names[i], "bank": presets[s].bank if s >= 0 else "",
              "source": int(s), "augmented": bool(augmented[i])} for i, s in enumerate(source)]
    cat = np.array([tagging.category(presets[s].name) if s >= 0 else 0 for s in source], np.int16)
    keep_rows = np.flatnonzero(ok)
    meta = {
        "version": FORMAT_VERSION, "param_set": str(param_set), "param_names": pset["params"],
        "param_indices": idx, "param_steps": steps, "default_values": default.tolist(),
        "plugin": plugin_path, "plugin_param_names": pmap.names, "settings": settings,
        "mel": cfg.to_dict(),
        "stats": {"mean": float(mels[train].mean()), "std": float(mels[train].std())},
        "tag_pairs": [list(p) for p in tagging.TAG_PAIRS], "tag_thresholds": thr.tolist(),
        "categories": tagging.CATEGORY_NAMES, "n": len(keep_rows), "seed": seed,
        "size": size, "limit": limit, "dropped_silent": int((~ok).sum()), "dropped_crashed": len(crashed),
        "n_human": len(human),
        "split_counts": {s: int((split[ok] == k).sum()) for k, s in enumerate(SPLITS)},
        "build_seconds": round(time.time() - t0, 1),
        "created": datetime.date.today().isoformat(),
    }
    save_dataset(out, meta, [index[i] for i in keep_rows], mels=mels[keep_rows],
                 params=values[keep_rows], full_params=full[keep_rows], split=split[keep_rows],
                 tags=tagging.tags(desc[keep_rows], thr), descriptors=desc[keep_rows],
                 category=cat[keep_rows])
    return load_dataset(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m explorer.data")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="render presets and write a dataset directory")
    b.add_argument("--params", default="16", help="parameter set: 16, 30 or 41")
    b.add_argument("--out", required=True)
    b.add_argument("--size", type=int, default=10000, help="total sounds (human + augmented)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--limit", type=int, default=None, help="use only the first K human presets")
    b.add_argument("--plugin", default=None)
    cli.add_workers(b, help="render processes (default: every core; with --ray, every free CPU of the cluster)")
    b.add_argument("--ray", metavar="ADDRESS", default=None,
                   help="render on Ray actors: auto (the cluster this machine belongs to, else a new local "
                   "one), local (a new local instance) or HOST:PORT of a cluster's head node (see README)")
    args = ap.parse_args(argv)
    from explorer.synth.host import SynthError

    try:
        ds = build(args.params, args.out, args.size, args.seed, args.limit, args.plugin, args.workers,
                   ray=args.ray)
    except SynthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    m = ds.meta
    print(f"wrote {args.out}: {m['n']} sounds ({m['split_counts']}), {m['dropped_silent']} silent "
          f"dropped (of which the plugin crashed on {m['dropped_crashed']}), {m['build_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

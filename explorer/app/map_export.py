"""Export the app's latent map next to a checkpoint: `python -m explorer.app.map_export export ...`.

    python -m explorer.app.map_export export --checkpoint checkpoints/flow_dis_16/model.pt --data data/ds16

Encodes every dataset sound with the model, fits the 2-D projection (UMAP, or PCA for tests), measures the
quality of the app's kNN maps, decodes every code, names each variant after its preset, predicts a
category for every sound whose name gives none (`explorer.app.categories`), keeps each sound's own
parameters (A/B), and writes the files described in `explorer.app.latent_map` beside the checkpoint, with
paths relative to the project, plus the matching pipeline's candidate index (`match_index.npz`, train +
valid sounds only: `explorer.evaluate.candidates`; not with `--limit`). `build_debug_map` makes a tiny map
from random renders.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
import warnings

import numpy as np

from explorer import cli
from explorer.app.categories import classify, variant_names
from explorer.app.latent_map import K_NEIGHBOURS, UMAP_PKL, LatentMap, file_sha256

PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def project_path(path: str) -> str:
    """`path` relative to the project when it lies inside it (maps travel with the repository), else absolute."""
    p = os.path.abspath(path)
    return os.path.relpath(p, PROJECT) if p.startswith(PROJECT + os.sep) else p


def encode_all(model, mels: np.ndarray, batch: int = 256) -> np.ndarray:
    """Deterministic latent codes of log-mels `mels[N, 64, 80]` (not normalised) -> `z[N, D]`."""
    import torch

    out = []
    for i in range(0, len(mels), batch):
        x = torch.from_numpy(np.array(mels[i : i + batch], np.float32))  # copy: mels may be a read-only memmap
        with torch.no_grad():
            out.append(model.encode(x).detach().cpu().numpy().astype(np.float32))
    return np.concatenate(out) if out else np.zeros((0, model.latent_dim), np.float32)


def decode_all(model, z: np.ndarray, batch: int = 1024) -> np.ndarray:
    """Parameters of every code: `z[N, D]` -> `v[N, P]` (batched regression-flow inverse)."""
    import torch

    out = [model.decode(torch.from_numpy(np.ascontiguousarray(z[i : i + batch], np.float32))).numpy()
           for i in range(0, len(z), batch)]
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, len(model.param_names)), np.float32)


def fit_projection(z: np.ndarray, method: str = "umap", seed: int = 0, n_neighbors: int = 15,
                   min_dist: float = 0.1):
    """`z[N, D]` -> (xy[N, 2], fitted reducer or None). `method`: "umap" or "pca" (fast; for tests)."""
    if method == "pca":
        zc = z - z.mean(0)
        _, _, vt = np.linalg.svd(zc, full_matrices=False)
        return (zc @ vt[:2].T).astype(np.float32), None
    if method != "umap":
        raise ValueError(f"unknown projection {method!r} (umap or pca)")
    import umap  # slow first import (numba); only at export

    reducer = umap.UMAP(n_neighbors=min(n_neighbors, max(2, len(z) - 1)), min_dist=min_dist,
                        random_state=seed)
    with warnings.catch_warnings():  # "n_jobs overridden by setting random_state": wanted, for reproducibility
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        xy = reducer.fit_transform(z).astype(np.float32)
    return xy, reducer


def measure_quality(lmap: LatentMap, reducer=None, n_eval: int = 200, seed: int = 0) -> dict:
    """Held-out error of the kNN maps (and of UMAP's own transform/inverse when `reducer` is given).

    Leave-one-out on `n_eval` dataset points: forward error = |xy_hat - xy| / spread of xy; inverse error =
    |z_hat - z| / spread of z (RMS over dims). Also the per-call time of each.
    """
    rng = np.random.default_rng(seed)
    n = len(lmap)
    if n < 4:
        return {}
    ids = rng.choice(n, size=min(n_eval, n), replace=False)
    xy_spread = float(np.sqrt(((lmap.xy - lmap.xy.mean(0)) ** 2).sum(1).mean()))
    z_spread = float(np.sqrt(((lmap.z - lmap.z.mean(0)) ** 2).sum(1).mean()))
    fwd, inv = [], []
    t_fwd = t_inv = 0.0
    for i in ids:
        keep = np.ones(n, bool)
        keep[i] = False
        sub = LatentMap(lmap.z[keep], lmap.xy[keep], [], [], lmap.category[keep], [], lmap.tags[keep], [])
        t = time.perf_counter()
        fwd.append(np.linalg.norm(sub.project(lmap.z[i : i + 1])[0] - lmap.xy[i]) / xy_spread)
        t_fwd += time.perf_counter() - t
        t = time.perf_counter()
        inv.append(np.linalg.norm(sub.unproject(lmap.xy[i : i + 1])[0] - lmap.z[i]) / z_spread)
        t_inv += time.perf_counter() - t
    q = {"n_eval": len(ids), "knn_k": K_NEIGHBOURS,
         "knn_forward_error": float(np.median(fwd)), "knn_inverse_error": float(np.median(inv)),
         "knn_forward_ms": 1e3 * t_fwd / len(ids), "knn_inverse_ms": 1e3 * t_inv / len(ids),
         "errors": "median over leave-one-out points, relative to the RMS spread of xy / z"}
    if reducer is not None:
        m = min(len(ids), 50)  # UMAP's inverse_transform is slow
        sel = ids[:m]
        t = time.perf_counter()
        xy_u = reducer.transform(lmap.z[sel])
        q["umap_transform_ms"] = 1e3 * (time.perf_counter() - t) / m
        q["umap_forward_error"] = float(np.median(np.linalg.norm(xy_u - lmap.xy[sel], axis=1) / xy_spread))
        t = time.perf_counter()
        z_u = reducer.inverse_transform(lmap.xy[sel])
        q["umap_inverse_ms"] = 1e3 * (time.perf_counter() - t) / m
        q["umap_inverse_error"] = float(np.median(np.linalg.norm(z_u - lmap.z[sel], axis=1) / z_spread))
        q["umap_note"] = ("UMAP transform/inverse of training points (not held out: it cannot leave one out "
                          "without refitting), so its errors are optimistic")
    return q


def build_map(z: np.ndarray, names: list[str], banks: list[str], category: np.ndarray,
              category_names: list[str], tags: np.ndarray, tag_pairs: list, method: str = "umap",
              seed: int = 0, measure: bool = True, groups: np.ndarray | None = None,
              params: np.ndarray | None = None) -> tuple[LatentMap, object]:
    """Fit the 2-D projection of `z[N, D]`, predict the missing categories (`groups[N]`: source preset of
    each sound, for the held-out measure) and assemble the map -> (LatentMap, fitted reducer or None)."""
    t = time.perf_counter()
    xy, reducer = fit_projection(z, method, seed)
    meta = {"projection": method, "seed": seed, "fit_seconds": round(time.perf_counter() - t, 2),
            "created": time.strftime("%Y-%m-%d %H:%M:%S")}
    groups = np.arange(len(z)) if groups is None else np.asarray(groups)
    category, predicted, prob, meta["categories"] = classify(z, np.asarray(category), groups,
                                                             list(category_names), seed)
    lmap = LatentMap(z, xy, list(names), list(banks), category, list(category_names),
                     np.asarray(tags), [list(p) for p in tag_pairs], meta, params=params, predicted=predicted,
                     category_p=prob)
    if measure:
        lmap.meta["quality"] = measure_quality(lmap, reducer)
    return lmap, reducer


def export(checkpoint: str, data: str, method: str = "umap", seed: int = 0, device: str | None = None,
           limit: int | None = None) -> LatentMap:
    """Encode every sound of the dataset at `data` with the model at `checkpoint`; write the map beside it."""
    from explorer.data.dataset import load_dataset
    from explorer.models.checkpoint import load_model

    model = load_model(checkpoint, device=device)
    ds = load_dataset(data)
    n = len(ds) if limit is None else min(limit, len(ds))
    t = time.perf_counter()
    z = encode_all(model, ds.mels[:n])
    print(f"encoded {n} sounds in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    rows = ds.index[:n]
    sources = [int(r.get("source", -1)) for r in rows]
    names = variant_names([r["name"] for r in rows], sources, [bool(r.get("augmented")) for r in rows])
    # uniform draws (source -1) are their own group each
    groups = np.array([s if s >= 0 else -1 - i for i, s in enumerate(sources)])
    lmap, reducer = build_map(
        z, names, [r.get("bank", "") for r in rows], np.asarray(ds.category[:n]),
        ds.meta.get("categories", ["other"]), np.asarray(ds.tags[:n]), ds.meta.get("tag_pairs", []), method, seed,
        groups=groups, params=np.asarray(ds.params[:n], np.float32))
    args = [project_path(a) if os.path.exists(a) else a for a in sys.argv[1:]]
    lmap = _finish(lmap, reducer, model, z, checkpoint, data=project_path(data),
                   command="python -m explorer.app.map_export " + " ".join(args))
    if limit is None:  # the matching pipeline's candidate index (train + valid sounds only)
        from explorer.evaluate import candidates

        path = candidates.save(candidates.build(model, ds, z_all=z), os.path.dirname(os.path.abspath(checkpoint)))
        print(f"wrote {path}", file=sys.stderr)
    return lmap


def _finish(lmap: LatentMap, reducer, model, z: np.ndarray, checkpoint: str, **meta) -> LatentMap:
    """Decode every code, record the checkpoint, save the map (and fitted UMAP) next to the checkpoint."""
    lmap.v = decode_all(model, z)
    lmap.meta.update(checkpoint=project_path(checkpoint), checkpoint_sha256=file_sha256(checkpoint), **meta)
    directory = os.path.dirname(os.path.abspath(checkpoint))
    lmap.save(directory)
    if reducer is not None:
        with open(os.path.join(directory, UMAP_PKL), "wb") as f:
            pickle.dump(reducer, f)
    return lmap


def build_debug_map(checkpoint: str, synth, n: int = 48, seed: int = 0, method: str = "pca") -> LatentMap:
    """A tiny map for tests and demos: `n` random parameter vectors rendered with the real synth, encoded
    with the model at `checkpoint`, projected (`pca` by default: no numba), saved next to the checkpoint."""
    from explorer.data.features import log_mel
    from explorer.models.checkpoint import load_model

    model = load_model(checkpoint, device="cpu")
    rng = np.random.default_rng(seed)
    v = rng.random((n, len(model.param_names)), dtype=np.float32)
    audio = synth.render(model.full_params(v))
    z = encode_all(model, log_mel(audio).numpy())
    pairs = [list(p) for p in model.meta.get("tag_pairs", [])]
    cats = ["other", "bass", "pad", "lead"]
    category = rng.integers(0, len(cats), n).astype(np.int16)
    tags = rng.integers(-1, 2, (n, len(pairs))).astype(np.int8)
    names = [f"{cats[c]} {i:03d}" for i, c in enumerate(category)]
    lmap, reducer = build_map(z, names, ["debug"] * n, category, cats, tags, pairs, method, seed, params=v)
    from explorer.evaluate import candidates

    idx = candidates.from_arrays(model, np.arange(n), names, v, log_mel(audio).numpy(), z,
                                 meta={"dataset": "debug renders"})
    candidates.save(idx, os.path.dirname(os.path.abspath(checkpoint)))
    return _finish(lmap, reducer, model, z, checkpoint, data="debug renders")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m explorer.app.map_export", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("export", help="encode a dataset and write the map next to the checkpoint")
    cli.add_checkpoint(ex, required=True)
    ex.add_argument("--data", required=True, help="dataset directory (explorer.data build)")
    ex.add_argument("--projection", default="umap", choices=["umap", "pca"])
    ex.add_argument("--seed", type=int, default=0)
    cli.add_device(ex)
    ex.add_argument("--limit", type=int, default=None, help="only the first N sounds")
    args = ap.parse_args(argv)
    lmap = export(args.checkpoint, args.data, args.projection, args.seed, args.device, args.limit)
    print(json.dumps({"n": len(lmap), "latent_dim": lmap.latent_dim,
                      "written": os.path.dirname(os.path.abspath(args.checkpoint)),
                      "quality": lmap.meta.get("quality", {})}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

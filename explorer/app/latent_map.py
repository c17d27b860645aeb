"""The app's latent map: every dataset sound's latent code and its 2-D projection, export and load.

    python -m explorer.latent_map export --checkpoint checkpoints/flow_dis_16/model.pt --data data/ds16

writes next to the checkpoint:
- `latent_map.npz`: `z` float32 [N, D] (deterministic encodings), `xy` float32 [N, 2] (projection),
  `v` float32 [N, P] (each code decoded to parameters, so selecting a dot needs no decode),
  `category` int16 [N], `tags` int8 [N, n_pairs], `split` uint8 [N];
- `latent_map.json`: names, banks, category names, tag pairs, the projection method and the measured
  quality of the 2-D <-> latent maps (see below), the command;
- `umap.pkl`: the fitted UMAP (when `--projection umap`, the default), for reuse outside the app.

2-D <-> latent maps used by the app (`LatentMap.project` / `unproject`): inverse-distance-weighted k nearest
neighbours over the exported pairs (z_i, xy_i). They are exact at the dataset points (a clicked point gives
back its own code, a dataset code lands on its own dot), need no numba/UMAP import at start, and cost
well under a millisecond. Export measures them against UMAP's own `transform` / `inverse_transform` on
held-out points and stores the figures in `latent_map.json["quality"]`.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

MAP_NPZ = "latent_map.npz"
MAP_JSON = "latent_map.json"
UMAP_PKL = "umap.pkl"
FORMAT_VERSION = 1
K_NEIGHBOURS = 8


@dataclass
class LatentMap:
    z: np.ndarray  # float32 [N, D]
    xy: np.ndarray  # float32 [N, 2]
    names: list[str]
    banks: list[str]
    category: np.ndarray  # int16 [N]
    category_names: list[str]
    tags: np.ndarray  # int8 [N, n_pairs]
    tag_pairs: list[list[str]]  # [negative, positive, descriptor]
    meta: dict = field(default_factory=dict)
    v: np.ndarray | None = None  # float32 [N, P]: each code decoded at export (a dot click needs no decode)

    def __post_init__(self) -> None:
        self.z = np.ascontiguousarray(self.z, np.float32)
        self.xy = np.ascontiguousarray(self.xy, np.float32)
        # scales so that distances in either space weigh every axis alike
        self._z_scale = np.maximum(self.z.std(0), 1e-6) if len(self.z) else np.ones(self.z.shape[1], np.float32)
        self._xy_scale = np.maximum(self.xy.std(0), 1e-6) if len(self.xy) else np.ones(2, np.float32)
        self._zs = self.z / self._z_scale
        self._xys = self.xy / self._xy_scale

    def __len__(self) -> int:
        return len(self.z)

    @property
    def latent_dim(self) -> int:
        return int(self.z.shape[1])

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, xmax, ymin, ymax) with a 5 % margin."""
        lo, hi = self.xy.min(0), self.xy.max(0)
        pad = 0.05 * np.maximum(hi - lo, 1e-3)
        return float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])

    def project(self, z: np.ndarray, k: int = K_NEIGHBOURS) -> np.ndarray:
        """Latent codes `z[B, D]` -> map positions `xy[B, 2]` (IDW over the k nearest dataset codes)."""
        return _idw(self._zs, self.xy, np.atleast_2d(z) / self._z_scale, k)

    def unproject(self, xy: np.ndarray, k: int = K_NEIGHBOURS) -> np.ndarray:
        """Map positions `xy[B, 2]` -> latent codes `z[B, D]` (IDW over the k nearest dataset dots)."""
        return _idw(self._xys, self.z, np.atleast_2d(xy) / self._xy_scale, k)

    def nearest(self, xy: np.ndarray) -> int:
        d = ((self._xys - np.asarray(xy, np.float32)[None] / self._xy_scale) ** 2).sum(1)
        return int(np.argmin(d))

    def save(self, directory: str) -> None:
        extra = {} if self.v is None else {"v": np.asarray(self.v, np.float32)}
        np.savez(os.path.join(directory, MAP_NPZ), z=self.z, xy=self.xy,
                 category=np.asarray(self.category, np.int16), tags=np.asarray(self.tags, np.int8), **extra)
        meta = dict(self.meta, version=FORMAT_VERSION, names=self.names, banks=self.banks,
                    category_names=self.category_names, tag_pairs=self.tag_pairs)
        with open(os.path.join(directory, MAP_JSON), "w") as f:
            json.dump(meta, f)


def _idw(src: np.ndarray, dst: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    """Inverse-squared-distance weighting of `dst` rows over the k nearest `src` rows of each query `q[B, .]`."""
    q = np.asarray(q, np.float32)
    d2 = (q * q).sum(1)[:, None] - 2 * q @ src.T + (src * src).sum(1)[None]
    d2 = np.maximum(d2, 0.0)
    k = min(k, len(src))
    idx = np.argpartition(d2, k - 1, axis=1)[:, :k]
    dk = ((src[idx] - q[:, None, :]) ** 2).sum(-1)  # exact distances of the candidates (no cancellation)
    w = 1.0 / (dk + 1e-9)
    exact = dk < 1e-10  # a query on a dataset point returns that point exactly
    w = np.where(exact.any(1, keepdims=True), exact.astype(np.float32), w)
    w /= w.sum(1, keepdims=True)
    return np.einsum("bk,bkd->bd", w, dst[idx]).astype(np.float32)


def file_sha256(path: str) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def is_stale(lmap: LatentMap, checkpoint: str) -> bool:
    """True when the map was exported for another checkpoint file than `checkpoint` (its codes are stale)."""
    want = lmap.meta.get("checkpoint_sha256")
    return bool(want) and want != file_sha256(checkpoint)


def map_paths(checkpoint: str) -> tuple[str, str]:
    d = os.path.dirname(os.path.abspath(checkpoint))
    return os.path.join(d, MAP_NPZ), os.path.join(d, MAP_JSON)


def load_map(checkpoint: str) -> LatentMap:
    """The map exported next to `checkpoint`. FileNotFoundError says how to make it."""
    npz_path, json_path = map_paths(checkpoint)
    if not (os.path.isfile(npz_path) and os.path.isfile(json_path)):
        raise FileNotFoundError(
            f"no latent map next to {checkpoint}; make one with `python -m explorer.latent_map export "
            f"--checkpoint {checkpoint} --data DATASET_DIR`")
    with open(json_path) as f:
        meta = json.load(f)
    if meta.get("version") != FORMAT_VERSION:
        raise ValueError(f"{json_path}: map format {meta.get('version')} (expected {FORMAT_VERSION})")
    with np.load(npz_path) as a:
        arrays = {k: a[k] for k in a.files}
    return LatentMap(arrays["z"], arrays["xy"], meta.pop("names"), meta.pop("banks"), arrays["category"],
                     meta.pop("category_names"), arrays["tags"], meta.pop("tag_pairs"), meta, arrays.get("v"))


# -- building -------------------------------------------------------------------------------------

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
              seed: int = 0, measure: bool = True) -> tuple[LatentMap, object]:
    """Fit the 2-D projection of `z[N, D]` and assemble the map -> (LatentMap, fitted reducer or None)."""
    t = time.perf_counter()
    xy, reducer = fit_projection(z, method, seed)
    meta = {"projection": method, "seed": seed, "fit_seconds": round(time.perf_counter() - t, 2),
            "created": time.strftime("%Y-%m-%d %H:%M:%S")}
    lmap = LatentMap(z, xy, list(names), list(banks), np.asarray(category), list(category_names),
                     np.asarray(tags), [list(p) for p in tag_pairs], meta)
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
    lmap, reducer = build_map(
        z, [r["name"] for r in ds.index[:n]], [r.get("bank", "") for r in ds.index[:n]],
        np.asarray(ds.category[:n]), ds.meta.get("categories", ["other"]), np.asarray(ds.tags[:n]),
        ds.meta.get("tag_pairs", []), method, seed)
    return _finish(lmap, reducer, model, z, checkpoint, data=os.path.abspath(data),
                   command="python -m explorer.latent_map " + " ".join(sys.argv[1:]))


def _finish(lmap: LatentMap, reducer, model, z: np.ndarray, checkpoint: str, **meta) -> LatentMap:
    """Decode every code, record the checkpoint, save the map (and fitted UMAP) next to the checkpoint."""
    lmap.v = decode_all(model, z)
    lmap.meta.update(checkpoint=os.path.abspath(checkpoint), checkpoint_sha256=file_sha256(checkpoint),
                     **meta)
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
    lmap, reducer = build_map(z, names, ["debug"] * n, category, cats, tags, pairs, method, seed)
    return _finish(lmap, reducer, model, z, checkpoint, data="debug renders")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m explorer.latent_map", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("export", help="encode a dataset and write the map next to the checkpoint")
    ex.add_argument("--checkpoint", required=True)
    ex.add_argument("--data", required=True, help="dataset directory (explorer.data build)")
    ex.add_argument("--projection", default="umap", choices=["umap", "pca"])
    ex.add_argument("--seed", type=int, default=0)
    ex.add_argument("--device", default=None)
    ex.add_argument("--limit", type=int, default=None, help="only the first N sounds")
    args = ap.parse_args(argv)
    lmap = export(args.checkpoint, args.data, args.projection, args.seed, args.device, args.limit)
    print(json.dumps({"n": len(lmap), "latent_dim": lmap.latent_dim,
                      "written": os.path.dirname(os.path.abspath(args.checkpoint)),
                      "quality": lmap.meta.get("quality", {})}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The app's latent map: every dataset sound's latent code and its 2-D projection, and how it is loaded.

Written next to a checkpoint by `python -m explorer.app.map_export export --checkpoint C --data DIR`
(`explorer.app.map_export`):
- `latent_map.npz` (compressed): `z` float32 [N, D] (deterministic encodings), `xy` float32 [N, 2] (projection),
  `v` float32 [N, P] (each code decoded to parameters, so selecting a dot needs no decode),
  `category` int16 [N], `tags` int8 [N, n_pairs], `split` uint8 [N], `params` float32 [N, P] (each
  sound's own parameters in the dataset: the original preset, for A/B), `predicted` bool [N] (category
  predicted from the sound, not read from the name) and `category_p` float16 [N] (its probability);
- `latent_map.json`: names (a preset's variants carry its name: "Pianola ~3"), banks, category names,
  tag pairs, the projection method, the measured quality of the 2-D <-> latent maps (see below), the
  category classifier and its held-out accuracy, the command and the paths (relative to the project);
- `umap.pkl`: the fitted UMAP (when `--projection umap`, the default), for reuse outside the app.

2-D <-> latent maps used by the app (`LatentMap.project` / `unproject`): inverse-distance-weighted k nearest
neighbours over the exported pairs (z_i, xy_i). They are exact at the dataset points (a clicked point gives
back its own code, a dataset code lands on its own dot), need no numba/UMAP import at start, and cost
well under a millisecond. Export measures them against UMAP's own `transform` / `inverse_transform` on
held-out points and stores the figures in `latent_map.json["quality"]`.
"""

from __future__ import annotations

import json
import os
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
    params: np.ndarray | None = None  # float32 [N, P]: the dataset's own parameters (the original preset)
    predicted: np.ndarray | None = None  # bool [N]: category predicted from the sound (not from the name)
    category_p: np.ndarray | None = None  # float [N]: probability of the predicted category

    def category_label(self, i: int) -> str:
        """Category of dot `i` as shown: "pad", or "pad (predicted)" when the classifier chose it."""
        name = self.category_names[int(self.category[i])]
        return f"{name} (predicted)" if self.predicted is not None and self.predicted[i] else name

    def __post_init__(self) -> None:
        self.z = np.ascontiguousarray(self.z, np.float32)
        self.xy = np.ascontiguousarray(self.xy, np.float32)
        # scales so that distances in either space weigh every axis alike
        self._z_scale = np.maximum(self.z.std(0), 1e-6) if len(self.z) else np.ones(self.z.shape[1], np.float32)
        self._xy_scale = np.maximum(self.xy.std(0), 1e-6) if len(self.xy) else np.ones(2, np.float32)
        self._zs = self.z / self._z_scale
        self._xys = self.xy / self._xy_scale
        self._zs_sq, self._xys_sq = (self._zs ** 2).sum(1), (self._xys ** 2).sum(1)  # for _idw, once

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
        return _idw(self._zs, self.xy, np.atleast_2d(z) / self._z_scale, k, self._zs_sq)

    def unproject(self, xy: np.ndarray, k: int = K_NEIGHBOURS) -> np.ndarray:
        """Map positions `xy[B, 2]` -> latent codes `z[B, D]` (IDW over the k nearest dataset dots)."""
        return _idw(self._xys, self.z, np.atleast_2d(xy) / self._xy_scale, k, self._xys_sq)

    def nearest(self, xy: np.ndarray) -> int:
        d = ((self._xys - np.asarray(xy, np.float32)[None] / self._xy_scale) ** 2).sum(1)
        return int(np.argmin(d))

    def save(self, directory: str) -> None:
        extra = {k: np.asarray(a, t) for k, a, t in (("v", self.v, np.float32), ("params", self.params, np.float32),
                                                      ("predicted", self.predicted, bool),
                                                      ("category_p", self.category_p, np.float16)) if a is not None}
        np.savez_compressed(os.path.join(directory, MAP_NPZ), z=self.z, xy=self.xy,
                            category=np.asarray(self.category, np.int16), tags=np.asarray(self.tags, np.int8), **extra)
        meta = dict(self.meta, version=FORMAT_VERSION, names=self.names, banks=self.banks,
                    category_names=self.category_names, tag_pairs=self.tag_pairs)
        with open(os.path.join(directory, MAP_JSON), "w") as f:
            json.dump(meta, f)


def _idw(src: np.ndarray, dst: np.ndarray, q: np.ndarray, k: int, src_sq: np.ndarray | None = None) -> np.ndarray:
    """Inverse-squared-distance weighting of `dst` rows over the k nearest `src` rows of each query `q[B, .]`
    (`src_sq`: the rows' squared norms, when the caller keeps them)."""
    q = np.asarray(q, np.float32)
    src_sq = (src * src).sum(1) if src_sq is None else src_sq
    d2 = (q * q).sum(1)[:, None] - 2 * q @ src.T + src_sq[None]
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
            f"no latent map next to {checkpoint}; make one with `python -m explorer.app.map_export export "
            f"--checkpoint {checkpoint} --data DATASET_DIR`")
    with open(json_path) as f:
        meta = json.load(f)
    if meta.get("version") != FORMAT_VERSION:
        raise ValueError(f"{json_path}: map format {meta.get('version')} (expected {FORMAT_VERSION})")
    with np.load(npz_path) as a:
        arrays = {k: a[k] for k in a.files}
    return LatentMap(arrays["z"], arrays["xy"], meta.pop("names"), meta.pop("banks"), arrays["category"],
                     meta.pop("category_names"), arrays["tags"], meta.pop("tag_pairs"), meta, arrays.get("v"),
                     arrays.get("params"), arrays.get("predicted"), arrays.get("category_p"))

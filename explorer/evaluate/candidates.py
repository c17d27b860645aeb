"""The matching pipeline's candidate index: every rendered dataset sound a match may start from.

Written next to a checkpoint as `match_index.npz` by `python -m explorer.app.map_export export ...` (and so
by `scripts/ship.sh`), or alone by `python -m explorer.evaluate.candidates --checkpoint C --data DIR`; it
is derived from the checkpoint and the dataset, so rebuild it whenever either changes.

Only the **train and valid** splits go in (human presets and their augmentations): the test split's human
presets must stay unseen, or matching the test split would look its answer up. Per sound it stores:
- `rows` int32 [M]: dataset rows; `names` [M]: preset names;
- `params` float16 [M, P]: the set's parameters (every other parameter is the dataset's default, so a
  candidate is re-rendered from these; float16 is ~1e-3 off, far under what a render can hear);
- `z` float16 [M, D]: the model's latent codes (deterministic encodings), for latent-space neighbours;
- `emb` float16 [M, E]: a compact log-mel embedding (the first E principal components of the 64 x 80
  log-mel, fitted on these sounds; `basis` float16 [E, 5120], `mean` float32 [5120]), for log-mel
  neighbours without storing 10k log-mels;
- `loudness_ref` (dB): the median mel loudness of these sounds, the level inputs are brought to.
About 1.5 MB for 9,700 sounds of 16 parameters (E = 32).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass

import numpy as np

INDEX_NPZ = "match_index.npz"
EMBED_DIM = 32
FORMAT_VERSION = 1


@dataclass
class CandidateIndex:
    rows: np.ndarray  # int32 [M]
    names: list[str]
    params: np.ndarray  # float32 [M, P]
    z: np.ndarray | None  # float32 [M, D]
    emb: np.ndarray  # float32 [M, E]
    basis: np.ndarray  # float32 [E, 5120]
    mean: np.ndarray  # float32 [5120]
    loudness_ref: float
    meta: dict

    def __len__(self) -> int:
        return len(self.rows)

    def embed(self, logmel: np.ndarray) -> np.ndarray:
        """Log-mels `[N, 64, 80]` (or one `[64, 80]`) -> embeddings `[N, E]`."""
        x = np.asarray(logmel, np.float32).reshape(-1, self.mean.size)
        return (x - self.mean) @ self.basis.T

    def nearest_logmel(self, logmel: np.ndarray, k: int) -> np.ndarray:
        """Index positions of the `k` sounds whose log-mel is closest to `logmel[64, 80]` (embedding L2)."""
        d = ((self.emb - self.embed(logmel)[0]) ** 2).sum(axis=1)
        return _smallest(d, k)

    def nearest_latent(self, z: np.ndarray, k: int) -> np.ndarray:
        """Index positions of the `k` sounds whose latent code is closest to `z[D]` (per-dim standardised)."""
        if self.z is None or k <= 0:
            return np.zeros(0, int)
        s = self._z_scale()
        d = (((self.z - np.asarray(z, np.float32)) / s) ** 2).sum(axis=1)
        return _smallest(d, k)

    def _z_scale(self) -> np.ndarray:
        return np.maximum(self.z.std(axis=0), 1e-6)

    @property
    def z_std(self) -> np.ndarray:
        return self._z_scale() if self.z is not None else np.ones(1, np.float32)


def _smallest(d: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(d))
    if k <= 0:
        return np.zeros(0, int)
    part = np.argpartition(d, k - 1)[:k]
    return part[np.argsort(d[part])]


def build(model, ds, embed_dim: int = EMBED_DIM, batch: int = 256, z_all: np.ndarray | None = None
          ) -> CandidateIndex:
    """Index of a dataset's train + valid sounds for `model` (a `LoadedModel`; `encode` where it has one).

    `z_all[N, D]`: the codes of every dataset row when the caller has them already (the map export)."""
    from explorer.data.dataset import SPLITS

    rows = np.flatnonzero(np.isin(np.asarray(ds.split), [SPLITS.index("train"), SPLITS.index("valid")]))
    z = np.asarray(z_all, np.float32)[rows] if z_all is not None else None
    meta = {"dataset": os.path.abspath(ds.root), "splits": ["train", "valid"]}
    return from_arrays(model, rows, [ds.index[i]["name"] for i in rows], np.asarray(ds.params[rows], np.float32),
                       np.asarray(ds.mels[rows], np.float32), z, embed_dim, batch, meta)


def from_arrays(model, rows: np.ndarray, names: list[str], params: np.ndarray, mels: np.ndarray,
                z: np.ndarray | None = None, embed_dim: int = EMBED_DIM, batch: int = 256,
                meta: dict | None = None) -> CandidateIndex:
    """Index of sounds given as arrays: `params[M, P]`, log-mels `mels[M, 64, 80]` (codes computed when
    `z` is None and the model has a latent space). `build` and the tests' debug maps use it."""
    import torch

    from explorer.data.features import loudness_db
    from explorer.evaluate.metrics import mel_from_log_mel

    flat = np.asarray(mels, np.float32).reshape(len(mels), -1)  # [M, 5120]
    mean = flat.mean(axis=0)
    rng = np.random.default_rng(0)  # principal axes from a sample: the same directions, a fraction of the cost
    sample = torch.from_numpy(flat[rng.choice(len(flat), size=min(len(flat), 4000), replace=False)] - mean)
    torch.manual_seed(0)
    embed_dim = min(embed_dim, *sample.shape)
    _, _, v = torch.svd_lowrank(sample, q=min(embed_dim + 16, *sample.shape), niter=4)
    basis = v[:, :embed_dim].T.numpy().astype(np.float16).astype(np.float32)
    emb = (flat - mean) @ basis.T
    if z is None and getattr(model.model, "has_latent", False):
        with torch.no_grad():
            z = np.concatenate([model.encode(torch.from_numpy(flat[a: a + batch].reshape(-1, 64, 80))).numpy()
                                for a in range(0, len(flat), batch)])
    loud = loudness_db(mel_from_log_mel(flat.reshape(-1, 64, 80)))
    meta = {"format_version": FORMAT_VERSION, "n": len(rows), "embed_dim": int(embed_dim),
            "param_names": list(model.param_names), "model": model.name, **(meta or {})}
    return CandidateIndex(np.asarray(rows, np.int32), list(names), np.asarray(params, np.float32),
                          None if z is None else np.asarray(z, np.float32), emb.astype(np.float32), basis,
                          mean.astype(np.float32), float(np.median(loud)), meta)


def save(index: CandidateIndex, directory: str) -> str:
    path = os.path.join(directory, INDEX_NPZ)
    arrays = {"rows": index.rows, "names": np.asarray(index.names), "params": index.params.astype(np.float16),
              "emb": index.emb.astype(np.float16), "basis": index.basis.astype(np.float16),
              "mean": index.mean.astype(np.float32), "loudness_ref": np.float64(index.loudness_ref),
              "meta": np.asarray(json.dumps(index.meta))}
    if index.z is not None:
        arrays["z"] = index.z.astype(np.float16)
    np.savez_compressed(path, **arrays)
    return path


def load(directory_or_checkpoint: str) -> CandidateIndex | None:
    """The index next to a checkpoint (its folder or its `model.pt`); None when there is none."""
    d = directory_or_checkpoint
    if os.path.isfile(d):
        d = os.path.dirname(os.path.abspath(d))
    path = os.path.join(d, INDEX_NPZ)
    if not os.path.isfile(path):
        return None
    f = np.load(path, allow_pickle=False)
    z = f["z"].astype(np.float32) if "z" in f.files else None
    return CandidateIndex(f["rows"], [str(s) for s in f["names"]], f["params"].astype(np.float32), z,
                          f["emb"].astype(np.float32), f["basis"].astype(np.float32), f["mean"].astype(np.float32),
                          float(f["loudness_ref"]), json.loads(str(f["meta"])))


def export(checkpoint: str, data: str, device: str | None = None) -> str:
    """Build the index for the checkpoint at `checkpoint` from the dataset at `data`; save it beside it."""
    from explorer.data.dataset import load_dataset
    from explorer.models.checkpoint import load_model

    model = load_model(checkpoint, device=device)
    ds = load_dataset(data)
    if list(model.param_names) != list(ds.meta["param_names"]):
        raise ValueError(f"{checkpoint} and {data} hold different parameter sets")
    return save(build(model, ds), os.path.dirname(os.path.abspath(checkpoint)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m explorer.evaluate.candidates", description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--data", required=True, help="dataset directory (only its train + valid splits are used)")
    ap.add_argument("--device", default=None)
    args = ap.parse_args(argv)
    path = export(args.checkpoint, args.data, args.device)
    print(f"wrote {path} ({os.path.getsize(path) / 1e6:.2f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

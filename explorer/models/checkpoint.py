"""Checkpoints: a plain dict that loads with `torch.load(path, weights_only=True)`, and the one loader
`load_model(path, device=None) -> LoadedModel` used by the app, the evaluation and the tests.

Keys: format_version, model (registry name), config (dataclass as dict), param_names, param_indices,
param_steps, default_values, stats {mean, std}, tag_pairs, semantic_dims, state_dict, train.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from explorer.models import REGISTRY, SynthModel, build_model, make_config

FORMAT_VERSION = 1
DEFAULT_TAG_PAIRS = [["dark", "bright", "centroid"], ["clean", "dirty", "flatness"],
                     ["constant", "moving", "flux"]]


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, not a checkpoint, or of an unsupported format version."""


def _plain(x: Any) -> Any:
    """Convert numpy scalars/arrays and tuples to plain Python so weights_only loading accepts them."""
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    return x


def checkpoint_dict(name: str, model: SynthModel, meta: dict[str, Any],
                    train: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the checkpoint dict from a model and a dataset's meta.json content (see ARCHITECTURE.md)."""
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return {
        "format_version": FORMAT_VERSION,
        "model": name,
        "config": _plain(model.cfg.to_dict()),
        "param_names": _plain(meta["param_names"]),
        "param_indices": _plain(meta["param_indices"]),
        "param_steps": _plain(meta["param_steps"]),
        "default_values": _plain(meta["default_values"]),
        "stats": {"mean": float(meta["stats"]["mean"]), "std": float(meta["stats"]["std"])},
        "tag_pairs": _plain(meta.get("tag_pairs", [])),
        "semantic_dims": list(model.semantic_dims),
        "state_dict": state,
        "train": _plain(train or {}),
    }


def save_checkpoint(path: str | os.PathLike, ckpt: dict[str, Any]) -> Path:
    """Write atomically (tmp + rename) so a reader never sees a half-written model.pt."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(ckpt, tmp)
    os.replace(tmp, path)
    return path


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load and validate the raw dict. Raises FileNotFoundError / CheckpointError with the path."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle / zip errors vary by torch version
        raise CheckpointError(f"not a checkpoint: {path} ({type(e).__name__}: {e})") from e
    if not isinstance(ckpt, dict) or "format_version" not in ckpt or "state_dict" not in ckpt:
        raise CheckpointError(f"not a checkpoint: {path} (no format_version / state_dict)")
    if ckpt["format_version"] != FORMAT_VERSION:
        raise CheckpointError(f"unsupported checkpoint format version {ckpt['format_version']!r} in {path} "
                              f"(this code reads version {FORMAT_VERSION})")
    if ckpt.get("model") not in REGISTRY:
        raise CheckpointError(f"unknown model {ckpt.get('model')!r} in {path}")
    return ckpt


class LoadedModel:
    """A trained model plus everything needed to use it on raw log-mels and plugin parameters.

    Inputs may be tensors or numpy arrays on any device; outputs are float32 CPU tensors (no grad).
    """

    def __init__(self, ckpt: dict[str, Any], device: str | torch.device | None = None) -> None:
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.name: str = ckpt["model"]
        self.model: SynthModel = build_model(self.name, ckpt["config"])
        self.model.load_state_dict(ckpt["state_dict"])
        self.model.to(self.device).eval()
        self.meta: dict[str, Any] = {k: v for k, v in ckpt.items() if k != "state_dict"}
        self.param_names: list[str] = list(ckpt["param_names"])
        self.param_indices: list[int] = [int(i) for i in ckpt["param_indices"]]
        self.default_values = np.asarray(ckpt["default_values"], dtype=np.float32)
        self.latent_dim: int = self.model.latent_dim
        self.mean, self.std = float(ckpt["stats"]["mean"]), float(ckpt["stats"]["std"])
        pairs = ckpt.get("tag_pairs", [])
        self.semantic: list[tuple[int, str, str]] = [
            (int(d), str(pairs[k][0]), str(pairs[k][1])) for k, d in enumerate(ckpt.get("semantic_dims", []))
        ]
        self.steer = None  # a `explorer.models.steer.Steerer`, set by `load_model` when there is one
        self.switches = None  # a `explorer.models.switch_head.Switches`, set by `load_model` when there is one

    def _t(self, x: Tensor | np.ndarray) -> Tensor:
        return torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x).to(self.device, torch.float32)

    def _spec(self, logmel: Tensor | np.ndarray) -> Tensor:
        """Raw log-mel `[B, 64, 80]` (or `[B, 1, 64, 80]`, or one `[64, 80]`) -> normalised `[B, 1, 64, 80]`."""
        x = self._t(logmel)
        if x.ndim == 2:
            x = x[None]
        if x.ndim == 3:
            x = x[:, None]
        return (x - self.mean) / self.std

    def _need_latent(self) -> None:
        if not self.model.has_latent:
            raise ValueError(f"model {self.name!r} has no latent space (baselines only support infer)")

    @torch.no_grad()
    def encode(self, logmel: Tensor | np.ndarray) -> Tensor:
        """Raw log-mel `Tensor[B, 64, 80]` -> z `Tensor[B, D]` (posterior mean through the flows)."""
        self._need_latent()
        return self.model.encode(self._spec(logmel)).float().cpu()

    @torch.no_grad()
    def decode(self, z: Tensor | np.ndarray) -> Tensor:
        """z `Tensor[B, D]` -> v `Tensor[B, P]` in [0, 1]."""
        self._need_latent()
        return self.model.decode(self._t(z)).float().cpu()

    @torch.no_grad()
    def reconstruct(self, z: Tensor | np.ndarray) -> Tensor:
        """z `Tensor[B, D]` -> the auto-encoder's own log-mel `Tensor[B, 64, 80]` (raw, not normalised): what
        the model expects the sound to look like, without rendering it."""
        self._need_latent()
        x = self.model.decoder(self._t(z)).float().cpu()
        return x.reshape(x.shape[0], *x.shape[-2:]) * self.std + self.mean

    @torch.no_grad()
    def params_to_latent(self, v: Tensor | np.ndarray) -> Tensor:
        """v `Tensor[B, P]` in [0, 1] -> z `Tensor[B, D]` through the inverse regression flow."""
        if not self.model.invertible:
            raise ValueError(f"model {self.name!r} has no invertible regressor: params_to_latent needs "
                             "flow_reg or flow_dis")
        return self.model.params_to_latent(self._t(v)).float().cpu()

    @torch.no_grad()
    def infer(self, logmel: Tensor | np.ndarray) -> Tensor:
        """Raw log-mel `Tensor[B, 64, 80]` -> v `Tensor[B, P]` in [0, 1] (every model)."""
        return self.model.infer(self._spec(logmel)).float().cpu()

    def full_params(self, v: Tensor | np.ndarray) -> np.ndarray:
        """v `[B, P]` (or `[P]`) -> all plugin parameters `np.ndarray[B, n_plugin]` (others at defaults)."""
        v = np.asarray(v.detach().cpu() if torch.is_tensor(v) else v, dtype=np.float32)
        v = np.atleast_2d(v)
        out = np.tile(self.default_values, (v.shape[0], 1))
        out[:, self.param_indices] = np.clip(v, 0.0, 1.0)
        return out

    def predict_full(self, logmel: Tensor | np.ndarray) -> np.ndarray:
        """Raw log-mel `[B, 64, 80]` -> the model's prediction as all plugin parameters `np.ndarray[B, n_plugin]`:
        its own set from `infer`, the stepped parameters outside it from the switch head when there is one
        (`explorer.models.switch_head`), the rest at defaults."""
        full = self.full_params(self.infer(logmel))
        if self.switches is None:
            return full
        x = self._t(logmel)
        return self.switches.apply(self, x if x.ndim == 3 else x[None], full)

    def __repr__(self) -> str:
        return f"LoadedModel({self.name!r}, P={len(self.param_names)}, D={self.latent_dim}, device={self.device})"


def load_model(path: str | os.PathLike, device: str | torch.device | None = None, switches: bool = True
               ) -> LoadedModel:
    """Load a checkpoint written by `explorer.models.train` (or `make_debug_checkpoint`). CUDA if available.
    A `steer.pt` beside it (`explorer.models.steer`) for the same parameters becomes `.steer`, a
    `switches.pt` (`explorer.models.switch_head`) fitted on this model's encoder `.switches` (unless
    `switches` is False: what fitting a new head starts from)."""
    from explorer.models import switch_head
    from explorer.models.steer import FILE_NAME, Steerer

    model = LoadedModel(read_checkpoint(path), device)
    steer_path = Path(path).with_name(FILE_NAME)
    if steer_path.is_file():
        steer = Steerer.load(steer_path)
        if steer.param_names != model.param_names:
            raise CheckpointError(f"{steer_path} steers {len(steer.param_names)} other parameters than "
                                  f"{path} ({len(model.param_names)}); refit it for this model's set")
        model.steer = steer
    head_path = Path(path).with_name(switch_head.FILE_NAME)
    if switches and head_path.is_file():
        try:
            head = switch_head.Switches.load(head_path)
        except switch_head.SwitchHeadError as e:
            raise CheckpointError(str(e)) from e
        if head.blob.get("encoder_sha") != switch_head.encoder_sha(model):
            raise CheckpointError(f"{head_path} was fitted on another model's encoder than {path}; fit it again "
                                  "with python -m explorer.evaluate.switch_train")
        model.switches = head
    return model


def make_debug_checkpoint(path: str | os.PathLike, n_params: int = 16, n_plugin: int = 41,
                          tag_pairs: list[list[str]] | None = None, seed: int = 0) -> Path:
    """Write a tiny random `debug` model (Flow_dis architecture) in the real checkpoint format.

    Parameter names are `param_00`...; indices are the first `n_params` plugin parameters; defaults 0.5.
    For fast tests of code that consumes checkpoints; its outputs are meaningless but deterministic.
    """
    if n_params > n_plugin:
        raise ValueError(f"n_params ({n_params}) > n_plugin ({n_plugin})")
    pairs = [list(p) for p in (DEFAULT_TAG_PAIRS if tag_pairs is None else tag_pairs)]
    pairs = [p if len(p) >= 3 else p + ["none"] for p in pairs]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model("debug", make_config("debug", n_params=n_params, n_pairs=len(pairs)))
        # flows start at the identity; randomise them so the debug model is a non-trivial bijection
        for flow in (model.iaf, model.dis, model.regressor.maf):
            flow.randomize()
    meta = {
        "param_names": [f"param_{i:02d}" for i in range(n_params)],
        "param_indices": list(range(n_params)),
        "param_steps": [0] * n_params,
        "default_values": [0.5] * n_plugin,
        "stats": {"mean": -4.0, "std": 2.5},
        "tag_pairs": pairs,
    }
    train = {"command": "make_debug_checkpoint", "time": time.strftime("%Y-%m-%d %H:%M:%S"),
             "epochs": 0, "metrics": {}}
    return save_checkpoint(path, checkpoint_dict("debug", model, meta, train))

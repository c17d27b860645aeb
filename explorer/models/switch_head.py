"""The stepped parameters a model's set leaves out (waveforms, filter type, ...), predicted from the sound.

A model of 16 or 30 continuous parameters leaves the others at the plugin's initial preset (for amsynth:
saw waves, low-pass filter); its prediction alone cannot sound like a clarinet's odd harmonics or a "tss".
The matching pipeline's switch step (`explorer.evaluate.discrete`) finds better values by rendering; this
head learns to predict them without rendering, so the model alone picks them too. A small MLP on the
model's own frozen encoder features (the layer under its latent head, standardised) gives one softmax per
stepped parameter; it is trained with cross-entropy on labels the switch step found from the model's
prediction for sounds from outside the dataset (`explorer.evaluate.switch_train`, which also writes the
file), keeping the epoch of lowest held-out cross-entropy.

`switches.pt` beside `model.pt` is loaded by `explorer.models.checkpoint.load_model` (as `.switches`) and
used by `LoadedModel.predict_full`: the model's prediction from a sound as all plugin parameters. It holds:
`format`, `param_indices`, `steps`, `param_names`, `n_in`, `hidden`, `state_dict`, `encoder_sha` (the
encoder weights it was fitted on: a file for another model is refused), `epoch`, `held_out_cross_entropy`,
`held_out_accuracy`, `held_out` (mean log-mel L1 of the held-out sounds: model alone, with the head, with
the search), `labels`, `command`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

FILE_NAME = "switches.pt"
FORMAT = 1


class SwitchHeadError(ValueError):
    """A labels or head file that is missing, malformed, or made for another model."""


def _need_encoder(model) -> None:
    if not hasattr(model.model, "encoder"):
        raise SwitchHeadError(f"model {model.name!r} has no encoder: the switch head needs an auto-encoder family")


def encoder_sha(model) -> str:
    """Fingerprint of a `LoadedModel`'s encoder weights (what the head's inputs depend on)."""
    _need_encoder(model)
    h = hashlib.sha1()
    for k, v in sorted(model.model.encoder.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def features(model, logmel: np.ndarray | Tensor, batch: int = 256) -> Tensor:
    """Raw log-mels `[N, 64, 80]` -> the model's frozen encoder features `Tensor[N, H]`."""
    _need_encoder(model)
    with torch.no_grad():
        return torch.cat([model.model.encoder(model._spec(logmel[a:a + batch])).float().cpu()
                          for a in range(0, len(logmel), batch)])


class SwitchHead(nn.Module):
    """Encoder features `[B, H]` -> logits `[B, sum(steps)]`, one softmax block per stepped parameter. The
    features are first standardised with the training features' mean and std (buffers, set by `fit`)."""

    def __init__(self, n_in: int, steps: list[int], hidden: int = 128, dropout: float = 0.2) -> None:
        super().__init__()
        self.steps = [int(s) for s in steps]
        self.offsets = np.concatenate([[0], np.cumsum(self.steps)]).astype(int)
        self.register_buffer("mu", torch.zeros(n_in))
        self.register_buffer("sd", torch.ones(n_in))
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(n_in, hidden), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, int(sum(self.steps))))

    def forward(self, f: Tensor) -> Tensor:
        return self.net((f - self.mu) / self.sd)

    def loss(self, logits: Tensor, y: Tensor) -> Tensor:
        """Sum over parameters of the mean cross-entropy; `y` `[B, S]` step indices, or (float) target
        probabilities `[B, sum(steps)]`, one block per parameter."""
        o = self.offsets
        if y.is_floating_point():
            return sum(F.cross_entropy(logits[:, o[k]:o[k + 1]], y[:, o[k]:o[k + 1]]) for k in range(len(self.steps)))
        return sum(F.cross_entropy(logits[:, o[k]:o[k + 1]], y[:, k]) for k in range(len(self.steps)))

    def classes(self, logits: Tensor) -> np.ndarray:
        """Logits -> the most likely step of each parameter `np.ndarray[B, S]`."""
        o = self.offsets
        return np.stack([logits[:, o[k]:o[k + 1]].argmax(1).numpy() for k in range(len(self.steps))], 1)


class Switches:
    """A fitted head bound to one model: `apply(model, logmel, full)` sets the stepped values it predicts."""

    def __init__(self, blob: dict) -> None:
        self.blob = blob
        self.param_indices = [int(i) for i in blob["param_indices"]]
        self.steps = [int(s) for s in blob["steps"]]
        self.param_names = list(blob["param_names"])
        self.head = SwitchHead(int(blob["n_in"]), self.steps, int(blob["hidden"]))
        self.head.load_state_dict(blob["state_dict"])
        self.head.eval()

    @classmethod
    def load(cls, path: str | Path) -> Switches:
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # any unreadable file is the same error to the user
            raise SwitchHeadError(f"{path}: cannot read a switch head ({e})") from e
        if not isinstance(blob, dict) or blob.get("format") != FORMAT:
            raise SwitchHeadError(f"{path}: not a switch head file (format {FORMAT})")
        try:
            return cls(blob)
        except (KeyError, RuntimeError, TypeError, ValueError) as e:
            raise SwitchHeadError(f"{path}: a malformed switch head ({e}); fit it again with "
                                  "python -m explorer.evaluate.switch_train") from e

    def values(self, model, logmel: np.ndarray | Tensor) -> np.ndarray:
        """Predicted values in [0, 1] `np.ndarray[B, S]` (step k of n -> k / (n - 1))."""
        with torch.no_grad():
            cls = self.head.classes(self.head(features(model, logmel)))
        return cls / (np.asarray(self.steps) - 1)

    def apply(self, model, logmel: np.ndarray | Tensor, full: np.ndarray) -> np.ndarray:
        out = np.array(full, copy=True)
        out[:, self.param_indices] = self.values(model, logmel)
        return out


def read_labels(paths: list[str], sha: str) -> dict[str, np.ndarray]:
    """Label files (`label`'s output) for the model of encoder fingerprint `sha`, concatenated."""
    parts = []
    for p in paths:
        try:
            f = np.load(p, allow_pickle=False)
            part = {k: f[k] for k in ("mels", "target_mels", "notes", "valid", "y", "param_indices", "steps",
                                      "param_names", "l1_model", "l1_search", "l1_values", "encoder_sha")}
        except (OSError, KeyError, ValueError) as e:
            raise SwitchHeadError(f"{p}: not a label file of `python -m explorer.evaluate.switch_train label` ({e})") from e
        if str(part["encoder_sha"]) != sha:
            raise SwitchHeadError(f"{p}: labelled with another model's predictions; label again with this checkpoint")
        if parts and not np.array_equal(part["param_indices"], parts[0]["param_indices"]):
            raise SwitchHeadError(f"{p}: other stepped parameters than {paths[0]}")
        parts.append(part)
    out = {k: np.concatenate([p[k] for p in parts]) for k in ("mels", "target_mels", "notes", "valid", "y",
                                                              "l1_model", "l1_search", "l1_values")}
    out["source"] = np.concatenate([np.full(len(p["y"]), k) for k, p in enumerate(parts)])  # index into `paths`
    return {**out, **{k: parts[0][k] for k in ("param_indices", "steps", "param_names")}}


# --- fit ------------------------------------------------------------------------------------------------
def soft_targets(labels: dict[str, np.ndarray], tau: float) -> np.ndarray:
    """Target probabilities `[N, sum(steps)]`: per parameter, softmax(-(L1 - best L1) / tau) over the log-mel
    L1 of each value the label's pass tried (`l1_values`): values that sounded nearly as good share the mass."""
    out = np.zeros_like(labels["l1_values"], dtype=np.float64)
    o = np.concatenate([[0], np.cumsum(labels["steps"])]).astype(int)
    for k in range(len(o) - 1):
        block = labels["l1_values"][:, o[k]:o[k + 1]].astype(np.float64)
        w = np.exp(-(block - block.min(1, keepdims=True)) / tau)
        out[:, o[k]:o[k + 1]] = w / w.sum(1, keepdims=True)
    return out.astype(np.float32)


def fit(model, labels: dict[str, np.ndarray], epochs: int = 60, hidden: int = 128, lr: float = 1e-3,
        tau: float = 0.0, seed: int = 0, log=print) -> tuple[SwitchHead, dict]:
    """Train the head on the labels' training sounds (`tau` > 0: on `soft_targets`, else on the kept
    values); keep the epoch of lowest held-out cross-entropy."""
    valid = labels["valid"].astype(bool)
    if valid.all() or not valid.any():
        raise SwitchHeadError(f"the labels need training and held-out sounds ({valid.sum()} of {len(valid)} held out)")
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    f = features(model, labels["mels"])
    y = torch.from_numpy(soft_targets(labels, tau) if tau > 0 else labels["y"].astype(np.int64))
    tr, va = torch.from_numpy(~valid), torch.from_numpy(valid)
    head = SwitchHead(f.shape[1], [int(s) for s in labels["steps"]], hidden)
    opt = torch.optim.AdamW(head.parameters(), lr, weight_decay=1e-2)
    ftr, ytr = f[tr], y[tr]
    head.mu.copy_(ftr.mean(0))
    head.sd.copy_(ftr.std(0).clamp_min(1e-6))
    best: dict = {"loss": float("inf")}
    for epoch in range(epochs):
        head.train()
        perm = torch.randperm(len(ftr), generator=gen)
        for a in range(0, len(ftr), 32):
            j = perm[a:a + 32]
            opt.zero_grad()
            head.loss(head(ftr[j]), ytr[j]).backward()
            opt.step()
        head.eval()
        with torch.no_grad():
            held = head.loss(head(f[va]), y[va]).item()
        if held < best["loss"]:
            best = {"loss": held, "epoch": epoch + 1, "state": {k: v.clone() for k, v in head.state_dict().items()}}
        if (epoch + 1) % 10 == 0:
            log(f"  epoch {epoch + 1}: held-out cross-entropy {held:.3f} (best {best['loss']:.3f}, epoch {best['epoch']})")
    head.load_state_dict(best["state"])
    head.eval()
    with torch.no_grad():
        cls = head.classes(head(f[va]))
    acc = float((cls == labels["y"][valid]).mean())
    return head, {"epoch": best["epoch"], "held_out_cross_entropy": best["loss"], "held_out_accuracy": acc}

"""The sounds an evaluation scores every row on: a dataset split or a folder of audio files.

`dataset_targets` uses the stored log-mels (`mels.npy`; their linear mels are recovered as `exp(x) - 1e-3`)
and the ground-truth parameters; `audio_targets` reads every audio file of a folder (`read_clip`: mono,
22,050 Hz, 4 s, optionally shifted to note 60). `spread` picks N sounds evenly (same N, same sounds).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import numpy as np
import torch

from explorer.data.audio_input import AUDIO_EXTS, AudioInputError, list_audio, read_clip
from explorer.data.features import LOG_EPS, MelConfig, mel
from explorer.evaluate import metrics


class EvalError(RuntimeError):
    """Bad arguments or inputs (mismatched checkpoint and dataset, empty folder, ...)."""


def audio_files(folder: str) -> list[str]:
    """Audio files directly in `folder`, sorted; `EvalError` when there is no such folder or no file."""
    if not os.path.isdir(folder):
        raise EvalError(f"{folder}: not a folder")
    files = list_audio(folder)
    if not files:
        raise EvalError(f"{folder}: no audio files ({', '.join(AUDIO_EXTS)})")
    return files


def spread(indices: np.ndarray, limit: int | None) -> np.ndarray:
    """At most `limit` of `indices`, spread evenly (deterministic)."""
    if limit is None or limit >= len(indices):
        return indices
    return indices[np.unique(np.linspace(0, len(indices) - 1, limit).round().astype(int))]


@dataclass
class Targets:
    """The sounds every row is scored on."""

    names: list[str]
    logmel: torch.Tensor  # [N, 64, 80] log(mel + 1e-3)
    power: torch.Tensor  # [N, 64, 80] linear power mel (float64)
    params: np.ndarray | None = None  # [N, P] ground-truth set parameters (dataset targets only)
    audio: np.ndarray | None = None  # [N, T] (audio targets only)
    extra: dict = field(default_factory=dict)


def dataset_targets(ds, split: str, limit: int | None) -> Targets:
    """Targets from a dataset split (stored log-mels and parameters)."""
    idx = spread(ds.indices(split), limit)
    if len(idx) == 0:
        raise EvalError(f"{ds.root}: split {split!r} is empty")
    logmel = torch.from_numpy(np.asarray(ds.mels[idx], dtype=np.float32))
    names = [f"{ds.index[i]['name']} [{i}]" for i in idx]
    return Targets(names, logmel, metrics.mel_from_log_mel(logmel), np.asarray(ds.params[idx], np.float64),
                   extra={"indices": idx.tolist()})


def audio_targets(folder: str, cfg: MelConfig, n_samples: int, limit: int | None,
                  pitch_shift: bool) -> Targets:
    """Targets from the audio files of a folder (unreadable ones are reported and skipped)."""
    files = audio_files(folder)
    files = [files[i] for i in spread(np.arange(len(files)), limit)]
    names, audio = [], []
    for f in files:
        try:
            audio.append(read_clip(f, cfg.sample_rate, n_samples, pitch_shift))
            names.append(os.path.basename(f))
        except AudioInputError as exc:
            print(f"skipped: {exc}", file=sys.stderr)
    if not audio:
        raise EvalError(f"{folder}: no readable audio files")
    a = np.stack(audio)
    power = mel(a, cfg).double()
    return Targets(names, torch.log(power + LOG_EPS).float(), power, None, a)

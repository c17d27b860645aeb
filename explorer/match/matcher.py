"""Match audio files with synth presets: `python -m explorer.match FILE_OR_FOLDER... --out DIR`.

    python -m explorer.match sound.wav other.flac sketches/ --out matched/ [--checkpoint C] [--refine 200]

For each input (a folder stands for the audio files directly in it): read it (soundfile: wav, flac, ogg,
aiff; mp3 where this libsndfile decodes it), mix to mono, resample to 22,050 Hz, trim or pad to 4 s
(`--pitch-shift` first moves a detected pitch to note 60), compute the log-mel, infer the parameters with
the model, optionally refine them with CMA-ES (`--refine N` renders, `explorer.evaluate.refine`), render, and write
into `--out`:
- `NAME.bank`: an amsynth bank holding the one preset (load it in amsynth: Preset > Import/Open bank);
- `NAME.json`: the preset as JSON (`explorer.synth.presets.preset_json`: normalised, raw and display values per
  parameter) plus the source file, the checkpoint and the SC;
- `NAME.wav`: the resynthesised sound (22,050 Hz, 4 s).
Each line printed gives the spectral convergence of the resynthesis (SC, linear mel magnitude; 1.0 is what
silence scores) and the log-mel L1. An unreadable file prints one line naming the file and the reason; the
others are still processed. Exit status 0 only when every input succeeded.

`--checkpoint` defaults to `$EXPLORER_CHECKPOINT`, else the first of `checkpoints/{flow_reg,flow_dis}*16*/
model.pt`, else any `checkpoints/*/model.pt`.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from typing import Self

import numpy as np
import soundfile as sf
import torch

from explorer import cli
from explorer.data.audio_input import AUDIO_EXTS, AudioInputError, read_clip
from explorer.data.features import LOG_EPS, MelConfig, mel
from explorer.evaluate import metrics
from explorer.evaluate.refine import add_refine_arguments

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def default_checkpoint() -> str:
    """`$EXPLORER_CHECKPOINT`, else a Flow_reg/Flow_dis 16-parameter model under checkpoints/, else any."""
    env = os.environ.get("EXPLORER_CHECKPOINT")
    if env:
        return env
    for pattern in ("flow_reg*16*/model.pt", "flow_dis*16*/model.pt", "flow_reg*/model.pt", "*/model.pt", "*.pt"):
        found = sorted(glob.glob(os.path.join(ROOT, "checkpoints", pattern)))
        if found:
            return found[0]
    raise FileNotFoundError("no checkpoint given and none found under checkpoints/ "
                            "(train one with `python -m explorer.models.train`, or pass --checkpoint)")


def expand_inputs(inputs: list[str]) -> list[str]:
    """Files stay, folders become their audio files (sorted); unknown paths stay (reported when read)."""
    out: list[str] = []
    for p in inputs:
        if os.path.isdir(p):
            out += sorted(os.path.join(p, f) for f in os.listdir(p) if f.lower().endswith(AUDIO_EXTS))
        else:
            out.append(p)
    return out


def _safe_stem(path: str) -> str:
    stem = os.path.splitext(os.path.basename(path))[0]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "sound"


@dataclass
class MatchResult:
    source: str
    name: str
    v_full: np.ndarray  # [n_plugin] normalised
    sc: float
    logmel_l1: float
    sc_model: float  # SC before refinement (== sc without --refine)
    seconds: float
    files: dict[str, str]


class Matcher:
    """Model + synth + parameter map, loaded once; `match_file` per input (timed by benchmarks/match_speed.py)."""

    def __init__(self, checkpoint: str | None = None, workers: int | None = None, device: str | None = None,
                 torch_threads: int | None = 1):
        """`torch_threads` (process-wide, None leaves it): one thread is fastest for one 4 s sound at a time,
        most of all on a busy machine (measured 0.15 s vs 0.43 s per file with 2 threads at load 6)."""
        from explorer.models.checkpoint import load_model

        if torch_threads:
            torch.set_num_threads(torch_threads)
        from explorer.synth.host import Synth
        from explorer.synth.presets import ParamMap

        self.checkpoint = checkpoint or default_checkpoint()
        self.model = load_model(self.checkpoint, device=device)
        self.synth = Synth(workers=workers)
        self.pmap = ParamMap.from_synth(self.synth)
        self.cfg = MelConfig(sample_rate=self.synth.settings.sample_rate)

    def close(self) -> None:
        self.synth.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def match_audio(self, audio: np.ndarray, refine: int = 0, seed: int = 0, loss: str = "mix"
                    ) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
        """Prepared `audio[T]` (22,050 Hz, 4 s) -> (`v_full[n_plugin]`, rendered `audio[T]`, scores)."""
        target_power = mel(audio[None], self.cfg)  # [1, 64, 80]
        logmel = torch.log(target_power + LOG_EPS)
        v_full = self.model.full_params(self.model.infer(logmel))[0].astype(np.float64)
        out = self.synth.render_one(v_full)
        out_power = mel(out[None], self.cfg)
        sc_model = float(metrics.spectral_convergence(target_power, out_power)[0])
        if refine:
            from explorer.evaluate.refine import refine as run_refine

            v_full, _ = run_refine(self.synth, logmel[0], v_full, self.model.param_indices, refine, seed=seed,
                                   loss=loss)
            out = self.synth.render_one(v_full)
            out_power = mel(out[None], self.cfg)
        scores = {"sc": float(metrics.spectral_convergence(target_power, out_power)[0]),
                  "logmel_l1": float(metrics.log_mel_l1(target_power, out_power)[0]), "sc_model": sc_model}
        return v_full, out, scores

    def match_file(self, path: str, out_dir: str, name: str | None = None, refine: int = 0,
                   pitch_shift: bool = False, seed: int = 0, loss: str = "mix") -> MatchResult:
        """Match one file and write NAME.bank / NAME.json / NAME.wav into `out_dir`. Raises AudioInputError."""
        from explorer.synth.presets import preset_json, write_bank

        t0 = time.perf_counter()
        s = self.synth.settings
        audio = read_clip(path, s.sample_rate, s.n_samples, pitch_shift)
        if float(np.abs(audio).max()) < 1e-5:
            raise AudioInputError(f"{os.path.basename(path)}: the audio is silent (nothing to match)")
        v_full, out, scores = self.match_audio(audio, refine, seed, loss)
        name = name or _safe_stem(path)
        os.makedirs(out_dir, exist_ok=True)
        files = {k: os.path.join(out_dir, f"{name}.{k}") for k in ("bank", "json", "wav")}
        write_bank(files["bank"], [(name, self.pmap.to_raw(v_full))])
        preset = preset_json(name, v_full, self.pmap, self.synth.texts(v_full))
        preset.update({"source": os.path.abspath(path), "checkpoint": self.checkpoint, "model": self.model.name,
                       "refine": refine, **scores})
        with open(files["json"], "w") as f:
            json.dump(preset, f, indent=1)
        sf.write(files["wav"], out, s.sample_rate, subtype="PCM_16")
        return MatchResult(path, name, v_full, scores["sc"], scores["logmel_l1"], scores["sc_model"],
                           time.perf_counter() - t0, files)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m explorer.match", description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="+", help="audio files or folders of audio files")
    ap.add_argument("--out", required=True, help="output folder")
    cli.add_checkpoint(ap, "model checkpoint (default: see module docstring)")
    add_refine_arguments(ap, "refine each match with N CMA-ES renders")
    ap.add_argument("--pitch-shift", action="store_true", help="shift a detected pitch to note 60 first")
    cli.add_workers(ap)
    args = ap.parse_args(argv)

    paths = expand_inputs(args.inputs)
    if not paths:
        print("error: no audio files in the given inputs", file=sys.stderr)
        return 2
    try:
        matcher = Matcher(args.checkpoint, args.workers)
    except Exception as exc:  # noqa: BLE001 - checkpoint / plugin problems end the run with one line
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = 0
    used: set[str] = set()
    with matcher:
        for path in paths:
            name = _safe_stem(path)
            k = 2
            while name in used:  # same stem from two folders: keep both
                name = f"{_safe_stem(path)}-{k}"
                k += 1
            used.add(name)
            try:
                r = matcher.match_file(path, args.out, name, args.refine, args.pitch_shift, args.seed,
                                       args.refine_loss)
            except AudioInputError as exc:
                failed += 1
                print(f"FAILED {exc}", file=sys.stderr)  # the message names the file
                continue
            except Exception as exc:  # noqa: BLE001 - one bad input must not stop the others
                failed += 1
                print(f"FAILED {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
                continue
            extra = f" (model {r.sc_model:.3f} before refine)" if args.refine else ""
            print(f"{path}: SC {r.sc:.3f}{extra}, log-mel L1 {r.logmel_l1:.3f}, {r.seconds:.2f} s -> "
                  f"{r.files['bank']}")
    print(f"{len(paths) - failed}/{len(paths)} matched into {args.out}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""Match audio files with synth presets: `python -m explorer.match FILE_OR_FOLDER... --out DIR`.

    python -m explorer.match sound.wav other.flac sketches/ --out matched/ [--checkpoint C]
                             [--budget 200 | --budget 100,3s | --fast]

For each input (a folder stands for the audio files directly in it) the matching pipeline
(`explorer.evaluate.pipeline`) runs: read (soundfile: wav, flac, ogg, aiff; mp3 where this libsndfile decodes
it), mix to mono, resample to 22,050 Hz, 4 s; float samples outside [-1, 1] scaled to peak 1 (said);
brought to the dataset's loudness (gain printed); pitch detected (CREPE) -- then candidates (the model's
prediction from the input moved to note 60, the nearest sounds of the model's dataset in log-mel and latent
space from the index next to the checkpoint, latent neighbours of the best), each rendered with the real
synth at the input's own note and scored against the input; the synth's stepped parameters outside the
model's set (waveforms, filter type, ...) tried on the best; and refinement from the best
(Levenberg-Marquardt on the log-mel, CMA-ES when it stalls).
Budgets: default the switches (31 renders for amsynth) and 300 refine renders, at most 4.5 s per sound;
`--budget N` renders, `--budget Ns` seconds, `--budget N,Ms` both; `--fast` renders the candidates only
(about 0.3 s). Written into `--out`:
- `NAME.bank`: an amsynth bank holding the best preset (load it in amsynth: Preset > Import/Open bank);
  it plays the matched sound at the input's note (`note` in the JSON);
- `NAME.json`: the best preset as JSON (`explorer.synth.presets.preset_json`: normalised, raw and display
  values) plus the source file, the checkpoint, its scores, the conditioning (f0, note, gain) and the
  ranked candidates (`candidates`: kind, name, scores, values);
- `NAME.wav`: the best preset rendered at the input's note (22,050 Hz, 4 s).
Each line printed gives the SC of the best (linear mel magnitude; 1.0 is what silence scores), its log-mel
L1, what it came from and the time. An unreadable file prints one line naming the file and the reason; the
others are still processed. Exit status 0 only when every input succeeded.

`--checkpoint` defaults to `$EXPLORER_CHECKPOINT`, else the first of `checkpoints/{flow_reg,flow_dis}*16*/
model.pt`, else any `checkpoints/*/model.pt`. Without a candidate index next to it (`match_index.npz`, built
by `python -m explorer.app.map_export export`) only the model's candidates are used (a warning says so).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass
from typing import Self

import soundfile as sf
import torch

from explorer import cli
from explorer.data.audio_input import AUDIO_EXTS, AudioInputError
from explorer.data.features import MelConfig
from explorer.evaluate.pipeline import (
    DEFAULT,
    Budget,
    Candidate,
    MatchPipeline,
    MatchResult,
    parse_budget,
)

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
class MatchFile:
    source: str
    name: str
    result: MatchResult
    seconds: float
    files: dict[str, str]

    @property
    def best(self) -> Candidate:
        return self.result.best


class Matcher:
    """Model + synth + candidate index + parameter map, loaded once; `match_file` per input."""

    def __init__(self, checkpoint: str | None = None, workers: int | None = None, device: str | None = None,
                 torch_threads: int | None = 1, index: bool = True):
        """`torch_threads` (process-wide, None leaves it): one thread is fastest for one 4 s sound at a time,
        most of all on a busy machine (measured 0.15 s vs 0.43 s per file with 2 threads at load 6)."""
        from explorer.evaluate import candidates
        from explorer.models.checkpoint import load_model
        from explorer.synth.host import Synth
        from explorer.synth.presets import ParamMap

        if torch_threads:
            torch.set_num_threads(torch_threads)
        self.checkpoint = checkpoint or default_checkpoint()
        self.model = load_model(self.checkpoint, device=device)
        self.index = candidates.load(self.checkpoint) if index else None
        if index and self.index is None:
            print(f"warning: no {candidates.INDEX_NPZ} next to {self.checkpoint}: matching from the model's "
                  f"candidates only (build it: python -m explorer.app.map_export export --checkpoint "
                  f"{self.checkpoint} --data DIR)", file=sys.stderr)
        self.synth = Synth(workers=workers)
        self.pmap = ParamMap.from_synth(self.synth)
        self.cfg = MelConfig(sample_rate=self.synth.settings.sample_rate)
        self.pipeline = MatchPipeline(self.model, self.synth, self.index, self.cfg)
        from explorer.data.conditioning import warm_up

        warm_up(self.cfg.sample_rate)  # CREPE + librosa's first call (~10 s cold) here, not in a file's time cap

    def close(self) -> None:
        self.synth.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def match_file(self, path: str, out_dir: str, name: str | None = None, budget: Budget = DEFAULT,
                   progress=None) -> MatchFile:
        """Match one file and write NAME.bank / NAME.json / NAME.wav into `out_dir`. Raises AudioInputError."""
        from explorer.data.conditioning import condition_file
        from explorer.synth.presets import preset_json, write_bank

        t0 = time.perf_counter()
        s = self.synth.settings
        cond = condition_file(path, s.sample_rate, s.n_samples, self.pipeline.loudness_ref, s.note)
        res = self.pipeline.match_audio(cond.audio, s.sample_rate, budget, progress, conditioned=cond, t0=t0)
        best = res.best
        name = name or _safe_stem(path)
        os.makedirs(out_dir, exist_ok=True)
        files = {k: os.path.join(out_dir, f"{name}.{k}") for k in ("bank", "json", "wav")}
        write_bank(files["bank"], [(name, self.pmap.to_raw(best.full))])
        preset = preset_json(name, best.full, self.pmap, self.synth.texts(best.full))
        preset.update({
            "source": os.path.abspath(path), "checkpoint": self.checkpoint, "model": self.model.name,
            **best.scores, "kind": best.kind, "from": best.name, "note": res.note,
            "f0": cond.f0, "gain_db": round(cond.gain_db, 2), "messages": cond.messages,
            "budget": asdict(budget), "renders": res.renders, "seconds": round(res.seconds, 3),
            "candidates": [{"rank": i + 1, "kind": c.kind, "name": c.name, **c.scores,
                            "values": [round(float(x), 5) for x in c.full[self.model.param_indices]]}
                           for i, c in enumerate(res.candidates)],
        })
        with open(files["json"], "w") as f:
            json.dump(preset, f, indent=1)
        sf.write(files["wav"], best.audio, s.sample_rate, subtype="PCM_16")
        return MatchFile(path, name, res, time.perf_counter() - t0, files)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m explorer.match", description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="+", help="audio files or folders of audio files")
    ap.add_argument("--out", required=True, help="output folder")
    cli.add_checkpoint(ap, "model checkpoint (default: see module docstring)")
    ap.add_argument("--budget", help="N refine renders, Ns seconds per sound, or N,Ms (default 300,4.5s)")
    ap.add_argument("--fast", action="store_true", help="the candidates only, no refinement (about 0.3 s)")
    cli.add_workers(ap)
    args = ap.parse_args(argv)
    cli.one_blas_thread()
    try:
        budget = parse_budget(args.budget, args.fast)
    except ValueError as exc:
        ap.error(str(exc))

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
                r = matcher.match_file(path, args.out, name, budget)
            except AudioInputError as exc:
                failed += 1
                print(f"FAILED {exc}", file=sys.stderr)  # the message names the file
                continue
            except Exception as exc:  # noqa: BLE001 - one bad input must not stop the others
                failed += 1
                print(f"FAILED {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
                continue
            for msg in r.result.conditioned.messages:
                print(f"note: {msg}", file=sys.stderr)
            b, c = r.best, r.result.conditioned
            print(f"{path}: SC {b.scores['sc']:.3f}, log-mel L1 {b.scores['logmel_l1']:.3f} ({b.kind}: {b.name}; "
                  f"{c.describe()}; {r.result.renders} renders, {r.seconds:.2f} s) -> {r.files['bank']}")
    print(f"{len(paths) - failed}/{len(paths)} matched into {args.out}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""Rows of the matching pipeline in `python -m explorer.evaluate ... --match fast,50,200,default`.

Each budget gives a row `match:<budget>`, scored on the same targets as every other row of the command:
- `model`: `pipeline.MODEL_ONLY`, the model's prediction alone (no index candidates, no search), with the
  pipeline's input handling: for audio targets, the model alone as the app and `explorer.match` use it;
- `fast`: `pipeline.FAST` (the candidates only, no renders beyond them);
- a number N: the default candidates, then N refine renders, no wall-time cap (so results do not depend on
  the machine's load); `default`: `pipeline.DEFAULT` (300 renders, capped at 4.5 s per sound); `N@S`: the
  default pipeline with N refine renders, capped at S seconds per sound (e.g. `400@4.8`).
Dataset targets are matched at note 60 from their stored log-mel. Audio targets (`--audio`) are first
conditioned (`explorer.data.conditioning`): brought to the dataset's loudness and their pitch detected;
with `--match` *every* row of the command is scored against that loudness-normalised target, and the match
rows render at the detected note while the encoder and the log-mel index see the copy moved to note 60.
The conditioning time is added to the match rows' seconds per sound.
The candidate index (`explorer.evaluate.candidates`, next to the checkpoint) holds the train + valid
splits only: test sounds are never candidates.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, replace

import numpy as np
import torch

from explorer.data.features import LOG_EPS, mel
from explorer.evaluate.pipeline import (
    DEFAULT,
    FAST,
    MODEL_ONLY,
    Budget,
    MatchPipeline,
    parse_budget,
)
from explorer.evaluate.targets import EvalError, Targets


def parse_budgets(text: str | None) -> list[tuple[str, Budget]]:
    out = []
    for b in (text or "").split(","):
        b = b.strip()
        if not b:
            continue
        if b == "fast":
            out.append(("fast", FAST))
        elif b == "model":
            out.append(("model", MODEL_ONLY))
        elif b == "default":
            out.append(("default", DEFAULT))
        elif b.isdigit():
            out.append((b, Budget(renders=int(b), seconds=None)) if int(b) else ("fast", FAST))
        elif b.count("@") == 1:  # N@S: explorer.match's "--budget N,Ss"
            renders, seconds = b.split("@")
            try:
                out.append((b, parse_budget(f"{renders},{seconds.rstrip('s')}s")))
            except ValueError:
                raise EvalError(f"--match: unknown budget {b!r} (renders@seconds such as 400@4.8)") from None
        else:
            raise EvalError(f"--match: unknown budget {b!r} (model, fast, default, a number of renders, or "
                            "renders@seconds such as 400@4.8: the default pipeline with those caps)")
    return out


def load_index(checkpoint: str):
    from explorer.evaluate import candidates

    index = candidates.load(checkpoint)
    if index is None:
        raise EvalError(f"no {candidates.INDEX_NPZ} next to {checkpoint}: build it with `python -m "
                        f"explorer.app.map_export export --checkpoint {checkpoint} --data DIR`")
    return index


def condition_targets(t: Targets, index, settings, cfg) -> Targets:
    """Audio targets -> loudness-normalised targets at their own pitch (+ encoder log-mels, notes, gains)."""
    from explorer.data.conditioning import condition

    t0 = time.perf_counter()
    conds = [condition(a, settings.sample_rate, settings.n_samples, index.loudness_ref, settings.note, name=n)
             for a, n in zip(t.audio, t.names, strict=True)]
    audio = np.stack([c.audio for c in conds])
    power = mel(audio, cfg).double()
    enc = torch.log(mel(np.stack([c.encoder_audio for c in conds]), cfg) + LOG_EPS)
    extra = dict(t.extra, encoder_logmel=enc, notes=[c.note for c in conds], gain_db=[c.gain_db for c in conds],
                 f0=[c.f0 for c in conds], condition_seconds=(time.perf_counter() - t0) / len(conds))
    return replace(t, logmel=torch.log(power + LOG_EPS).float(), power=power, audio=audio, extra=extra)


def match_rows(model, synth, index, t: Targets, budgets: list[tuple[str, Budget]], cfg, quiet: bool = False
               ) -> list[dict]:
    from explorer.evaluate.rows import _row, score

    pipe = MatchPipeline(model, synth, index, cfg)
    n = len(t.names)
    enc = t.extra.get("encoder_logmel", t.logmel)
    notes = t.extra.get("notes", [synth.settings.note] * n)
    extra_s = float(t.extra.get("condition_seconds", 0.0))
    rows = []
    for name, budget in budgets:
        t0 = time.time()
        fulls, powers, secs, kinds = [], [], [], []
        for i in range(n):
            r = pipe.match_target(t.logmel[i], enc[i], notes[i], budget)
            fulls.append(r.best.full)
            powers.append(mel(r.best.audio[None], cfg)[0])
            secs.append(r.seconds + extra_s)
            kinds.append(r.best.kind)
            if not quiet:
                print(f"match:{name} {i + 1}/{n}: log-mel L1 {r.best.scores['logmel_l1']:.3f} SC "
                      f"{r.best.scores['sc']:.3f} ({r.best.kind}, {r.seconds:.2f} s)", file=sys.stderr)
        full = np.stack(fulls)
        values = score(t, None, full[:, model.param_indices], cfg, out_power=torch.stack(powers))
        values["seconds"] = np.asarray(secs)
        won = {k: kinds.count(k) for k in sorted(set(kinds))}
        rows.append(_row(f"match:{name}", "match", values, time.time() - t0, model=model.name,
                         budget=asdict(budget),
                         budget_text=budget.describe(), seconds_per_sound=round(float(np.mean(secs)), 3),
                         seconds_per_sound_max=round(float(np.max(secs)), 3), best_kind=won,
                         index={"n": len(index), "splits": index.meta.get("splits")}))
    return rows

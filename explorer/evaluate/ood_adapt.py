"""Build an unlabelled adaptation set: `python -m explorer.evaluate.ood_adapt --out DIR --index CHECKPOINT`.

Sounds from the same two outside sources as the out-of-domain test set (`explorer.evaluate.ood`) but none of
its sounds: the General MIDI programs that set does not use, at several notes and velocities, and vocal
sketches with texts it does not use, spoken by many espeak-ng voices. No synth parameters exist for them;
training uses them through the surrogate's spectral term only (`--set adapt=DIR/adapt.npz`, see
`explorer.models.adapt`), so the model learns presets that sound like what it hears outside the dataset.

Every sound goes through the matching pipeline's own conditioning (`explorer.data.conditioning`: loudness
to the candidate index's reference, pitch detected and the encoder's copy moved to note 60); the set stores
the log-mel of that encoder copy (what the model sees and what the surrogate predicts, both at note 60).
`adapt.npz`: `mels float32 [N, 64, 80]` (log-mel, not normalised), `target_mels float32 [N, 64, 80]` (the
log-mel of the loudness-normalised sound at its own pitch, what the matching pipeline scores against),
`notes int [N]` (the detected MIDI note), `names [N]`, `kind [N]` ("gm" / "voice"),
`valid bool [N]` (a held-out slice: the trainer reports the spectral term on it, and selects on it).

With `--label`, every sound also gets parameters: those of its `--fast` match by the `--index` checkpoint's
matching pipeline (the model's prediction and the index's nearest sounds, rendered with the real synth at
the sound's note and scored against it; the best kept): `params float32 [N, P]` and their `label_l1`. The
trainer then also uses the sounds as ordinary examples (`explorer.models.adapt`): the model learns to
predict, alone, what retrieval and rendering found.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

import numpy as np
import soundfile as sf

from explorer.data.conditioning import condition
from explorer.data.features import MelConfig, log_mel
from explorer.evaluate import candidates
from explorer.evaluate.ood import (
    GM_PROGRAMS,
    N_SAMPLES,
    SAMPLE_RATE,
    VOCAL_SKETCHES,
    render_gm,
    render_voice,
)
from explorer.evaluate.pipeline import FAST, MatchPipeline

ADAPT_NPZ = "adapt.npz"
GM_NOTES = (48, 57, 64, 72)
GM_VELOCITIES = (70, 100, 120)
# texts of vocal imitations; none is one of the test set's (checked in `voice_specs`)
TEXTS = (
    "hoooooo haaaaa", "ahhhhhhhhhh", "uuuuuuuuuuh", "ohhhhhhhhhh", "iiiiiiiiiii", "shhhhhhhhhhh",
    "ffffffffffff", "sssssssssss", "nnnnnnnnnnnn", "hmmmmmmmmmm", "doo doo doo doo", "ba ba ba ba",
    "da da da da", "ti ti ti ti", "ding dong ding", "beep beep beep", "whoooooosh", "vrrrrrrooom",
    "zoooooooom", "yeeeeeeah", "aaaa ooooo aaaa", "eeee aaaa", "oooh aaah oooh", "weeeeeeoooo",
    "bwaaaaaaa", "dum dum dum", "pffffffff", "chhhhhhhhh", "ha ha ha ha", "tuuuuuuut",
    "wuh wuh wuh wuh", "nyaaaaaaa", "gnnnnnnnng", "ooo ooo ooo", "aye aye aye", "mmmm aaaaa",
)
VOICES = ("en", "en+m1", "en+m2", "en+m3", "en+m4", "en+m5", "en+m6", "en+m7", "en+f1", "en+f2", "en+f3",
          "en+f4", "en+f5", "en+croak", "en+whisper", "de", "fr", "it", "es", "nl")


def gm_specs() -> list[tuple[int, int, int]]:
    """(program, note, velocity) for every GM program the test set does not use."""
    used = {p for p, _ in GM_PROGRAMS}
    return [(p, n, GM_VELOCITIES[(p + i) % len(GM_VELOCITIES)]) for p in range(128) if p not in used
            for i, n in enumerate(GM_NOTES)]


def voice_specs(n: int, seed: int = 0) -> list[tuple[str, str, int, int]]:
    """`n` (text, voice, words per minute, pitch) drawn with `seed`; no text is one of the test set's."""
    test_texts = {t for t, *_ in VOCAL_SKETCHES}
    clash = test_texts.intersection(TEXTS)
    if clash:
        raise ValueError(f"adaptation texts overlap the test set: {sorted(clash)}")
    rng = np.random.default_rng(seed)
    return [(TEXTS[rng.integers(len(TEXTS))], VOICES[rng.integers(len(VOICES))], int(rng.integers(40, 120)),
             int(rng.integers(15, 80))) for _ in range(n)]


def build(out: str, ref_db: float, n_voices: int = 420, seed: int = 0, valid_fraction: float = 0.15,
          limit: int | None = None, log=print, label=None) -> dict:
    """Render, condition and store the set in `out` (adapt.npz + manifest.json); returns the manifest.
    `label`: a `MatchPipeline` whose `--fast` match of each sound gives it parameters (pseudo-labels)."""
    os.makedirs(out, exist_ok=True)
    gm = [("gm", f"gm{p:03d}_n{n}_v{v}", (p, n, v)) for p, n, v in gm_specs()]
    voices = [("voice", f"voice{k:03d}_{spec[1].replace('+', '-')}", spec)
              for k, spec in enumerate(voice_specs(n_voices, seed))]
    if limit:  # a spread of GM programs and notes, and the first voices
        gm = gm[:: max(1, len(gm) // max(1, limit // 2))][: limit // 2]
        voices = voices[: limit - len(gm)]
    jobs = gm + voices
    mels, targets, names, kinds, notes, labels, label_l1 = [], [], [], [], [], [], []
    cfg = MelConfig()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "x.wav")
        for k, (kind, name, spec) in enumerate(jobs):
            if kind == "gm":
                program, note, velocity = spec
                render_gm(program, path, note=note, velocity=velocity)
            else:
                render_voice(*spec, path)
            audio, _ = sf.read(path, dtype="float32")
            if float(np.abs(audio).max()) < 1e-4:
                log(f"  skipped {name}: silent")
                continue
            c = condition(audio, SAMPLE_RATE, N_SAMPLES, ref_db, name=name)
            mels.append(log_mel(c.encoder_audio, cfg)[0].numpy())
            targets.append(log_mel(c.audio, cfg)[0].numpy())
            names.append(name)
            kinds.append(kind)
            notes.append(c.note)
            if label is not None:  # the best of the model's prediction and the index's nearest sounds, rendered
                best = label.match_audio(c.audio, SAMPLE_RATE, FAST, conditioned=c).best
                labels.append(best.full[label.model.param_indices])
                label_l1.append(best.scores["logmel_l1"])
            if (k + 1) % 50 == 0:
                log(f"  {k + 1}/{len(jobs)} sounds")
    rng = np.random.default_rng(seed + 1)
    valid = rng.random(len(names)) < valid_fraction
    extra = {} if label is None else {"params": np.stack(labels).astype(np.float32),
                                      "label_l1": np.asarray(label_l1, np.float32)}
    np.savez_compressed(os.path.join(out, ADAPT_NPZ), mels=np.stack(mels).astype(np.float32),
                        target_mels=np.stack(targets).astype(np.float32), notes=np.asarray(notes, np.int64),
                        names=np.asarray(names), kind=np.asarray(kinds), valid=valid, **extra)
    manifest = {"command": "python -m explorer.evaluate.ood_adapt " + " ".join(sys.argv[1:]), "n": len(names),
                "gm": kinds.count("gm"), "voice": kinds.count("voice"), "valid": int(valid.sum()),
                "ref_db": ref_db, "seed": seed, "detected_notes": dict(zip(names, notes, strict=True)),
                "labels": None if label is None else {"by": "explorer.evaluate.pipeline FAST",
                                                      "mean_logmel_l1": float(np.mean(label_l1))},
                "excluded": {"gm_programs": sorted(p for p, _ in GM_PROGRAMS),
                             "texts": sorted(t for t, *_ in VOCAL_SKETCHES)}}
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--index", required=True, help="checkpoint (or its folder) whose candidate index gives the "
                    "loudness the sounds are brought to")
    ap.add_argument("--voices", type=int, default=420, help="number of vocal sketches")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, help="at most this many sounds (a spread over the set; tests)")
    ap.add_argument("--label", action="store_true", help="give every sound the parameters of its --fast match "
                    "by the --index checkpoint's pipeline (its prediction and the index's nearest sounds, "
                    "rendered and scored): pseudo-labels the trainer then uses like dataset examples")
    args = ap.parse_args(argv)
    index = candidates.load(args.index)
    if index is None:
        raise SystemExit(f"{args.index}: no candidate index ({candidates.INDEX_NPZ}) next to it")
    if not args.label:
        m = build(args.out, index.loudness_ref, args.voices, args.seed, limit=args.limit)
    else:
        from explorer.models.checkpoint import load_model
        from explorer.synth.host import Synth

        ck = args.index if args.index.endswith(".pt") else os.path.join(args.index, "model.pt")
        with Synth() as synth:
            pipe = MatchPipeline(load_model(ck), synth, index)
            m = build(args.out, index.loudness_ref, args.voices, args.seed, limit=args.limit, label=pipe)
    print(f"wrote {m['n']} sounds ({m['gm']} GM, {m['voice']} voices; {m['valid']} held out) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

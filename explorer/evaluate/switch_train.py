"""Label and fit the switch head (`explorer.models.switch_head`): the stepped parameters a model leaves out.

    python -m explorer.evaluate.switch_train label --checkpoint C --adapt DIR/adapt.npz --out L.npz
    python -m explorer.evaluate.switch_train label --checkpoint C --data data/ds30 --out D.npz
    python -m explorer.evaluate.switch_train fit --checkpoint C --labels L.npz D.npz --out DIR/switches.pt

`label`: for every sound of an adaptation set (`explorer.evaluate.ood_adapt`: GM instruments and vocal
sketches from outside the dataset and outside the out-of-domain test set), the checkpoint's prediction from
the encoder's note-60 copy is rendered at the sound's own note and scored against it, as the matching
pipeline does (sets built before `target_mels` and `notes` were stored: at note 60 against the copy), and
the pipeline's switch pass (`explorer.evaluate.discrete`) searches the stepped parameters outside the
model's set; the values it keeps are the sound's labels, and the L1 of every value it tried is kept too
(soft targets). The file keeps the set's log-mels, targets, notes and held-out flags, the labels, the mean
log-mel L1 of the model alone and after the search, and the encoder fingerprint of the model.
`label --data`: sounds of the model's own dataset (train split; valid split held out) labelled with the values
they were rendered with, so the head leaves the synth's own sounds as they are: fitted on the outside sounds
alone, the head lowered `flow_reg_30`'s model-alone log-mel L1 out of domain (1.137 -> 1.058) but raised it
on the 30-parameter test split (0.486 -> 0.563); with 2,000 + 333 dataset sounds beside them, 1.082 and 0.486.
`fit`: `explorer.models.switch_head.fit` on the labels' training sounds, then the held-out sounds rendered
three ways (the model alone, with the head, with the search); their mean log-mel L1 goes into the file.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

import numpy as np
import torch

from explorer.data.features import MelConfig, mel
from explorer.evaluate import discrete, metrics
from explorer.evaluate.refine import render_scores
from explorer.models import switch_head
from explorer.models.checkpoint import load_model
from explorer.synth.host import Synth

# soft-target temperature: the note-60 labels of data/adapt30 (812 sounds, 116 held out) gave held-out L1
# 1.200 with the kept values (tau 0), 1.176 / 1.168 / 1.183 / 1.177 with tau 0.03 / 0.1 / 0.3 / 1 (model
# alone 1.257, search 1.073)
TAU = 0.1


def label(model, synth, mels: np.ndarray, targets: np.ndarray, notes: np.ndarray, log=print) -> dict[str, np.ndarray]:
    """The switch step's pass from the model's prediction for each encoder log-mel `mels[N, 64, 80]`, rendered
    at `notes[N]` and scored against `targets[N, 64, 80]`: the values it keeps (`y [N, S]`) and the log-mel
    L1 of every value it tried (`l1_values [N, sum(steps)]`, each parameter's block in step order; the
    value it had when tried scored at the running best)."""
    params = discrete.searchable(synth.params, model.param_indices)
    if not params:
        raise switch_head.SwitchHeadError("the plugin has no stepped parameters outside the model's set: nothing to label")
    y, l1_model, l1_search, l1_values, t0 = [], [], [], [], time.time()
    for i, x in enumerate(mels):
        target, note = torch.from_numpy(np.asarray(targets[i], np.float32)), int(notes[i])

        def l1(rows, target=target, note=note):  # as the pipeline scores its candidates
            return render_scores(synth, target, rows, note)[1]["logmel_l1"]

        start = model.full_params(model.infer(x[None])).astype(np.float64)
        best = [float(l1(start)[0])]
        blocks = []

        def score(rows, best=best, blocks=blocks):  # one call per parameter, in `params` order
            p = params[len(blocks)]
            got, block = np.asarray(l1(rows), np.float64), np.full(p.steps, best[-1])
            block[np.rint(rows[:, p.index] * (p.steps - 1)).astype(int)] = got
            blocks.append(block)
            best.append(min(best[-1], float(got.min())))
            return got

        full, found, _ = discrete.coordinate_pass(start[0], best[0], params, score)
        y.append([int(np.rint(full[p.index] * (p.steps - 1))) for p in params])
        l1_model.append(best[0])
        l1_search.append(found)
        l1_values.append(np.concatenate(blocks))
        if (i + 1) % 100 == 0:
            log(f"  {i + 1}/{len(mels)}: model {np.mean(l1_model):.3f}, search {np.mean(l1_search):.3f} "
                f"({time.time() - t0:.0f} s)")
    return {"y": np.asarray(y, np.int64), "param_indices": np.asarray([p.index for p in params]),
            "steps": np.asarray([p.steps for p in params]), "param_names": np.asarray([p.name for p in params]),
            "l1_model": np.asarray(l1_model, np.float32), "l1_search": np.asarray(l1_search, np.float32),
            "l1_values": np.asarray(l1_values, np.float32)}


def dataset_labels(model, synth, data: str, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Labels for `n` sounds of a dataset's train split and `n // 6` of its valid split (held out): the
    stepped values the sounds were rendered with (for a dataset of the model's own set: the defaults), so
    the head keeps the synth's own sounds as they are. Soft targets are one-hot (`l1_values` 0 at the value,
    1 elsewhere); `l1_model` is the model's prediction rendered at note 60, `l1_search` the same with the
    sound's own stepped values."""
    from explorer.data.dataset import load_dataset

    ds = load_dataset(data)
    if ds.full_params.shape[1] != len(synth.params):
        raise switch_head.SwitchHeadError(f"{data}: {ds.full_params.shape[1]} plugin parameters, the synth has "
                                          f"{len(synth.params)}")
    rng = np.random.default_rng(seed)
    pick = [np.sort(rng.choice(ds.indices(k), min(m, len(ds.indices(k))), replace=False))
            for k, m in (("train", n), ("valid", max(1, n // 6)))]
    rows = np.concatenate(pick)
    params = discrete.searchable(synth.params, model.param_indices)
    mels = np.asarray(ds.mels[rows], np.float32)
    y = np.stack([np.rint(ds.full_params[rows, p.index] * (p.steps - 1)).astype(np.int64) for p in params], 1)
    blocks = [np.where(np.arange(p.steps)[None] == y[:, [k]], 0.0, 1.0) for k, p in enumerate(params)]
    start = model.full_params(model.infer(mels)).astype(np.float64)
    own = start.copy()
    own[:, [p.index for p in params]] = y / (np.asarray([p.steps for p in params]) - 1)
    cfg, target = MelConfig(sample_rate=synth.settings.sample_rate), metrics.mel_from_log_mel(torch.from_numpy(mels))
    l1_start = metrics.log_mel_l1(target, mel(synth.render(start, chunk=16), cfg))
    l1_own = l1_start.copy()  # rendered again only where the sound's own stepped values differ from the start's
    differ = np.flatnonzero(np.any(own != start, axis=1))
    if len(differ):
        l1_own[differ] = metrics.log_mel_l1(target[differ], mel(synth.render(own[differ], chunk=16), cfg))
    return {"mels": mels, "target_mels": mels, "notes": np.full(len(rows), synth.settings.note, np.int64),
            "valid": np.arange(len(rows)) >= len(pick[0]), "y": y,
            "param_indices": np.asarray([p.index for p in params]), "steps": np.asarray([p.steps for p in params]),
            "param_names": np.asarray([p.name for p in params]), "l1_model": np.asarray(l1_start, np.float32),
            "l1_search": np.asarray(l1_own, np.float32), "l1_values": np.concatenate(blocks, 1).astype(np.float32)}


def held_out_l1(model, synth, labels: dict[str, np.ndarray], head: switch_head.SwitchHead) -> dict[str, float]:
    """Mean log-mel L1 on the held-out sounds (rendered at their notes): the model alone, with the head,
    with the labels' values; in all and per label file (`by_file`, in `labels["source"]` order)."""
    valid = labels["valid"].astype(bool)
    mels = labels["mels"][valid]
    with torch.no_grad():
        cls = head.classes(head(switch_head.features(model, mels)))
    full = model.full_params(model.infer(mels)).astype(np.float64)
    full[:, [int(i) for i in labels["param_indices"]]] = cls / (labels["steps"].astype(np.float64) - 1)
    cfg, notes = MelConfig(sample_rate=synth.settings.sample_rate), labels["notes"][valid]
    power = torch.zeros(len(full), cfg.n_mels, cfg.frames, dtype=torch.float64)
    for note in np.unique(notes):
        at = np.flatnonzero(notes == note)
        # a head's pick the plugin crashes on counts as the silence it plays
        power[at] = mel(synth.render(full[at], chunk=8, note=int(note), failed=[]), cfg).double()
    head_l1 = metrics.log_mel_l1(metrics.mel_from_log_mel(torch.from_numpy(labels["target_mels"][valid])), power)
    head_l1, source = np.asarray(head_l1), labels["source"][valid]

    def means(at):
        return {"sounds": int(at.sum()), "model": float(labels["l1_model"][valid][at].mean()),
                "head": float(head_l1[at].mean()), "search": float(labels["l1_search"][valid][at].mean())}

    return {**means(np.ones(len(source), bool)), "by_file": [means(source == k) for k in np.unique(source)]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("label", help="label an adaptation set's sounds with the switch step's values")
    a.add_argument("--checkpoint", required=True)
    src = a.add_mutually_exclusive_group(required=True)
    src.add_argument("--adapt", help="adapt.npz of `python -m explorer.evaluate.ood_adapt`: the switch search's values")
    src.add_argument("--data", help="a dataset folder: its sounds' own stepped values (see dataset_labels)")
    a.add_argument("--out", required=True, help="labels file (.npz)")
    a.add_argument("--limit", type=int, help="--adapt: the first N sounds only (tests); --data: N train sounds "
                   "and N / 6 valid ones (default 2000)")
    b = sub.add_parser("fit", help="fit the head on label files; writes switches.pt")
    b.add_argument("--checkpoint", required=True)
    b.add_argument("--labels", required=True, nargs="+")
    b.add_argument("--out", required=True, help=f"the head file (the app loads {switch_head.FILE_NAME} beside model.pt)")
    b.add_argument("--epochs", type=int, default=60)
    b.add_argument("--hidden", type=int, default=128)
    b.add_argument("--tau", type=float, default=TAU, help="> 0: train on soft targets, softmax(-(L1 - best) / "
                   "tau) over the L1 of the values each pass tried; 0: on the values it kept")
    args = ap.parse_args(argv)
    model = load_model(args.checkpoint, "cpu", switches=False)  # labels and a new head start from the model alone
    sha = switch_head.encoder_sha(model)
    if args.cmd == "label" and args.data:
        with Synth() as synth:
            try:
                out = dataset_labels(model, synth, args.data, args.limit or 2000)
            except (OSError, ValueError) as e:
                raise SystemExit(f"{args.data}: {e}") from None
        np.savez_compressed(args.out, encoder_sha=np.asarray(sha), **out)
        print(f"wrote {len(out['y'])} labelled dataset sounds to {args.out}: mean log-mel L1, model "
              f"{out['l1_model'].mean():.3f}, with their own stepped values {out['l1_search'].mean():.3f}")
        return 0
    if args.cmd == "label":
        try:
            f = np.load(args.adapt, allow_pickle=False)
            mels, valid = np.asarray(f["mels"], np.float32), np.asarray(f["valid"], bool)
            if "target_mels" in f.files:
                targets, notes = np.asarray(f["target_mels"], np.float32), np.asarray(f["notes"], np.int64)
            else:
                print(f"{args.adapt}: no target_mels / notes (an older set): labelling at note 60 against the "
                      "encoder's copies")
                targets, notes = mels, np.full(len(mels), 60, np.int64)
        except (OSError, KeyError, ValueError) as e:
            raise SystemExit(f"{args.adapt}: not an adaptation set of explorer.evaluate.ood_adapt ({e})") from e
        mels, valid, targets, notes = mels[: args.limit], valid[: args.limit], targets[: args.limit], notes[: args.limit]
        with Synth() as synth:
            out = label(model, synth, mels, targets, notes)
        np.savez_compressed(args.out, mels=mels, target_mels=targets, notes=notes, valid=valid,
                            encoder_sha=np.asarray(sha), **out)
        print(f"wrote {len(mels)} labelled sounds to {args.out}: mean log-mel L1, model "
              f"{out['l1_model'].mean():.3f}, after the switch search {out['l1_search'].mean():.3f}")
        return 0
    try:
        labels = switch_head.read_labels(args.labels, sha)
        head, record = switch_head.fit(model, labels, args.epochs, args.hidden, tau=args.tau)
    except switch_head.SwitchHeadError as e:
        raise SystemExit(str(e)) from None
    with Synth() as synth:
        record["held_out"] = held_out_l1(model, synth, labels, head)
    record["tau"] = args.tau
    blob = {"format": switch_head.FORMAT, "param_indices": labels["param_indices"].tolist(), "steps": labels["steps"].tolist(),
            "param_names": labels["param_names"].tolist(), "n_in": head.net[1].in_features, "hidden": args.hidden,
            "state_dict": head.state_dict(), "encoder_sha": sha, "labels": list(args.labels),
            "command": "python -m explorer.evaluate.switch_train " + shlex.join(sys.argv[1:] if argv is None else argv),
            **record}
    torch.save(blob, args.out)
    print(f"wrote {args.out}: best epoch {record['epoch']}; held-out sounds, mean log-mel L1 at their notes:")
    for name, h in zip(["all", *args.labels], [record["held_out"], *record["held_out"]["by_file"]], strict=False):
        print(f"  {name}: {h['sounds']} sounds, model alone {h['model']:.3f}, with the head {h['head']:.3f}, with the "
              f"labels' values {h['search']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Training CLI.

    python -m explorer.models.train --model flow_dis --data data/ds16 --out checkpoints/flow_dis16
        [--epochs N --batch 64 --lr 2e-4 --max-minutes M --seed S --resume --set key=value ...]
    torchrun --nproc_per_node 4 -m explorer.models.train ...      (multi-GPU / multi-node, DistributedSampler)

Adam, validation every epoch (parameter MSE of the deterministic `infer`), learning rate halved when
validation stalls (ReduceLROnPlateau), early stopping, the paper's warm-ups: the KL / MMD weight rises
linearly 0 -> 1 over `beta_warmup` epochs and the regression loss is switched on at epoch `reg_start`
(best-model selection, plateau and early stopping only count from then). Writes OUT/train.log, OUT/last.pt
(resume state, every epoch), OUT/history.json (loss curves) and OUT/model.pt (best by validation). Only
rank 0 writes. Normalisation stats: the dataset's meta.json (train split only). `--set augment=P` trains
on augmented inputs (explorer.data.augment) with clean targets; `--set adapt=NPZ --set adapt_weight=W` adds
a spectral term on unlabelled sounds from outside the dataset (explorer.models.adapt).

Threads: torch uses every core by default; on a shared machine pass `--threads 1` (2 threads on 2 busy
cores: OpenMP spin-waits made steps 3-5x slower). Measured (ds16, 136 steps per epoch): flow_dis about
70 s per epoch on one busy CPU core, 17-23 s on an H100 shared by 3-11 runs (`scripts/gpu_zoo.sh`); every
family's validation optimum came within 6-29 epochs there, so 60 epochs with early stopping reach it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DistributedSampler
from tqdm import tqdm

from explorer import cli
from explorer.data.augment import augment_mels
from explorer.data.dataset import load_dataset
from explorer.models import REGISTRY, ModelConfig, SynthModel, build_model, make_config
from explorer.models.adapt import Adapter, AdaptError
from explorer.models.batches import batches, load_split
from explorer.models.checkpoint import checkpoint_dict, save_checkpoint
from explorer.models.distributed import Dist
from explorer.models.param_weights import select_key
from explorer.models.train_args import (
    load_init,
    overrides,
    parse_args,
    surrogate_record,
)


def beta_at(epoch: float, warmup: int) -> float:
    """KL / MMD weight: linear 0 -> 1 over `warmup` epochs (fractional epoch = per-step ramp)."""
    return 1.0 if warmup <= 0 else min(1.0, epoch / warmup)


@torch.no_grad()
def validate(model: SynthModel, x: Tensor, v: Tensor, t: Tensor, sampler: DistributedSampler,
             batch: int, d: Dist) -> dict[str, float]:
    """Validation losses (beta 1, regression on), including the parameter MSE of the deterministic
    `infer`, averaged over the whole split (summed across ranks)."""
    model.eval()
    tot = defaultdict(float)
    n = 0
    for idx in batches(sampler, batch, drop_last=False):
        idx = idx.to(x.device)
        # in eval mode the latent is the posterior mean, so logs["param_mse"] is that of `infer`
        _, logs = model.loss(x[idx], v[idx], t[idx], beta=1.0, reg_on=True)
        for k, val in logs.items():
            tot[k] += val * len(idx)
        n += len(idx)
    keys = sorted(tot)
    sums = d.sum([tot[k] for k in keys] + [float(n)])
    return {k: s / max(sums[-1], 1.0) for k, s in zip(keys, sums[:-1], strict=True)}


def train(argv: list[str] | None = None) -> dict[str, Any]:
    """Run a training; returns the training summary (also stored in the checkpoint's `train`)."""
    args = parse_args(argv)
    with cli.torch_threads(args.threads):  # restored afterwards: train() is also called in-process (tests)
        return _train(args, argv)


def _train(args: argparse.Namespace, argv: list[str] | None) -> dict[str, Any]:
    d = Dist(args.device)
    out = Path(args.out)
    t_start = time.time()
    data = load_dataset(args.data)
    meta = data.meta
    names = list(meta["param_names"])
    n_params, n_pairs = len(names), len(meta.get("tag_pairs", []))
    last_path = out / "last.pt"
    state: dict[str, Any] | None = None
    if args.resume:
        if not last_path.is_file():
            raise SystemExit(f"--resume: no {last_path}")
        state = torch.load(last_path, map_location="cpu", weights_only=True)
        if state["model"] != args.model:
            raise SystemExit(f"--resume: {last_path} is a {state['model']} run, not {args.model}")
        cfg_dict = {**state["config"], **overrides(args, args.model, names)}
        cfg: ModelConfig = REGISTRY[args.model][1].from_dict(cfg_dict)
    elif args.init:
        init = load_init(args.init, args.model, names)
        cfg = REGISTRY[args.model][1].from_dict({**init["config"], **overrides(args, args.model, names)})
    else:
        cfg = make_config(args.model, n_params=n_params, n_pairs=n_pairs, **overrides(args, args.model, names))
    if (cfg.n_params, cfg.n_pairs) != (n_params, n_pairs):
        raise SystemExit(f"dataset has {n_params} params / {n_pairs} tag pairs, run has "
                         f"{cfg.n_params} / {cfg.n_pairs}")

    torch.manual_seed(args.seed)
    try:
        model = build_model(args.model, cfg).to(d.device)
    except ValueError as e:  # a config the model refuses (e.g. param_weights of the wrong length)
        raise SystemExit(f"{args.model}: {e}") from e
    origin = state.get("origin", {}) if state is not None else {}  # what the run started from, built on
    if args.init and state is None:
        model.load_state_dict(init["state_dict"])
        origin["init"] = {"path": args.init, "train": init.get("train", {})}
    if getattr(cfg, "spectral_weight", 0) > 0:
        origin["surrogate"] = surrogate_record(cfg.surrogate, meta["stats"], names)
    adapter = None
    if getattr(cfg, "adapt_weight", 0) > 0:
        try:
            adapter = Adapter(cfg, meta["stats"], d, args.seed)
        except AdaptError as e:
            raise SystemExit(str(e)) from e
        origin["adapt"] = adapter.record(cfg.adapt)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5,
                                                       patience=cfg.plateau_patience)
    start, best, best_epoch, bad, history, earlier = 0, math.inf, -1, 0, [], []
    if state is not None:
        earlier = state.get("sessions", [])  # [{command, seconds}] of the sessions before this one
        model.load_state_dict(state["state_dict"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start, best, best_epoch, bad = state["epoch"] + 1, state["best"], state["best_epoch"], state["bad"]
        history = state["history"]
        torch.set_rng_state(state["rng"])
    select = select_key(cfg)
    if state is not None and state.get("select", "param_mse") != select:
        # another selection metric (param_weights set or dropped): the best so far is not comparable
        best, best_epoch, bad = math.inf, -1, 0
        sched.best, sched.num_bad_epochs = sched.mode_worse, 0
    net: torch.nn.Module = model
    if d.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[d.device.index] if d.device.type == "cuda" else None)

    desc = getattr(cfg, "dis_target", "tags") == "descriptor"
    xtr, vtr, ttr = load_split(data, "train", d.device, desc)
    xva, vva, tva = load_split(data, "valid", d.device, desc)
    if len(xtr) == 0 or len(xva) == 0:
        raise SystemExit(f"{args.data}: empty train ({len(xtr)}) or valid ({len(xva)}) split")
    tr_sampler = DistributedSampler(range(len(xtr)), d.world, d.rank, shuffle=True, seed=args.seed)
    va_sampler = DistributedSampler(range(len(xva)), d.world, d.rank, shuffle=False)
    out.mkdir(parents=True, exist_ok=True)
    log_file = open(out / "train.log", "a") if d.main else None  # noqa: SIM115 (kept open for the run)

    def log(msg: str) -> None:
        if d.main:
            tqdm.write(msg, file=sys.stderr)
            log_file.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}\n")
            log_file.flush()

    command = "python -m explorer.models.train " + " ".join(sys.argv[1:] if argv is None else argv)
    log(f"{'resume' if state else 'start'}: {command} | device {d.device} x{d.world} | "
        f"train {len(xtr)} valid {len(xva)} | config {json.dumps(cfg.to_dict())}")

    def sessions() -> list[dict[str, Any]]:
        return [*earlier, {"command": command, "seconds": round(time.time() - t_start, 1)}]

    def summary(epochs_done: int, stopped: str) -> dict[str, Any]:
        last = history[-1] if history else {}
        return {"command": command, "time": time.strftime("%Y-%m-%d %H:%M:%S"), "epochs": epochs_done,
                "best_epoch": best_epoch, "stopped": stopped, "sessions": sessions(),
                "seconds": round(sum(x["seconds"] for x in sessions()), 1),  # every session's, resumed or not
                "device": str(d.device), "world_size": d.world, "seed": args.seed, **origin,
                "metrics": {f"val_{select}": best if best < math.inf else last.get(f"val_{select}"),
                            "select": select, "last": last}}

    deadline = t_start + 60 * args.max_minutes if args.max_minutes else math.inf
    stopped, epoch = "epochs", start - 1
    for epoch in range(start, cfg.epochs):
        model.train()
        tr_sampler.set_epoch(epoch)
        chunks = batches(tr_sampler, cfg.batch, drop_last=True)
        reg_on = epoch >= cfg.reg_start
        if adapter is not None:
            adapter.start_epoch(epoch)
        sums: dict[str, float] = defaultdict(float)
        t0 = time.time()
        bar = tqdm(chunks, desc=f"{args.model} ep {epoch + 1}/{cfg.epochs}", disable=not d.main,
                   file=sys.stderr, leave=False, dynamic_ncols=True)
        n_done = 0
        for i, idx in enumerate(bar):
            idx = idx.to(d.device)
            beta = beta_at(epoch + i / len(chunks), cfg.beta_warmup)
            xb = xtr[idx]  # the encoder sees an augmented copy (cfg.augment > 0); targets stay clean
            xin = augment_mels(xb, meta["stats"], cfg.augment, seed=(args.seed, d.rank, epoch, i))
            loss, logs = net(xin, vtr[idx], ttr[idx], beta, reg_on, xb if cfg.augment > 0 else None)
            if adapter is not None and reg_on:
                extra, extra_logs = adapter.step(model, beta)
                loss, logs = loss + extra, {**logs, **extra_logs}
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1e3)  # guards rare flow blow-ups
            opt.step()
            n_done += 1
            for k, val in logs.items():
                sums[k] += val
            bar.set_postfix({k: f"{sums[k] / n_done:.4g}" for k in ("loss", "reg", "param_mse") if k in sums})
            if deadline < math.inf and d.any(time.time() > deadline):
                break
        bar.close()
        if d.any(not all(math.isfinite(s) for s in sums.values())):
            stopped = "non-finite loss"
            log(f"epoch {epoch + 1}: non-finite training loss, stopping")
            break
        train_s = time.time() - t0
        val = validate(model, xva, vva, tva, va_sampler, cfg.batch, d)
        if adapter is not None:
            val.update(adapter.validate(model))
            val["spec_adapt"] = val["spec"] + val["adapt_spec"]
        improved = False
        if reg_on:
            sched.step(val[select])
            if val[select] < best:
                best, best_epoch, bad, improved = val[select], epoch, 0, True
            else:
                bad += 1
        row = {"epoch": epoch + 1, "beta": round(beta, 4), "reg_on": reg_on, "lr": opt.param_groups[0]["lr"],
               "seconds": round(train_s, 1), "steps": n_done,
               **{f"train_{k}": round(s / max(n_done, 1), 6) for k, s in sums.items()},
               **{f"val_{k}": round(s, 6) for k, s in val.items()}}
        history.append(row)
        log(" ".join(f"{k}={v}" for k, v in row.items()) + (" *best*" if improved else ""))
        if d.main:
            (out / "history.json").write_text(json.dumps(history))  # loss curves (explorer.train_curves)
            if improved:
                save_checkpoint(out / "model.pt", checkpoint_dict(args.model, model, meta,
                                                                  summary(epoch + 1, "running")))
            save_checkpoint(last_path, {
                "model": args.model, "config": cfg.to_dict(), "state_dict": model.state_dict(),
                "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "epoch": epoch,
                "best": best, "best_epoch": best_epoch, "bad": bad, "select": select, "history": history,
                "sessions": sessions(), "rng": torch.get_rng_state(), "origin": origin})
        if deadline < math.inf and d.any(time.time() > deadline):
            stopped = "max-minutes"
            break
        if reg_on and bad >= cfg.early_stop:
            stopped = "early stop"
            break
    result = summary(epoch + 1, stopped)
    if d.main:
        ck_path = out / "model.pt"
        if best_epoch < 0:
            # stopped before the regression was switched on: keep the last weights rather than nothing
            save_checkpoint(ck_path, checkpoint_dict(args.model, model, meta, result))
        else:
            ck = torch.load(ck_path, map_location="cpu", weights_only=True)
            ck["train"] = result
            save_checkpoint(ck_path, ck)
        best_txt = (f"best val {select} {best:.5f} at epoch {best_epoch + 1}" if best_epoch >= 0 else
                    "regression never switched on: model.pt holds the last weights")
        log(f"done ({stopped}) after {epoch + 1} epochs, {result['seconds']} s; {best_txt} -> {ck_path}")
        log_file.close()
    d.close()
    return result


def main(argv: list[str] | None = None) -> int:
    train(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())

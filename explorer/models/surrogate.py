"""A differentiable stand-in for the synth: a network from parameters v `Tensor[B, P]` in [0, 1] to the
normalised log-mel `Tensor[B, 1, 64, 80]` the real synth gives for them, fitted on a rendered data set.

Its one use: a spectral term in Flow_reg's / Flow_dis's training (`--set spectral_weight=W --set
surrogate=PATH`), so the regression is pulled towards parameters that *sound* like the target, not only
towards the target's parameter values (the synth itself has no gradient). It is frozen there, and never
used at inference: the app and every evaluation render with the real synth.

    python -m explorer.models.surrogate --data data/ds30_30k --out runs/sur30/surrogate.pt [--max-minutes M]

Trained with Adam on the L1 error of the normalised log-mel (the project's log-mel L1 divided by the data
set's std), early stop on the valid split; the file keeps the parameter names and log-mel stats it was
fitted with, and `load_surrogate` refuses a data set with other parameters.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from explorer import cli

from .nets import ConvDecoder, mlp


@dataclass
class SurrogateConfig:
    n_params: int = 16
    hidden: int = 512
    channels: tuple[int, ...] = (32, 64, 128, 256)


class Surrogate(nn.Module):
    """v `Tensor[B, P]` -> normalised log-mel `Tensor[B, 1, 64, 80]` (an MLP, then a transposed-conv stack)."""

    def __init__(self, cfg: SurrogateConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.fc = mlp(cfg.n_params, cfg.hidden, cfg.hidden, layers=2)
        self.dec = ConvDecoder(cfg.hidden, cfg.channels, cfg.hidden)

    def forward(self, v: Tensor) -> Tensor:
        return self.dec(torch.relu(self.fc(v)))


class SurrogateError(RuntimeError):
    """A surrogate file that is missing, not a surrogate, or fitted on other parameters."""


def _read(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise SurrogateError(f"surrogate {p}: no such file (fit one: python -m explorer.models.surrogate)")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:
        raise SurrogateError(f"surrogate {p}: not a readable torch file ({e})") from e
    if not isinstance(ck, dict) or ck.get("kind") != "surrogate":
        raise SurrogateError(f"surrogate {p}: not a surrogate file (python -m explorer.models.surrogate)")
    return ck


def read_record(path: str | Path) -> dict[str, Any]:
    """How the surrogate in `path` was fitted: data, command, best epoch, its valid L1 (and the mean
    log-mel's, for scale), the log-mel normalisation and the parameters."""
    ck = _read(path)
    return {"data": ck.get("data"), "command": ck.get("command"), "best_epoch": len(ck.get("history", [])),
            "val_l1": ck.get("val_l1"), "mean_l1": ck.get("mean_l1"), "stats": ck.get("stats"),
            "param_names": ck.get("param_names")}


def load_surrogate(path: str | Path, param_names: list[str] | None = None,
                   device: torch.device | str = "cpu") -> Surrogate:
    """The frozen surrogate (eval mode, no gradients to its weights) from `path`; with `param_names`,
    checks they are the ones it was fitted on, in order."""
    p = Path(path)
    ck = _read(p)
    if param_names is not None and list(param_names) != list(ck["param_names"]):
        raise SurrogateError(f"surrogate {p} was fitted on parameters {ck['param_names']}, not {param_names}")
    cfg = ck["config"]
    with torch.random.fork_rng(devices=[]):  # its random init is overwritten: leave the caller's RNG as it was
        model = Surrogate(SurrogateConfig(**{**cfg, "channels": tuple(cfg["channels"])}))
    model.load_state_dict(ck["state_dict"])
    model.eval().requires_grad_(False)
    return model.to(device)


def _l1(model: Surrogate, v: Tensor, x: Tensor, batch: int) -> float:
    model.eval()
    with torch.no_grad():
        tot = sum(F.l1_loss(model(v[i:i + batch]), x[i:i + batch], reduction="sum").item()
                  for i in range(0, len(v), batch))
    return tot / x.numel()


def fit(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(prog="python -m explorer.models.surrogate", description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="data set (explorer.data build)")
    ap.add_argument("--out", required=True, help="output file (.pt)")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--early-stop", type=int, default=6, help="epochs without validation improvement")
    ap.add_argument("--hidden", type=int, default=SurrogateConfig.hidden, help="width of the MLP")
    ap.add_argument("--channels", default=",".join(map(str, SurrogateConfig.channels)),
                    help="channels of the transposed-conv stack, fine to coarse (comma-separated)")
    ap.add_argument("--max-minutes", type=float)
    ap.add_argument("--seed", type=int, default=0)
    cli.add_threads(ap)
    args = ap.parse_args(argv)
    from explorer.data.dataset import load_dataset  # data is the stage above models

    from .batches import load_split

    with cli.torch_threads(args.threads):
        data = load_dataset(args.data)
        torch.manual_seed(args.seed)
        xtr, vtr, _ = load_split(data, "train", torch.device("cpu"))
        xva, vva, _ = load_split(data, "valid", torch.device("cpu"))
        try:
            channels = tuple(int(c) for c in args.channels.split(","))
        except ValueError as e:
            raise SystemExit(f"--channels {args.channels!r}: comma-separated integers, e.g. 32,64,128,256") from e
        cfg = SurrogateConfig(n_params=vtr.shape[1], hidden=args.hidden, channels=channels)
        model = Surrogate(cfg)
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        # the trivial answer, for scale: every sound predicted as the train split's mean log-mel
        mean_l1 = (xva - xtr.mean(0, keepdim=True)).abs().mean().item()
        command = "python -m explorer.models.surrogate " + " ".join(sys.argv[1:] if argv is None else argv)
        t0, best, bad, history = time.time(), math.inf, 0, []
        deadline = t0 + 60 * args.max_minutes if args.max_minutes else math.inf
        print(f"train {len(vtr)} valid {len(vva)}; valid L1 of the mean log-mel {mean_l1:.4f}", file=sys.stderr)
        for epoch in range(args.epochs):
            model.train()
            perm = torch.randperm(len(vtr))
            tot, n = 0.0, 0
            for i in range(0, len(perm) - args.batch + 1, args.batch):
                idx = perm[i:i + args.batch]
                loss = F.l1_loss(model(vtr[idx]), xtr[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                tot, n = tot + loss.item(), n + 1
                if time.time() > deadline:
                    break
            val = _l1(model, vva, xva, 512)
            sched.step(val)
            history.append({"epoch": epoch + 1, "train_l1": round(tot / max(n, 1), 5), "val_l1": round(val, 5),
                            "seconds": round(time.time() - t0, 1)})
            print(" ".join(f"{k}={v}" for k, v in history[-1].items()), file=sys.stderr, flush=True)
            if val < best:
                best, bad = val, 0
                torch.save({"kind": "surrogate", "config": {**asdict(cfg), "channels": list(cfg.channels)},
                            "param_names": list(data.meta["param_names"]), "stats": data.meta["stats"],
                            "state_dict": model.state_dict(), "val_l1": val, "mean_l1": mean_l1,
                            "history": history, "data": args.data, "command": command}, out)
            else:
                bad += 1
            if bad >= args.early_stop or time.time() > deadline:
                break
        print(f"best valid L1 {best:.4f} (mean log-mel {mean_l1:.4f}) -> {out}", file=sys.stderr)
        return {"val_l1": best, "mean_l1": mean_l1, "epochs": len(history)}


def main(argv: list[str] | None = None) -> int:
    fit(argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

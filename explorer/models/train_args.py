"""The training command's arguments and the config overrides they give (`--set KEY=VALUE`, `--epochs`,
`--batch`, `--lr`); the training itself is `explorer.models.train`."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from explorer import cli
from explorer.models import REGISTRY
from explorer.models.param_weights import read_value_file


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m explorer.models.train", description="Train a model on a data set.")
    ap.add_argument("--model", required=True, choices=sorted(REGISTRY))
    ap.add_argument("--data", required=True, help="dataset directory (explorer.data build)")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--max-minutes", type=float, help="stop (and keep the best model) after this time")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    ap.add_argument("--init", metavar="CHECKPOINT", help="start from this trained checkpoint's weights and config "
                    "(--set on top; fresh optimizer and schedule): fine-tuning, e.g. with a spectral term")
    cli.add_device(ap)
    cli.add_threads(ap)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override any config field, VALUE in JSON (e.g. --set beta_warmup=3)")
    return ap.parse_args(argv)


def overrides(args: argparse.Namespace, name: str, expect_names: list[str] | None = None) -> dict[str, Any]:
    """Config overrides from --epochs/--batch/--lr and --set KEY=VALUE (checked against the dataclass).
    `--set KEY=@FILE` reads the value from a JSON file; a `{"weights", "param_names"}` file (from
    `explorer.models.param_weights`) must name `expect_names`, the data set's parameters, in their order."""
    known = {f.name for f in dataclasses.fields(REGISTRY[name][1])}
    out: dict[str, Any] = {}
    for item in args.set:
        key, _, val = item.partition("=")
        if key not in known:
            raise SystemExit(f"--set {key}: not a field of {name}'s config ({', '.join(sorted(known))})")
        if val.startswith("@"):
            try:
                out[key] = read_value_file(val[1:], expect_names)
            except ValueError as e:
                raise SystemExit(f"--set {key}={val}: {e}") from e
        else:
            try:
                out[key] = json.loads(val)
            except json.JSONDecodeError:
                out[key] = val
        if isinstance(out[key], list):
            out[key] = tuple(out[key])
    for key in ("epochs", "batch", "lr"):
        if getattr(args, key) is not None:
            out[key] = getattr(args, key)
    return out


def load_init(path: str, model: str, names: list[str]) -> dict[str, Any]:
    """The checkpoint `--init` starts from: the same family and the data set's parameters, in order."""
    import torch

    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as e:
        raise SystemExit(f"--init {path}: cannot read ({e})") from e
    if not isinstance(ck, dict) or not {"model", "state_dict", "config"} <= ck.keys():
        raise SystemExit(f"--init {path}: not a model checkpoint")
    if ck.get("model") != model:
        raise SystemExit(f"--init {path}: a {ck.get('model')} checkpoint, not {model}")
    if list(ck.get("param_names", [])) != list(names):
        raise SystemExit(f"--init {path}: trained on other parameters than the data set's")
    return ck


def surrogate_record(path: str, stats: dict[str, float], names: list[str]) -> dict[str, Any]:
    """What a training with a spectral term records of its surrogate: file, data, fit and valid L1. It
    must map the training data's parameters `names`, in order, to log-mels normalised like the data's
    (`stats`, from meta.json): fit it on that data."""
    from explorer.models.surrogate import SurrogateError, read_record

    try:
        rec = read_record(path)
    except SurrogateError as e:
        raise SystemExit(f"--set surrogate={path}: {e}") from e
    if list(rec.pop("param_names") or []) != list(names):
        raise SystemExit(f"--set surrogate={path}: fitted on other parameters than the data set's: fit the "
                         "surrogate on this data set")
    theirs = rec.pop("stats") or {}
    if any(abs(float(theirs.get(k, "nan")) - float(stats[k])) > 1e-5 for k in ("mean", "std")):
        raise SystemExit(f"--set surrogate={path}: fitted on log-mels normalised by {theirs}, the data set's are "
                         f"{stats}: fit the surrogate on this data set")
    return {"path": path, **rec}

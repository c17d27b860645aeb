"""Shared set-up of the `python -m explorer...` commands (and `app.py`): the common arguments (checkpoint,
device, threads, render workers), torch's thread count, logging, and writing a results JSON.

Belongs to no stage and imports none: every stage may use it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator

LOG_FORMAT = "%(asctime)s %(name)s %(message)s"


def add_checkpoint(ap: argparse.ArgumentParser, help: str = "model checkpoint (model.pt)", **kw) -> None:
    ap.add_argument("--checkpoint", help=help, **kw)


def add_device(ap: argparse.ArgumentParser, help: str = "torch device: cpu / cuda / cuda:N (default: cuda when "
               "available)", **kw) -> None:
    ap.add_argument("--device", help=help, **kw)


def add_workers(ap: argparse.ArgumentParser, help: str = "render processes (default: every core)") -> None:
    ap.add_argument("--workers", type=int, help=help)


def add_threads(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice; 1 is much faster "
                    "for tiny models or when other processes share the cores)")


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run with `n` torch threads (None: leave it), restoring the previous count afterwards."""
    import torch

    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def one_blas_thread() -> None:
    """NumPy's BLAS on one thread unless `OPENBLAS_NUM_THREADS` says otherwise (processes started later,
    such as render workers, inherit it). Our matrices are small and the render workers need the cores, and
    OpenBLAS's idle threads spin: with a thread per core a default match of a 4 s sound took 4.10 s instead
    of 3.85 (24 ds16 test sounds, same result), and the app spent more than twice the CPU on some requests
    (docs/APP.md)."""
    if "OPENBLAS_NUM_THREADS" in os.environ:  # a person's own setting wins
        return
    from threadpoolctl import threadpool_limits

    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    threadpool_limits(1, user_api="blas")  # this process: NumPy may be loaded already


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format=LOG_FORMAT)


def run_and_write(run: Callable[[argparse.Namespace], dict], args: argparse.Namespace,
                  default_out: Callable[[dict], str], errors: tuple[type[BaseException], ...]) -> int:
    """`run(args)` -> results dict written as JSON to `args.out` (or `default_out(results)`).

    An expected error (`errors`) prints one `error: ...` line and gives exit status 2.
    """
    try:
        res = run(args)
    except errors as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = args.out or default_out(res)
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
    print(f"wrote {out} ({res['elapsed']} s)")
    return 0

"""torch.distributed for training: one process, or one per GPU / node when launched by torchrun."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


class Dist:
    """torch.distributed when launched by torchrun (WORLD_SIZE > 1), a single process otherwise."""

    def __init__(self, device: str | None) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = torch.cuda.is_available() and (device is None or device.startswith("cuda"))
        if device is None:
            device = f"cuda:{local}" if cuda else "cpu"
        elif device == "cuda":
            device = f"cuda:{local}"
        self.device = torch.device(device)
        if self.world > 1:
            if cuda:
                torch.cuda.set_device(self.device)
            dist.init_process_group("nccl" if cuda else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def sum(self, values: list[float]) -> list[float]:
        if self.world == 1:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.tolist()

    def any(self, flag: bool) -> bool:
        """True if `flag` is true on any rank: stop decisions must agree or DDP deadlocks."""
        return flag if self.world == 1 else self.sum([float(flag)])[0] > 0

    def close(self) -> None:
        if self.world > 1:
            dist.barrier()
            dist.destroy_process_group()

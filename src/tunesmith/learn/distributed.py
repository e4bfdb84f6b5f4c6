"""Several training processes under torchrun: the process group, each one's device, agreement.

``torchrun --nproc-per-node N -m tunesmith train ...`` starts N copies of the command with
``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` set; :func:`setup_distributed` joins them into
one process group (NCCL between GPUs, gloo between CPU processes) and gives each process its
device (``cuda:LOCAL_RANK`` on a GPU machine). Without those variables it is one process.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from tunesmith.errors import ConfigError
from tunesmith.learn.device import pick_device

log = logging.getLogger(__name__)


@dataclass
class Processes:
    """This process's place among the training processes."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owned: bool = False  # the group was created here, so it is destroyed here

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes files and reports progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def sum(self, values: list[float], device: torch.device) -> list[float]:
        """``values`` summed over all processes (unchanged in a single process)."""
        if not self.distributed:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return t.tolist()

    def sum_tensor(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` summed over all processes, in place (``t`` itself in a single process)."""
        if self.distributed:
            dist.all_reduce(t)
        return t

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every process when it is true on at least one (a shared decision)."""
        if not self.distributed:
            return flag
        t = torch.tensor([int(flag)], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup_distributed(device_name: str = "auto") -> tuple[Processes, torch.device]:
    """Join the process group torchrun prepared, if any; return this process's device.

    :param device_name: auto, cpu or cuda (each process takes ``cuda:LOCAL_RANK``).
    """
    if not launched_by_torchrun():
        return Processes(), pick_device(device_name)
    rank = int(os.environ["RANK"])
    world = int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device_name == "auto":
        device_name = "cuda" if torch.cuda.is_available() else "cpu"
    if device_name.startswith("mps"):
        raise ConfigError("--device mps cannot train in several processes; use cpu or cuda")
    if device_name.startswith("cuda"):
        pick_device("cuda")  # fails clearly without CUDA
        if local >= torch.cuda.device_count():
            msg = (
                f"LOCAL_RANK {local} but this machine has {torch.cuda.device_count()} CUDA "
                "device(s); use --nproc-per-node at most that many"
            )
            raise ConfigError(msg)
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    else:
        device = pick_device(device_name)
    owned = False
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        owned = True
    log.info("process %d of %d on %s", rank, world, device)
    return Processes(rank, world, local, owned), device


def shutdown_distributed(procs: Processes) -> None:
    if procs.owned and dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def processes(device_name: str = "auto") -> Iterator[tuple[Processes, torch.device]]:
    """:func:`setup_distributed` for the training inside; at its end every process waits
    for the others (nobody tears the group down while another still uses it), and the group
    this call made is destroyed, whatever happened."""
    procs, device = setup_distributed(device_name)
    try:
        yield procs, device
        procs.barrier()
    finally:
        shutdown_distributed(procs)


def data_parallel(model: nn.Module, procs: Processes, device: torch.device) -> nn.Module:
    """The model wrapped in DistributedDataParallel under torchrun; else the model itself."""
    if not procs.distributed:
        return model
    return DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None
    )


def seed_process(seed: int, procs: Processes, step: int) -> None:
    """Under torchrun, a torch seed of this process's own (dropout differs between
    processes), fixed by the step so that a resume draws as the run would have."""
    if procs.distributed:
        torch.manual_seed(seed * 1_000_003 + procs.rank * 7_919 + step)

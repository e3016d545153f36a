"""Data-parallel ranks of one encoder stage (``compute.devices_per_job``; docs/compute.md).

``vjepa-fer train`` and ``infer`` with ``--devices-per-job N`` (N > 1) spawn N processes on the
node they run on (``torch.multiprocessing.spawn``), one per device: rank r uses ``cuda:r`` of the
devices the job was given (``CUDA_VISIBLE_DEVICES``, set by the GPU-slot allocator or SLURM), or
the CPU. The ranks form a ``torch.distributed`` group: NCCL on CUDA, gloo on the CPU. Spawning
inside the stage, rather than ``torchrun`` in the rule, keeps one command line for a laptop, a
GPU box and a SLURM job (one task with N GPUs), and lets the CPU-only tests run 2 or 3 ranks.

What the ranks share is decided by :class:`~vjepa_fer.features.stream.ClipStream`: training
gathers every clip's tokens to rank 0, where the probes live; inference lets every rank run its
own copy of the (fixed) probes on disjoint videos and merges the posterior rows.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ranks:
    """This process's place in the job's process group (size 1: no group at all)."""

    rank: int = 0
    size: int = 1

    @property
    def parallel(self) -> bool:
        return self.size > 1

    @property
    def leader(self) -> bool:
        """Rank 0: the one that holds the probes' state and writes every output."""
        return self.rank == 0


SINGLE = Ranks()


def free_port() -> int:
    """A TCP port free on this host now, for the group's rendezvous on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(
    fn: Callable[[argparse.Namespace, Ranks], int], args: argparse.Namespace, size: int
) -> int:
    """Run ``fn(args, ranks)`` in ``size`` processes on this node and wait for all of them.

    ``fn`` must be a module-level function (spawned processes import it). A rank that fails
    makes the others fail too (the collective they wait in is torn down) and the error is raised
    here.
    """
    if size < 1:
        raise ValueError(f"--devices-per-job must be >= 1, got {size}")
    if size == 1:
        return fn(args, SINGLE)
    import torch.multiprocessing as mp

    port = free_port()
    mp.spawn(_entry, args=(fn, args, size, port), nprocs=size, join=True)
    return 0


def rank_device(device: str, rank: int, size: int) -> str:
    """The device of ``rank``: ``cuda:rank`` when the job runs on CUDA, else the CPU."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if not device.startswith("cuda"):
        return device
    visible = torch.cuda.device_count()
    if visible < size:
        raise ValueError(
            f"--devices-per-job {size}: only {visible} CUDA device(s) visible "
            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')})"
        )
    return f"cuda:{rank}"


def _entry(rank: int, fn, args: argparse.Namespace, size: int, port: int) -> None:  # noqa: ANN001
    import torch.distributed as dist

    logging.basicConfig(
        level=logging.INFO if rank == 0 else logging.WARNING,
        format=f"%(asctime)s %(levelname)s [rank {rank}/{size}] %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    args.device = rank_device(args.device, rank, size)
    backend = "gloo"
    if args.device.startswith("cuda"):
        torch.cuda.set_device(torch.device(args.device))
        backend = "nccl"
    dist.init_process_group(backend, rank=rank, world_size=size)
    try:
        fn(args, Ranks(rank, size))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def gather_objects(obj: object, ranks: Ranks) -> list[object] | None:
    """Every rank's ``obj`` on rank 0 (in rank order); None elsewhere. Size 1: ``[obj]``."""
    if not ranks.parallel:
        return [obj]
    import torch.distributed as dist

    out: list[object] | None = [None] * ranks.size if ranks.leader else None
    dist.gather_object(obj, out, dst=0)
    return out


def broadcast_object(obj: object, ranks: Ranks) -> object:
    """Rank 0's ``obj`` on every rank."""
    if not ranks.parallel:
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]

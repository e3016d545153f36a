"""GPU slots of one machine: each encoder job gets its own devices (docs/compute.md, "GPU box").

Snakemake's ``gpu`` resource only counts GPUs; it never says which card a job may use, so on a
box with several GPUs every job would open ``cuda:0``. Before it touches CUDA, an encoder stage
(``extract``, ``train``, ``infer``) on such a box claims ``count`` free slots out of a pool of
``N`` (one per GPU) and sets ``CUDA_VISIBLE_DEVICES`` to them. A slot is an exclusive ``flock`` on
``<dir>/slot<i>.lock``: the kernel drops it when the process ends, however it ends (even kill -9),
so no slot leaks, and jobs of several Snakemake runs of the same user share one pool.

Nothing is claimed when the job already has its devices (``CUDA_VISIBLE_DEVICES`` set: SLURM,
or the user), when it runs on the CPU or on an explicit ``cuda:N``, or when the pool is empty.

Environment: ``VJEPA_FER_GPU_SLOTS`` = pool size (default: the GPUs ``nvidia-smi -L`` lists;
tests use it for fake devices on a CPU machine); ``VJEPA_FER_GPU_SLOT_DIR`` = lock folder
(default: ``$TMPDIR/vjepa-fer-gpu-slots-<uid>``).

    python -m vjepa_fer.features.gpu_slots --count 2 -- CMD ARGS   # CMD runs on its 2 slots
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

POOL_ENV = "VJEPA_FER_GPU_SLOTS"
DIR_ENV = "VJEPA_FER_GPU_SLOT_DIR"
VISIBLE = "CUDA_VISIBLE_DEVICES"


@dataclass
class Claim:
    """Slots held by this process (their lock files stay open until :meth:`release`)."""

    slots: list[int]
    fds: list[int] = field(default_factory=list)

    def release(self) -> None:
        for fd in self.fds:
            os.close(fd)  # closing the descriptor drops the flock
        self.fds = []


def slot_dir() -> Path:
    default = Path(tempfile.gettempdir()) / f"vjepa-fer-gpu-slots-{os.getuid()}"
    folder = Path(os.environ.get(DIR_ENV) or default)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def gpu_count() -> int:
    """GPUs of this machine, without initialising CUDA in this process (torch caches the count,
    which must be read only after ``CUDA_VISIBLE_DEVICES`` is set)."""
    if os.environ.get(POOL_ENV):
        value = int(os.environ[POOL_ENV])
        if value < 0:
            raise ValueError(f"{POOL_ENV}={value}: must be >= 0")
        return value
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30, check=True)
    except (subprocess.SubprocessError, OSError):
        return 0
    return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))


def claim(
    count: int, pool: int, folder: Path, *, timeout: float = 3600.0, poll: float = 0.5
) -> Claim:
    """``count`` distinct free slots of ``pool``; waits (Snakemake's gpu limit normally makes
    waiting unnecessary). Never holds part of a claim while waiting, so two jobs cannot block
    each other."""
    if not 1 <= count <= pool:
        raise ValueError(f"GPU slots: {count} wanted, the pool has {pool} ({POOL_ENV})")
    deadline = time.monotonic() + timeout
    warned = False
    while True:
        got = Claim([])
        for slot in range(pool):
            fd = os.open(folder / f"slot{slot}.lock", os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            got.slots.append(slot)
            got.fds.append(fd)
            if len(got.slots) == count:
                return got
        got.release()
        if time.monotonic() > deadline:
            raise TimeoutError(f"GPU slots: no {count} free slots of {pool} in {folder}")
        if not warned:
            logger.info("waiting for %d free GPU slot(s) of %d in %s", count, pool, folder)
            warned = True
        time.sleep(poll * (1 + random.random()))


def claim_for_job(device: str, count: int) -> Claim | None:
    """Claim ``count`` slots for an encoder stage and set ``CUDA_VISIBLE_DEVICES`` (see module
    doc for when nothing is claimed). Keep the returned claim alive for the job's lifetime."""
    if device == "cpu" or (device.startswith("cuda:")) or os.environ.get(VISIBLE) is not None:
        return None
    pool = gpu_count()
    if pool == 0:
        return None
    held = claim(count, pool, slot_dir())
    os.environ[VISIBLE] = ",".join(map(str, held.slots))
    logger.info("GPU slots %s of %d (%s=%s)", held.slots, pool, VISIBLE, os.environ[VISIBLE])
    return held


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run a command on its own GPU slots")
    parser.add_argument("--count", type=int, default=1, help="slots (GPUs) the command needs")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    held = claim_for_job("auto", args.count)
    for fd in held.fds if held else []:
        os.set_inheritable(fd, True)  # the command holds the slots until it exits
    os.execvp(command[0], command)
    return 127  # pragma: no cover - execvp does not return


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    sys.exit(main())

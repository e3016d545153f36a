"""Say loudly when ``features.device: auto`` found no GPU and a big encoder will run on the CPU.

``auto`` is the paper config's default so that the same config runs on a GPU box and in CI; on a
machine without CUDA it silently meant days or years of CPU time. Stages that run the encoder
call :func:`report_cpu_fallback` once they know how many clips they will encode: it estimates
the encoder's FLOP per clip from its size (compute.md: 24·d²·N per layer for the linear layers,
4·N²·d for attention, N tokens), measures this CPU's float32 matmul rate for a fraction of a
second, and logs the expected duration: a warning banner when it exceeds ``LOUD_SECONDS``, one
info line otherwise (the tiny test encoder).
"""

from __future__ import annotations

import logging
import time

import torch
import torch.nn as nn

from vjepa_fer.progress import format_duration

logger = logging.getLogger(__name__)

LOUD_SECONDS = 3600.0  # longer than this on the CPU: a warning banner, not an info line


def clip_flops(encoder: nn.Module, img_size: int, num_frames: int) -> float:
    """Approximate FLOP of one clip forward from the encoder's parameters and token count."""
    d = int(encoder.embed_dim)
    tokens = (num_frames // int(encoder.tubelet_size)) * (img_size // int(encoder.patch_size)) ** 2
    params = sum(p.numel() for p in encoder.parameters())
    blocks = getattr(encoder, "blocks", None)
    depth = len(blocks) if blocks is not None else max(1, round(params / (12 * d * d)))
    return 2.0 * params * tokens + 4.0 * tokens * tokens * d * depth


def cpu_flops_per_second(seconds: float = 0.2, n: int = 512) -> float:
    """float32 matmul FLOP/s this process reaches on the CPU (an optimistic encoder speed)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up (thread pool, allocation)
    done, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        a @ b
        done += 1
    return 2.0 * n**3 * done / max(elapsed, 1e-9)


def _flop(value: float) -> str:
    """``9.3 TFLOP``, ``12 MFLOP``: the unit that keeps the number readable."""
    for unit, scale in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g} FLOP"


def report_cpu_fallback(
    requested: str,
    device: torch.device | str,
    encoder: nn.Module,
    *,
    name: str,
    img_size: int,
    num_frames: int,
    clips: int,
    flops_per_second: float | None = None,
) -> float | None:
    """Log the CPU fallback of ``--device auto`` with an estimated duration; return it (s).

    Nothing happens (``None``) unless ``requested`` is ``auto`` and ``device`` is the CPU.
    """
    if requested != "auto" or torch.device(device).type != "cpu":
        return None
    per_clip = clip_flops(encoder, img_size, num_frames)
    rate = flops_per_second or cpu_flops_per_second()
    seconds = clips * per_clip / rate
    text = (
        f"features.device is 'auto' and no CUDA GPU is visible, so the {name} encoder runs on "
        f"the CPU: {clips:,} clip forwards of {_flop(per_clip)} each at the "
        f"{rate / 1e9:,.0f} GFLOP/s this CPU reached in a matmul test take at least "
        f"{format_duration(seconds)}"
    )
    if seconds > LOUD_SECONDS:
        bar = "!" * 78
        logger.warning(
            "\n%s\n%s.\nRun it on a GPU (docs/running.md), or set "
            "features.device: cpu if you really mean the CPU.\n%s",
            bar,
            text,
            bar,
        )
    else:
        logger.info("%s.", text)
    return seconds

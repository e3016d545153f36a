"""The clip stream: encode every requested clip exactly once and hand it to every consumer.

The encoder is frozen, so a clip that several consumers need (the four fold probes that train on a
video, the probes of the other dataset at cross-dataset evaluation, a feature store) is one
computation (docs/compute.md, "What a frozen encoder allows"). A request names a clip by
(video, clip, view, epoch); requests are grouped by video so each video is decoded once per pass,
in DataLoader worker processes that overlap decoding with the encoder. Batches of clips run under
bf16 autocast on GPU (fp16 as a switch) and in float32 on CPU, and every batch is offered to each
registered consumer, which receives only the clips it asked for. ``forwards`` counts the clip
forwards, the number the compute comparison with the authors' protocol is built on.

    stream = ClipStream(encoder, device="cuda", batch_size=32, workers=8)
    stream.register(store_writer)                    # every clip
    stream.register(probe, wants=lambda r: r.video in train_videos)
    stream.run(root, requests, PixelConfig(size=384))
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn as nn

from vjepa_fer.features.requests import ClipRequest
from vjepa_fer.io import atomic_open
from vjepa_fer.video.augment import AugmentConfig, augment_clip
from vjepa_fer.video.decode import decode_frames
from vjepa_fer.video.transforms import eval_views

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PixelConfig:
    """How requested clips become encoder input."""

    size: int = 384
    num_views: int = 1  # evaluation views (1 = the protocol's centre view)
    seed: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    backend: str = "auto"
    max_decoded_frames: int | None = None


class Consumer(Protocol):
    def consume(self, requests: list[ClipRequest], tokens: torch.Tensor) -> None: ...


def group_by_video(requests: Sequence[ClipRequest]) -> list[tuple[str, list[ClipRequest]]]:
    """Requests grouped by video in order of first appearance, duplicates (same key) dropped."""
    groups: dict[str, list[ClipRequest]] = {}
    seen: set[tuple] = set()
    for r in requests:
        if r.key in seen:
            continue
        seen.add(r.key)
        groups.setdefault(r.video, []).append(r)
    return list(groups.items())


def clip_pixels(root: Path, video: str, reqs: list[ClipRequest], cfg: PixelConfig) -> torch.Tensor:
    """(K, 3, T, S, S) float32 input of one video's requested clips, decoded once."""
    wanted = np.asarray([r.frames for r in reqs], dtype=np.int64)  # (K, T)
    decoded = decode_frames(root / video, wanted, backend=cfg.backend)
    out: list[torch.Tensor | None] = [None] * len(reqs)
    plain = [k for k, r in enumerate(reqs) if not r.augment]
    if plain:
        # Evaluation transforms act per frame: transform the decoded frames once, then gather
        # clips (with stride 1 each frame belongs to up to 16 clips).
        views = eval_views(decoded.frames, cfg.size, num_views=cfg.num_views)  # [(3, F, S, S)]
        pos = {int(f): i for i, f in enumerate(decoded.indices)}
        for k in plain:
            r = reqs[k]
            if r.view >= cfg.num_views:
                raise ValueError(f"{video}: view {r.view} requested, only {cfg.num_views} made")
            idx = torch.tensor([pos[f] for f in r.frames])
            out[k] = views[r.view].index_select(1, idx)  # (3, T, S, S)
    for k, r in enumerate(reqs):
        if r.augment:
            out[k] = augment_clip(
                decoded.take(np.asarray(r.frames)),
                seed=cfg.seed,
                video=r.video,
                epoch=r.epoch,
                clip=r.clip,
                size=cfg.size,
                cfg=cfg.augment,
            )
    return torch.stack(out)  # (K, 3, T, S, S)


class VideoClipDataset(torch.utils.data.Dataset):
    """Item i = all requested clips of the i-th video, as pixels (runs in DataLoader workers)."""

    def __init__(self, root: Path, groups: list[tuple[str, list[ClipRequest]]], cfg: PixelConfig):
        self.root, self.groups, self.cfg = root, groups, cfg

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor]:
        video, reqs = self.groups[i]
        return i, clip_pixels(self.root, video, reqs, self.cfg)


def autocast_dtype(device: torch.device, dtype: str) -> torch.dtype | None:
    """bf16 (or fp16) autocast on GPU; float32 on CPU, where bf16 is ~4.5x slower.

    The CPU measurement is in docs/dependencies.md (torch row)."""
    if device.type != "cuda" or dtype == "fp32":
        return None
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[dtype]


class ClipStream:
    """Encodes requested clips once, in batches, and feeds every registered consumer."""

    def __init__(
        self,
        encoder: nn.Module,
        *,
        device: str | torch.device = "cpu",
        dtype: str = "bf16",
        batch_size: int = 32,
        workers: int = 0,
        compile: bool = False,
    ) -> None:
        if dtype not in ("bf16", "fp16", "fp32"):
            raise ValueError(f"dtype must be bf16, fp16 or fp32, got {dtype!r}")
        self.device = torch.device(device)
        self.encoder = encoder.to(self.device).eval()
        self.encoder.requires_grad_(False)
        self._forward = torch.compile(self.encoder) if compile else self.encoder
        self.amp = autocast_dtype(self.device, dtype)
        self.batch_size = batch_size
        self.workers = workers
        self.forwards = 0
        self.encoder_seconds = 0.0
        self._consumers: list[tuple[Consumer, Callable[[ClipRequest], bool] | None]] = []

    def register(self, consumer: Consumer, wants: Callable[[ClipRequest], bool] | None = None):
        """Feed ``consumer`` every clip, or only those for which ``wants(request)`` is true."""
        self._consumers.append((consumer, wants))
        return consumer

    def _batches(
        self, root: Path, groups: list[tuple[str, list[ClipRequest]]], cfg: PixelConfig
    ) -> Iterator[tuple[list[ClipRequest], torch.Tensor]]:
        loader = torch.utils.data.DataLoader(
            VideoClipDataset(root, groups, cfg),
            batch_size=None,
            shuffle=False,
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=4 if self.workers else None,
            persistent_workers=False,
        )
        reqs: list[ClipRequest] = []
        pixels: list[torch.Tensor] = []
        buffered = 0
        for i, clips in loader:
            reqs.extend(groups[i][1])
            pixels.append(clips)
            buffered += len(clips)
            while buffered >= self.batch_size:
                allpix = torch.cat(pixels)
                yield reqs[: self.batch_size], allpix[: self.batch_size]
                reqs, pixels = reqs[self.batch_size :], [allpix[self.batch_size :]]
                buffered -= self.batch_size
        if buffered:
            yield reqs, torch.cat(pixels)

    @torch.no_grad()
    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, S, S) -> (B, N, D). no_grad, not inference_mode: probes train on the tokens."""
        x = pixels.to(self.device, non_blocking=True)
        with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None):
            return self._forward(x)

    def run(self, root: str | Path, requests: Sequence[ClipRequest], cfg: PixelConfig) -> int:
        """Encode every distinct request once; returns the number of clip forwards."""
        groups = group_by_video(requests)
        before = self.forwards
        for reqs, pixels in self._batches(Path(root), groups, cfg):
            t0 = time.perf_counter()
            tokens = self.encode(pixels)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            self.encoder_seconds += time.perf_counter() - t0
            self.forwards += len(reqs)
            for consumer, wants in self._consumers:
                picked = [k for k, r in enumerate(reqs) if wants is None or wants(r)]
                if not picked:
                    continue
                sub = tokens if len(picked) == len(reqs) else tokens[picked]
                consumer.consume([reqs[k] for k in picked], sub)
        done = self.forwards - before
        logger.info("encoded %d clips of %d videos", done, len(groups))
        return done

    def counts(self) -> dict:
        return {"clip_forwards": self.forwards, "encoder_seconds": round(self.encoder_seconds, 3)}

    def write_counts(self, path: str | Path, **extra: object) -> None:
        with atomic_open(path) as fh:
            json.dump({**self.counts(), **extra}, fh, indent=2)

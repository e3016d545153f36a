"""The clip stream: encode every requested clip exactly once and hand it to every consumer.

The encoder is frozen, so a clip that several consumers need (the four fold probes that train on a
video, the probes of the other dataset at cross-dataset evaluation, a feature store) is one
computation (docs/compute.md; docs/encoding.md). A request names a clip by
(video, clip, view, epoch); requests are grouped by video so each video is decoded once per pass,
in DataLoader worker processes that overlap decoding with the encoder.

Two pixel backends (``PixelConfig.augment_backend``, config ``features.augment_backend``):

* ``device`` (default): workers ship uint8 frames (``loader.py``: evaluation frames already
  resized and centre-cropped in uint8, training frames at full resolution); clip gathering, float
  conversion, normalisation and the keyed training augmentation run batched on the encoder's
  device (``video/device_transforms.py``), CPU included;
* ``reference``: workers build float32 clips with PIL and torch on the CPU (``clip_pixels``), the
  implementation the device backend is tested against.

Batches of clips run under bf16 autocast on GPU (fp16 as a switch) and in float32 on CPU, and
every batch is offered to each registered consumer, which receives only the clips it asked for.
``forwards`` counts the clip forwards, the number the compute comparison with the authors'
protocol is built on.

    stream = ClipStream(encoder, device="cuda", batch_size=32, workers=8)
    stream.register(store_writer)                    # every clip
    stream.register(probe, wants=lambda r: r.video in train_videos)
    stream.run(root, requests, PixelConfig(size=384))

Data-parallel ranks (``ranks``, docs/compute.md "Several devices per job"): with ``shard="gather"``
(training) the videos are dealt out in rounds, every rank encodes its share, and rank 0 receives
all the round's tokens and feeds its consumers in exactly the order one device would have; with
``shard="local"`` (inference) each rank encodes every size-th video and feeds its own consumers,
whose results the caller merges.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn as nn

from vjepa_fer.features.loader import FrameDataset, plan_items
from vjepa_fer.features.pixels import PixelConfig
from vjepa_fer.features.ranks import SINGLE, Ranks, broadcast_object
from vjepa_fer.features.requests import ClipRequest
from vjepa_fer.io import atomic_open
from vjepa_fer.video import device_transforms as dt
from vjepa_fer.video.augment import augment_clip, draw_clip_params
from vjepa_fer.video.decode import decode_frames
from vjepa_fer.video.device_transforms import eval_frames, eval_plan
from vjepa_fer.video.transforms import eval_views

logger = logging.getLogger(__name__)

# Items each worker keeps ready. Loader memory is about workers x PREFETCH x item bytes
# (docs/encoding.md, "Loader memory"); 2 keeps the encoder fed while bounding shared memory.
PREFETCH = 2


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
    """(K, 3, T, S, S) float32 input of one video's requested clips, decoded once (reference)."""
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
    """Reference backend: item i = all requested clips of the i-th video, as float32 pixels."""

    def __init__(self, root: Path, groups: list[tuple[str, list[ClipRequest]]], cfg: PixelConfig):
        self.root, self.groups, self.cfg = root, groups, cfg

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor]:
        video, reqs = self.groups[i]
        return i, clip_pixels(self.root, video, reqs, self.cfg)


class DeviceClips:
    """Device backend: the clips of one loader item, made on the encoder's device on demand."""

    def __init__(self, item, plan, cfg: PixelConfig, device: torch.device) -> None:  # noqa: ANN001
        self.plan, self.cfg, self.device = plan, cfg, device
        self.frames = item.frames.to(device, non_blocking=True)
        self.positions = item.positions
        self.height, self.width = item.source_hw
        # Evaluation: every frame resized and normalised once, clips gathered from it.
        self.normed = None
        if not plan.augment:
            geometry = eval_plan(self.height, self.width, cfg.size, cfg.num_views)
            self.normed = eval_frames(self.frames, geometry)

    def clips(self, start: int, stop: int) -> torch.Tensor:
        """(stop - start, 3, T, S, S) float32 for requests ``start:stop`` of the item."""
        reqs = self.plan.requests[start:stop]
        cfg = self.cfg
        if self.normed is not None:
            views = torch.tensor([r.view for r in reqs])
            return dt.gather_clips(
                self.normed,
                self.positions[start:stop],
                size=cfg.size,
                views=views,
                num_views=cfg.num_views,
            )
        out = []
        for k, r in enumerate(reqs, start):
            params = draw_clip_params(  # the reference's keyed draws, unchanged
                seed=cfg.seed,
                video=r.video,
                epoch=r.epoch,
                clip=r.clip,
                height=self.height,
                width=self.width,
                size=cfg.size,
                cfg=cfg.augment,
            )
            rows = self.positions[k].to(self.device)
            out.append(dt.augment_clip(self.frames[rows], params, size=cfg.size, cfg=cfg.augment))
        return torch.stack(out)


def autocast_dtype(device: torch.device, dtype: str) -> torch.dtype | None:
    """bf16 (or fp16) autocast on GPU; float32 on CPU, where bf16 is ~4.5x slower.

    The CPU measurement is in docs/dependencies.md (torch row)."""
    if device.type != "cuda" or dtype == "fp32":
        return None
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[dtype]


class _Taker:
    """Hands out an encoded-batch stream in pieces of any length (a round's share)."""

    def __init__(self, batches: Iterator[tuple[list[ClipRequest], torch.Tensor]]) -> None:
        self.batches = batches
        self.reqs: list[ClipRequest] = []
        self.tokens: list[torch.Tensor] = []

    def take(self, n: int) -> tuple[list[ClipRequest], torch.Tensor]:
        while len(self.reqs) < n:
            reqs, tokens = next(self.batches)
            self.reqs += reqs
            self.tokens.append(tokens)
        if not self.tokens:
            return [], torch.empty(0)
        joined = self.tokens[0] if len(self.tokens) == 1 else torch.cat(self.tokens)
        reqs, self.reqs = self.reqs[:n], self.reqs[n:]
        self.tokens = [joined[n:]] if self.reqs else []
        return reqs, joined[:n]

    def close(self) -> None:
        if self.reqs:
            raise RuntimeError(f"clip stream: {len(self.reqs)} encoded clips left unclaimed")
        next(self.batches, None)  # lets the loader finish and its workers exit


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
        ranks: Ranks = SINGLE,
        shard: str = "gather",
    ) -> None:
        if shard not in ("gather", "local"):
            raise ValueError(f"shard must be gather or local, got {shard!r}")
        self.ranks, self.shard = ranks, shard
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
        self.transform_seconds = 0.0  # device backend: clip assembly and augmentation
        self.loader_wait_seconds = 0.0  # time spent waiting for the loader's next item
        self._consumers: list[tuple[Consumer, Callable[[ClipRequest], bool] | None]] = []

    def register(self, consumer: Consumer, wants: Callable[[ClipRequest], bool] | None = None):
        """Feed ``consumer`` every clip, or only those for which ``wants(request)`` is true."""
        self._consumers.append((consumer, wants))
        return consumer

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _loader(self, dataset: torch.utils.data.Dataset) -> torch.utils.data.DataLoader:
        return torch.utils.data.DataLoader(
            dataset,
            batch_size=None,
            shuffle=False,
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=PREFETCH if self.workers else None,
            persistent_workers=False,
        )

    def _timed(self, loader: torch.utils.data.DataLoader) -> Iterator:
        it = iter(loader)
        while True:
            t0 = time.perf_counter()
            item = next(it, None)
            self.loader_wait_seconds += time.perf_counter() - t0
            if item is None:
                return
            yield item

    def _batches(
        self, root: Path, groups: list[tuple[str, list[ClipRequest]]], cfg: PixelConfig
    ) -> Iterator[tuple[list[ClipRequest], torch.Tensor]]:
        if cfg.augment_backend == "reference":
            yield from self._reference_batches(root, groups, cfg)
        else:
            yield from self._device_batches(root, groups, cfg)

    def _device_batches(
        self, root: Path, groups: list[tuple[str, list[ClipRequest]]], cfg: PixelConfig
    ) -> Iterator[tuple[list[ClipRequest], torch.Tensor]]:
        items = plan_items(groups, cfg.max_decoded_frames)
        reqs: list[ClipRequest] = []
        pixels: list[torch.Tensor] = []
        for item in self._timed(self._loader(FrameDataset(root, items, cfg))):
            plan = items[item.index]
            t0 = time.perf_counter()
            maker = DeviceClips(item, plan, cfg, self.device)
            start = 0
            while start < len(plan.requests):
                stop = min(len(plan.requests), start + self.batch_size - len(reqs))
                pixels.append(maker.clips(start, stop))
                reqs.extend(plan.requests[start:stop])
                start = stop
                if len(reqs) == self.batch_size:
                    self._sync()
                    self.transform_seconds += time.perf_counter() - t0
                    yield reqs, pixels[0] if len(pixels) == 1 else torch.cat(pixels)
                    reqs, pixels = [], []
                    t0 = time.perf_counter()
            self._sync()
            self.transform_seconds += time.perf_counter() - t0
        if reqs:
            yield reqs, pixels[0] if len(pixels) == 1 else torch.cat(pixels)

    def _reference_batches(
        self, root: Path, groups: list[tuple[str, list[ClipRequest]]], cfg: PixelConfig
    ) -> Iterator[tuple[list[ClipRequest], torch.Tensor]]:
        reqs: list[ClipRequest] = []
        pixels: list[torch.Tensor] = []
        buffered = 0
        for i, clips in self._timed(self._loader(VideoClipDataset(root, groups, cfg))):
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

    def _encoded(
        self, root: Path, groups: list[tuple[str, list[ClipRequest]]], cfg: PixelConfig
    ) -> Iterator[tuple[list[ClipRequest], torch.Tensor]]:
        for reqs, pixels in self._batches(root, groups, cfg):
            t0 = time.perf_counter()
            tokens = self.encode(pixels)
            self._sync()
            self.encoder_seconds += time.perf_counter() - t0
            yield reqs, tokens

    def _feed(self, reqs: list[ClipRequest], tokens: torch.Tensor) -> None:
        for consumer, wants in self._consumers:
            picked = [k for k, r in enumerate(reqs) if wants is None or wants(r)]
            if not picked:
                continue
            sub = tokens if len(picked) == len(reqs) else tokens[picked]
            consumer.consume([reqs[k] for k in picked], sub)

    def run(self, root: str | Path, requests: Sequence[ClipRequest], cfg: PixelConfig) -> int:
        """Encode every distinct request once; returns the number of clip forwards.

        With parallel ranks and ``shard="gather"`` the count is the whole job's on rank 0 and
        the rank's own elsewhere; with ``shard="local"`` it is the rank's own.
        """
        groups = group_by_video(requests)
        before = self.forwards
        if self.ranks.parallel and self.shard == "gather":
            self._run_gathered(Path(root), groups, cfg)
        else:
            if self.ranks.parallel:  # local: every size-th video, the rest is other ranks' work
                groups = groups[self.ranks.rank :: self.ranks.size]
            for reqs, tokens in self._encoded(Path(root), groups, cfg):
                self.forwards += len(reqs)
                self._feed(reqs, tokens)
        done = self.forwards - before
        logger.info("encoded %d clips of %d videos", done, len(groups))
        return done

    def _run_gathered(
        self, root: Path, groups: list[tuple[str, list[ClipRequest]]], cfg: PixelConfig
    ) -> None:
        """Deal videos out in rounds; rank 0 feeds its consumers in one device's order.

        A round is ``size * k`` consecutive videos (k videos per rank, about one encoder batch
        each); its j-th video goes to rank j % size, so rank 0 always has work and every rank
        knows every share without asking. Rank 0's consumers see the round's clips in the
        order of ``groups``: the same sequence, hence the same batches, epochs and draws
        (augmentation is keyed by video, epoch and clip, never by rank) as on one device.
        """
        import torch.distributed as dist

        size, rank = self.ranks.size, self.ranks.rank
        widest = max((len(reqs) for _, reqs in groups), default=1)
        k = max(1, self.batch_size // widest)
        span = size * k
        rounds = [groups[i : i + span] for i in range(0, len(groups), span)]
        mine = [g for rd in rounds for j, g in enumerate(rd) if j % size == rank]
        source = _Taker(self._encoded(root, mine, cfg))
        for rd in rounds:
            counts = [
                sum(len(r) for j, (_, r) in enumerate(rd) if j % size == q) for q in range(size)
            ]
            reqs, tokens = source.take(counts[rank])
            self.forwards += counts[rank]
            meta = (tuple(tokens.shape[1:]), tokens.dtype) if rank == 0 else None
            shape, dtype = broadcast_object(meta, self.ranks)
            width = max(counts)
            send = torch.zeros((width, *shape), dtype=dtype, device=self.device)
            if counts[rank]:
                send[: counts[rank]] = tokens
            bins = [torch.empty_like(send) for _ in range(size)] if rank == 0 else None
            keys: list | None = [None] * size if rank == 0 else None
            dist.gather_object([r.key for r in reqs], keys, dst=0)
            dist.gather(send, bins, dst=0)
            if rank != 0:
                continue
            self.forwards += sum(counts) - counts[0]
            by_key = {r.key: r for _, group in rd for r in group}
            order: dict[str, list[tuple[int, int]]] = {}
            for q in range(size):
                for row, key in enumerate(keys[q]):
                    order.setdefault(key[0], []).append((q, row))
            flat = [qr for video, _ in rd for qr in order[video]]
            merged = torch.stack([bins[q][row] for q, row in flat])
            ordered = [by_key[keys[q][row]] for q, row in flat]
            for start in range(0, len(ordered), self.batch_size):
                stop = start + self.batch_size
                self._feed(ordered[start:stop], merged[start:stop])
        source.close()

    def counts(self) -> dict:
        return {
            "clip_forwards": self.forwards,
            "encoder_seconds": round(self.encoder_seconds, 3),
            "transform_seconds": round(self.transform_seconds, 3),
            "loader_wait_seconds": round(self.loader_wait_seconds, 3),
        }

    def write_counts(self, path: str | Path, **extra: object) -> None:
        with atomic_open(path) as fh:
            json.dump({**self.counts(), **extra}, fh, indent=2)

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
  device (``video/device_transforms.py``; ``augment_clips``: a batch's clips at once, each with
  its own keyed draws), CPU included;
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
    # training: every epoch through one loader whose workers live from the first to the last
    stream.run_epochs(root, range(epochs), requests_for_epoch, PixelConfig(size=384), end_epoch)

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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn as nn

from vjepa_fer import schema
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

    def __getitem__(self, key: int | tuple[int, tuple]) -> tuple[int, torch.Tensor]:
        i, (video, reqs) = key if isinstance(key, tuple) else (key, self.groups[key])
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
        params = [
            draw_clip_params(  # the reference's keyed draws, unchanged
                seed=cfg.seed,
                video=r.video,
                epoch=r.epoch,
                clip=r.clip,
                height=self.height,
                width=self.width,
                size=cfg.size,
                cfg=cfg.augment,
            )
            for r in reqs
        ]
        rows = self.positions[start:stop].to(self.device)
        return dt.augment_clips(self.frames, rows, params, size=cfg.size, cfg=cfg.augment)


def autocast_dtype(device: torch.device, dtype: str) -> torch.dtype | None:
    """bf16 (or fp16) autocast on GPU; float32 on CPU, where bf16 is ~4.5x slower.

    The CPU measurement is in docs/dependencies.md (torch row)."""
    if device.type != "cuda" or dtype == "fp32":
        return None
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[dtype]


@dataclass
class _Pass:
    """One pass (an epoch of training, or one run) on this rank: what it encodes and feeds."""

    videos: int  # videos of the whole pass, all ranks together
    rounds: list | None  # gathered ranks: the pass's videos dealt out in rounds
    mine: list[tuple[str, list[ClipRequest]]]  # this rank's videos
    items: list  # loader items: ItemPlan (device backend) or (video, requests) (reference)


class _Passes:
    """Each pass's plan, made on first use by the loader's sampler or the feeding loop.

    The sampler runs ahead of the feeding loop by at most ``workers x PREFETCH`` items, so only
    the pass being fed and the next are held (more only when passes are shorter than that); a
    fed pass is released."""

    def __init__(self, make: Callable[[int], _Pass], count: int) -> None:
        self.make, self.count = make, count
        self.cache: dict[int, _Pass] = {}
        self.released = -1  # passes up to here are fed and dropped

    def get(self, k: int) -> _Pass:
        if k <= self.released:  # only an empty pass is asked for after it was fed
            return _Pass(0, [], [], [])
        if k not in self.cache:
            self.cache[k] = self.make(k)
        return self.cache[k]

    def release(self, k: int) -> None:
        self.cache.pop(k, None)
        self.released = max(self.released, k)

    def keys(self) -> Iterator[tuple[int, object]]:
        """The loader's sampler: ``(index in its pass, item plan)`` for every pass in turn."""
        for k in range(self.count):
            yield from enumerate(self.get(k).items)


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
        dtype: str = schema.default("features.dtype"),
        batch_size: int = schema.default("features.batch_size"),
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
        self.loader_starts = 0  # loaders (sets of worker processes) started: one per run
        self._consumers: list[tuple[Consumer, Callable[[ClipRequest], bool] | None]] = []

    def register(self, consumer: Consumer, wants: Callable[[ClipRequest], bool] | None = None):
        """Feed ``consumer`` every clip, or only those for which ``wants(request)`` is true."""
        self._consumers.append((consumer, wants))
        return consumer

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _loader(self, dataset: torch.utils.data.Dataset, keys: Iterable) -> Iterator:
        """One loader (one set of worker processes) for every pass of a run.

        ``keys`` is a lazy iterable over all passes' items, each key carrying its own plan, so the
        workers live from the first epoch to the last and never drain between epochs."""
        self.loader_starts += 1
        loader = torch.utils.data.DataLoader(
            dataset,
            batch_size=None,
            sampler=keys,
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=PREFETCH if self.workers else None,
            persistent_workers=False,  # one iterator serves all epochs: nothing to persist across
        )
        return self._timed(loader)

    def _timed(self, loader: torch.utils.data.DataLoader) -> Iterator:
        it = iter(loader)
        while True:
            t0 = time.perf_counter()
            item = next(it, None)
            self.loader_wait_seconds += time.perf_counter() - t0
            if item is None:
                return
            yield item

    def _plan_pass(self, requests: Sequence[ClipRequest], cfg: PixelConfig) -> _Pass:
        """This rank's share of one pass, cut into loader items."""
        groups = group_by_video(requests)
        rounds = None
        mine = groups
        if self.ranks.parallel and self.shard == "gather":
            size, rank = self.ranks.size, self.ranks.rank
            widest = max((len(reqs) for _, reqs in groups), default=1)
            span = size * max(1, self.batch_size // widest)
            rounds = [groups[i : i + span] for i in range(0, len(groups), span)]
            mine = [g for rd in rounds for j, g in enumerate(rd) if j % size == rank]
        elif self.ranks.parallel:  # local: every size-th video, the rest is other ranks' work
            mine = groups[self.ranks.rank :: self.ranks.size]
        items = (
            mine if cfg.augment_backend == "reference" else plan_items(mine, cfg.max_decoded_frames)
        )
        return _Pass(len(groups), rounds, mine, items)

    def _batches(
        self, items: Iterator, work: _Pass, cfg: PixelConfig
    ) -> Iterator[tuple[list[ClipRequest], torch.Tensor]]:
        if cfg.augment_backend == "reference":
            yield from self._reference_batches(items, work)
        else:
            yield from self._device_batches(items, work, cfg)

    def _device_batches(
        self, items: Iterator, work: _Pass, cfg: PixelConfig
    ) -> Iterator[tuple[list[ClipRequest], torch.Tensor]]:
        reqs: list[ClipRequest] = []
        pixels: list[torch.Tensor] = []
        for index, plan in enumerate(work.items):
            item = next(items)
            if item.index != index:
                raise RuntimeError(f"clip stream: loader item {item.index} arrived as {index}")
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
        if reqs:  # a pass's last batch never mixes with the next pass's clips
            yield reqs, pixels[0] if len(pixels) == 1 else torch.cat(pixels)

    def _reference_batches(
        self, items: Iterator, work: _Pass
    ) -> Iterator[tuple[list[ClipRequest], torch.Tensor]]:
        reqs: list[ClipRequest] = []
        pixels: list[torch.Tensor] = []
        buffered = 0
        for index, (_, group) in enumerate(work.items):
            i, clips = next(items)
            if i != index:
                raise RuntimeError(f"clip stream: loader item {i} arrived as {index}")
            reqs.extend(group)
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
        self, items: Iterator, work: _Pass, cfg: PixelConfig
    ) -> Iterator[tuple[list[ClipRequest], torch.Tensor]]:
        for reqs, pixels in self._batches(items, work, cfg):
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
        return self.run_epochs(root, [0], lambda _: requests, cfg)

    def run_epochs(
        self,
        root: str | Path,
        epochs: Sequence[int],
        requests_for: Callable[[int], Sequence[ClipRequest]],
        cfg: PixelConfig,
        after_epoch: Callable[[int], None] | None = None,
    ) -> int:
        """One pass per epoch, all served by one loader whose workers live through every epoch.

        ``requests_for(epoch)`` is called lazily, once per epoch, when the loader's sampler (which
        runs ahead by ``workers x PREFETCH`` items) or the consumers first need that epoch: at
        most two epochs' requests are held at once. Each epoch's clips are fed exactly as
        :meth:`run` would feed them (same batches, same order), then ``after_epoch(epoch)`` runs
        (on every rank) before the next epoch's first clip is fed. Returns the clip forwards.
        """
        root = Path(root)
        passes = _Passes(lambda k: self._plan_pass(requests_for(epochs[k]), cfg), len(epochs))
        if cfg.augment_backend == "reference":
            dataset: torch.utils.data.Dataset = VideoClipDataset(root, [], cfg)
        else:
            dataset = FrameDataset(root, [], cfg)
        items = self._loader(dataset, passes.keys())
        before = self.forwards
        for k, epoch in enumerate(epochs):
            work = passes.get(k)
            done = self.forwards
            if self.ranks.parallel and self.shard == "gather":
                self._feed_gathered(_Taker(self._encoded(items, work, cfg)), work)
            else:
                for reqs, tokens in self._encoded(items, work, cfg):
                    self.forwards += len(reqs)
                    self._feed(reqs, tokens)
            passes.release(k)
            logger.info("encoded %d clips of %d videos", self.forwards - done, work.videos)
            if after_epoch is not None:
                after_epoch(epoch)
        if next(items, None) is not None:  # also lets the loader finish and its workers exit
            raise RuntimeError("clip stream: the loader returned more items than were planned")
        return self.forwards - before

    def _feed_gathered(self, source: _Taker, work: _Pass) -> None:
        """Deal videos out in rounds; rank 0 feeds its consumers in one device's order.

        A round is ``size * k`` consecutive videos (k videos per rank, about one encoder batch
        each); its j-th video goes to rank j % size, so rank 0 always has work and every rank
        knows every share without asking. Rank 0's consumers see the round's clips in the
        order of the pass's videos: the same sequence, hence the same batches, epochs and draws
        (augmentation is keyed by video, epoch and clip, never by rank) as on one device.
        """
        import torch.distributed as dist

        size, rank = self.ranks.size, self.ranks.rank
        for rd in work.rounds or []:
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

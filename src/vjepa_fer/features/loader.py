"""Loader side of the clip stream (device backend): worker processes ship uint8 frames, not clips.

A pass's requests are grouped by video (``stream.group_by_video``) and cut into *items*, one per
DataLoader index: the clips of one video and one kind (evaluation or augmented training), split
only when their frames exceed ``max_frames`` (the rare minute-long video). A worker decodes an
item's frames once, chunk by chunk with one reader (``decode.iter_decoded``), and returns a
:class:`FrameItem`:

* evaluation items hold, for every needed frame, only the source pixels the evaluation resize
  reads for the kept view (``device_transforms.eval_plan``): (F, R, C, 3) uint8, 1.2 MB per
  1280x720 frame at 384 px (632x632), 0.6 MB at 224 px (448x448), instead of up to 16 float32
  clips per frame;
* training items hold the needed frames at full resolution, (F, H, W, 3) uint8, because
  RandAugment works on the whole frame before the random crop.

The frames tensor is allocated in shared memory inside workers, so handing it to the main process
copies nothing. Clip gathering, float conversion, normalisation and augmentation happen on the
encoder's device (``vjepa_fer.video.device_transforms``).

Memory: an item holds ``F x h x w x 3`` bytes (F <= ``max_frames``; a worker also holds one
decoding chunk of ``DECODE_CHUNK`` full-resolution frames while it builds an evaluation item); up
to ``workers x prefetch`` items wait in shared memory (plus their pinned copies on GPU).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vjepa_fer.features.pixels import PixelConfig
from vjepa_fer.features.requests import ClipRequest
from vjepa_fer.video.decode import iter_decoded
from vjepa_fer.video.device_transforms import eval_plan, take_eval_taps

# Full-resolution frames a worker decodes at once: 22 MB at 1280x720. Larger chunks are served by
# fresh mmap allocations whose page faults cost more than the decoding they batch (measured).
DECODE_CHUNK = 8


@dataclass(frozen=True)
class ItemPlan:
    """What one loader item holds: some clips of one video, all evaluation or all augmented."""

    video: str
    requests: tuple[ClipRequest, ...]
    augment: bool

    def frames_needed(self) -> np.ndarray:
        return np.unique(np.asarray([r.frames for r in self.requests], dtype=np.int64))


@dataclass
class FrameItem:
    """A worker's answer: uint8 frames and, for each requested clip, its rows in ``frames``."""

    index: int  # position in the item list
    frames: torch.Tensor  # (F, h, w, 3) uint8
    positions: torch.Tensor  # (K, T) int64
    source_hw: tuple[int, int]  # decoded frame size (the augmentation draws boxes in it)

    def pin_memory(self) -> FrameItem:
        """Called by the DataLoader's pinning thread when the encoder is on a GPU."""
        return FrameItem(self.index, self.frames.pin_memory(), self.positions, self.source_hw)

    @property
    def nbytes(self) -> int:
        return self.frames.numel() * self.frames.element_size()


def plan_items(
    groups: list[tuple[str, list[ClipRequest]]], max_frames: int | None
) -> list[ItemPlan]:
    """Cut each video's requests into items: one per kind, split where frames exceed the bound."""
    items: list[ItemPlan] = []
    for video, reqs in groups:
        for augment in (False, True):
            todo = [r for r in reqs if r.augment == augment]
            chunk: list[ClipRequest] = []
            frames: set[int] = set()
            for r in todo:
                grown = frames | set(r.frames)
                if chunk and max_frames is not None and len(grown) > max_frames:
                    items.append(ItemPlan(video, tuple(chunk), augment))
                    chunk, grown = [], set(r.frames)
                chunk.append(r)
                frames = grown
            if chunk:
                items.append(ItemPlan(video, tuple(chunk), augment))
    return items


def _empty(shape: tuple[int, ...]) -> torch.Tensor:
    out = torch.empty(shape, dtype=torch.uint8)
    if torch.utils.data.get_worker_info() is not None:
        out.share_memory_()  # filled in place, then passed to the main process without a copy
    return out


def load_item(root: Path, plan: ItemPlan, cfg: PixelConfig, index: int = 0) -> FrameItem:
    """Decode one item's frames once and shrink them as far as the protocol allows exactly."""
    path = Path(root) / plan.video
    needed = plan.frames_needed()
    for r in plan.requests:
        if not plan.augment and r.view >= cfg.num_views:
            raise ValueError(f"{plan.video}: view {r.view} requested, only {cfg.num_views} made")
    out: torch.Tensor | None = None
    plan_eval = None
    start = 0
    for _, chunk in iter_decoded(path, needed, chunk=DECODE_CHUNK, backend=cfg.backend):
        if out is None:
            height, width = int(chunk.shape[1]), int(chunk.shape[2])
            if plan.augment:
                shape = (len(needed), height, width, 3)
            else:
                plan_eval = eval_plan(height, width, cfg.size, cfg.num_views)
                shape = (len(needed), *plan_eval.taps_shape, 3)
            out = _empty(shape)
        if plan_eval is not None:
            chunk = take_eval_taps(chunk, plan_eval)
        out[start : start + len(chunk)] = torch.from_numpy(chunk)
        start += len(chunk)
    if out is None or start != len(needed):
        raise ValueError(f"{path}: decoded {start} of {len(needed)} frames")
    source_hw = (height, width)
    rows = np.searchsorted(needed, np.asarray([r.frames for r in plan.requests], dtype=np.int64))
    return FrameItem(index, out, torch.from_numpy(rows), source_hw)


class FrameDataset(torch.utils.data.Dataset):
    """Item i = the uint8 frames of ``items[i]`` (runs in DataLoader workers).

    A key may also carry its plan, ``(i, plan)``: the clip stream's sampler sends every epoch's
    plans that way, so workers that live across epochs need no per-epoch state (``items`` is
    then empty and never read)."""

    def __init__(self, root: Path, items: list[ItemPlan], cfg: PixelConfig) -> None:
        self.root, self.items, self.cfg = Path(root), items, cfg

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key: int | tuple[int, ItemPlan]) -> FrameItem:
        i, plan = key if isinstance(key, tuple) else (key, self.items[key])
        return load_item(self.root, plan, self.cfg, index=i)


__all__ = ["DECODE_CHUNK", "FrameDataset", "FrameItem", "ItemPlan", "load_item", "plan_items"]

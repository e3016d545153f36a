"""Clip assembly on the encoder's device: uint8 frames in, normalised clips out, batched in torch.

The device twin of ``transforms.py`` (evaluation views) and ``augment.py`` (training
augmentation), which stay the reference (``features.augment_backend: reference``). Loaders hand
over decoded uint8 frames; everything per clip happens here, on whatever device the encoder runs
(CPU included), with the same parameters as the reference:

* **evaluation**: the loader ships, per frame, only the source pixels the bilinear short-side
  resize reads for the pixels the view(s) keep (:func:`eval_plan`, :func:`take_eval_taps`): the
  centre region, and at strong downscales only every row/column a tap touches (at 384 px a
  1280x720 frame shrinks to 632x632, at 224 px to 448x448). The device puts them back at their
  places in a zero frame and runs the reference's own resize (``F.interpolate`` bilinear, no
  anti-aliasing, rounded to grey levels), so the pixels equal the reference's exactly on the
  CPU; decoding stays the loader's only real work. Each distinct frame is resized and normalised
  once, then clips are gathered (with stride 1 each frame sits in up to 16 clips);
* **training** (:func:`augment_clip`): the keyed parameters come from
  :func:`vjepa_fer.video.augment.draw_clip_params`, exactly as in the reference; RandAugment runs
  on the device (``device_randaugment.py``, PIL's arithmetic), then crop -> bilinear resize ->
  normalise, flip and random erasing as in :func:`vjepa_fer.video.augment.apply_clip_params`.
  The erasing noise still comes from a seeded CPU generator, so it is bit-identical.

    plan = eval_plan(720, 1280, size=384)
    grid = take_eval_taps(decoded_uint8, plan)                   # loader: (F, 632, 632, 3) uint8
    frames = eval_frames(grid.to(dev), plan)                     # device: (F, 3, 384, 384)
    x = gather_clips(frames, positions, size=384)                # (K, 3, 16, 384, 384)
    y = augment_clip(frames_thw3.to(dev), params, size=384, cfg=AugmentConfig())  # (3, T, S, S)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from vjepa_fer.video import device_randaugment as dra
from vjepa_fer.video import transforms as vt
from vjepa_fer.video.augment import AugmentConfig, ClipAugParams

# Frames resized at once on the device: bounds the full-size float32 frame buffer (11 MB each at
# 1280x720).
EVAL_CHUNK = 16
# Float32 source positions in torch's kernel may differ from ours in the last bits; any tap within
# this distance of a pixel boundary is shipped on both sides.
_TAP_MARGIN = 1e-3


def _check_frames(frames: torch.Tensor, what: str) -> None:
    if not isinstance(frames, torch.Tensor) or frames.dtype != torch.uint8:
        raise ValueError(f"{what}: frames must be a uint8 tensor, got {type(frames).__name__}")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"{what}: frames must have shape (N, H, W, 3), got {tuple(frames.shape)}")


def source_taps(in_size: int, out_size: int, start: int, stop: int) -> np.ndarray:
    """Input indices that ``F.interpolate(bilinear, align_corners=False)`` reads for outputs
    ``start..stop-1`` along one axis (sorted, unique); the identity when the sizes match."""
    if in_size == out_size:
        return np.arange(start, stop, dtype=np.int64)
    src = np.maximum((in_size / out_size) * (np.arange(start, stop) + 0.5) - 0.5, 0.0)
    lo = np.floor(np.maximum(src - _TAP_MARGIN, 0.0))
    hi = np.floor(src + _TAP_MARGIN) + 1  # the second tap
    taps = np.concatenate([lo, lo + 1, hi - 1, hi]).astype(np.int64)
    return np.unique(np.clip(taps, 0, in_size - 1))


@dataclass(frozen=True)
class EvalPlan:
    """Geometry of the evaluation view(s) for frames of one size."""

    height: int
    width: int
    size: int
    num_views: int
    resized: tuple[int, int]  # frame size after the short-side resize
    keep: tuple[int, int, int, int]  # (top, left, height, width) of the resized frame kept
    rows: np.ndarray  # source rows the kept pixels read
    cols: np.ndarray  # source columns the kept pixels read

    @property
    def taps_shape(self) -> tuple[int, int]:
        return len(self.rows), len(self.cols)


def eval_plan(height: int, width: int, size: int, num_views: int = 1) -> EvalPlan:
    """One view: short side to ``floor(size*256/224)`` and the centre crop (kept region ``size``
    square); several views: short side to ``size``, all of it kept (the views span it)."""
    if size <= 0 or num_views < 1:
        raise ValueError(f"size and num_views must be positive, got {size}, {num_views}")
    short = vt.eval_short_side(size) if num_views == 1 else size
    new_h, new_w = vt.resized_hw(height, width, short)
    if num_views == 1:
        top, left = int(round((new_h - size) / 2.0)), int(round((new_w - size) / 2.0))
        keep = (top, left, size, size)
    else:
        keep = (0, 0, new_h, new_w)
    top, left, kh, kw = keep
    return EvalPlan(
        height,
        width,
        size,
        num_views,
        (new_h, new_w),
        keep,
        source_taps(height, new_h, top, top + kh),
        source_taps(width, new_w, left, left + kw),
    )


def _take(a: np.ndarray, idx: np.ndarray, axis: int) -> np.ndarray:
    """``np.take`` along ``axis``, as a view when ``idx`` (sorted, unique) is a contiguous range."""
    if len(idx) == a.shape[axis]:
        return a
    if idx[-1] - idx[0] + 1 == len(idx):
        where = [slice(None)] * a.ndim
        where[axis] = slice(int(idx[0]), int(idx[-1]) + 1)
        return a[tuple(where)]
    return np.take(a, idx, axis=axis)


def take_eval_taps(frames: np.ndarray, plan: EvalPlan) -> np.ndarray:
    """Loader side: decoded uint8 frames (N, H, W, 3) -> the tap grid (N, rows, cols, 3)."""
    if frames.ndim != 4 or frames.shape[1:] != (plan.height, plan.width, 3):
        raise ValueError(
            f"frames of shape {frames.shape} do not match the plan's {plan.height}x{plan.width}"
        )
    return _take(_take(frames, plan.rows, 1), plan.cols, 2)


def eval_frames(
    grid: torch.Tensor,
    plan: EvalPlan,
    *,
    mean: tuple[float, float, float] = vt.IMAGENET_MEAN,
    std: tuple[float, float, float] = vt.IMAGENET_STD,
    chunk: int = EVAL_CHUNK,
) -> torch.Tensor:
    """Device side: tap grids (F, rows, cols, 3) uint8 -> the kept region of every frame after
    the reference's resize, rounding and normalisation, float32 (F, 3, kh, kw)."""
    _check_frames(grid, "evaluation frames")
    if tuple(grid.shape[1:3]) != plan.taps_shape:
        raise ValueError(f"tap grid {tuple(grid.shape)} does not match the plan {plan.taps_shape}")
    dev = grid.device
    top, left, kh, kw = plan.keep
    n = grid.shape[0]
    out = torch.empty((n, 3, kh, kw), dtype=torch.float32, device=dev)
    if plan.resized == (plan.height, plan.width):  # no resize: the grid is the kept region
        for s in range(0, n, chunk):
            out[s : s + chunk] = vt.normalize(
                grid[s : s + chunk].permute(0, 3, 1, 2).float(), mean, std
            )
        return out
    rows = torch.from_numpy(plan.rows).to(dev).view(-1, 1)
    cols = torch.from_numpy(plan.cols).to(dev).view(1, -1)
    # Zero everywhere no kept output pixel reads; the same buffer serves every chunk.
    full = torch.zeros((min(chunk, n), plan.height, plan.width, 3), dtype=torch.float32, device=dev)
    for s in range(0, n, chunk):
        g = grid[s : s + chunk]
        buf = full[: len(g)]
        buf[:, rows, cols] = g.float()
        # The reference's call on the reference's layout (channels-last strides, float32).
        x = F.interpolate(
            buf.permute(0, 3, 1, 2),
            size=plan.resized,
            mode="bilinear",
            align_corners=False,
            antialias=False,
        )
        x = x[:, :, top : top + kh, left : left + kw].round_().clamp_(0.0, 255.0)
        out[s : s + len(g)] = vt.normalize(x, mean, std)
    return out


def gather_clips(
    normed: torch.Tensor,
    positions: torch.Tensor,
    *,
    size: int,
    views: torch.Tensor | None = None,
    num_views: int = 1,
) -> torch.Tensor:
    """Clips (K, 3, T, S, S) from normalised frames (F, 3, h, w): ``positions`` (K, T) are rows,
    ``views`` (K,) each clip's view (default 0; several views are cut along the long side)."""
    pos = positions.to(normed.device)
    if num_views == 1:
        clips = normed[pos]  # (K, T, 3, S, S)
    else:
        height, width = normed.shape[-2:]
        offsets = vt.spread_crop_offsets(max(height, width), size, num_views)
        views = torch.zeros(len(pos), dtype=torch.long) if views is None else views.cpu()
        crops = []
        for k in range(len(pos)):
            o = offsets[int(views[k])]
            clip = normed[pos[k]]  # (T, 3, h, w)
            if height > width:
                crops.append(clip[:, :, o : o + size, :size])
            else:
                crops.append(clip[:, :, :size, o : o + size])
        clips = torch.stack(crops)
    return clips.permute(0, 2, 1, 3, 4).contiguous()  # (K, 3, T, S, S)


def eval_clips(
    frames: torch.Tensor,
    positions: torch.Tensor,
    *,
    size: int,
    num_views: int = 1,
    views: torch.Tensor | None = None,
) -> torch.Tensor:
    """Device side, all in one: decoded uint8 frames (F, H, W, 3) -> clips (K, 3, T, S, S)."""
    _check_frames(frames, "evaluation frames")
    plan = eval_plan(int(frames.shape[1]), int(frames.shape[2]), size, num_views)
    grid = torch.from_numpy(np.ascontiguousarray(take_eval_taps(frames.cpu().numpy(), plan)))
    normed = eval_frames(grid.to(frames.device), plan)
    return gather_clips(normed, positions, size=size, views=views, num_views=num_views)


def augment_clip(
    frames: torch.Tensor,
    params: ClipAugParams,
    *,
    size: int,
    cfg: AugmentConfig | None = None,
) -> torch.Tensor:
    """Device side: one training clip (T, H, W, 3) uint8 -> (3, T, size, size) float32.

    Same steps and parameters as :func:`vjepa_fer.video.augment.apply_clip_params`; RandAugment
    runs as torch ops on ``frames.device``.
    """
    cfg = cfg or AugmentConfig()
    _check_frames(frames, "training clip")
    x = frames.permute(0, 3, 1, 2)  # (T, 3, H, W), channels-last strides
    if params.ops:
        x = dra.apply_ops(
            x.contiguous(), list(params.ops), fill=cfg.ra_fill, resample=cfg.ra_resample
        )
        x = x.contiguous(memory_format=torch.channels_last)  # the reference's layout below
    if params.crop_box is not None:
        top, left, h, w = params.crop_box
        x = x[:, :, top : top + h, left : left + w].float()
        x = F.interpolate(
            x, size=(size, size), mode="bilinear", align_corners=False, antialias=cfg.antialias
        )
        x = vt.normalize(x, cfg.mean, cfg.std)
    else:
        x = vt.normalize(x.float(), cfg.mean, cfg.std)
        x = vt.resize_short_side(x, vt.eval_short_side(size), antialias=cfg.antialias)
        x = vt.center_crop(x, size)
    if params.flip:
        x = x.flip(-1)
    if params.erase_box is not None:
        top, left, h, w = params.erase_box
        num_frames = x.shape[0]
        gen = torch.Generator(device="cpu").manual_seed(params.noise_seed)
        n = 1 if cfg.erase_shared_noise else num_frames
        noise = torch.randn((n, 3, h, w), generator=gen, dtype=torch.float32)
        x = x.contiguous()
        x[:, :, top : top + h, left : left + w] = noise.to(x.device).expand(num_frames, 3, h, w)
    return x.permute(1, 0, 2, 3).contiguous()  # (T, 3, S, S) -> (3, T, S, S)


def augment_clips(
    frames: torch.Tensor,
    positions: torch.Tensor,
    params: Sequence[ClipAugParams],
    *,
    size: int,
    cfg: AugmentConfig | None = None,
    batch_ops: bool | None = None,
) -> torch.Tensor:
    """Device side, many training clips at once: uint8 frames (F, H, W, 3), clip k's rows
    ``positions[k]`` (K, T) and keyed draws ``params[k]`` -> (K, 3, T, size, size) float32.

    Equal to stacking :func:`augment_clip` over the clips, with batched steps instead of a loop:
    one resize per distinct crop size (``F.interpolate`` takes one output size per call, and a
    resize batched over clips computes every clip's pixels as alone), normalisation, flips and
    erasing over the batch; the erasing noise stays one keyed CPU generator per erased clip.
    RandAugment runs grouped by op (:func:`~vjepa_fer.video.device_randaugment.apply_clip_ops`)
    when ``batch_ops`` is true, by default on a GPU only: on the CPU one frame at a time through
    a clip's ops is faster (``benchmarks/device_augment.py``).
    """
    cfg = cfg or AugmentConfig()
    _check_frames(frames, "training clips")
    k_clips, t = positions.shape
    if len(params) != k_clips:
        raise ValueError(f"{len(params)} draws for {k_clips} clips")
    x = frames[positions.reshape(-1).to(frames.device)].permute(0, 3, 1, 2)  # (K*T, 3, H, W)
    if any(p.ops for p in params):
        x = x.contiguous()
        ops = [p.ops for p in params]
        if frames.device.type != "cpu" if batch_ops is None else batch_ops:
            x = dra.apply_clip_ops(x, ops, fill=cfg.ra_fill, resample=cfg.ra_resample)
        else:
            for k, o in enumerate(ops):  # in place: x is this call's own copy of the frames
                if o:
                    x[k * t : (k + 1) * t] = dra.apply_ops(
                        x[k * t : (k + 1) * t], list(o), fill=cfg.ra_fill, resample=cfg.ra_resample
                    )
        x = x.contiguous(memory_format=torch.channels_last)  # the reference's layout below
    out = torch.empty((k_clips, t, 3, size, size), dtype=torch.float32, device=frames.device)
    crops: dict[tuple[int, int] | None, list[int]] = {}
    for k, p in enumerate(params):
        crops.setdefault(None if p.crop_box is None else p.crop_box[2:], []).append(k)
    for shape, clips in crops.items():
        if shape is None:  # RRC off: the evaluation geometry, the same for every clip
            rows = (torch.tensor(clips).view(-1, 1) * t + torch.arange(t)).view(-1)
            y = x[rows.to(x.device)].contiguous(memory_format=torch.channels_last).float()
            y = vt.normalize(y, cfg.mean, cfg.std)
            y = vt.resize_short_side(y, vt.eval_short_side(size), antialias=cfg.antialias)
            out[clips] = vt.center_crop(y, size).reshape(len(clips), t, 3, size, size)
            continue
        h, w = shape
        parts = []
        for k in clips:
            top, left = params[k].crop_box[:2]
            parts.append(x[k * t : (k + 1) * t, :, top : top + h, left : left + w])
        y = torch.cat(parts).float().contiguous(memory_format=torch.channels_last)
        y = F.interpolate(
            y, size=(size, size), mode="bilinear", align_corners=False, antialias=cfg.antialias
        )
        out[clips] = vt.normalize(y, cfg.mean, cfg.std).reshape(len(clips), t, 3, size, size)
    flips = [k for k, p in enumerate(params) if p.flip]
    if flips:
        out[flips] = out[flips].flip(-1)
    for k, p in enumerate(params):
        if p.erase_box is None:
            continue
        top, left, h, w = p.erase_box
        gen = torch.Generator(device="cpu").manual_seed(p.noise_seed)
        n = 1 if cfg.erase_shared_noise else t
        noise = torch.randn((n, 3, h, w), generator=gen, dtype=torch.float32)
        out[k, :, :, top : top + h, left : left + w] = noise.to(out.device).expand(t, 3, h, w)
    return out.permute(0, 2, 1, 3, 4).contiguous()  # (K, 3, T, S, S)


__all__ = [
    "EvalPlan",
    "augment_clip",
    "augment_clips",
    "eval_clips",
    "eval_frames",
    "eval_plan",
    "gather_clips",
    "source_taps",
    "take_eval_taps",
]

"""Evaluation transforms for video clips: resize, crop and normalise with plain torch.

Implements docs/protocol.md, section "Clips" (the evaluation view behind Tables II-IV and the
optional 3-view variant) and "Normalisation". No torchvision: resizing is
``torch.nn.functional.interpolate``, so the same code runs on CPU and GPU, batched over frames.

Facts followed from the authors' code base (facebookresearch/jepa, ``VideoTransform`` and
``EvalVideoTransform``):

* One view: short side resized to ``floor(S * 256 / 224)`` (the long side to
  ``floor(new_short * long / short)``), then a centre crop ``S x S`` whose offset is
  ``round((dim - S) / 2)`` (Python rounding), then ``/255`` and ImageNet normalisation.
* Three views: short side resized to ``S``; three ``S``-wide crops along the long side starting at
  ``i * ((long - S) // 2)``, i = 0, 1, 2.
* The reference resizes decoded numpy frames with OpenCV ``INTER_LINEAR`` into uint8. That is
  bilinear with half-pixel centres and no anti-aliasing, so we use ``mode="bilinear",
  align_corners=False, antialias=False`` and round back to integer levels (``quantize=True``).
  This keeps our pixels within one grey level of the authors' and therefore the features the probe
  sees comparable. ``antialias=True`` is a switch for users who prefer a cleaner downscale.

Usage::

    from vjepa_fer.video.transforms import eval_transform
    x = eval_transform(frames_uint8, size=384)  # (T, H, W, 3) uint8 -> (3, T, 384, 384) float32

Frames are independent, so a caller may transform all decoded frames of a video once and gather
the 16-frame clips afterwards.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F

from vjepa_fer import schema

logger = logging.getLogger(__name__)

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

# Frames resized at once; bounds the float32 working set (a 720p frame is ~11 MB in float32).
DEFAULT_CHUNK = 32


def eval_short_side(size: int) -> int:
    """Short side before the centre crop: ``floor(size * 256 / 224)`` (384 -> 438, 224 -> 256)."""
    return int(size * 256 / 224)


def resized_hw(height: int, width: int, short_side: int) -> tuple[int, int]:
    """Output (height, width) when the short side becomes ``short_side``; the long side is floored.

    Mirrors the reference's size rule: the narrower dimension gets ``short_side`` exactly and the
    other ``int(short_side * long / short)``; a square image stays square.
    """
    if width < height:
        return int(short_side * height / width), short_side
    return short_side, int(short_side * width / height)


def frames_to_tensor(
    frames: np.ndarray | torch.Tensor, device: torch.device | str | None = None
) -> torch.Tensor:
    """Validate uint8 frames (T, H, W, 3) and return a float32 tensor (T, 3, H, W) in [0, 255]."""
    if isinstance(frames, np.ndarray):
        frames = torch.from_numpy(np.ascontiguousarray(frames))
    if not isinstance(frames, torch.Tensor):
        raise TypeError(
            f"frames must be a numpy array or torch tensor, got {type(frames).__name__}"
        )
    if frames.dtype != torch.uint8:
        raise ValueError(f"frames must be uint8, got {frames.dtype}")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have shape (T, H, W, 3), got {tuple(frames.shape)}")
    if device is not None:
        frames = frames.to(device)
    return frames.permute(0, 3, 1, 2).float()  # (T, 3, H, W)


def normalize(
    x: torch.Tensor,
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
) -> torch.Tensor:
    """Map a (T, 3, H, W) tensor in [0, 255] to ImageNet-normalised values (new tensor)."""
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x / 255.0 - m) / s


def resize_short_side(
    x: torch.Tensor, short_side: int, *, antialias: bool = False, quantize: bool = False
) -> torch.Tensor:
    """Bilinearly resize (T, C, H, W) so that its short side is ``short_side``.

    ``quantize`` rounds to integer levels and clips to [0, 255], as the reference's uint8 OpenCV
    resize does; only meaningful for inputs on the 0-255 scale.
    """
    height, width = x.shape[-2:]
    new_h, new_w = resized_hw(height, width, short_side)
    if (new_h, new_w) == (height, width):
        # The reference skips the resize when the short side already matches.
        return x
    out = F.interpolate(
        x, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=antialias
    )
    if quantize:
        out = out.round_().clamp_(0.0, 255.0)
    return out


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """Centre ``size x size`` crop of (..., H, W); offsets ``round((dim - size) / 2)``."""
    height, width = x.shape[-2:]
    if size > height or size > width:
        raise ValueError(f"crop {size}x{size} is larger than the frame {height}x{width}")
    top = int(round((height - size) / 2.0))
    left = int(round((width - size) / 2.0))
    return x[..., top : top + size, left : left + size]


def spread_crop_offsets(long_side: int, size: int, num_views: int) -> list[int]:
    """Start offsets of ``num_views`` crops spread evenly along a side of length ``long_side``."""
    if num_views < 2:
        raise ValueError(f"spread crops need at least 2 views, got {num_views}")
    step = (long_side - size) // (num_views - 1)
    return [i * step for i in range(num_views)]


def _chunks(num: int, chunk: int) -> list[slice]:
    chunk = max(1, chunk)
    return [slice(i, min(i + chunk, num)) for i in range(0, num, chunk)]


def eval_views(
    frames: np.ndarray | torch.Tensor,
    size: int = schema.default("encoder.img_size"),
    *,
    num_views: int = 1,
    device: torch.device | str | None = None,
    antialias: bool = False,
    quantize: bool = True,
    chunk: int = DEFAULT_CHUNK,
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
) -> list[torch.Tensor]:
    """Evaluation views of uint8 frames (T, H, W, 3); each view is float32 (3, T, size, size).

    ``num_views == 1``: short side to ``floor(size*256/224)`` and a centre crop (the protocol's
    evaluation view). ``num_views > 1``: short side to ``size`` and crops spread along the long
    side (the authors' per-epoch multi-view validation).
    """
    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")
    if num_views < 1:
        raise ValueError(f"num_views must be >= 1, got {num_views}")
    x_all = frames_to_tensor(frames, device)
    num_frames = x_all.shape[0]
    short = eval_short_side(size) if num_views == 1 else size
    out_dev = x_all.device
    views = [
        torch.empty((3, num_frames, size, size), dtype=torch.float32, device=out_dev)
        for _ in range(num_views)
    ]
    for sl in _chunks(num_frames, chunk):
        x = resize_short_side(x_all[sl], short, antialias=antialias, quantize=quantize)
        x = normalize(x, mean, std)  # (t, 3, h, w)
        if num_views == 1:
            crops = [center_crop(x, size)]
        else:
            height, width = x.shape[-2:]
            offsets = spread_crop_offsets(max(height, width), size, num_views)
            if height > width:
                crops = [x[:, :, o : o + size, :size] for o in offsets]
            else:
                crops = [x[:, :, :size, o : o + size] for o in offsets]
        for view, crop in zip(views, crops, strict=True):
            view[:, sl] = crop.permute(1, 0, 2, 3)  # (t, 3, S, S) -> (3, t, S, S)
    return views


def eval_transform(
    frames: np.ndarray | torch.Tensor,
    size: int = schema.default("encoder.img_size"),
    *,
    device: torch.device | str | None = None,
    antialias: bool = False,
    quantize: bool = True,
    chunk: int = DEFAULT_CHUNK,
) -> torch.Tensor:
    """The protocol's single evaluation view: (T, H, W, 3) uint8 -> (3, T, size, size) float32."""
    return eval_views(
        frames,
        size,
        num_views=1,
        device=device,
        antialias=antialias,
        quantize=quantize,
        chunk=chunk,
    )[0]


def expected_normalized(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    """Normalised value of a constant uint8 colour (useful for checks and tests)."""
    return tuple(
        (c / 255.0 - m) / s for c, m, s in zip(rgb, IMAGENET_MEAN, IMAGENET_STD, strict=True)
    )  # type: ignore[return-value]


__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "center_crop",
    "eval_short_side",
    "eval_transform",
    "eval_views",
    "expected_normalized",
    "frames_to_tensor",
    "normalize",
    "resize_short_side",
    "resized_hw",
    "spread_crop_offsets",
]

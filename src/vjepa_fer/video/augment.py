"""Training augmentation of one clip, keyed so that its pixels depend only on (seed, video, epoch,
clip) and never on batch order, worker count or global RNG state.

Implements docs/protocol.md, "Training augmentation" (per clip, same parameters on every
frame), in the order of the authors' ``VideoTransform`` (facebookresearch/jepa,
``evals/video_classification_frozen/utils.py``):

1. RandAugment ``rand-m7-n4-mstd0.5-inc1`` on the uint8 frames (PIL, see ``randaugment.py``);
2. to float, ``/255``, ImageNet normalisation;
3. random-resized crop of the full frame (area U(0.08, 1), log-uniform aspect [3/4, 4/3],
   10 tries then the centre-crop fallback), bilinear resize to ``size x size``, one box for all
   frames; the reference resizes with ``interpolate(bilinear, align_corners=False)``, no
   anti-aliasing, and so do we by default;
4. no horizontal flip (``hflip_prob`` is a switch, default 0);
5. random erasing (timm semantics, the jepa fork's "cube" variant): p = 0.25, one box of area
   U(0.02, 1/3) and log-uniform aspect [0.3, 1/0.3] (up to 100 tries), the same box on every frame,
   filled with per-pixel N(0, 1) noise. The reference draws fresh noise for every frame
   (``erase_shared_noise=False``); identical noise on every frame is a switch.

Randomness: ``blake2b(f"{seed}|{video}|{epoch}|{clip}")`` seeds a ``numpy.random.SeedSequence``
whose spawned children drive the five parts (RandAugment, crop, flip, erase box, erase noise)
independently, so switching one part off leaves the others' draws unchanged. Erase noise comes
from a CPU ``torch.Generator``, so CPU and GPU runs produce the same values.

Usage::

    from vjepa_fer.video.augment import AugmentConfig, augment_clip
    x = augment_clip(frames, seed=0, video="01-01-03-01-01-01-01", epoch=3, clip=5, size=384,
                     cfg=AugmentConfig())  # (T, H, W, 3) uint8 -> (3, T, 384, 384) float32
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from vjepa_fer.video import randaugment as ra
from vjepa_fer.video import transforms as vt

logger = logging.getLogger(__name__)

Box = tuple[int, int, int, int]  # (top, left, height, width)


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation settings; defaults are the authors' values."""

    rand_augment: bool = True
    magnitude: float = 7.0
    num_ops: int = 4
    magnitude_std: float = 0.5
    increasing: bool = True
    op_prob: float = 0.5
    ra_resample: str = "bicubic"
    ra_fill: tuple[int, int, int] = ra.FILL
    random_resized_crop: bool = True
    rrc_scale: tuple[float, float] = (0.08, 1.0)
    rrc_ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0)
    rrc_tries: int = 10
    antialias: bool = False
    hflip_prob: float = 0.0
    reprob: float = 0.25
    erase_area: tuple[float, float] = (0.02, 1.0 / 3.0)
    erase_aspect: tuple[float, float] = (0.3, 1.0 / 0.3)
    erase_tries: int = 100
    erase_shared_noise: bool = False
    mean: tuple[float, float, float] = vt.IMAGENET_MEAN
    std: tuple[float, float, float] = vt.IMAGENET_STD

    def policy(self) -> ra.RandAugmentPolicy:
        return ra.RandAugmentPolicy(
            magnitude=self.magnitude,
            num_ops=self.num_ops,
            magnitude_std=self.magnitude_std,
            increasing=self.increasing,
            prob=self.op_prob,
            fill=self.ra_fill,
            resample=self.ra_resample,
        )


@dataclass(frozen=True)
class ClipAugParams:
    """Every random outcome for one clip; applying it is deterministic."""

    ops: tuple[ra.OpDraw, ...]
    crop_box: Box | None  # in input-frame pixels; None: RRC switched off
    flip: bool
    erase_box: Box | None  # in output pixels; None: not erased
    noise_seed: int


def clip_entropy(seed: int, video: str, epoch: int, clip: int) -> int:
    """128-bit entropy from a stable hash of the key (Python's ``hash`` is salted per process)."""
    key = f"{seed}|{video}|{epoch}|{clip}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=16).digest(), "little")


def clip_generators(seed: int, video: str, epoch: int, clip: int) -> list[np.random.Generator]:
    """Five independent generators: RandAugment, crop, flip, erase box, erase noise."""
    children = np.random.SeedSequence(clip_entropy(seed, video, epoch, clip)).spawn(5)
    return [np.random.default_rng(c) for c in children]


def sample_rrc_box(
    rng: np.random.Generator,
    height: int,
    width: int,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
    tries: int = 10,
) -> Box:
    """Random-resized-crop box (torchvision / jepa ``_get_param_spatial_crop`` semantics)."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(tries):
        target_area = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            return top, left, h, w
    # Fallback: the largest centred box whose aspect lies within ``ratio``.
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        h, w = height, width
    return (height - h) // 2, (width - w) // 2, h, w


def sample_erase_box(
    rng: np.random.Generator,
    height: int,
    width: int,
    prob: float = 0.25,
    area_range: tuple[float, float] = (0.02, 1.0 / 3.0),
    aspect_range: tuple[float, float] = (0.3, 1.0 / 0.3),
    tries: int = 100,
) -> Box | None:
    """Random-erasing box (timm semantics, one box); None when not erased this time."""
    if rng.random() > prob:
        return None
    area = height * width
    log_aspect = (math.log(aspect_range[0]), math.log(aspect_range[1]))
    for _ in range(tries):
        target_area = area * rng.uniform(area_range[0], area_range[1])
        aspect = math.exp(rng.uniform(log_aspect[0], log_aspect[1]))
        h = int(round(math.sqrt(target_area * aspect)))
        w = int(round(math.sqrt(target_area / aspect)))
        if w < width and h < height:  # strict, as in timm
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            return top, left, h, w
    return None


def draw_clip_params(
    *,
    seed: int,
    video: str,
    epoch: int,
    clip: int,
    height: int,
    width: int,
    size: int,
    cfg: AugmentConfig | None = None,
) -> ClipAugParams:
    """Draw every random choice of one clip's augmentation for frames of ``height x width``."""
    cfg = cfg or AugmentConfig()
    g_ra, g_crop, g_flip, g_erase, g_noise = clip_generators(seed, video, epoch, clip)
    ops = tuple(ra.draw_ops(g_ra, cfg.policy())) if cfg.rand_augment else ()
    crop_box = (
        sample_rrc_box(g_crop, height, width, cfg.rrc_scale, cfg.rrc_ratio, cfg.rrc_tries)
        if cfg.random_resized_crop
        else None
    )
    flip = bool(cfg.hflip_prob > 0 and g_flip.random() < cfg.hflip_prob)
    erase_box = (
        sample_erase_box(
            g_erase, size, size, cfg.reprob, cfg.erase_area, cfg.erase_aspect, cfg.erase_tries
        )
        if cfg.reprob > 0
        else None
    )
    noise_seed = int(g_noise.integers(0, 2**63 - 1))
    return ClipAugParams(ops, crop_box, flip, erase_box, noise_seed)


def apply_clip_params(
    frames: np.ndarray | torch.Tensor,
    params: ClipAugParams,
    *,
    size: int,
    cfg: AugmentConfig | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Apply drawn parameters to uint8 frames (T, H, W, 3); returns float32 (3, T, size, size)."""
    cfg = cfg or AugmentConfig()
    if isinstance(frames, torch.Tensor) and device is None:
        device = frames.device
    if params.ops:
        # PIL works on CPU uint8 images; everything after runs on ``device``.
        if isinstance(frames, torch.Tensor):
            frames = frames.cpu().numpy()
        frames = ra.apply_ops(frames, list(params.ops), fill=cfg.ra_fill, resample=cfg.ra_resample)
    if params.crop_box is not None:
        top, left, h, w = params.crop_box
        # The reference normalises, crops, then resizes. Normalisation is per pixel and affine, and
        # bilinear weights sum to 1, so crop -> resize -> normalise gives the same values (up to
        # float rounding) while normalising S x S pixels instead of the whole frame.
        x = vt.frames_to_tensor(frames[:, top : top + h, left : left + w], device)  # (T, 3, h, w)
        x = F.interpolate(
            x, size=(size, size), mode="bilinear", align_corners=False, antialias=cfg.antialias
        )
        x = vt.normalize(x, cfg.mean, cfg.std)
    else:
        # RRC off: the evaluation geometry, so train and test views match.
        x = vt.normalize(vt.frames_to_tensor(frames, device), cfg.mean, cfg.std)
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


def augment_clip(
    frames_uint8: np.ndarray | torch.Tensor,
    *,
    seed: int,
    video: str,
    epoch: int,
    clip: int,
    size: int,
    cfg: AugmentConfig | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Augment one training clip (T, H, W, 3) uint8 -> (3, T, size, size) float32, keyed.

    ``video`` should be a stable identifier (e.g. the video id, not an absolute path) so the same
    key gives the same pixels on every machine.
    """
    dtype_ok = frames_uint8.dtype in (np.uint8, torch.uint8)
    if frames_uint8.ndim != 4 or frames_uint8.shape[-1] != 3 or not dtype_ok:
        raise ValueError(
            f"video {video!r} clip {clip}: frames must be uint8 with shape (T, H, W, 3), "
            f"got {frames_uint8.dtype} {tuple(frames_uint8.shape)}"
        )
    height, width = int(frames_uint8.shape[1]), int(frames_uint8.shape[2])
    params = draw_clip_params(
        seed=seed,
        video=video,
        epoch=epoch,
        clip=clip,
        height=height,
        width=width,
        size=size,
        cfg=cfg,
    )
    logger.debug("augment %s epoch %d clip %d: %s", video, epoch, clip, params)
    return apply_clip_params(frames_uint8, params, size=size, cfg=cfg, device=device)


__all__ = [
    "AugmentConfig",
    "ClipAugParams",
    "apply_clip_params",
    "augment_clip",
    "clip_entropy",
    "clip_generators",
    "draw_clip_params",
    "sample_erase_box",
    "sample_rrc_box",
]

"""RandAugment for video clips, one draw per clip, implemented with PIL (no timm/torchvision).

Implements docs/protocol.md, "Training augmentation", step 1: ``rand-m7-n4-mstd0.5-inc1``.
Behaviour follows timm's ``auto_augment.py`` as forked into facebookresearch/jepa
(``src/datasets/utils/video/randaugment.py``), which the authors' code uses:

* ``num_ops`` ops drawn uniformly *with replacement* from the 15 "increasing" ops;
* each op is applied with probability 0.5 (skipped when ``u > 0.5``);
* its magnitude is drawn from N(m, mstd) and clipped to [0, 10];
* signed ops (Rotate, Shear, Translate, the four enhance ops) negate their argument with
  probability 0.5;
* geometric ops resample bicubically (the authors pass ``interpolation="bicubic"``) and fill the
  uncovered area with (128, 128, 128).

For a clip, every one of these draws happens once and the resulting ``OpDraw`` list is applied to
every frame (the jepa fork's ``AugmentOp`` draws once and maps the op over the frame list).
Histogram ops (AutoContrast, Equalize) still compute their table per frame, as PIL does there.

Usage::

    policy = parse_policy("rand-m7-n4-mstd0.5-inc1")
    draws = draw_ops(np.random.default_rng(0), policy)
    frames = apply_ops(frames_uint8, draws)  # (T, H, W, 3) uint8 -> same shape
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

logger = logging.getLogger(__name__)

MAX_LEVEL = 10.0
FILL: tuple[int, int, int] = (128, 128, 128)

RAND_TRANSFORMS: tuple[str, ...] = (
    "AutoContrast",
    "Equalize",
    "Invert",
    "Rotate",
    "Posterize",
    "Solarize",
    "SolarizeAdd",
    "Color",
    "Contrast",
    "Brightness",
    "Sharpness",
    "ShearX",
    "ShearY",
    "TranslateXRel",
    "TranslateYRel",
)

RAND_INCREASING_TRANSFORMS: tuple[str, ...] = (
    "AutoContrast",
    "Equalize",
    "Invert",
    "Rotate",
    "PosterizeIncreasing",
    "SolarizeIncreasing",
    "SolarizeAdd",
    "ColorIncreasing",
    "ContrastIncreasing",
    "BrightnessIncreasing",
    "SharpnessIncreasing",
    "ShearX",
    "ShearY",
    "TranslateXRel",
    "TranslateYRel",
)

# Ops whose level function flips the sign of its argument with probability 0.5.
SIGNED_OPS: frozenset[str] = frozenset(
    {
        "Rotate",
        "ColorIncreasing",
        "ContrastIncreasing",
        "BrightnessIncreasing",
        "SharpnessIncreasing",
        "ShearX",
        "ShearY",
        "TranslateXRel",
        "TranslateYRel",
    }
)

_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
}


@dataclass(frozen=True)
class RandAugmentPolicy:
    """Parameters of RandAugment; defaults are the authors' ``rand-m7-n4-mstd0.5-inc1``."""

    magnitude: float = 7.0
    num_ops: int = 4
    magnitude_std: float = 0.5
    increasing: bool = True
    prob: float = 0.5
    translate_pct: float = 0.45
    fill: tuple[int, int, int] = FILL
    resample: str = "bicubic"

    @property
    def ops(self) -> tuple[str, ...]:
        return RAND_INCREASING_TRANSFORMS if self.increasing else RAND_TRANSFORMS


@dataclass(frozen=True)
class OpDraw:
    """One op that was drawn *and* passed its probability test, with its final arguments."""

    name: str
    magnitude: float
    args: tuple[float, ...] = field(default_factory=tuple)


def parse_policy(config: str, **overrides: object) -> RandAugmentPolicy:
    """Parse a timm-style string such as ``rand-m7-n4-mstd0.5-inc1``.

    Sections: ``m`` magnitude, ``n`` number of ops, ``mstd`` magnitude std, ``inc`` increasing op
    set. Weighted op choice (``w``) is not supported (the authors do not use it).
    """
    parts = config.split("-")
    if parts[0] != "rand":
        raise ValueError(f"RandAugment config {config!r} must start with 'rand'")
    # timm's defaults for absent sections: magnitude 10, 2 ops, no noise, the standard op set.
    values: dict[str, object] = {
        "magnitude": MAX_LEVEL,
        "num_ops": 2,
        "magnitude_std": 0.0,
        "increasing": False,
    }
    for part in parts[1:]:
        match = re.fullmatch(r"([a-z]+)(\d.*)", part)
        if match is None:
            raise ValueError(f"RandAugment config {config!r}: cannot parse section {part!r}")
        key, val = match.groups()
        if key == "m":
            values["magnitude"] = float(int(val))
        elif key == "n":
            values["num_ops"] = int(val)
        elif key == "mstd":
            values["magnitude_std"] = float(val)
        elif key == "inc":
            values["increasing"] = bool(int(val))
        else:
            raise ValueError(f"RandAugment config {config!r}: unsupported section {part!r}")
    values.update(overrides)
    return RandAugmentPolicy(**values)  # type: ignore[arg-type]


def level_to_args(
    name: str, magnitude: float, *, negate: bool = False, translate_pct: float = 0.45
) -> tuple[float, ...]:
    """Map a magnitude in [0, 10] to an op's arguments, as timm's ``LEVEL_TO_ARG`` does.

    ``negate`` is the outcome of the random sign flip (only used by ``SIGNED_OPS``).
    """
    frac = magnitude / MAX_LEVEL
    sign = -1.0 if negate else 1.0
    if name in ("AutoContrast", "Equalize", "Invert"):
        return ()
    if name == "Rotate":
        return (sign * frac * 30.0,)
    if name == "Posterize":
        return (int(frac * 4),)
    if name == "PosterizeIncreasing":
        return (4 - int(frac * 4),)
    if name == "Solarize":
        return (int(frac * 256),)
    if name == "SolarizeIncreasing":
        return (256 - int(frac * 256),)
    if name == "SolarizeAdd":
        return (int(frac * 110),)
    if name in ("Color", "Contrast", "Brightness", "Sharpness"):
        return (frac * 1.8 + 0.1,)
    if name.endswith("Increasing"):  # Color/Contrast/Brightness/Sharpness, 1 +- 0.9 * frac
        return (1.0 + sign * frac * 0.9,)
    if name in ("ShearX", "ShearY"):
        return (sign * frac * 0.3,)
    if name in ("TranslateXRel", "TranslateYRel"):
        return (sign * frac * translate_pct,)
    raise ValueError(f"unknown RandAugment op {name!r}")


def draw_ops(rng: np.random.Generator, policy: RandAugmentPolicy) -> list[OpDraw]:
    """Draw one clip's RandAugment: op choice, probability test, magnitude and sign."""
    names = policy.ops
    chosen = rng.integers(0, len(names), size=policy.num_ops)  # uniform, with replacement
    draws: list[OpDraw] = []
    for idx in chosen:
        name = names[int(idx)]
        # Same test as the reference: the op is skipped when u > prob.
        if policy.prob < 1.0 and rng.random() > policy.prob:
            continue
        magnitude = policy.magnitude
        if policy.magnitude_std > 0:
            magnitude = float(rng.normal(magnitude, policy.magnitude_std))
        magnitude = min(MAX_LEVEL, max(0.0, magnitude))
        negate = bool(name in SIGNED_OPS and rng.random() > 0.5)
        args = level_to_args(name, magnitude, negate=negate, translate_pct=policy.translate_pct)
        draws.append(OpDraw(name=name, magnitude=magnitude, args=args))
    return draws


def _affine(img: Image.Image, coeffs: tuple[float, ...], fill, resample) -> Image.Image:
    # PIL maps each output pixel (x, y) to input (a x + b y + c, d x + e y + f).
    return img.transform(
        img.size, Image.Transform.AFFINE, coeffs, resample=resample, fillcolor=fill
    )


def _solarize_add(img: Image.Image, add: int, thresh: int = 128) -> Image.Image:
    lut = [min(255, i + add) if i < thresh else i for i in range(256)]
    return img.point(lut * len(img.getbands()))


def _posterize(img: Image.Image, bits: int) -> Image.Image:
    # Same table as ImageOps.posterize, built here because Pillow >= 11 rejects bits=0, which the
    # increasing policy reaches at magnitude 10 (older Pillow then returned a black image).
    if bits >= 8:
        return img
    mask = ~(2 ** (8 - max(bits, 0)) - 1)
    lut = [i & mask for i in range(256)]
    return img.point(lut * len(img.getbands()))


def apply_op(
    img: Image.Image,
    draw: OpDraw,
    *,
    fill: tuple[int, int, int] = FILL,
    resample: str = "bicubic",
) -> Image.Image:
    """Apply one drawn op to an RGB PIL image."""
    name, args = draw.name, draw.args
    rs = _RESAMPLE[resample]
    if name == "AutoContrast":
        return ImageOps.autocontrast(img)
    if name == "Equalize":
        return ImageOps.equalize(img)
    if name == "Invert":
        return ImageOps.invert(img)
    if name == "Rotate":
        return img.rotate(args[0], resample=rs, fillcolor=fill)
    if name.startswith("Posterize"):
        return _posterize(img, int(args[0]))
    if name.startswith("SolarizeAdd"):
        return _solarize_add(img, int(args[0]))
    if name.startswith("Solarize"):
        return ImageOps.solarize(img, int(args[0]))
    if name.startswith("Color"):
        return ImageEnhance.Color(img).enhance(args[0])
    if name.startswith("Contrast"):
        return ImageEnhance.Contrast(img).enhance(args[0])
    if name.startswith("Brightness"):
        return ImageEnhance.Brightness(img).enhance(args[0])
    if name.startswith("Sharpness"):
        return ImageEnhance.Sharpness(img).enhance(args[0])
    if name == "ShearX":
        return _affine(img, (1, args[0], 0, 0, 1, 0), fill, rs)
    if name == "ShearY":
        return _affine(img, (1, 0, 0, args[0], 1, 0), fill, rs)
    if name == "TranslateXRel":
        return _affine(img, (1, 0, args[0] * img.size[0], 0, 1, 0), fill, rs)
    if name == "TranslateYRel":
        return _affine(img, (1, 0, 0, 0, 1, args[0] * img.size[1]), fill, rs)
    raise ValueError(f"unknown RandAugment op {name!r}")


def apply_ops(
    frames: np.ndarray,
    draws: list[OpDraw],
    *,
    fill: tuple[int, int, int] = FILL,
    resample: str = "bicubic",
) -> np.ndarray:
    """Apply the same drawn ops, in order, to every frame of a uint8 clip (T, H, W, 3)."""
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(
            f"frames must be uint8 with shape (T, H, W, 3), got {frames.dtype} {frames.shape}"
        )
    if not draws:
        return frames
    out = np.empty_like(frames)
    for t in range(frames.shape[0]):
        img = Image.fromarray(frames[t])
        for draw in draws:
            img = apply_op(img, draw, fill=fill, resample=resample)
        out[t] = np.asarray(img)
    return out


__all__ = [
    "FILL",
    "MAX_LEVEL",
    "RAND_INCREASING_TRANSFORMS",
    "RAND_TRANSFORMS",
    "SIGNED_OPS",
    "OpDraw",
    "RandAugmentPolicy",
    "apply_op",
    "apply_ops",
    "draw_ops",
    "level_to_args",
    "parse_policy",
]

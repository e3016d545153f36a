"""RandAugment's 15 "increasing" ops as batched torch ops on uint8 frames, on any device.

The device twin of ``randaugment.py`` (which stays the reference, applied with PIL frame by frame):
the same :class:`~vjepa_fer.video.randaugment.OpDraw` list, drawn once per clip, is applied to all
frames of the clip at once as ``(N, 3, H, W)`` uint8 tensors on the encoder's device. Each op
reproduces the arithmetic of the Pillow C code the reference calls, so outputs equal PIL's except
for rare one-level differences where float32 and PIL's double/float rounding disagree before a
truncation (the tests bound them op by op):

* lookup-table ops (AutoContrast, Equalize, Posterize, Solarize, SolarizeAdd, Invert) build
  PIL's exact tables (per frame and channel for the histogram ops) and index them;
* enhance ops blend with PIL's degenerate image: ``Image.blend``'s float32
  ``in1 + alpha * (in2 - in1)``, truncated, clipped when extrapolating; Color's grey is PIL's
  ``L = (19595 R + 38470 G + 7471 B + 2**15) >> 16``, Contrast's the rounded mean of that grey,
  Sharpness's the SMOOTH 3x3 filter (kernel /13 in float32, +0.5, truncated, border copied);
* geometric ops (Rotate, ShearX/Y, TranslateX/YRel) follow PIL's generic affine transform: the
  output pixel centre ``(x + 0.5, y + 0.5)`` maps through the coefficients, a source point
  outside the image takes the fill colour, taps are clamped to the border, bicubic is PIL's
  cubic convolution with a = -1 in its polynomial form (so flat areas stay exact), and the
  result is clipped and truncated to uint8. Where one axis is integer-aligned everywhere
  (shears, translations) only that axis' taps are read.

Kornia was considered and not used: its ops follow OpenCV/torchvision semantics (bicubic
a = -0.75, other equalize and fill rules), not the PIL arithmetic of the reference, and it would
be one more dependency next to a CPU-only torch.

    from vjepa_fer.video.device_randaugment import apply_ops
    x = apply_ops(frames, draws)  # (N, 3, H, W) uint8 on any device -> same shape
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from vjepa_fer.video.randaugment import FILL, OpDraw

RESAMPLES = ("nearest", "bilinear", "bicubic")
CPU_CHUNK = 1  # frames per step on the CPU (see apply_ops)
CPU_BLOCK = 1 << 15  # output pixels per step of a geometric op on the CPU


def _check(x: torch.Tensor) -> None:
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(
            f"frames must be uint8 with shape (N, 3, H, W), got {x.dtype} {tuple(x.shape)}"
        )


# ----------------------------------------------------------------------------------------------
# lookup tables


def apply_lut(x: torch.Tensor, lut: torch.Tensor) -> torch.Tensor:
    """Map uint8 ``x`` (N, 3, H, W) through ``lut``: (256,) for all, or (N*3, 256) per plane."""
    if lut.ndim == 1:
        return lut.to(torch.uint8)[x.long()]
    n, c = x.shape[:2]
    flat = x.reshape(n * c, -1).long()
    return torch.gather(lut.to(torch.uint8), 1, flat).view_as(x)


def histograms(x: torch.Tensor) -> torch.Tensor:
    """(N*3, 256) int64 histogram of every frame's every channel."""
    n, c = x.shape[:2]
    planes = n * c
    offset = torch.arange(planes, device=x.device).mul_(256).view(planes, 1)
    idx = x.reshape(planes, -1).long().add_(offset)
    return torch.bincount(idx.view(-1), minlength=planes * 256).view(planes, 256)


def autocontrast(x: torch.Tensor) -> torch.Tensor:
    """``ImageOps.autocontrast`` (cutoff 0): each plane's [min, max] stretched to [0, 255]."""
    n, c = x.shape[:2]
    flat = x.reshape(n * c, -1)
    lo = flat.amin(1).double().view(-1, 1)
    hi = flat.amax(1).double().view(-1, 1)
    ix = torch.arange(256, dtype=torch.float64, device=x.device).view(1, 256)
    # PIL: scale = 255.0 / (hi - lo) in double. A tensor numerator keeps it a true division
    # (torch turns ``scalar / tensor`` into a reciprocal times the scalar: other last bits).
    scale = torch.full_like(hi, 255.0) / (hi - lo).clamp_min(1.0)
    offset = -lo * scale
    lut = (ix * scale + offset).trunc_().clamp_(0, 255)  # int() truncates, then clipped
    lut = torch.where(hi <= lo, ix, lut)
    return apply_lut(x, lut)


def equalize(x: torch.Tensor) -> torch.Tensor:
    """``ImageOps.equalize``: PIL's cumulative-histogram table per frame and channel."""
    h = histograms(x)  # (P, 256)
    present = h > 0
    ix = torch.arange(256, device=x.device).view(1, 256)
    last = torch.where(present, ix, torch.zeros_like(ix)).amax(1, keepdim=True)
    step = (h.sum(1, keepdim=True) - h.gather(1, last)) // 255
    identity = (present.sum(1, keepdim=True) <= 1) | (step == 0)
    safe = step.clamp_min(1)
    before = h.cumsum(1) - h  # pixels below each level
    lut = ((safe // 2 + before) // safe).clamp_(max=255)
    lut = torch.where(identity, ix.expand_as(lut), lut)
    return apply_lut(x, lut)


def invert(x: torch.Tensor) -> torch.Tensor:
    return 255 - x


def posterize(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Keep the ``bits`` high bits (0 bits gives black, as the reference's table does)."""
    if bits >= 8:
        return x
    mask = (~(2 ** (8 - max(bits, 0)) - 1)) & 0xFF
    return x & mask


def solarize(x: torch.Tensor, threshold: int) -> torch.Tensor:
    return torch.where(x < threshold, x, 255 - x)


def solarize_add(x: torch.Tensor, add: int, threshold: int = 128) -> torch.Tensor:
    added = (x.to(torch.int16) + add).clamp_(max=255).to(torch.uint8)
    return torch.where(x < threshold, added, x)


# ----------------------------------------------------------------------------------------------
# enhance ops


def blend(degenerate: torch.Tensor, image: torch.Tensor, alpha: float) -> torch.Tensor:
    """``Image.blend(degenerate, image, alpha)``: float32 ``in1 + alpha (in2 - in1)``, truncated."""
    if alpha == 0.0:
        return degenerate.expand_as(image).clone()
    if alpha == 1.0:
        return image.clone()
    a = torch.tensor(alpha, dtype=torch.float32, device=image.device)  # PIL takes a C float
    in1 = degenerate.float()
    out = in1 + a * (image.float() - in1)
    # In [0, 1] PIL casts straight to UINT8 (truncation); extrapolation is clipped first.
    return out.clamp_(0.0, 255.0).trunc_().to(torch.uint8)


def grey(x: torch.Tensor) -> torch.Tensor:
    """PIL's RGB -> L conversion, (N, 1, H, W) int32: (19595 R + 38470 G + 7471 B + 2**15) >> 16."""
    xi = x.to(torch.int32)
    return (xi[:, 0:1] * 19595 + xi[:, 1:2] * 38470 + xi[:, 2:3] * 7471 + 0x8000) >> 16


def color(x: torch.Tensor, factor: float) -> torch.Tensor:
    return blend(grey(x).to(torch.uint8).expand_as(x), x, factor)


def grey_mean(x: torch.Tensor) -> torch.Tensor:
    """Contrast's degenerate image: each frame's rounded grey mean, (N, 3, H, W) uint8 view."""
    g = grey(x)
    count = g[0].numel()
    # ImageStat: sum / count in double, then int(mean + 0.5) for each frame.
    total = g.flatten(1).sum(1).double()
    mean = (total / torch.full_like(total, float(count)) + 0.5).floor_().to(torch.uint8)
    return mean.view(-1, 1, 1, 1).expand_as(x)


def contrast(x: torch.Tensor, factor: float) -> torch.Tensor:
    return blend(grey_mean(x), x, factor)


def brightness(x: torch.Tensor, factor: float) -> torch.Tensor:
    return blend(torch.zeros((1, 1, 1, 1), dtype=torch.uint8, device=x.device), x, factor)


def smooth(x: torch.Tensor) -> torch.Tensor:
    """PIL's ``ImageFilter.SMOOTH`` (3x3, weights 1 and centre 5, /13): border pixels copied."""
    n, c, h, w = x.shape
    if h < 3 or w < 3:
        return x.clone()
    k1 = torch.tensor(1.0, dtype=torch.float32) / 13.0  # PIL normalises the kernel in float32
    k5 = torch.tensor(5.0, dtype=torch.float32) / 13.0
    k1, k5 = k1.to(x.device), k5.to(x.device)
    f = x.float()

    def row(r: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
        # KERNEL1x3: in[x-1]*k0 + in[x]*k1 + in[x+1]*k2, evaluated left to right in float32.
        return r[..., :-2] * k1 + r[..., 1:-1] * centre + r[..., 2:] * k1

    ss = 0.5 + row(f[:, :, 2:], k1)  # PIL adds the row below first, then the row, then above
    ss = ss + row(f[:, :, 1:-1], k5)
    ss = ss + row(f[:, :, :-2], k1)
    out = x.clone()
    out[:, :, 1:-1, 1:-1] = ss.clamp_(0.0, 255.0).trunc_().to(torch.uint8)
    return out


def sharpness(x: torch.Tensor, factor: float) -> torch.Tensor:
    return blend(smooth(x), x, factor)


# ----------------------------------------------------------------------------------------------
# geometric ops


class AffinePlan:
    """Where every output pixel of PIL's ``Image.transform(AFFINE, coeffs)`` reads its input.

    Output (x, y) samples input ``(a (x+.5) + b (y+.5) + c, d (x+.5) + e (y+.5) + f)``; a point
    outside the image takes the fill colour. Computed once per clip, applied to frame chunks.
    """

    def __init__(
        self,
        coeffs: Sequence[float],
        height: int,
        width: int,
        device: torch.device,
        *,
        fill: Sequence[int] = FILL,
        resample: str = "bicubic",
    ) -> None:
        if resample not in RESAMPLES:
            raise ValueError(f"resample must be one of {RESAMPLES}, got {resample!r}")
        h, w = height, width
        self.shape, self.resample = (h, w), resample
        a, b, c, d, e, f = (float(v) for v in coeffs)
        # Coordinates in float64, like PIL, so fill/inside decisions at the border agree.
        xs = torch.arange(w, dtype=torch.float64, device=device).add_(0.5).view(1, w)
        ys = torch.arange(h, dtype=torch.float64, device=device).add_(0.5).view(h, 1)
        xin = a * xs + b * ys + c
        yin = d * xs + e * ys + f
        self.inside = ((xin >= 0) & (xin < w) & (yin >= 0) & (yin < h)).view(1, 1, h, w)
        self.fill = torch.tensor(list(fill), dtype=torch.uint8, device=device).view(1, -1, 1, 1)
        if resample == "nearest":
            self.rows = [yin.floor().long().clamp_(0, h - 1).mul_(w).view(-1)]
            self.cols = [xin.floor().long().clamp_(0, w - 1).view(-1)]
            self.dx = self.dy = None
            return
        xf, yf = xin - 0.5, yin - 0.5
        x0, y0 = xf.floor(), yf.floor()
        dx, dy = (xf - x0).float().view(-1), (yf - y0).float().view(-1)
        x0, y0 = x0.long(), y0.long()
        if resample == "bilinear":
            x_taps = y_taps = (0, 1)
        else:
            # An axis whose source coordinate is integer-aligned everywhere needs only its centre
            # tap (PIL's polynomial then returns that tap exactly): shears and translations.
            x_taps = (0,) if bool((dx == 0).all()) else (-1, 0, 1, 2)
            y_taps = (0,) if bool((dy == 0).all()) else (-1, 0, 1, 2)
        # Flat tap positions are row * w + col; rows and columns are kept apart (4 + 4 tensors
        # instead of 16) and added per block of output pixels.
        self.cols = [(x0 + i).clamp_(0, w - 1).view(-1) for i in x_taps]
        self.rows = [(y0 + j).clamp_(0, h - 1).mul_(w).view(-1) for j in y_taps]
        self.dx = dx if len(x_taps) > 1 else None
        self.dy = dy if len(y_taps) > 1 else None

    def _interp(self, taps: list[torch.Tensor], d: torch.Tensor) -> torch.Tensor:
        if self.resample == "bilinear":  # PIL: a + (b - a) d
            v0, v1 = taps
            return v1.sub_(v0).mul_(d).add_(v0)
        return cubic(*taps, d)

    def _sample(self, planes: torch.Tensor, sl: slice) -> torch.Tensor:
        """Output pixels ``sl`` (flat) of every plane, float32 in [0, 255] before truncation."""

        cols = [col[sl] for col in self.cols]

        def tap(row: torch.Tensor, col: torch.Tensor) -> torch.Tensor:
            return torch.gather(planes, 1, (row + col).expand(planes.shape[0], -1))

        if self.dx is None and self.dy is None:  # one tap: a pure gather, exact
            return tap(self.rows[0][sl], cols[0])
        dx = None if self.dx is None else self.dx[sl]
        rows = []
        for row in self.rows:
            vals = [tap(row[sl], col) for col in cols]
            rows.append(vals[0] if dx is None else self._interp(vals, dx))
        out = rows[0] if self.dy is None else self._interp(rows, self.dy[sl])
        return out.clamp_(0.0, 255.0).trunc_()  # PIL: clip, then (UINT8) v

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        if (h, w) != self.shape:
            raise ValueError(f"affine plan for {self.shape} applied to frames of {(h, w)}")
        # Gathering float32 planes is ~4x faster than gathering uint8 ones on the CPU (measured).
        planes = x.reshape(n * c, h * w).float()
        # On the CPU, blocks of output pixels keep every temporary small and cache-resident
        # (whole-frame temporaries cost a page fault per 4 KiB each time); a GPU takes all at once.
        block = CPU_BLOCK if x.device.type == "cpu" else h * w
        out = torch.empty((n * c, h * w), dtype=torch.uint8, device=x.device)
        for start in range(0, h * w, block):
            sl = slice(start, min(start + block, h * w))
            out[:, sl] = self._sample(planes, sl)
        return torch.where(self.inside, out.view(n, c, h, w), self.fill)


def cubic(
    v1: torch.Tensor, v2: torch.Tensor, v3: torch.Tensor, v4: torch.Tensor, d: torch.Tensor
) -> torch.Tensor:
    """PIL's BICUBIC macro (a = -1) in its polynomial form and operation order, in float32:
    ``v2 + d (p2 + d (p3 + d p4))``, exact where the taps are equal. Overwrites ``v1``."""
    p4 = v2 - v1
    p4 -= v3
    p4 += v4  # -v1 + v2 - v3 + v4
    p2 = v3 - v1
    p3 = v1.sub_(v2).mul_(2).add_(v3).sub_(v4)  # 2 (v1 - v2) + v3 - v4
    return p4.mul_(d).add_(p3).mul_(d).add_(p2).mul_(d).add_(v2)


def affine(
    x: torch.Tensor,
    coeffs: Sequence[float],
    *,
    fill: Sequence[int] = FILL,
    resample: str = "bicubic",
) -> torch.Tensor:
    """PIL's ``Image.transform(AFFINE, coeffs)`` on uint8 frames (N, 3, H, W)."""
    h, w = x.shape[-2:]
    return AffinePlan(coeffs, h, w, x.device, fill=fill, resample=resample)(x)


def rotate_coeffs(angle: float, width: int, height: int) -> tuple[float, ...]:
    """Coefficients of PIL's ``Image.rotate(angle)`` about the centre (expand=False)."""
    rad = -math.radians(angle % 360.0)
    m = [
        round(math.cos(rad), 15),
        round(math.sin(rad), 15),
        0.0,
        round(-math.sin(rad), 15),
        round(math.cos(rad), 15),
        0.0,
    ]
    cx, cy = width / 2.0, height / 2.0
    m[2] = m[0] * -cx + m[1] * -cy + cx
    m[5] = m[3] * -cx + m[4] * -cy + cy
    return tuple(m)


def rotate(x: torch.Tensor, angle: float, *, fill=FILL, resample: str = "bicubic") -> torch.Tensor:
    return _rotate_plan(angle, *x.shape[-2:], x.device, fill, resample)(x)


def _rotate_plan(angle: float, h: int, w: int, device, fill, resample) -> Callable:  # noqa: ANN001
    a = angle % 360.0
    if a == 0.0:
        return lambda x: x.clone()  # PIL returns a copy
    if a == 180.0:
        return lambda x: x.flip(-1, -2)  # PIL transposes (exact)
    if a in (90.0, 270.0) and h == w:
        k = 1 if a == 90.0 else -1
        return lambda x: x.rot90(k, dims=(-2, -1))
    return AffinePlan(rotate_coeffs(angle, w, h), h, w, device, fill=fill, resample=resample)


# ----------------------------------------------------------------------------------------------
# dispatch


def prepare_op(
    draw: OpDraw,
    height: int,
    width: int,
    device: torch.device,
    *,
    fill: Sequence[int] = FILL,
    resample: str = "bicubic",
) -> Callable[[torch.Tensor], torch.Tensor]:
    """One drawn op as a function of uint8 frames (N, 3, height, width); geometric ops compute
    their sampling positions here, once per clip."""
    name, args = draw.name, draw.args
    h, w = height, width

    def geometric(coeffs: tuple[float, ...]) -> AffinePlan:
        return AffinePlan(coeffs, h, w, device, fill=fill, resample=resample)

    if name == "AutoContrast":
        return autocontrast
    if name == "Equalize":
        return equalize
    if name == "Invert":
        return invert
    if name == "Rotate":
        return _rotate_plan(args[0], h, w, device, fill, resample)
    if name.startswith("Posterize"):
        return lambda x: posterize(x, int(args[0]))
    if name.startswith("SolarizeAdd"):
        return lambda x: solarize_add(x, int(args[0]))
    if name.startswith("Solarize"):
        return lambda x: solarize(x, int(args[0]))
    if name.startswith("Color"):
        return lambda x: color(x, args[0])
    if name.startswith("Contrast"):
        return lambda x: contrast(x, args[0])
    if name.startswith("Brightness"):
        return lambda x: brightness(x, args[0])
    if name.startswith("Sharpness"):
        return lambda x: sharpness(x, args[0])
    if name == "ShearX":
        return geometric((1, args[0], 0, 0, 1, 0))
    if name == "ShearY":
        return geometric((1, 0, 0, args[0], 1, 0))
    if name == "TranslateXRel":
        return geometric((1, 0, args[0] * w, 0, 1, 0))
    if name == "TranslateYRel":
        return geometric((1, 0, 0, 0, 1, args[0] * h))
    raise ValueError(f"unknown RandAugment op {name!r}")


def apply_op(
    x: torch.Tensor, draw: OpDraw, *, fill=FILL, resample: str = "bicubic"
) -> torch.Tensor:
    """Apply one drawn op to uint8 frames (N, 3, H, W), as ``randaugment.apply_op`` does to one."""
    h, w = x.shape[-2:]
    return prepare_op(draw, h, w, x.device, fill=fill, resample=resample)(x)


def apply_ops(
    x: torch.Tensor,
    draws: Sequence[OpDraw],
    *,
    fill=FILL,
    resample: str = "bicubic",
    chunk: int | None = None,
) -> torch.Tensor:
    """Apply the drawn ops in order to every frame of ``x`` (N, 3, H, W) uint8.

    Every op acts on each frame alone, so frames may go through the ops in chunks: ``chunk``
    frames at a time (default: all at once on a GPU, ``CPU_CHUNK`` on the CPU, where the
    temporaries of a whole clip at full resolution would cost more in page faults than in work).
    """
    _check(x)
    if not draws:
        return x
    n, _, h, w = x.shape
    ops = [prepare_op(d, h, w, x.device, fill=fill, resample=resample) for d in draws]
    if chunk is None:
        chunk = CPU_CHUNK if x.device.type == "cpu" else n
    if chunk >= n:
        for op in ops:
            x = op(x)
        return x
    out = torch.empty_like(x)
    for s in range(0, n, chunk):
        y = x[s : s + chunk]
        for op in ops:
            y = op(y)
        out[s : s + chunk] = y
    return out


# ----------------------------------------------------------------------------------------------
# many clips at once

# Ops that map every pixel value alone: one 256-entry table per clip, all clips in one gather.
_TABLE_OPS = ("Invert", "Posterize", "Solarize", "SolarizeAdd")
# Enhance ops: a degenerate image made per frame, then one blend with a factor per clip.
_DEGENERATE: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "Color": lambda x: grey(x).to(torch.uint8).expand_as(x),
    "Contrast": grey_mean,
    "Brightness": lambda x: torch.zeros((1, 1, 1, 1), dtype=torch.uint8, device=x.device),
    "Sharpness": smooth,
}
# Frames per step of a batched table/enhance op on the CPU: a clip's worth keeps temporaries
# small; a GPU takes a whole group at once.
CPU_BATCH_CHUNK = 16


def _family(name: str) -> str:
    """The op's family: ``PosterizeIncreasing`` -> ``Posterize`` (longest matching prefix)."""
    known = ("AutoContrast", "Equalize", *_TABLE_OPS, *_DEGENERATE)
    matches = [k for k in known if name.startswith(k)]
    return max(matches, key=len) if matches else name


def blend_per_frame(
    degenerate: torch.Tensor, image: torch.Tensor, alpha: torch.Tensor
) -> torch.Tensor:
    """:func:`blend` with one float32 factor per frame, ``alpha`` (N,): the same arithmetic
    element by element (factors 0 and 1 give the degenerate image and the image exactly)."""
    in1 = degenerate.float()
    out = in1 + alpha.view(-1, 1, 1, 1) * (image.float() - in1)
    return out.clamp_(0.0, 255.0).trunc_().to(torch.uint8)


def _tables(draws: Sequence[OpDraw], device: torch.device) -> torch.Tensor:
    """(G, 256) uint8: each draw's op applied to every grey level (the ops act per value)."""
    ramp = torch.arange(256, dtype=torch.uint8, device=device).view(1, 1, 1, 256)
    ramp = ramp.expand(1, 3, 1, 256).contiguous()
    return torch.stack([prepare_op(d, 1, 256, device)(ramp)[0, 0, 0] for d in draws])


def _apply_group(
    y: torch.Tensor, draws: Sequence[OpDraw], frames_per_clip: int, chunk: int
) -> torch.Tensor:
    """One op family applied to the frames of several clips (clip after clip, ``frames_per_clip``
    each), every clip with its own drawn arguments, as ``prepare_op(draw)`` would apply them."""
    family, t = _family(draws[0].name), frames_per_clip
    h, w = y.shape[-2:]
    if family in ("AutoContrast", "Equalize"):  # no arguments; tables per frame and channel
        op = prepare_op(draws[0], h, w, y.device)
        return torch.cat([op(y[s : s + chunk]) for s in range(0, len(y), chunk)])
    if family in _TABLE_OPS:
        per_frame = _tables(draws, y.device).repeat_interleave(t, 0)  # (G*T, 256)
        out = torch.empty_like(y)
        for s in range(0, len(y), chunk):
            part = y[s : s + chunk]
            out[s : s + chunk] = apply_lut(part, per_frame[s : s + chunk].repeat_interleave(3, 0))
        return out
    if family in _DEGENERATE:
        # PIL takes each factor as a C float: float64 -> float32, as ``blend`` does.
        alpha = torch.tensor([d.args[0] for d in draws], dtype=torch.float32, device=y.device)
        alpha = alpha.repeat_interleave(t)
        out = torch.empty_like(y)
        for s in range(0, len(y), chunk):
            part = y[s : s + chunk]
            degenerate = _DEGENERATE[family](part).expand_as(part)
            out[s : s + chunk] = blend_per_frame(degenerate, part, alpha[s : s + chunk])
        return out
    raise ValueError(f"{family}: not an op that runs batched over clips")


_GEOMETRIC = ("Rotate", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel")


def apply_clip_ops(
    x: torch.Tensor,
    ops: Sequence[Sequence[OpDraw]],
    *,
    fill=FILL,
    resample: str = "bicubic",
    chunk: int | None = None,
) -> torch.Tensor:
    """Every clip's own drawn ops on the frames of many clips at once, in place of a loop of
    :func:`apply_ops` over clips (equal output).

    ``x`` (K*T, 3, H, W) uint8 holds clip after clip, T frames each; ``ops[k]`` are clip k's
    draws in order. At each op position the clips are grouped by op family and every group runs
    as one batched op with per-clip arguments (tables, blend factors); geometric ops keep one
    sampling plan per clip. Meant for GPUs, where it saves kernel launches: on the CPU the
    clip-by-clip :func:`apply_ops`, one frame through all its ops at a time, stays in the cache
    and is faster (``benchmarks/device_augment.py``). ``chunk`` bounds the frames of one step
    (default: all on a GPU, ``CPU_BATCH_CHUNK`` on the CPU).
    """
    _check(x)
    k_clips = len(ops)
    if k_clips == 0 or x.shape[0] % k_clips:
        raise ValueError(f"{x.shape[0]} frames cannot be split into {k_clips} clips")
    t = x.shape[0] // k_clips
    h, w = x.shape[-2:]
    if chunk is None:
        chunk = CPU_BATCH_CHUNK if x.device.type == "cpu" else x.shape[0]
    x = x.clone()
    for j in range(max((len(o) for o in ops), default=0)):
        groups: dict[str, list[int]] = {}
        for k, o in enumerate(ops):
            if len(o) > j:
                groups.setdefault(_family(o[j].name), []).append(k)
        for family, clips in groups.items():
            if family in _GEOMETRIC:
                # The sampling positions differ per clip (one plan each), so clip by clip, in
                # place; each plan's gathers already cover all of its clip's frames.
                for k in clips:
                    op = prepare_op(ops[k][j], h, w, x.device, fill=fill, resample=resample)
                    x[k * t : (k + 1) * t] = op(x[k * t : (k + 1) * t])
                continue
            rows = (torch.tensor(clips).view(-1, 1) * t + torch.arange(t)).view(-1)
            rows = rows.to(x.device)
            draws = [ops[k][j] for k in clips]
            x[rows] = _apply_group(x[rows], draws, t, chunk)
    return x


__all__ = [
    "RESAMPLES",
    "apply_clip_ops",
    "blend_per_frame",
    "affine",
    "apply_lut",
    "apply_op",
    "apply_ops",
    "autocontrast",
    "blend",
    "brightness",
    "color",
    "contrast",
    "equalize",
    "grey",
    "histograms",
    "invert",
    "posterize",
    "rotate",
    "rotate_coeffs",
    "sharpness",
    "smooth",
    "solarize",
    "solarize_add",
]

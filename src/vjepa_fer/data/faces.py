"""Procedural cartoon faces that act out an emotion while speaking (synthetic demo data).

This is the renderer behind ``vjepa-fer synth`` (:mod:`vjepa_fer.datasets.synth`); the demo
dataset it feeds stands in for RAVDESS and CREMA-D (docs/datasets.md) so that every pipeline stage
runs for real on a CPU. Pure numpy, anti-aliased, no video I/O here.

Three layers of variation, each from an explicit seed:

* :func:`make_identity` - per actor: face shape, size and position, skin, hair, eyes, clothes,
  background, how expressive the actor is and a resting-face bias (sex and age only nudge these).
* :func:`plan_video` - per video: an expression that unfolds neutral -> onset -> apex -> offset,
  head motion typical of the emotion, a jaw pattern driven by the sentence alone (the same for every
  emotion, so mouth motion is partly a nuisance), blinks, drift, brightness and timing noise.
* :func:`render` - draws the planned frames, in chunks so that 1280x720 also fits in memory.

Expression "channels" are loosely modelled on action units, plus face colour (anger reddens, fear
and sadness drain the face) and teeth and rosy cheeks in a broad smile; calm sits close to neutral
and fearful close to surprised, so a probe has to work for its accuracy. Run the tests with
``pytest tests/unit/datasets/test_synth.py``.
"""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

# Apex value of each expression channel at strength 1. Channels: brow (+raise/-lower), inner (inner
# brow +raise/-lower), eye (+wide/-narrow), smile (+corners up/-down), jaw (mouth opening), width
# (mouth stretch), sneer (one-sided upper-lip raise), pitch (head down +), yaw (head turn), roll
# (tilt, radians), nod/shake/sway (head oscillation amplitudes), tremble (fast jitter amplitude),
# teeth (upper teeth shown in a smile), flush (face colour: +reddening, -pallor).
# fmt: off
EXPRESSIONS: dict[str, dict[str, float]] = {
    "neutral": {},
    "calm": {"smile": 0.12, "eye": -0.15, "sway": 0.05, "pitch": 0.05},
    "happy": {"smile": 0.9, "eye": -0.3, "width": 0.15, "jaw": 0.35, "brow": 0.1, "nod": 0.1,
              "teeth": 0.9, "flush": 0.1},
    "sad": {"smile": -0.55, "inner": 0.7, "brow": -0.1, "eye": -0.3, "pitch": 0.35, "jaw": -0.1,
            "flush": -0.25},
    "angry": {"brow": -0.7, "inner": -0.5, "eye": 0.05, "smile": -0.25, "width": -0.15,
              "shake": 0.05, "pitch": 0.1, "flush": 0.8},
    "fearful": {"brow": 0.6, "inner": 0.4, "eye": 0.5, "jaw": 0.4, "width": 0.1, "smile": -0.2,
                "tremble": 0.03, "pitch": -0.1, "flush": -0.6},
    "disgust": {"brow": -0.35, "eye": -0.35, "sneer": 0.8, "smile": -0.3, "roll": 0.08,
                "yaw": -0.2, "flush": 0.15},
    "surprised": {"brow": 0.8, "inner": 0.1, "eye": 0.6, "jaw": 0.55, "width": -0.1,
                  "pitch": -0.2, "flush": -0.3},
}
# fmt: on
CHANNELS = (
    "brow",
    "inner",
    "eye",
    "smile",
    "jaw",
    "width",
    "sneer",
    "pitch",
    "yaw",
    "roll",
    "nod",
    "shake",
    "sway",
    "tremble",
    "teeth",
    "flush",
)
# Where a drawn channel saturates: the gain below, the actor's expressiveness and a strong intensity
# multiply up to ~6x the table, and an unclipped brow would slide down over the eyes.
_LIMITS = {"brow": (-0.8, 1.2), "inner": (-0.7, 1.0), "eye": (-0.6, 1.0), "smile": (-1.0, 1.4),
           "width": (-0.5, 0.6), "sneer": (0.0, 1.2), "teeth": (0.0, 1.0), "flush": (-1.0, 1.0),
           "pitch": (-0.6, 0.8), "yaw": (-0.6, 0.6), "roll": (-0.25, 0.25)}  # fmt: skip
# Resting-face bias per actor and per-video apex noise: both blur the small calm/neutral and
# fearful/surprised differences, which keeps the demo task from being trivial.
_BIAS_SD = {"brow": 0.08, "inner": 0.06, "eye": 0.1, "smile": 0.1, "width": 0.05, "flush": 0.08}
_APEX_NOISE_SD = 0.1
# Expressions are drawn at twice the table's apex: measured on the demo (10 actors, 112x64 frames,
# the tiny random encoder at 64 px), the table's own amplitudes left the attentive probe at chance,
# because a mouth or brow change of one or two pixels is lost against the actors' differences.
# Even at twice the apex it stayed at chance until the face grew (scale 0.3-0.34 of the frame
# height, was 0.26-0.3), backdrops turned near-grey and the colour, teeth and blush cues came in.
EXPRESSION_GAIN = 2.0


def stable_seed(*parts: object) -> int:
    """A 32-bit seed from strings/ints that, unlike ``hash()``, is the same in every process."""
    return zlib.crc32("/".join(str(p) for p in parts).encode())


@dataclass(frozen=True)
class Identity:
    """What stays fixed for one actor across all their videos (lengths in face half-axes)."""

    x: float  # face centre as a fraction of the frame width
    y: float  # ... and of the frame height
    scale: float  # face half-height as a fraction of the frame height
    aspect: float  # half-width / half-height
    skin: np.ndarray  # (3,) RGB floats 0-255
    hair: np.ndarray
    iris: np.ndarray
    lip: np.ndarray
    shirt: np.ndarray
    bg_top: np.ndarray
    bg_bottom: np.ndarray
    long_hair: bool
    fringe: bool
    eye_dx: float
    eye_y: float
    eye_w: float
    eye_h: float
    brow_y: float
    brow_th: float
    mouth_y: float
    mouth_w: float
    lip_th: float
    age: float  # 0 (young) .. 1 (old): grey hair, forehead lines
    expressive: float  # multiplies every expression apex
    talk_gain: float
    bias: dict[str, float]


def _mix(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return (1.0 - t) * a + t * b


def make_identity(
    actor_key: str, seed: int, sex: str | None = None, age: float | None = None
) -> Identity:
    """Draw an actor's look from ``seed`` and a key such as ``"ravdess/7"``.

    ``sex`` ("male"/"female") and ``age`` (years), where known, only shift a few draws.
    """
    rng = np.random.default_rng([seed, stable_seed("identity", actor_key)])
    male = (sex or "").lower() == "male"
    female = (sex or "").lower() == "female"
    age01 = float(np.clip(((age if age is not None else rng.uniform(20, 40)) - 20) / 50, 0, 1))
    light, dark = np.array([250.0, 214, 190]), np.array([92.0, 58, 40])
    skin = _mix(light, dark, rng.uniform(0, 1)) + rng.normal(0, 6, 3)
    hair = _mix(np.array([35.0, 25, 20]), np.array([190.0, 150, 90]), rng.uniform(0, 0.7) ** 2)
    hair = _mix(hair, np.array([200.0, 200, 200]), float(np.clip(age01 * 1.6 - 0.5, 0, 0.9)))
    iris = [np.array([70.0, 45, 25]), np.array([60.0, 100, 150]), np.array([70.0, 100, 60])]
    # Studio backdrops: grey with a faint tint (RAVDESS and CREMA-D film in front of plain walls).
    bg_base = rng.uniform(80, 210) + rng.normal(0, 10, 3)
    return Identity(
        x=float(rng.uniform(0.47, 0.53)),
        y=float(rng.uniform(0.44, 0.48)),
        scale=float(rng.uniform(0.3, 0.34)),
        aspect=float(rng.uniform(0.74, 0.84) + (0.04 if male else 0) - (0.03 if female else 0)),
        skin=np.clip(skin, 0, 255),
        hair=hair,
        iris=iris[int(rng.integers(0, 3))],
        lip=np.clip(skin * np.array([0.85, 0.55, 0.55]) + np.array([30.0, 0, 0]), 0, 255),
        shirt=rng.uniform(20, 235, 3),
        bg_top=np.clip(bg_base + rng.normal(0, 8, 3), 0, 255),
        bg_bottom=np.clip(bg_base * rng.uniform(0.7, 0.9) + rng.normal(0, 6, 3), 0, 255),
        long_hair=bool(rng.random() < (0.75 if female else 0.15 if male else 0.4)),
        fringe=bool(rng.random() < 0.4),
        eye_dx=float(rng.uniform(0.33, 0.41)),
        eye_y=float(rng.uniform(-0.16, -0.08)),
        eye_w=float(rng.uniform(0.15, 0.2)),
        eye_h=float(rng.uniform(0.075, 0.1)),
        brow_y=float(rng.uniform(-0.4, -0.33)),
        brow_th=float(rng.uniform(0.035, 0.05) + (0.012 if male else 0)),
        mouth_y=float(rng.uniform(0.42, 0.52)),
        mouth_w=float(rng.uniform(0.3, 0.4)),
        lip_th=float(rng.uniform(0.03, 0.045) + (0.008 if female else 0)),
        age=age01,
        expressive=float(rng.uniform(0.7, 1.3)),
        talk_gain=float(rng.uniform(0.7, 1.3)),
        bias={k: float(rng.normal(0, sd)) for k, sd in _BIAS_SD.items()},
    )


def syllables(text: str) -> int:
    """Rough syllable count (vowel groups) of an English sentence; drives the jaw pattern."""
    return max(1, len(re.findall(r"[aeiouy]+", text.lower())))


def talk_pattern(sentence_key: str, text: str, seed: int) -> np.ndarray:
    """(n, 3) syllables as (onset s, duration s, jaw amplitude): one fixed pattern per sentence."""
    rng = np.random.default_rng([seed, stable_seed("sentence", sentence_key)])
    n = syllables(text)
    dur = rng.uniform(0.12, 0.28, n)
    gap = rng.uniform(0.0, 0.06, n)
    onset = np.concatenate([[0.0], np.cumsum(dur + gap)[:-1]])
    return np.stack([onset, dur, rng.uniform(0.4, 1.0, n)], axis=1)  # (n, 3)


@dataclass
class Plan:
    """Per-frame controls of one video; every array has shape (T,)."""

    n_frames: int
    ch: dict[str, np.ndarray]  # expression channels after profile, bias and noise
    jaw_talk: np.ndarray
    blink: np.ndarray  # 1 open .. 0 closed
    dx: np.ndarray  # head offset, face half-heights
    dy: np.ndarray
    roll: np.ndarray  # radians
    gaze: np.ndarray  # (T, 2) iris offset in eye half-widths
    gain: float  # per-video brightness multiplier
    cast: np.ndarray  # (3,) per-video colour cast added to every colour


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _smooth_noise(rng: np.random.Generator, n: int, width: float) -> np.ndarray:
    """Zero-mean noise of unit-ish amplitude, low-passed with a Gaussian of ``width`` frames."""
    k = np.exp(-0.5 * (np.arange(-3 * width, 3 * width + 1) / width) ** 2)
    x = np.convolve(rng.normal(0, 1, n + len(k)), k / np.sqrt((k**2).sum()), "same")
    return x[len(k) // 2 : len(k) // 2 + n]


def plan_video(
    ident: Identity,
    emotion: str,
    strength: float,
    talk: np.ndarray,
    n_frames: int,
    fps: float,
    rng: np.random.Generator,
) -> Plan:
    """Per-frame controls for ``emotion`` at ``strength`` (1 = normal), speaking ``talk``."""
    if emotion not in EXPRESSIONS:
        raise ValueError(f"unknown emotion {emotion!r}; known: {', '.join(EXPRESSIONS)}")
    T = n_frames
    i = np.arange(T, dtype=np.float64)
    sec = i / fps
    # Temporal profile: neutral, onset ramp, apex hold, partial offset; timing jittered per video.
    t_on, rise = rng.uniform(0.05, 0.3) * T, rng.uniform(0.12, 0.3) * T
    t_off, fall, resid = (
        rng.uniform(0.72, 0.95) * T,
        rng.uniform(0.1, 0.25) * T,
        rng.uniform(0.2, 0.7),
    )
    prof = _smoothstep((i - t_on) / rise) * (1 - (1 - resid) * _smoothstep((i - t_off) / fall))
    gain = EXPRESSION_GAIN * ident.expressive * float(rng.lognormal(0.0, 0.2)) * strength
    apex = EXPRESSIONS[emotion]
    ch = {}
    for c in CHANNELS:
        a = apex.get(c, 0.0) * gain + rng.normal(0, _APEX_NOISE_SD)
        if c in ("nod", "shake", "sway", "tremble"):
            a = abs(a) * 0.3 if c not in apex else abs(a)
        ch[c] = ident.bias.get(c, 0.0) + a * prof + 0.03 * _smooth_noise(rng, T, 6)
        if c in _LIMITS:
            ch[c] = np.clip(ch[c], *_LIMITS[c])

    # Speech: the sentence's syllable pattern, started and paced with a little per-video jitter.
    start, rate = rng.uniform(0.15, 0.6), rng.uniform(0.88, 1.12)
    jaw_talk = np.zeros(T)
    for onset, dur, amp in talk:
        ph = (sec - start - onset * rate) / (dur * rate)
        jaw_talk += amp * np.where((ph > 0) & (ph < 1), np.sin(np.pi * np.clip(ph, 0, 1)) ** 2, 0)
    jaw_talk *= 0.45 * ident.talk_gain * rng.uniform(0.8, 1.2)

    blink = np.ones(T)
    n_blinks = rng.poisson(0.3 * T / fps)
    for b in rng.uniform(0, T, n_blinks):
        blink = np.minimum(blink, np.clip(np.abs(i - b) / 2.5, 0, 1))

    w = 2 * np.pi * sec
    dy = (
        0.25 * ch["pitch"]
        + ch["nod"] * np.sin(w * rng.uniform(1.5, 2.5) + rng.uniform(0, 6.3))
        + 0.02 * _smooth_noise(rng, T, 10)
    )
    dx = (
        0.25 * ch["yaw"]
        + ch["shake"] * np.sin(w * rng.uniform(2.5, 3.5) + rng.uniform(0, 6.3))
        + ch["sway"] * np.sin(w * rng.uniform(0.3, 0.5) + rng.uniform(0, 6.3))
        + 0.02 * _smooth_noise(rng, T, 10)
    )
    shiver = np.abs(ch["tremble"])[:, None] * _noise2(rng, T)  # (T, 2)
    dx, dy = dx + shiver[:, 0], dy + shiver[:, 1]
    roll = ch["roll"] + 0.02 * _smooth_noise(rng, T, 12)
    gaze = 0.25 * np.stack([_smooth_noise(rng, T, 8), _smooth_noise(rng, T, 8)], axis=1)
    light = float(rng.uniform(0.88, 1.12))
    return Plan(T, ch, jaw_talk, blink, dx, dy, roll, gaze, light, rng.normal(0, 4, 3))


def _noise2(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.stack([_smooth_noise(rng, n, 1.0), _smooth_noise(rng, n, 1.0)], axis=1)


# --------------------------------------------------------------------------------------------
# Drawing. Shapes are evaluated only inside their bounding box over a chunk of frames, as arrays
# of shape (t, h, w); per-frame parameters arrive as (t, 1, 1) so numpy broadcasts them.


class _Canvas:
    def __init__(self, frames: np.ndarray, gain: float, cast: np.ndarray) -> None:
        # Planar (t, 3, H, W) float32: numpy broadcasts a (t, 1, h, w) alpha over colour planes
        # much faster than over a trailing axis of length 3.
        self.f = frames
        self.t, self.H, self.W = frames.shape[0], frames.shape[2], frames.shape[3]
        self.gain, self.cast = gain, cast

    def lit(self, color: np.ndarray) -> np.ndarray:
        """Apply the video's brightness and colour cast to a colour (cheaper than to pixels)."""
        lit = np.clip(np.asarray(color, np.float32) * self.gain + self.cast, 0, 255)
        return lit.astype(np.float32).reshape(3, 1, 1)

    def grid(self, x0: np.ndarray, x1: np.ndarray, y0: np.ndarray, y1: np.ndarray):
        """Pixel-centre coordinates of the union bounding box, or None if it is off-frame."""
        xa, xb = max(int(np.floor(np.min(x0))) - 1, 0), min(int(np.ceil(np.max(x1))) + 2, self.W)
        ya, yb = max(int(np.floor(np.min(y0))) - 1, 0), min(int(np.ceil(np.max(y1))) + 2, self.H)
        if xa >= xb or ya >= yb:
            return None
        xs = np.arange(xa, xb, dtype=np.float32)[None, None, :] + 0.5  # (1, 1, w)
        ys = np.arange(ya, yb, dtype=np.float32)[None, :, None] + 0.5  # (1, h, 1)
        return (slice(ya, yb), slice(xa, xb)), xs, ys

    def paint(self, box, alpha: np.ndarray, color: np.ndarray) -> None:
        region = self.f[:, :, box[0], box[1]]  # (t, 3, h, w) view
        tmp = self.lit(color) - region
        tmp *= alpha[:, None]
        region += tmp


def _col(v: np.ndarray | float) -> np.ndarray:
    return np.asarray(v, np.float32).reshape(-1, 1, 1)  # (t, 1, 1)


def _ellipse_alpha(xs, ys, cx, cy, ax, ay, cos, sin) -> np.ndarray:
    dx, dy = xs - cx, ys - cy
    # Scaled, rotated coordinates: p = u / ax, q = v / ay.
    p = (dx * (cos / ax)) + (dy * (sin / ax))
    q = (dy * (cos / ay)) - (dx * (sin / ay))
    r2 = p * p
    r2 += q * q
    # Distance to the boundary ~ (r - 1) / |grad r| = (r - 1) r / |(p/ax, q/ay)|; exact for
    # circles, good enough near the edge of an ellipse. In place: these arrays are the hot path.
    p /= ax
    q /= ay
    p *= p
    q *= q
    p += q
    np.sqrt(p, out=p)
    p += 1e-6
    r = np.sqrt(r2, out=r2)
    d = r - 1
    d *= r
    d /= p
    np.subtract(0.5, d, out=d)
    return np.clip(d, 0.0, 1.0, out=d)


def _capsule_alpha(xs, ys, px, py, qx, qy, half) -> np.ndarray:
    ex, ey = qx - px, qy - py
    s = np.clip(((xs - px) * ex + (ys - py) * ey) / (ex * ex + ey * ey + 1e-6), 0, 1)
    d = np.sqrt((xs - px - s * ex) ** 2 + (ys - py - s * ey) ** 2)
    return np.clip(half - d + 0.5, 0.0, 1.0)


class _Head:
    """Per-frame head pose in pixels; maps face coordinates (half-axes units) to the frame."""

    def __init__(self, a: float, b: float, cx, cy, roll) -> None:
        self.a, self.b = a, b  # face half-width and half-height, pixels
        self.cx, self.cy = _col(cx), _col(cy)  # (t, 1, 1)
        self.cos, self.sin = _col(np.cos(roll)), _col(np.sin(roll))

    def at(self, fx, fy):
        ox, oy = np.asarray(fx) * self.a, np.asarray(fy) * self.b
        return self.cx + ox * self.cos - oy * self.sin, self.cy + ox * self.sin + oy * self.cos

    def ellipse(self, cv: _Canvas, fx, fy, ax, ay, color, strength=None):
        """Draw an ellipse of half-axes (ax, ay) pixels centred at face point (fx, fy).

        ``strength`` (per frame, (t, 1, 1)) makes it a translucent overlay, e.g. a blush.
        """
        if strength is not None and float(np.max(strength)) < 0.5 / 255:
            return None
        cx, cy = self.at(fx, fy)
        # Half-extents of the rotated ellipse's axis-aligned bounding box.
        rx = np.sqrt((ax * self.cos) ** 2 + (ay * self.sin) ** 2)
        ry = np.sqrt((ax * self.sin) ** 2 + (ay * self.cos) ** 2)
        g = cv.grid(cx - rx, cx + rx, cy - ry, cy + ry)
        if g is None:
            return None
        box, xs, ys = g
        alpha = _ellipse_alpha(xs, ys, cx, cy, ax, ay, self.cos, self.sin)
        cv.paint(box, alpha if strength is None else alpha * strength, color)
        return g, alpha

    def line(self, cv: _Canvas, p, q, half, color, strength=None):
        """Draw a round-capped segment from face point p to q; ``strength`` fades it per frame."""
        if strength is not None and float(np.max(strength)) < 0.5 / 255:
            return  # a conditional wrinkle that no frame shows
        px, py = self.at(*p)
        qx, qy = self.at(*q)
        g = cv.grid(np.minimum(px, qx) - half, np.maximum(px, qx) + half,
                    np.minimum(py, qy) - half, np.maximum(py, qy) + half)  # fmt: skip
        if g is not None:
            alpha = _capsule_alpha(g[1], g[2], px, py, qx, qy, half)
            cv.paint(g[0], alpha if strength is None else alpha * strength, color)


def _draw_chunk(cv: _Canvas, ident: Identity, plan: Plan, idx: np.ndarray) -> None:
    H, W = cv.H, cv.W
    b = ident.scale * H
    a = b * ident.aspect
    hd = _Head(a, b, ident.x * W + plan.dx[idx] * b, ident.y * H + plan.dy[idx] * b, plan.roll[idx])
    c = {k: _col(v[idx]) for k, v in plan.ch.items()}
    skin = ident.skin
    px = max(H / 90.0, 1.0)  # one "design pixel" at the default height, for minimum widths

    # Hair behind the face (the body is part of the static background, see render()).
    hd.ellipse(cv, 0, -0.22, 1.07 * a, 0.95 * b, ident.hair)
    if ident.long_hair:  # side curtains down to the shoulders, chin left clear
        for s in (-1, 1):
            hd.ellipse(cv, s * 0.8, 0.3, 0.38 * a, 0.95 * b, ident.hair)
    for s in (-1, 1):
        hd.ellipse(cv, s * 0.98, 0.02, 0.13 * a, 0.2 * b, skin * 0.93)
    hd.ellipse(cv, 0, 0, a, b, skin)
    # Face colour: anger (and a little joy or disgust) reddens the face, fear and sadness drain it
    # grey; a smile adds rosy cheeks. Large, low-detail cues that survive a 64 px encoder input.
    red = np.clip(skin * np.array([1.0, 0.62, 0.62]) + np.array([55.0, 0, 0]), 0, 255)
    hd.ellipse(cv, 0, 0.05, 0.97 * a, 0.95 * b, red, 0.5 * np.clip(c["flush"], 0, 1))
    hd.ellipse(cv, 0, 0.05, 0.97 * a, 0.95 * b, _mix(skin, np.array([215.0, 218, 210]), 0.55),
               0.5 * np.clip(-c["flush"], 0, 1))  # fmt: skip
    pink = _mix(skin, np.array([255.0, 120, 140]), 0.6)
    for s in (-1, 1):
        blush = 0.6 * np.clip((c["smile"] - 0.6) / 0.5, 0, 1)  # a broad smile, not calm's hint
        hd.ellipse(cv, s * 0.5, 0.25, 0.24 * a, 0.15 * b, pink, blush)
    if ident.fringe:
        hd.ellipse(cv, 0, -0.9, 0.85 * a, 0.28 * b, ident.hair)

    # Forehead lines (age, raised brows), frown lines (lowered brows), nose and its wrinkles.
    fore = np.clip(0.35 * ident.age + 0.9 * c["brow"], 0, 1)
    for fy in (-0.5, -0.58):
        hd.line(cv, (-0.3, fy), (0.3, fy), 0.5 * px, skin * 0.72, fore)
    frown = np.clip(-1.2 * c["brow"], 0, 1)
    for s in (-1, 1):
        hd.line(cv, (s * 0.07, -0.33), (s * 0.05, -0.2), 0.5 * px, skin * 0.7, frown)
    hd.ellipse(cv, 0, 0.16, 0.1 * a, 0.17 * b, skin * 0.86)
    sneer = np.clip(c["sneer"], 0, 1)
    for fy in (-0.02, 0.05):
        hd.line(cv, (-0.09, fy), (0.09, fy), 0.5 * px, skin * 0.68, sneer)

    # Eyes: lash line, sclera whose height follows eye openness and blinks, iris clipped to it.
    open_ = np.clip(1 + 1.2 * c["eye"], 0.15, 2.4) * _col(plan.blink[idx])
    eh = np.maximum(ident.eye_h * b * open_, 0.3)
    ew = ident.eye_w * a
    gz = plan.gaze[idx]
    for s in (-1, 1):
        fx, fy = s * ident.eye_dx, ident.eye_y
        hd.ellipse(cv, fx, fy, ew + 0.8 * px, eh + 0.8 * px, skin * 0.4)
        drawn = hd.ellipse(cv, fx, fy, ew, eh, np.array([238.0, 236, 230]))
        if drawn is not None:
            (box, xs, ys), sclera = drawn
            ix, iy = hd.at(fx + _col(gz[:, 0]) * ident.eye_w * 0.6, fy + _col(gz[:, 1]) * 0.02)
            r = _col(0.62 * ident.eye_h * b)
            iris = _ellipse_alpha(xs, ys, ix, iy, r, r, hd.cos, hd.sin)
            cv.paint(box, iris * sclera, ident.iris)

    # Brows: inner end raised by "inner", both ends by "brow".
    for s in (-1, 1):
        y_in = ident.brow_y - 0.2 * c["brow"] - 0.18 * c["inner"]
        y_out = ident.brow_y - 0.2 * c["brow"] + 0.04 * c["inner"]
        hd.line(cv, (s * 0.15, y_in), (s * 0.56, y_out), ident.brow_th * b, ident.hair * 0.7)

    _draw_mouth(cv, hd, ident, c, _col(plan.jaw_talk[idx]), px)


def _draw_mouth(cv: _Canvas, hd: _Head, ident: Identity, c: dict, talk: np.ndarray, px: float):
    a, b = hd.a, hd.b
    jaw = np.clip(c["jaw"] + talk, 0, 1.5)
    mw = (
        ident.mouth_w * a * np.clip(1 + 0.3 * c["width"] + 0.25 * np.clip(c["smile"], 0, 2), 0.5, 2)
    )
    lift = 0.16 * b * c["smile"]  # corner lift, pixels
    opening = 0.22 * b * jaw
    sneer = 0.08 * b * np.clip(c["sneer"], 0, 2)
    lt = np.maximum(ident.lip_th * b, 0.6 * px)
    mx, my = hd.at(0.0, ident.mouth_y + 0.06 * jaw)
    reach = mw + 0.2 * b + opening + sneer
    g = cv.grid(mx - reach, mx + reach, my - reach, my + reach)
    if g is None:
        return
    box, xs, ys = g
    dx, dy = xs - mx, ys - my
    u, v = dx * hd.cos + dy * hd.sin, dy * hd.cos - dx * hd.sin  # mouth-aligned coordinates
    q = np.clip(u / mw, -1.2, 1.2)
    prof = np.clip(1 - q * q, 0, 1)
    centre = -lift * q * q
    dv = v - centre
    up = dv < 0
    # Upper lip opens less than the lower one; the sneer lifts one side of the upper lip.
    half = lt + np.where(
        up, 0.35 * opening * prof + sneer * np.clip(q, 0, 1), 0.65 * opening * prof
    )
    inside_x = np.clip(mw - np.abs(u) + 0.5, 0, 1)
    cv.paint(box, np.clip(half - np.abs(dv) + 0.5, 0, 1) * inside_x, ident.lip)
    inner = half - 1.6 * lt
    inside_x = np.clip(0.92 * mw - np.abs(u) + 0.5, 0, 1)
    mouth = np.clip(inner - np.abs(dv) + 0.5, 0, 1) * inside_x
    cv.paint(box, mouth, np.array([70.0, 22, 28]))
    # Upper teeth: a white band along the top of the opening (a broad smile shows them).
    if float(np.max(c["teeth"])) > 0.02:
        band = 0.12 * b * c["teeth"]
        teeth = mouth * np.clip(band - (dv + inner) + 0.5, 0, 1) * np.clip(c["teeth"] * 4, 0, 1)
        cv.paint(box, teeth, np.array([240.0, 236, 222]))


def render(
    ident: Identity,
    plan: Plan,
    size: tuple[int, int],
    frames: Sequence[int] | None = None,
    max_elems: int = 8_000_000,
) -> Iterator[np.ndarray]:
    """Yield uint8 chunks of shape (t, H, W, 3) for ``frames`` (default: all), in order.

    ``max_elems`` bounds the float32 working canvas, so 1280x720 renders a frame or two at a time.
    """
    W, H = size
    idx_all = np.arange(plan.n_frames) if frames is None else np.asarray(frames, dtype=np.int64)
    if idx_all.size and (idx_all.min() < 0 or idx_all.max() >= plan.n_frames):
        raise ValueError(f"frame indices must lie in [0, {plan.n_frames}); got {idx_all.tolist()}")
    gain, cast = plan.gain, plan.cast.astype(np.float32)
    # Static backdrop: vertical gradient, then shoulders and neck, which stay put while the head
    # moves (cheaper than redrawing them, and the head covers the top of the neck anyway).
    yy = np.linspace(0.0, 1.0, H, dtype=np.float32)[None, :, None]  # (1, H, 1)
    bg = np.empty((1, 3, H, W), np.float32)
    bgc = _Canvas(bg, gain, cast)
    bg[0] = (1 - yy) * bgc.lit(ident.bg_top) + yy * bgc.lit(ident.bg_bottom)  # (3, H, 1) over W
    b = ident.scale * H
    body = _Head(b * ident.aspect, b, np.array([ident.x * W]), np.array([ident.y * H]), 0.0)
    body.ellipse(bgc, 0, 2.05, 2.1 * body.a, 1.0 * b, ident.shirt)
    body.ellipse(bgc, 0, 1.05, 0.42 * body.a, 0.55 * b, ident.skin * 0.85)
    step = max(1, max_elems // (H * W * 3))
    for k in range(0, len(idx_all), step):
        idx = idx_all[k : k + step]
        canvas = np.empty((len(idx), 3, H, W), np.float32)
        canvas[:] = bg
        _draw_chunk(_Canvas(canvas, gain, cast), ident, plan, idx)
        # Colours were lit and clipped to [0, 255] and blending is convex: round and convert.
        canvas += 0.5
        planes = canvas.astype(np.uint8)  # (t, 3, H, W)
        out = np.empty((len(idx), H, W, 3), np.uint8)
        for k in range(3):  # per-plane copies interleave ~5x faster than a transposed copy
            out[..., k] = planes[:, k]
        yield out

"""Tests for vjepa_fer.video.randaugment (the 15 "increasing" ops and the per-clip policy)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from vjepa_fer.video import randaugment as ra


def _img(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(arr)


def _op(name: str, *args: float, img: np.ndarray) -> np.ndarray:
    return np.asarray(ra.apply_op(_img(img), ra.OpDraw(name, 0.0, tuple(args))))


@pytest.fixture
def noise16() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(16, 16, 3), dtype=np.uint8)


@pytest.fixture
def ramp16() -> np.ndarray:
    """Every grey level 0..255 exactly once per channel."""
    return np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)


def test_parse_policy_authors_string() -> None:
    policy = ra.parse_policy("rand-m7-n4-mstd0.5-inc1")
    assert policy == ra.RandAugmentPolicy()
    assert (policy.magnitude, policy.num_ops, policy.magnitude_std) == (7.0, 4, 0.5)
    assert policy.ops == ra.RAND_INCREASING_TRANSFORMS
    assert len(policy.ops) == 15
    assert ra.parse_policy("rand-m9-n2").ops == ra.RAND_TRANSFORMS
    for bad in ("auto-m7", "rand-w0", "rand-mx"):
        with pytest.raises(ValueError, match="RandAugment config"):
            ra.parse_policy(bad)


def test_increasing_op_set_is_timms() -> None:
    assert ra.RAND_INCREASING_TRANSFORMS == (
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


def test_level_to_args_at_magnitude_7() -> None:
    la = ra.level_to_args
    assert la("AutoContrast", 7) == la("Equalize", 7) == la("Invert", 7) == ()
    assert la("Rotate", 7) == pytest.approx((21.0,))
    assert la("Rotate", 7, negate=True) == pytest.approx((-21.0,))
    assert la("PosterizeIncreasing", 7) == (2,)
    assert la("SolarizeIncreasing", 7) == (77,)  # 256 - int(179.2)
    assert la("SolarizeAdd", 7) == (77,)
    for name in ("ColorIncreasing", "ContrastIncreasing", "BrightnessIncreasing"):
        assert la(name, 7) == pytest.approx((1.63,))
        assert la(name, 7, negate=True) == pytest.approx((0.37,))
    assert la("SharpnessIncreasing", 7) == pytest.approx((1.63,))
    assert la("ShearX", 7) == la("ShearY", 7) == pytest.approx((0.21,))
    assert la("ShearY", 7, negate=True) == pytest.approx((-0.21,))
    assert la("TranslateXRel", 7) == la("TranslateYRel", 7) == pytest.approx((0.315,))
    # Non-increasing variants, for completeness.
    assert la("Posterize", 7) == (2,)
    assert la("Solarize", 7) == (179,)
    assert la("Color", 7) == pytest.approx((1.36,))
    with pytest.raises(ValueError, match="unknown"):
        la("Cutout", 7)


def test_level_to_args_extremes() -> None:
    la = ra.level_to_args
    assert la("PosterizeIncreasing", 0) == (4,)
    assert la("PosterizeIncreasing", 10) == (0,)
    assert la("SolarizeIncreasing", 0) == (256,)  # no pixel reaches the threshold
    assert la("SolarizeIncreasing", 10) == (0,)  # every pixel inverted
    assert la("BrightnessIncreasing", 0) == pytest.approx((1.0,))
    assert la("BrightnessIncreasing", 10) == pytest.approx((1.9,))
    assert la("BrightnessIncreasing", 10, negate=True) == pytest.approx((0.1,))


def test_invert_exact(noise16: np.ndarray) -> None:
    assert np.array_equal(_op("Invert", img=noise16), 255 - noise16)


@pytest.mark.parametrize("bits", [0, 1, 2, 3, 4, 7])
def test_posterize_keeps_msbs(ramp16: np.ndarray, bits: int) -> None:
    out = _op("PosterizeIncreasing", bits, img=ramp16)
    mask = (0xFF << (8 - bits)) & 0xFF
    assert np.array_equal(out, ramp16 & mask)
    if bits >= 1:  # Pillow >= 11 refuses bits=0; elsewhere we must match it exactly
        assert np.array_equal(out, np.asarray(ImageOps.posterize(_img(ramp16), bits)))
    assert len(np.unique(out)) == 2**bits


def test_posterize_8_bits_is_identity(noise16: np.ndarray) -> None:
    assert np.array_equal(_op("PosterizeIncreasing", 8, img=noise16), noise16)


def test_solarize_threshold(ramp16: np.ndarray) -> None:
    out = _op("SolarizeIncreasing", 77, img=ramp16)
    expected = np.where(ramp16 >= 77, 255 - ramp16, ramp16)
    assert np.array_equal(out, expected)
    assert np.array_equal(_op("SolarizeIncreasing", 256, img=ramp16), ramp16)
    assert np.array_equal(_op("SolarizeIncreasing", 0, img=ramp16), 255 - ramp16)


def test_solarize_add(ramp16: np.ndarray) -> None:
    out = _op("SolarizeAdd", 77, img=ramp16).astype(int)
    r = ramp16.astype(int)
    assert np.array_equal(out, np.where(r < 128, np.minimum(255, r + 77), r))


def test_autocontrast_stretches_range() -> None:
    arr = np.zeros((8, 8, 3), dtype=np.uint8)
    arr[..., :] = np.linspace(50, 150, 64).round().astype(np.uint8).reshape(8, 8, 1)
    out = _op("AutoContrast", img=arr).astype(int)
    assert out.min() == 0 and out.max() == 255
    # Linear stretch: (v - 50) * 255 / 100, as PIL computes it.
    assert np.abs(out - (arr.astype(int) - 50) * 2.55).max() <= 1


def test_equalize_flattens_histogram(ramp16: np.ndarray) -> None:
    # Already uniform: unchanged.
    assert np.array_equal(_op("Equalize", img=ramp16), ramp16)
    skewed = (ramp16.astype(np.float64) ** 2 / 255).astype(np.uint8)  # mass near 0
    out = _op("Equalize", img=skewed)
    assert np.array_equal(out, np.asarray(ImageOps.equalize(_img(skewed))))
    assert out.mean() > skewed.mean() + 30


def test_rotate_90_on_square(noise16: np.ndarray) -> None:
    assert np.array_equal(_op("Rotate", 90.0, img=noise16), np.rot90(noise16))  # counter-clockwise


def test_rotate_fills_corners_grey() -> None:
    white = np.full((16, 16, 3), 255, dtype=np.uint8)
    out = _op("Rotate", 21.0, img=white)
    assert tuple(out[0, 0]) == ra.FILL
    assert tuple(out[8, 8]) == (255, 255, 255)


def test_shear_x_shifts_known_pixel(noise16: np.ndarray) -> None:
    # PIL samples pixel centres: output (x, y) reads input x + 0.4 * (y + 0.5); at y = 7 that is
    # an exact shift of 3 columns.
    out = _op("ShearX", 0.4, img=noise16)
    assert np.array_equal(out[7, :13], noise16[7, 3:])
    assert np.array_equal(out[7, 13:], np.full((3, 3), 128, dtype=np.uint8))


def test_shear_y_shifts_known_pixel(noise16: np.ndarray) -> None:
    out = _op("ShearY", 0.4, img=noise16)
    assert np.array_equal(out[:13, 7], noise16[3:, 7])


def test_translate_rel_shifts_by_fraction_of_size(noise16: np.ndarray) -> None:
    out = _op("TranslateXRel", 0.25, img=noise16)  # 4 px: content moves left
    assert np.array_equal(out[:, :12], noise16[:, 4:])
    assert (out[:, 12:] == 128).all()
    out = _op("TranslateXRel", -0.25, img=noise16)  # negated: moves right
    assert np.array_equal(out[:, 4:], noise16[:, :12])
    out = _op("TranslateYRel", 0.125, img=noise16)  # 2 px up
    assert np.array_equal(out[:14], noise16[2:])
    assert (out[14:] == 128).all()


@pytest.mark.parametrize(
    ("name", "enhancer"),
    [
        ("ColorIncreasing", ImageEnhance.Color),
        ("ContrastIncreasing", ImageEnhance.Contrast),
        ("BrightnessIncreasing", ImageEnhance.Brightness),
        ("SharpnessIncreasing", ImageEnhance.Sharpness),
    ],
)
def test_enhance_ops_match_pil(noise16: np.ndarray, name: str, enhancer: type) -> None:
    at0 = ra.level_to_args(name, 0.0)
    assert np.array_equal(_op(name, *at0, img=noise16), noise16)  # factor 1: identity
    for negate, factor in ((False, 1.9), (True, 0.1)):
        args = ra.level_to_args(name, 10.0, negate=negate)
        assert args == pytest.approx((factor,))
        expected = np.asarray(enhancer(_img(noise16)).enhance(factor))
        assert np.array_equal(_op(name, *args, img=noise16), expected)
        assert not np.array_equal(expected, noise16)


def test_draw_ops_is_deterministic_per_rng() -> None:
    policy = ra.RandAugmentPolicy()
    a = ra.draw_ops(np.random.default_rng(5), policy)
    b = ra.draw_ops(np.random.default_rng(5), policy)
    assert a == b
    assert all(op.name in policy.ops for op in a)


def test_draw_ops_statistics() -> None:
    policy = ra.RandAugmentPolicy()
    rng = np.random.default_rng(123)
    counts: Counter[str] = Counter()
    mags: list[float] = []
    signs: list[bool] = []
    n_draws = 3000
    for _ in range(n_draws):
        for op in ra.draw_ops(rng, policy):
            counts[op.name] += 1
            mags.append(op.magnitude)
            if op.name == "Rotate":
                signs.append(op.args[0] < 0)
    total = sum(counts.values())
    assert total / (n_draws * 4) == pytest.approx(0.5, abs=0.02)  # p = 0.5 per op
    assert set(counts) == set(policy.ops)  # with replacement, uniform over 15
    assert max(counts.values()) / min(counts.values()) < 1.35
    assert min(mags) >= 0.0 and max(mags) <= 10.0
    assert np.mean(mags) == pytest.approx(7.0, abs=0.05)
    assert np.std(mags) == pytest.approx(0.5, abs=0.05)
    assert np.mean(signs) == pytest.approx(0.5, abs=0.07)


def test_magnitude_is_clipped_to_0_10() -> None:
    policy = ra.RandAugmentPolicy(magnitude=10.0, magnitude_std=5.0, prob=1.0)
    rng = np.random.default_rng(0)
    mags = [op.magnitude for _ in range(200) for op in ra.draw_ops(rng, policy)]
    assert max(mags) == 10.0
    assert min(mags) >= 0.0


def test_apply_ops_same_draw_on_every_frame(noise16: np.ndarray) -> None:
    clip = np.stack([noise16] * 4)
    draws = [
        ra.OpDraw("Rotate", 7.0, (-21.0,)),
        ra.OpDraw("ContrastIncreasing", 7.0, (1.63,)),
        ra.OpDraw("TranslateYRel", 7.0, (0.315,)),
        ra.OpDraw("Equalize", 7.0, ()),
    ]
    out = ra.apply_ops(clip, draws)
    assert out.shape == clip.shape and out.dtype == np.uint8
    assert all(np.array_equal(out[0], out[t]) for t in range(1, 4))
    single = _img(noise16)
    for d in draws:
        single = ra.apply_op(single, d)
    assert np.array_equal(out[0], np.asarray(single))
    assert ra.apply_ops(clip, []) is clip


def test_apply_ops_rejects_bad_frames() -> None:
    with pytest.raises(ValueError, match="uint8"):
        ra.apply_ops(np.zeros((2, 4, 4, 3), dtype=np.float32), [ra.OpDraw("Invert", 0.0)])

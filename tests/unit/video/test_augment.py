"""Tests for vjepa_fer.video.augment (keyed per-clip training augmentation)."""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vjepa_fer.video import augment as aug
from vjepa_fer.video import transforms as vt

SIZE = 16
KEY = {"seed": 0, "video": "01-01-03-01-01-01-01", "epoch": 2, "clip": 5}


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(4, 24, 32, 3), dtype=np.uint8)


def _run(frames: np.ndarray, cfg: aug.AugmentConfig | None = None, **key: object) -> torch.Tensor:
    k = {**KEY, **key}
    return aug.augment_clip(frames, size=SIZE, cfg=cfg or aug.AugmentConfig(), **k)  # type: ignore[arg-type]


def test_defaults_are_the_authors_values() -> None:
    cfg = aug.AugmentConfig()
    assert (cfg.magnitude, cfg.num_ops, cfg.magnitude_std, cfg.op_prob) == (7.0, 4, 0.5, 0.5)
    assert cfg.increasing and cfg.rand_augment and cfg.random_resized_crop
    assert cfg.rrc_scale == (0.08, 1.0)
    assert cfg.rrc_ratio == pytest.approx((0.75, 4 / 3))
    assert cfg.reprob == 0.25 and cfg.hflip_prob == 0.0
    assert cfg.erase_area == pytest.approx((0.02, 1 / 3))
    assert cfg.erase_aspect == pytest.approx((0.3, 3.333333))
    assert cfg.ra_fill == (128, 128, 128) and cfg.ra_resample == "bicubic"


def test_clip_entropy_is_a_stable_hash() -> None:
    expected = int.from_bytes(hashlib.blake2b(b"0|vid|1|2", digest_size=16).digest(), "little")
    assert aug.clip_entropy(0, "vid", 1, 2) == expected
    assert aug.clip_entropy(0, "vid", 1, 2) != aug.clip_entropy(0, "vid", 2, 1)


def test_output_shape_and_dtype(clip: np.ndarray) -> None:
    out = _run(clip)
    assert out.shape == (3, 4, SIZE, SIZE)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


def test_same_key_same_pixels_regardless_of_global_rng(clip: np.ndarray) -> None:
    a = _run(clip)
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    _ = torch.rand(10), np.random.rand(10), random.random()
    b = _run(clip)
    assert torch.equal(a, b)


def test_different_epoch_or_clip_or_video_differs(clip: np.ndarray) -> None:
    base = _run(clip)
    assert not torch.equal(base, _run(clip, epoch=3))
    assert not torch.equal(base, _run(clip, clip=6))
    assert not torch.equal(base, _run(clip, video="other"))
    assert not torch.equal(base, _run(clip, seed=1))


def test_independent_of_call_order(clip: np.ndarray) -> None:
    keys = [{"epoch": e, "clip": c} for e in range(2) for c in range(3)]
    forward = [_run(clip, **k) for k in keys]
    backward = [_run(clip, **k) for k in reversed(keys)][::-1]
    assert all(torch.equal(f, b) for f, b in zip(forward, backward, strict=True))


def test_tensor_input_matches_numpy(clip: np.ndarray) -> None:
    assert torch.equal(_run(clip), aug.augment_clip(torch.from_numpy(clip), size=SIZE, **KEY))


def test_identical_frames_stay_identical_without_erasing(clip: np.ndarray) -> None:
    frames = np.stack([clip[0]] * 5)
    cfg = aug.AugmentConfig(reprob=0.0, magnitude_std=0.0, op_prob=1.0)
    for c in range(6):
        out = _run(frames, cfg, clip=c)
        assert all(torch.equal(out[:, 0], out[:, t]) for t in range(1, 5))


def _erased_key(cfg: aug.AugmentConfig) -> dict[str, int]:
    for c in range(200):
        p = aug.draw_clip_params(
            seed=0, video="v", epoch=0, clip=c, height=24, width=32, size=SIZE, cfg=cfg
        )
        if p.erase_box is not None:
            return {"clip": c}
    raise AssertionError("no erased clip in 200 keys")


def test_erasing_same_box_fresh_noise_per_frame(clip: np.ndarray) -> None:
    frames = np.stack([clip[0]] * 3)
    cfg = aug.AugmentConfig(rand_augment=False, reprob=1.0)
    key = _erased_key(cfg)
    params = aug.draw_clip_params(
        seed=0, video="v", epoch=0, height=24, width=32, size=SIZE, cfg=cfg, **key
    )
    top, left, h, w = params.erase_box  # type: ignore[misc]
    out = aug.augment_clip(frames, seed=0, video="v", epoch=0, size=SIZE, cfg=cfg, **key)
    clean = aug.augment_clip(
        frames, seed=0, video="v", epoch=0, size=SIZE, cfg=replace(cfg, reprob=0.0), **key
    )
    inside = torch.zeros(SIZE, SIZE, dtype=torch.bool)
    inside[top : top + h, left : left + w] = True
    # Outside the box: untouched, and identical on every frame.
    assert torch.equal(out[:, :, ~inside], clean[:, :, ~inside])
    # Inside: replaced on every frame, by different noise per frame (the reference's behaviour).
    assert not torch.equal(out[:, 0, inside], clean[:, 0, inside])
    assert not torch.equal(out[:, 0, inside], out[:, 1, inside])
    shared = aug.augment_clip(
        frames,
        seed=0,
        video="v",
        epoch=0,
        size=SIZE,
        cfg=replace(cfg, erase_shared_noise=True),
        **key,
    )
    assert torch.equal(shared[:, 0], shared[:, 1]) and torch.equal(shared[:, 0], shared[:, 2])


def test_erasing_probability_and_box_ranges() -> None:
    cfg = aug.AugmentConfig()
    n, erased = 2000, 0
    size = 64
    for c in range(n):
        p = aug.draw_clip_params(
            seed=3,
            video=f"v{c % 7}",
            epoch=c // 7,
            clip=c % 8,
            height=24,
            width=32,
            size=size,
            cfg=cfg,
        )
        if p.erase_box is None:
            continue
        erased += 1
        top, left, h, w = p.erase_box
        assert 0 <= top and top + h <= size and 0 <= left and left + w <= size
        area = h * w / size**2
        assert 0.02 * 0.7 <= area <= 1 / 3 * 1.2  # slack for rounding h and w
        assert 0.3 * 0.8 <= h / w <= 1 / 0.3 * 1.25
    assert erased / n == pytest.approx(0.25, abs=0.035)


@pytest.mark.parametrize(("height", "width"), [(720, 1280), (360, 480), (50, 30)])
def test_rrc_box_within_bounds_and_ranges(height: int, width: int) -> None:
    rng = np.random.default_rng(height)
    areas, ratios = [], []
    for _ in range(1500):
        top, left, h, w = aug.sample_rrc_box(rng, height, width)
        assert 0 <= top and top + h <= height and 0 <= left and left + w <= width
        assert h > 0 and w > 0
        areas.append(h * w / (height * width))
        ratios.append(w / h)
    tol = 4.0 / min(height, width)  # rounding of h and w to integers
    assert min(areas) >= 0.08 - 2 * tol and max(areas) <= 1.0
    assert min(ratios) >= 0.75 - tol and max(ratios) <= 4 / 3 + tol
    log_r = np.log(ratios)
    assert abs(np.mean(log_r)) < 0.05  # log-uniform aspect is symmetric around 1


def test_rrc_fallback_is_centred_crop() -> None:
    rng = np.random.default_rng(0)
    # An impossible scale forces the fallback after the tries.
    assert aug.sample_rrc_box(rng, 720, 1280, scale=(2.0, 3.0)) == (0, 160, 720, 960)
    assert aug.sample_rrc_box(rng, 1280, 720, scale=(2.0, 3.0)) == (160, 0, 960, 720)
    assert aug.sample_rrc_box(rng, 300, 360, scale=(2.0, 3.0)) == (0, 0, 300, 360)


def test_rrc_applied_with_same_box_on_every_frame(clip: np.ndarray) -> None:
    cfg = aug.AugmentConfig(rand_augment=False, reprob=0.0)
    params = aug.draw_clip_params(**KEY, height=24, width=32, size=SIZE, cfg=cfg)
    top, left, h, w = params.crop_box  # type: ignore[misc]
    x = vt.normalize(vt.frames_to_tensor(clip))  # (T, 3, H, W)
    expected = F.interpolate(
        x[:, :, top : top + h, left : left + w],
        size=(SIZE, SIZE),
        mode="bilinear",
        align_corners=False,
    ).permute(1, 0, 2, 3)
    assert torch.allclose(_run(clip, cfg), expected, atol=1e-6)


def test_parts_use_independent_streams() -> None:
    kw = {**KEY, "height": 24, "width": 32, "size": SIZE}
    full = aug.draw_clip_params(**kw, cfg=aug.AugmentConfig())
    no_ra = aug.draw_clip_params(**kw, cfg=aug.AugmentConfig(rand_augment=False))
    assert no_ra.ops == ()
    assert (full.crop_box, full.erase_box, full.noise_seed) == (
        no_ra.crop_box,
        no_ra.erase_box,
        no_ra.noise_seed,
    )


def test_everything_off_equals_eval_view(clip: np.ndarray) -> None:
    cfg = aug.AugmentConfig(rand_augment=False, random_resized_crop=False, reprob=0.0)
    out = _run(clip, cfg)
    ref = vt.eval_transform(clip, size=SIZE, quantize=False)
    assert torch.allclose(out, ref, atol=1e-5)


def test_hflip_switch_mirrors(clip: np.ndarray) -> None:
    base = aug.AugmentConfig(rand_augment=False, reprob=0.0)
    plain = _run(clip, base)
    flipped = _run(clip, replace(base, hflip_prob=1.0))
    assert torch.equal(flipped, plain.flip(-1))


def test_randaugment_is_applied(clip: np.ndarray) -> None:
    base = aug.AugmentConfig(reprob=0.0, op_prob=1.0)
    assert not torch.equal(_run(clip, base), _run(clip, replace(base, rand_augment=False)))


def test_bad_frames_name_the_video() -> None:
    with pytest.raises(ValueError, match="01-01-03"):
        aug.augment_clip(np.zeros((4, 8, 8), dtype=np.uint8), size=4, **KEY)


def test_erase_box_none_when_it_never_fits() -> None:
    rng = np.random.default_rng(0)
    # A box covering the whole image never passes timm's strict ``w < W and h < H`` test.
    full = aug.sample_erase_box(rng, 64, 64, 1.0, area_range=(1.0, 1.0), aspect_range=(1.0, 1.0))
    assert full is None
    assert aug.sample_erase_box(rng, 64, 64, prob=0.0) is None
    assert math.isclose(aug.AugmentConfig().erase_aspect[1], 1 / 0.3)


def test_float_frames_are_rejected() -> None:
    with pytest.raises(ValueError, match="uint8"):
        aug.augment_clip(np.zeros((2, 8, 8, 3), dtype=np.float32), size=4, **KEY)

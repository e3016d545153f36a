"""The device backend against the reference: RandAugment op by op, the clip augmentation with the
same keyed parameters, and the evaluation pixels (vjepa_fer.video.device_randaugment,
vjepa_fer.video.device_transforms)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vjepa_fer.video import augment as aug
from vjepa_fer.video import device_randaugment as dra
from vjepa_fer.video import device_transforms as dt
from vjepa_fer.video import randaugment as ra
from vjepa_fer.video import transforms as vt

LEVEL = 1.0 / 255.0 / min(vt.IMAGENET_STD)  # one grey level in normalised units


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    """Three frames of 45x61 px: smooth gradients, flat patches, sharp edges and noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:45, 0:61]
    out = []
    for t in range(3):
        img = np.stack(
            [(xx * 4 + t * 9) % 256, (yy * 5 + 40) % 256, ((xx + yy) * 3 + 60 * t) % 256], -1
        ).astype(np.int16)
        img[5:15, 10:30] = (30, 200, 90)  # a flat patch with sharp edges
        img += rng.integers(-12, 13, size=img.shape)
        out.append(np.clip(img, 20, 235))  # not the full range: AutoContrast has work to do
    return np.stack(out).astype(np.uint8)


def device_ops(frames: np.ndarray, draws, **kw) -> np.ndarray:
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()
    return dra.apply_ops(x, draws, **kw).permute(0, 2, 3, 1).numpy()


OPS = [
    ("AutoContrast", ()),
    ("Equalize", ()),
    ("Invert", ()),
    ("Rotate", (19.7,)),
    ("Rotate", (-23.1,)),
    ("PosterizeIncreasing", (2,)),
    ("PosterizeIncreasing", (0,)),
    ("SolarizeIncreasing", (77,)),
    ("SolarizeAdd", (77,)),
    ("ColorIncreasing", (1.63,)),
    ("ColorIncreasing", (0.41,)),
    ("ContrastIncreasing", (1.6,)),
    ("ContrastIncreasing", (0.4,)),
    ("BrightnessIncreasing", (1.6,)),
    ("BrightnessIncreasing", (0.37,)),
    ("SharpnessIncreasing", (1.6,)),
    ("SharpnessIncreasing", (0.4,)),
    ("ShearX", (0.21,)),
    ("ShearY", (-0.19,)),
    ("TranslateXRel", (0.3117,)),
    ("TranslateYRel", (-0.2871,)),
]


def test_every_increasing_op_is_covered() -> None:
    assert {name for name, _ in OPS} == set(ra.RAND_INCREASING_TRANSFORMS)


@pytest.mark.parametrize(("name", "args"), OPS, ids=[f"{n}{a}" for n, a in OPS])
def test_op_matches_pil(frames: np.ndarray, name: str, args: tuple) -> None:
    draw = ra.OpDraw(name, 7.0, args)
    ref = ra.apply_ops(frames, [draw]).astype(int)
    out = device_ops(frames, [draw]).astype(int)
    diff = np.abs(ref - out)
    # PIL computes in double (geometric ops) or C float; float32 here can land on the other side
    # of a truncation, by one level, on a handful of pixels.
    assert diff.max() <= 1, name
    assert (diff > 0).mean() <= 0.002, name
    assert not np.array_equal(out, frames) or name == "Invert"  # the op did something


@pytest.mark.parametrize("resample", ["bilinear", "nearest"])
@pytest.mark.parametrize(("name", "args"), [("Rotate", (13.3,)), ("ShearX", (-0.2,))])
def test_other_resampling_filters_match_pil(frames, resample, name, args) -> None:
    draw = ra.OpDraw(name, 7.0, args)
    ref = ra.apply_ops(frames, [draw], resample=resample).astype(int)
    out = device_ops(frames, [draw], resample=resample).astype(int)
    diff = np.abs(ref - out)
    # PIL's nearest affine uses fixed-point coordinates: rare neighbours differ.
    assert (diff > 1).mean() <= (0.01 if resample == "nearest" else 0.0)


@pytest.mark.parametrize("angle", [90.0, 180.0, 270.0, 0.0])
def test_rotate_special_angles_match_pil(angle: float) -> None:
    square = np.random.default_rng(1).integers(0, 256, size=(2, 16, 16, 3), dtype=np.uint8)
    draw = ra.OpDraw("Rotate", 7.0, (angle,))
    assert np.array_equal(device_ops(square, [draw]), ra.apply_ops(square, [draw]))


def test_ops_in_sequence_and_frame_chunks(frames: np.ndarray) -> None:
    draws = [ra.OpDraw(n, 7.0, a) for n, a in OPS[3:9]]
    ref = ra.apply_ops(frames, draws).astype(int)
    whole = device_ops(frames, draws, chunk=len(frames))
    per_frame = device_ops(frames, draws, chunk=1)
    assert np.array_equal(whole, per_frame)  # chunking never changes a value
    assert np.abs(whole.astype(int) - ref).max() <= 2  # two rounding steps in a row at most


def test_histogram_ops_are_per_frame_and_channel() -> None:
    x = np.zeros((2, 4, 4, 3), np.uint8)
    x[0, :2] = (10, 20, 30)
    x[0, 2:] = (50, 60, 70)
    x[1] = 100  # one level only: PIL leaves it unchanged
    for name in ("AutoContrast", "Equalize"):
        draw = ra.OpDraw(name, 7.0, ())
        assert np.array_equal(device_ops(x, [draw]), ra.apply_ops(x, [draw]))


def test_bad_frames_are_rejected() -> None:
    with pytest.raises(ValueError, match="uint8"):
        dra.apply_ops(torch.zeros(1, 3, 4, 4), [ra.OpDraw("Invert", 7.0, ())])
    with pytest.raises(ValueError, match="resample"):
        dra.affine(torch.zeros(1, 3, 4, 4, dtype=torch.uint8), (1, 0, 0, 0, 1, 0), resample="x")


# ----------------------------------------------------------------------------------------------
# whole training clips: same keyed parameters, same steps


def params_for(clip: int, frames: np.ndarray, size: int, cfg: aug.AugmentConfig):
    return aug.draw_clip_params(
        seed=3, video="v.mp4", epoch=2, clip=clip, height=frames.shape[1],
        width=frames.shape[2], size=size, cfg=cfg,
    )  # fmt: skip


def test_rrc_flip_and_erasing_equal_the_reference_without_randaugment(frames) -> None:
    cfg = aug.AugmentConfig(rand_augment=False, reprob=1.0, hflip_prob=0.5)
    for clip in range(6):
        params = params_for(clip, frames, 24, cfg)
        assert params.erase_box is not None and not params.ops
        ref = aug.apply_clip_params(frames, params, size=24, cfg=cfg)
        out = dt.augment_clip(torch.from_numpy(frames), params, size=24, cfg=cfg)
        assert out.shape == ref.shape == (3, 3, 24, 24)
        assert torch.allclose(out, ref, atol=1e-5)


def test_rrc_off_uses_the_evaluation_geometry(frames) -> None:
    cfg = aug.AugmentConfig(rand_augment=False, random_resized_crop=False, reprob=0.0)
    params = params_for(0, frames, 32, cfg)
    ref = aug.apply_clip_params(frames, params, size=32, cfg=cfg)
    out = dt.augment_clip(torch.from_numpy(frames), params, size=32, cfg=cfg)
    assert torch.allclose(out, ref, atol=1e-5)


def test_full_augmentation_close_to_the_reference_for_the_same_keys(frames) -> None:
    cfg = aug.AugmentConfig()
    seen_ops = set()
    for clip in range(24):
        params = params_for(clip, frames, 32, cfg)
        seen_ops.update(d.name for d in params.ops)
        ref = aug.apply_clip_params(frames, params, size=32, cfg=cfg)
        out = dt.augment_clip(torch.from_numpy(frames), params, size=32, cfg=cfg)
        diff = (out - ref).abs()
        # RandAugment may differ by a grey level on rare pixels; the crop interpolates it, the
        # erased box (same CPU noise) is identical.
        assert diff.max() <= 2.01 * LEVEL, (clip, params.ops)
        assert diff.mean() <= 0.01 * LEVEL, (clip, params.ops)
    assert len(seen_ops) >= 8  # the keys exercised many different ops


# ----------------------------------------------------------------------------------------------
# evaluation


@pytest.mark.parametrize(("size", "views"), [(24, 1), (16, 1), (40, 1), (24, 3), (45, 3)])
def test_eval_pixels_equal_the_reference(frames: np.ndarray, size: int, views: int) -> None:
    plan = dt.eval_plan(45, 61, size, views)
    grid = torch.from_numpy(np.ascontiguousarray(dt.take_eval_taps(frames, plan)))
    normed = dt.eval_frames(grid, plan, chunk=2)
    positions = torch.tensor([[0, 1, 2, 2], [2, 1, 0, 0], [1, 1, 1, 1]])
    views_t = torch.arange(3) % views
    clips = dt.gather_clips(normed, positions, size=size, views=views_t, num_views=views)
    ref = vt.eval_views(frames, size, num_views=views)
    for k in range(3):
        want = ref[int(views_t[k])][:, positions[k]]
        assert torch.equal(clips[k], want)  # bit-identical on the CPU


def test_eval_taps_are_every_pixel_the_resize_reads() -> None:
    """Frames that are NaN outside the shipped taps still give finite, unchanged kept pixels."""
    for height, width, size in ((720, 1280, 384), (720, 1280, 224), (90, 160, 64), (64, 112, 64)):
        plan = dt.eval_plan(height, width, size)
        x = torch.rand(1, 3, height, width) * 255
        holes = torch.full_like(x, float("nan"))
        rows, cols = torch.from_numpy(plan.rows), torch.from_numpy(plan.cols)
        holes[:, :, rows[:, None], cols[None, :]] = x[:, :, rows[:, None], cols[None, :]]
        top, left, kh, kw = plan.keep
        full = torch.nn.functional.interpolate(x, size=plan.resized, mode="bilinear")
        part = torch.nn.functional.interpolate(holes, size=plan.resized, mode="bilinear")
        assert torch.equal(
            full[..., top : top + kh, left : left + kw], part[..., top : top + kh, left : left + kw]
        ), (height, width, size)
    big = dt.eval_plan(720, 1280, 384)
    assert big.taps_shape == (632, 632)  # 43 % of the frame's pixels
    assert dt.eval_plan(720, 1280, 224).taps_shape == (448, 448)


def test_eval_clips_one_call(frames: np.ndarray) -> None:
    positions = torch.tensor([[0, 1, 1, 2]])
    out = dt.eval_clips(torch.from_numpy(frames), positions, size=24)
    assert torch.equal(out[0], vt.eval_transform(frames, 24)[:, positions[0]])
    with pytest.raises(ValueError, match="positive"):
        dt.eval_plan(20, 30, 0)


# ----------------------------------------------------------------------------------------------
# many clips at once (the stream's path) against the clip-by-clip loop


def clip_rows(num_clips: int, frames_per_clip: int, num_frames: int) -> torch.Tensor:
    """Overlapping clips over the frames, in a shuffled order (as the keyed starts give)."""
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, num_frames, (num_clips, frames_per_clip), generator=g)


@pytest.mark.parametrize(
    "cfg",
    [
        aug.AugmentConfig(hflip_prob=0.5, reprob=0.6),
        aug.AugmentConfig(random_resized_crop=False, reprob=0.5),
        aug.AugmentConfig(erase_shared_noise=True, ra_resample="bilinear"),
    ],
)
@pytest.mark.parametrize("batch_ops", [True, False])  # RandAugment grouped (GPU) or per clip (CPU)
def test_batched_clips_equal_the_clip_by_clip_loop(frames, cfg, batch_ops) -> None:
    """24 clips with different keyed draws (ops, crops, flips, erasing) in one batch."""
    src = torch.from_numpy(frames)
    rows = clip_rows(24, 4, len(frames))
    params = [params_for(clip, frames, 32, cfg) for clip in range(24)]
    assert len({p.ops for p in params}) > 12
    assert len({p.crop_box for p in params}) > 1 or not cfg.random_resized_crop
    loop = torch.stack(
        [dt.augment_clip(src[r], p, size=32, cfg=cfg) for r, p in zip(rows, params, strict=True)]
    )
    batched = dt.augment_clips(src, rows, params, size=32, cfg=cfg, batch_ops=batch_ops)
    assert batched.shape == loop.shape == (24, 3, 4, 32, 32)
    assert torch.equal(batched, loop)


def test_batched_ops_equal_one_clip_at_a_time_for_every_op(frames) -> None:
    """Every op family, each clip with other arguments, several families at one position."""
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()
    draws = [ra.OpDraw(name, 0.0, args) for name, args in OPS]
    ops = [(draws[k], draws[(k * 7 + 3) % len(draws)]) for k in range(len(draws))] + [()]
    clips = torch.cat([x] * len(ops))
    for chunk in (None, 2, 1000):
        out = dra.apply_clip_ops(clips, ops, chunk=chunk)
        for k, o in enumerate(ops):
            assert torch.equal(out[3 * k : 3 * k + 3], dra.apply_ops(x, list(o))), (k, o)


def test_batched_clips_reject_mismatched_draws(frames) -> None:
    src = torch.from_numpy(frames)
    with pytest.raises(ValueError, match="2 draws for 3 clips"):
        params = [params_for(0, frames, 8, aug.AugmentConfig())] * 2
        dt.augment_clips(src, clip_rows(3, 2, 3), params, size=8)

"""Tests for vjepa_fer.video.transforms (evaluation views: resize, crop, normalise)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vjepa_fer.video import transforms as vt

MEAN = np.array(vt.IMAGENET_MEAN, dtype=np.float64)
STD = np.array(vt.IMAGENET_STD, dtype=np.float64)


def _denorm(x: torch.Tensor) -> np.ndarray:
    """(3, T, S, S) normalised -> (3, T, S, S) on the 0..255 scale."""
    arr = x.double().numpy()
    return (arr * STD[:, None, None, None] + MEAN[:, None, None, None]) * 255.0


def _coord_frames(num: int, height: int, width: int) -> np.ndarray:
    """R = column index, G = row index, B = frame index: positions readable after a crop."""
    frames = np.zeros((num, height, width, 3), dtype=np.uint8)
    frames[..., 0] = np.arange(width, dtype=np.uint8)[None, None, :]
    frames[..., 1] = np.arange(height, dtype=np.uint8)[None, :, None]
    frames[..., 2] = np.arange(num, dtype=np.uint8)[:, None, None]
    return frames


def test_eval_short_side_matches_protocol() -> None:
    assert vt.eval_short_side(384) == 438
    assert vt.eval_short_side(224) == 256
    assert vt.eval_short_side(32) == 36


def test_resized_hw_floors_long_side() -> None:
    assert vt.resized_hw(720, 1280, 438) == (438, 778)
    assert vt.resized_hw(1280, 720, 438) == (778, 438)
    assert vt.resized_hw(360, 480, 438) == (438, 584)
    assert vt.resized_hw(50, 50, 36) == (36, 36)


def test_constant_frame_normalises_to_expected_constant() -> None:
    rgb = (10, 200, 30)
    frames = np.empty((4, 40, 60, 3), dtype=np.uint8)
    frames[:] = rgb
    out = vt.eval_transform(frames, size=32)
    assert out.shape == (3, 4, 32, 32)
    assert out.dtype == torch.float32
    expected = [(c / 255.0 - m) / s for c, m, s in zip(rgb, MEAN, STD, strict=True)]
    for ch in range(3):
        assert torch.allclose(out[ch], torch.full_like(out[ch], expected[ch]), atol=1e-6)
    assert np.allclose(vt.expected_normalized(rgb), expected)


def test_centre_crop_offsets_without_resize() -> None:
    # Short side 36 already equals floor(32*256/224): no resize, crop offsets round((dim-32)/2).
    frames = _coord_frames(3, 36, 50)
    out = _denorm(vt.eval_transform(frames, size=32))
    assert np.allclose(out[0, 0, 0], np.arange(9, 41), atol=1e-3)  # left = round(18/2) = 9
    assert np.allclose(out[1, 0, :, 0], np.arange(2, 34), atol=1e-3)  # top = round(4/2) = 2
    assert np.allclose(out[2, :, 5, 5], np.arange(3), atol=1e-3)  # frame order kept


def test_centre_crop_uses_python_rounding() -> None:
    x = torch.arange(11.0).view(1, 1, 1, 11).expand(1, 1, 4, 11)
    # (11 - 4) / 2 = 3.5 -> round half to even -> 4
    assert vt.center_crop(x, 4)[0, 0, 0].tolist() == [4.0, 5.0, 6.0, 7.0]
    with pytest.raises(ValueError, match="larger than the frame"):
        vt.center_crop(x, 5)


def test_bilinear_half_scale_is_2x2_mean_and_quantised() -> None:
    # 72 x 100 -> short side 36 -> (36, 50): an exact factor 1/2, where bilinear without
    # anti-aliasing and with half-pixel centres averages each 2 x 2 block.
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(2, 72, 100, 3), dtype=np.uint8)
    out = _denorm(vt.eval_transform(frames, size=32))  # (3, 2, 32, 32)
    blocks = frames.astype(np.float64).reshape(2, 36, 2, 50, 2, 3).mean(axis=(2, 4))
    expected = np.round(blocks)[:, 2:34, 9:41].transpose(3, 0, 1, 2)  # crop top 2, left 9
    assert np.allclose(out, expected, atol=1e-3)
    # quantize=False keeps the fractional averages.
    raw = _denorm(vt.eval_transform(frames, size=32, quantize=False))
    assert np.allclose(raw, blocks[:, 2:34, 9:41].transpose(3, 0, 1, 2), atol=1e-3)


def test_antialias_switch_changes_downscale() -> None:
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, size=(1, 90, 120, 3), dtype=np.uint8)
    a = vt.eval_transform(frames, size=32, antialias=False)
    b = vt.eval_transform(frames, size=32, antialias=True)
    assert a.shape == b.shape == (3, 1, 32, 32)
    assert not torch.allclose(a, b)


def test_chunking_and_tensor_input_do_not_change_values() -> None:
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 256, size=(7, 45, 61, 3), dtype=np.uint8)
    whole = vt.eval_transform(frames, size=32, chunk=100)
    chunked = vt.eval_transform(frames, size=32, chunk=3)
    from_tensor = vt.eval_transform(torch.from_numpy(frames), size=32)
    assert torch.equal(whole, chunked)
    assert torch.equal(whole, from_tensor)


def test_three_views_spread_along_long_side() -> None:
    # Short side already 16 = S: no resize; step (40 - 16) // 2 = 12.
    landscape = vt.eval_views(_coord_frames(2, 16, 40), size=16, num_views=3)
    assert len(landscape) == 3
    for view, start in zip(landscape, (0, 12, 24), strict=True):
        assert view.shape == (3, 2, 16, 16)
        assert np.allclose(_denorm(view)[0, 0, 0], np.arange(start, start + 16), atol=1e-3)
    portrait = vt.eval_views(_coord_frames(2, 40, 16), size=16, num_views=3)
    for view, start in zip(portrait, (0, 12, 24), strict=True):
        assert np.allclose(_denorm(view)[1, 0, :, 0], np.arange(start, start + 16), atol=1e-3)
    assert vt.spread_crop_offsets(683, 384, 3) == [0, 149, 298]


def test_three_views_resize_short_side_to_crop_size() -> None:
    frames = np.full((2, 64, 96, 3), 77, dtype=np.uint8)
    views = vt.eval_views(frames, size=32, num_views=3)  # resized to (32, 48): offsets 0, 8, 16
    assert [tuple(v.shape) for v in views] == [(3, 2, 32, 32)] * 3
    assert np.allclose(_denorm(views[2]), 77, atol=1e-3)


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        (np.zeros((2, 8, 8, 3), dtype=np.float32), "uint8"),
        (np.zeros((8, 8, 3), dtype=np.uint8), "shape"),
        (np.zeros((2, 8, 8, 4), dtype=np.uint8), "shape"),
    ],
)
def test_bad_input_is_rejected(frames: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        vt.eval_transform(frames, size=4)


def test_bad_view_count_is_rejected() -> None:
    frames = np.zeros((1, 8, 8, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="num_views"):
        vt.eval_views(frames, size=4, num_views=0)

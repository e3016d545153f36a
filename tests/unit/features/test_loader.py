"""Tests for vjepa_fer.features.loader: items of uint8 frames, bounded in size, decoded once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tests.videos import frame_number, write_video
from vjepa_fer.features.loader import FrameDataset, load_item, plan_items
from vjepa_fer.features.plan import eval_requests, train_requests
from vjepa_fer.features.stream import PixelConfig, group_by_video
from vjepa_fer.video.device_transforms import eval_plan


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("videos")
    write_video(root / "long.mp4", 150)
    return root


TABLE = pd.DataFrame({"video": ["long.mp4"], "num_frames": [150]})


def test_items_split_by_kind_and_by_the_frame_bound():
    reqs = eval_requests(TABLE, stride=1) + train_requests(TABLE, epoch=0, augment=True)
    items = plan_items(group_by_video(reqs), max_frames=40)
    assert [i.augment for i in items].count(True) >= 1
    assert sum(len(i.requests) for i in items) == len(reqs)
    for item in items:
        assert len(item.frames_needed()) <= 40
        assert all(r.augment == item.augment for r in item.requests)
    whole = plan_items(group_by_video(reqs), max_frames=None)
    assert len(whole) == 2  # one evaluation item, one training item


def test_eval_item_ships_uint8_taps_and_positions(root):
    reqs = eval_requests(TABLE, stride=5)
    cfg = PixelConfig(size=32)
    (plan,) = plan_items(group_by_video(reqs), cfg.max_decoded_frames)
    item = load_item(root, plan, cfg)
    geometry = eval_plan(48, 64, 32)
    assert item.frames.dtype == torch.uint8
    assert item.frames.shape == (len(plan.frames_needed()), *geometry.taps_shape, 3)
    assert item.positions.shape == (len(reqs), 16)
    assert item.source_hw == (48, 64)
    # float32 clips would have cost 16 frames x 3 x 32 x 32 x 4 bytes per clip
    assert item.nbytes < len(reqs) * 16 * 3 * 32 * 32 * 4 / 4


def test_train_item_ships_full_frames_in_clip_order(root):
    reqs = train_requests(TABLE, epoch=0, augment=True)
    (plan,) = plan_items(group_by_video(reqs), 256)
    item = load_item(root, plan, PixelConfig(size=32))
    assert item.frames.shape[1:] == (48, 64, 3)
    for r, rows in zip(plan.requests, item.positions, strict=True):
        got = [frame_number(item.frames[int(i)].numpy()) for i in rows]
        assert got == list(r.frames)


def test_worker_items_live_in_shared_memory(root):
    reqs = train_requests(TABLE, epoch=0, augment=True)
    items = plan_items(group_by_video(reqs), 256)
    loader = torch.utils.data.DataLoader(
        FrameDataset(root, items, PixelConfig(size=32)), batch_size=None, num_workers=1
    )
    (item,) = list(loader)
    assert item.frames.is_shared()
    assert np.array_equal(item.frames.numpy(), load_item(root, items[0], PixelConfig()).frames)


def test_missing_view_is_an_error_naming_the_video(root):
    reqs = eval_requests(TABLE, stride=50, num_views=3)
    (plan,) = plan_items(group_by_video(reqs), 256)
    with pytest.raises(ValueError, match="long.mp4: view 1"):
        load_item(root, plan, PixelConfig(size=32, num_views=1))

"""Which clips a pass needs: clip requests from a manifest and its frame counts.

Clip positions come from video/clips.py (the authors' fixed training clips, every start at
evaluation); this module turns them into :class:`ClipRequest` lists for the clip stream, and
splits a dataset into extraction shards by actor so shards can run as separate jobs.
"""

from __future__ import annotations

import logging

import pandas as pd

from vjepa_fer import schema
from vjepa_fer.features.requests import EVAL_EPOCH, ClipRequest
from vjepa_fer.video.clips import plan_eval_clips, plan_train_clips

logger = logging.getLogger(__name__)


def usable_videos(manifest: pd.DataFrame, lengths: pd.DataFrame) -> pd.DataFrame:
    """Manifest rows joined with their frame counts; videos whose status is not ok are dropped."""
    merged = manifest.merge(lengths[["video", "num_frames", "status"]], on="video", how="left")
    unknown = merged["status"].isna()
    if unknown.any():
        missing = merged.loc[unknown, "video"].tolist()[:10]
        raise ValueError(
            f"lengths table lacks {int(unknown.sum())} manifest videos, e.g. {missing}"
        )
    bad = merged["status"] != "ok"
    if bad.any():
        logger.warning(
            "skipping %d unreadable videos: %s",
            int(bad.sum()),
            merged.loc[bad, "video"].tolist()[:10],
        )
    return merged[~bad].reset_index(drop=True)


def shard_of(actors: pd.Series, num_shards: int) -> pd.Series:
    """Shard of each row: actors sorted and dealt round-robin (whole actors stay together)."""
    order = {a: i % num_shards for i, a in enumerate(sorted(actors.unique()))}
    return actors.map(order)


def eval_requests(
    videos: pd.DataFrame,
    *,
    frames_per_clip: int = schema.default("encoder.num_frames"),
    frame_step: int = schema.default("encoder.frame_step"),
    stride: int = schema.default("features.eval_stride"),
    num_views: int = 1,
    short: str = "authors",
) -> list[ClipRequest]:
    """Every evaluation clip (every start, every view) of the given videos; ``short`` is the
    rule for videos of at most one window (video/clips.py)."""
    out = []
    for video, n in zip(videos["video"], videos["num_frames"], strict=True):
        plan = plan_eval_clips(
            video,
            int(n),
            frames_per_clip=frames_per_clip,
            frame_step=frame_step,
            stride=stride,
            short=short,
        )
        for clip in plan:
            for view in range(num_views):
                out.append(
                    ClipRequest(
                        video,
                        clip.index,
                        clip.start,
                        tuple(int(f) for f in clip.frames),
                        view=view,
                        epoch=EVAL_EPOCH,
                    )
                )
    return out


def train_requests(
    videos: pd.DataFrame,
    *,
    epoch: int,
    seed: int = 0,
    augment: bool = True,
    random_clips: bool = False,
    frames_per_clip: int = schema.default("encoder.num_frames"),
    frame_step: int = schema.default("encoder.frame_step"),
    num_clips: int = 8,
    pad: str = "code",
    long_window: str = "random",
) -> list[ClipRequest]:
    """The training clips of one epoch (augmented clips are keyed by seed, video, epoch, clip;
    the random window of a ≥ 520-frame video by seed, video, epoch)."""
    out = []
    for video, n in zip(videos["video"], videos["num_frames"], strict=True):
        plan = plan_train_clips(
            video,
            int(n),
            seed=seed,
            epoch=epoch,
            random=random_clips,
            frames_per_clip=frames_per_clip,
            frame_step=frame_step,
            num_clips=num_clips,
            pad=pad,
            long_window=long_window,
        )
        for clip in plan:
            out.append(
                ClipRequest(
                    video,
                    clip.index,
                    clip.start,
                    tuple(int(f) for f in clip.frames),
                    view=0,
                    epoch=epoch,
                    augment=augment,
                )
            )
    return out

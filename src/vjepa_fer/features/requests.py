"""What a pass asks the clip stream for: one :class:`ClipRequest` per clip to encode.

Kept apart from :mod:`vjepa_fer.features.stream` (torch, decord) so that planning clips
(:mod:`vjepa_fer.features.plan`), a pandas job, stays free of the encoder's dependencies.
"""

from __future__ import annotations

from dataclasses import dataclass

EVAL_EPOCH = -1  # epoch of deterministic (non-augmented) clips


@dataclass(frozen=True)
class ClipRequest:
    """One clip to encode: ``frames`` are frame numbers of ``video`` (a path under the root)."""

    video: str
    clip: int
    start: int
    frames: tuple[int, ...]
    view: int = 0
    epoch: int = EVAL_EPOCH
    augment: bool = False

    @property
    def key(self) -> tuple[str, int, int, int]:
        return (self.video, self.clip, self.view, self.epoch)

    def meta(self) -> dict:
        return {
            "video": self.video,
            "clip": self.clip,
            "view": self.view,
            "epoch": self.epoch,
            "start": self.start,
        }

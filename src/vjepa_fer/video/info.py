"""What probing and decoding a video return, and the error for a video that cannot be used.

Shared by the file decoder (video/decode.py) and the frame-folder reader (video/frames.py), so
that neither imports the other's module for its types.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


class VideoError(ValueError):
    """A video that cannot be used; ``status`` is missing, empty, unreadable or corrupt."""

    def __init__(self, path: str | os.PathLike[str], problem: str, status: str = "corrupt"):
        self.path = str(path)
        self.problem = problem
        self.status = status
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` found out about one video."""

    num_frames: int
    fps: float
    width: int
    height: int
    backend: str  # "decord" or "pyav"


@dataclass(frozen=True)
class VideoFrames:
    """Decoded frames ``frames[k]`` = frame number ``indices[k]`` of the video at ``path``."""

    path: str
    indices: np.ndarray  # (N,) sorted, unique frame numbers
    frames: np.ndarray  # (N, H, W, 3) uint8
    backend: str

    def take(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Frames for ``indices`` (any order, repeats allowed): shape ``indices.shape + (H, W, 3)``.

        Raises KeyError if an index was not decoded.
        """
        want = np.asarray(indices, dtype=np.int64)
        pos = np.searchsorted(self.indices, want)
        pos = np.minimum(pos, len(self.indices) - 1)
        if not np.array_equal(self.indices[pos], want):
            missing = sorted(set(want.ravel().tolist()) - set(self.indices.tolist()))
            raise KeyError(f"{self.path}: frames {missing[:10]} were not decoded")
        return self.frames[pos]

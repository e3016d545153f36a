"""Tiny test videos written with PyAV: each frame encodes its own number, so tests can check
which frame a decoder returned."""

from __future__ import annotations

import fractions
from pathlib import Path

import numpy as np

W, H = 64, 48


def frame_image(i: int, width: int = W, height: int = H) -> np.ndarray:
    img = np.empty((height, width, 3), np.uint8)
    img[: height // 2] = 16 + 7 * (i % 32)
    img[height // 2 :] = 16 + 7 * (i // 32)
    return img


def frame_number(img: np.ndarray) -> int:
    """Read back the frame number from the centre of each half (away from block edges)."""
    top = float(img[4:8, 24:40].mean())
    bottom = float(img[40:44, 24:40].mean())
    return int(round((top - 16) / 7)) + 32 * int(round((bottom - 16) / 7))


def write_video(
    path: Path, n: int, kind: str = "mp4", width: int = W, height: int = H, **opts: str
) -> Path:
    """``n`` frames as H.264 .mp4 at 29.97 fps (RAVDESS-like) or FLV at 30 fps (CREMA-D-like)."""
    import av

    if kind == "mp4":
        fmt, codec, rate = "mp4", "libx264", fractions.Fraction(30000, 1001)  # 29.97 fps
    else:
        fmt, codec, rate = "flv", "flv", fractions.Fraction(30)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format=fmt, options=opts) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = 2_000_000
        stream.codec_context.gop_size = 12  # several key frames, so random access must seek
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(frame_image(i, width, height), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_dataset(root: Path, rows: list[dict], frames: dict[str, int]) -> tuple[Path, Path]:
    """Videos of ``frames`` (video -> frame count; 0 = a corrupt file) under ``root``, plus the
    manifest of ``rows`` and the frame counts written by ``vjepa-fer lengths``."""
    import pandas as pd

    from vjepa_fer.cli import main

    for video, n in frames.items():
        if n:
            write_video(root / video, n)
        else:
            (root / video).parent.mkdir(parents=True, exist_ok=True)
            (root / video).write_bytes(b"not a video")
    manifest, lengths = root / "manifest.csv", root / "lengths.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    argv = ["lengths", "--manifest", str(manifest), "--root", str(root), "--out", str(lengths)]
    assert main([*argv, "--report", str(root / "bad.csv")]) == 0
    return manifest, lengths

"""Frame-folder videos: a folder of numbered image files (jpg/png) read as one video.

DFEW's ``clip_224x224``, FERV39k's ``2_ClipsforFaceCrop`` and MAFW's ``data/frames`` ship their
face crops this way. Frames are ordered by the **last number in the file name**, never
lexically: ``9.jpg`` comes before ``10.jpg`` (DFEW's ``clip_224x224_16f`` names them ``1.jpg …
16.jpg`` without padding) and ``00001_00002.jpg`` is frame 2 of clip 00001. Two files with the same
number, or a file without one, make the folder unusable (:class:`VideoError` naming the file).

:func:`vjepa_fer.video.decode.probe_video` and :func:`~vjepa_fer.video.decode.decode_frames` hand
a folder to this module, so lengths, clips and the clip stream treat folders and files alike.
A folder has no frame rate: ``fps`` is reported as 0.

Verification (``probe_frames(verify=True)``, used by ``vjepa-fer lengths``) reads every frame in
full: a frame of another size, a truncated or undecodable image, or a gap in the frame numbers
(``1.jpg, 2.jpg, 4.jpg``) makes the folder ``corrupt`` with the frame named, so ``lengths`` lists it
in bad_videos.csv instead of an encoder job stopping on it. 16-bit images (PNG ``I;16``) are
scaled to 8 bit (value / 257), not clipped to 0/255 as Pillow's RGB conversion would.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from vjepa_fer.video.info import VideoError, VideoFrames, VideoInfo

FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")
BACKEND = "frames"
_NUMBER = re.compile(r"(\d+)(?!.*\d)")  # the last run of digits


def frame_number(path: Path) -> int:
    """The frame's number: the last run of digits in the file's stem."""
    m = _NUMBER.search(path.stem)
    if m is None:
        raise VideoError(path.parent, f"frame file {path.name!r} has no number in its name")
    return int(m.group(1))


def list_frames(folder: str | Path) -> list[Path]:
    """The frame files of ``folder`` in numeric order; other files are ignored."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VideoError(folder, "no such frame folder", status="missing")
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in FRAME_SUFFIXES
    ]
    if not files:
        raise VideoError(folder, "frame folder holds no .jpg/.png frames", status="empty")
    numbered = sorted((frame_number(p), p.name, p) for p in files)
    for (a, name_a, _), (b, name_b, _) in zip(numbered, numbered[1:], strict=False):
        if a == b:
            raise VideoError(folder, f"frames {name_a!r} and {name_b!r} have the same number {a}")
    return [p for _, _, p in numbered]


def _to_rgb8(img) -> np.ndarray:  # noqa: ANN001 - a PIL image
    """(H, W, 3) uint8 of a PIL image; 16/32-bit single-channel images are scaled, not clipped.

    Pillow's ``convert("RGB")`` clips "I;16"/"I" values above 255 to white, which turns a
    16-bit grayscale PNG into a near-binary image."""
    if img.mode.startswith("I;16") or img.mode == "I":
        values = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or values.max() <= 65535 else values.max()
        gray = np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def _read(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.load()  # decode fully now: a truncated JPEG raises here, naming this frame
            return _to_rgb8(img)  # (H, W, 3)
    except Exception as exc:  # PIL raises UnidentifiedImageError, OSError, ...
        raise VideoError(path.parent, f"cannot read frame {path.name}: {exc}", "corrupt") from exc


def frame_gaps(files: list[Path]) -> list[int]:
    """Frame numbers missing between the first and the last frame of a folder."""
    numbers = [frame_number(p) for p in files]
    present = set(numbers)
    return [k for k in range(numbers[0], numbers[-1] + 1) if k not in present]


def probe_frames(folder: str | Path, *, verify: bool = False) -> VideoInfo:
    """Frame count and size of a frame folder.

    ``verify`` decodes every frame and checks its size against the first frame's, and refuses
    gaps in the frame numbers (each problem a :class:`VideoError` naming the frame)."""
    files = list_frames(folder)
    first = _read(files[0])
    if verify:
        gaps = frame_gaps(files)
        if gaps:
            shown = ", ".join(map(str, gaps[:10])) + (" ..." if len(gaps) > 10 else "")
            raise VideoError(folder, f"{len(gaps)} frame number(s) missing: {shown}")
        for path in files[1:]:
            shape = _read(path).shape
            if shape != first.shape:
                raise VideoError(
                    folder,
                    f"frame {path.name} is {shape[1]}x{shape[0]} px, the first frame "
                    f"{files[0].name} is {first.shape[1]}x{first.shape[0]} px",
                )
    return VideoInfo(len(files), 0.0, int(first.shape[1]), int(first.shape[0]), BACKEND)


def decode_frame_folder(folder: str | Path, want: np.ndarray | None) -> VideoFrames:
    """Frames ``want`` (sorted, unique; None = all) of a frame folder, as :class:`VideoFrames`."""
    files = list_frames(folder)
    n = len(files)
    if want is None:
        want = np.arange(n, dtype=np.int64)
    elif want[-1] >= n:
        raise VideoError(folder, f"frame {int(want[-1])} requested but the folder has {n} frames")
    frames = [_read(files[int(i)]) for i in want]
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise VideoError(folder, f"frames differ in size: {sorted(shapes)}")
    return VideoFrames(str(folder), want, np.stack(frames), BACKEND)

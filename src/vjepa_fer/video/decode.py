"""Decode video frames with decord, falling back to PyAV only where decord cannot open a file.

Implements the decoding side of docs/protocol.md, section "Clips", and the
decoder facts of docs/dependencies.md (decord 0.6: exact random access, right frame counts
and fps on H.264 .mp4 and FLV; PyAV reports 0 frames for FLV, so it counts them by decoding).

A video is decoded once per pass: :func:`decode_frames` takes the union of the frame indices of all
clips of one video, decodes it in ONE call, and :class:`VideoFrames` slices the clips out of it
(the authors' code decoded the whole window once per clip). Which backend did the work is recorded
in ``VideoFrames.backend`` and ``VideoInfo.backend``.

    from vjepa_fer.video.decode import probe_video, decode_frames
    info = probe_video("Actor_01/01-01-01-01-01-01-01.mp4")
    frames = decode_frames(path, plan.indices)          # one decode for all clips
    clip = frames.take(plan.indices[3])                 # (16, H, W, 3) uint8
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vjepa_fer.video.frames import decode_frame_folder, probe_frames
from vjepa_fer.video.info import VideoError, VideoFrames, VideoInfo

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "decord", "pyav")


# ----------------------------------------------------------------------------------------------
# backends


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise VideoError(path, "no such file", status="missing")
    if path.stat().st_size == 0:
        raise VideoError(path, "file is empty (0 bytes)", status="empty")


def _open_decord(path: Path) -> Any:
    """A decord VideoReader, or an exception saying why decord cannot read the file."""
    # Imported here on purpose: without decord (no wheel for the platform) PyAV takes over.
    from decord import VideoReader, cpu

    # One decoding thread: parallelism comes from worker processes, and decord's thread pool
    # oversubscribes the CPU when several workers decode at once.
    vr = VideoReader(str(path), ctx=cpu(0), num_threads=1)
    if len(vr) <= 0:
        # Seen with FLV files that carry no duration: decord opens them but finds no frames.
        raise RuntimeError("decord reports 0 frames")
    return vr


def display_rotation(path: str | os.PathLike[str]) -> int:
    """Counter-clockwise rotation (0, 90, 180 or 270 degrees) that the file's display matrix
    asks for (phones record portrait video this way), read from its first decoded frame; 0 when
    there is none or PyAV cannot tell."""
    import av

    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                return int(round(float(frame.rotation or 0) / 90.0)) * 90 % 360
    except Exception:  # unreadable files are reported by the decoders themselves
        return 0
    return 0


def _rotate(frame: np.ndarray, degrees: int) -> np.ndarray:
    """``frame`` (H, W, 3) turned ``degrees`` counter-clockwise, as a player shows it."""
    return np.ascontiguousarray(np.rot90(frame, k=degrees // 90)) if degrees else frame


def _open(path: Path, backend: str) -> tuple[str, Any]:
    """Return ("decord", reader) or ("pyav", None); "auto" falls back to PyAV with a warning.

    A file with a display rotation goes to PyAV, which applies it (:func:`_pyav_decode`): decord
    0.6 mis-sizes rotated frames (a size-check error or a garbled 4-channel array, measured on
    H.264 MP4s), so both backends would otherwise disagree on the same file."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown video backend {backend!r}; choose one of {BACKENDS}")
    _check_file(path)
    if backend == "pyav":
        return "pyav", None
    rotation = display_rotation(path)
    if rotation:
        if backend == "decord":
            raise VideoError(
                path,
                f"display rotation of {rotation} degrees, which decord does not apply correctly; "
                "decode it with the auto or pyav backend",
                "unreadable",
            )
        logger.info("%s is rotated by %d degrees; decoding it with PyAV", path, rotation)
        return "pyav", None
    try:
        return "decord", _open_decord(path)
    except ImportError:
        if backend == "decord":
            raise
        logger.warning("decord is not installed; decoding %s with PyAV", path)
        return "pyav", None
    except Exception as exc:  # decord raises DECORDError / RuntimeError with C++ messages
        if backend == "decord":
            raise VideoError(path, f"decord cannot open it: {_short(exc)}", "unreadable") from exc
        logger.warning("decord cannot open %s (%s); falling back to PyAV", path, _short(exc))
        return "pyav", None


def _warn_fallback(path: Path, exc: VideoError) -> None:
    """decord opened the file but cannot read it (e.g. an H.264 frame whose width is not a
    multiple of 32: decord 0.6 copies it with the wrong row size); PyAV decodes it correctly."""
    logger.warning("decord cannot read %s (%s); falling back to PyAV", path, exc.problem)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[-1] if text else type(exc).__name__)[:300]


def _to_numpy(batch: Any) -> np.ndarray:
    # decord returns its own NDArray, or a torch tensor if someone set decord.bridge to "torch".
    if hasattr(batch, "asnumpy"):
        return batch.asnumpy()
    return np.asarray(batch.numpy() if hasattr(batch, "numpy") else batch)


def _decord_batch(path: Path, vr: Any, indices: np.ndarray) -> np.ndarray:
    try:
        return _to_numpy(vr.get_batch([int(i) for i in indices]))
    except Exception as exc:
        raise VideoError(path, f"decoding failed (decord): {_short(exc)}") from exc


def _decord_batch_shared(path: Path, vr: Any, indices: np.ndarray) -> np.ndarray:
    """Like :func:`_decord_batch` but without decord's copy into a new numpy array: the frames
    are handed over through DLPack (a torch tensor's buffer, viewed as numpy)."""
    try:
        batch = vr.get_batch([int(i) for i in indices])
    except Exception as exc:
        raise VideoError(path, f"decoding failed (decord): {_short(exc)}") from exc
    if not hasattr(batch, "to_dlpack"):
        return _to_numpy(batch)
    from torch.utils.dlpack import from_dlpack

    return from_dlpack(batch.to_dlpack()).numpy()


def _pyav_open(path: Path) -> tuple[Any, Any]:
    import av

    try:
        container = av.open(str(path))
    except Exception as exc:
        raise VideoError(path, f"cannot open it: {_short(exc)}", "unreadable") from exc
    if not container.streams.video:
        container.close()
        raise VideoError(path, "no video stream", "unreadable")
    return container, container.streams.video[0]


def _pyav_decode(path: Path, wanted: np.ndarray | None) -> tuple[np.ndarray | None, int]:
    """Decode sequentially; keep the frames in ``wanted`` (all if None); return (frames, seen).

    Stops after the last wanted frame. ``seen`` is the number of frames decoded, which is the frame
    count when everything was decoded.
    """
    container, stream = _pyav_open(path)
    keep: list[np.ndarray] = []
    want = None if wanted is None else set(wanted.tolist())
    last = None if wanted is None or len(wanted) == 0 else int(wanted[-1])
    seen = 0
    try:
        with container:
            for frame in container.decode(stream):
                if want is None or seen in want:
                    # (H, W, 3), turned as the display matrix says (portrait phone videos).
                    rotation = int(round(float(frame.rotation or 0) / 90.0)) * 90 % 360
                    keep.append(_rotate(frame.to_ndarray(format="rgb24"), rotation))
                seen += 1
                if last is not None and seen > last:
                    break
    except VideoError:
        raise
    except Exception as exc:
        raise VideoError(path, f"decoding failed at frame {seen} (PyAV): {_short(exc)}") from exc
    if last is not None and seen <= last:
        raise VideoError(path, f"frame {last} requested but the video has {seen} frames")
    if not keep:
        return None, seen
    return np.stack(keep), seen  # (N, H, W, 3)


def count_decodable_frames(path: str | os.PathLike[str]) -> int:
    """Decode every frame of the first video stream without converting it to RGB (the cheap part
    of a full decode) and return how many decoded; :class:`VideoError` naming the frame where
    decoding failed. Catches files corrupted in the middle, which a first/last frame probe
    misses and which would otherwise stop an encoder job."""
    path = Path(path)
    container, stream = _pyav_open(path)
    seen = 0
    try:
        with container:
            for _frame in container.decode(stream):
                seen += 1
    except Exception as exc:
        raise VideoError(path, f"decoding failed at frame {seen}: {_short(exc)}") from exc
    return seen


def frame_timestamps(path: str | os.PathLike[str]) -> np.ndarray:
    """Presentation time (s) of every frame of the first video stream, sorted, read from the
    packets (demuxed, not decoded: cheap). :class:`VideoError` where packets carry no time.

    Variable-frame-rate recordings (phones) space their frames unevenly; the average rate that
    decord and the container report then misplaces frames in time (``vjepa-fer predict``)."""
    path = Path(path)
    container, stream = _pyav_open(path)
    times = []
    try:
        with container:
            base = stream.time_base
            for packet in container.demux(stream):
                if packet.size == 0:  # the flush packet at the end
                    continue
                if packet.pts is None or base is None:
                    raise VideoError(path, "a packet carries no timestamp")
                times.append(float(packet.pts * base))
    except VideoError:
        raise
    except Exception as exc:
        raise VideoError(path, f"reading timestamps failed: {_short(exc)}") from exc
    if not times:
        raise VideoError(path, "no video packets", "empty")
    return np.sort(np.asarray(times, dtype=np.float64))


def _pyav_info(path: Path, verify: bool) -> VideoInfo:
    container, stream = _pyav_open(path)
    with container:
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        width, height, reported = int(ctx.width), int(ctx.height), int(stream.frames or 0)
    if display_rotation(path) in (90, 270):  # frames are handed out turned (_pyav_decode)
        width, height = height, width
    num_frames = reported
    if reported == 0 or verify:
        # FLV containers report 0 frames: count by decoding (also checks every frame decodes).
        _, num_frames = _pyav_decode(path, None)
        if reported and num_frames != reported:
            logger.warning("%s: container says %d frames, %d decode", path, reported, num_frames)
    if num_frames == 0:
        raise VideoError(path, "no decodable video frames", "empty")
    return VideoInfo(num_frames, fps, width, height, "pyav")


# ----------------------------------------------------------------------------------------------
# public API


def probe_video(
    path: str | os.PathLike[str], *, backend: str = "auto", verify: bool = False
) -> VideoInfo:
    """Frame count, fps, size and backend of one video.

    ``verify`` also decodes every frame (:func:`count_decodable_frames`, no colour conversion)
    and the last frame with decord, which catches files corrupted in the middle and files cut
    short after their header (the frame count in the header then exceeds what decodes).
    Raises :class:`VideoError` naming the file for missing, empty, unreadable or corrupt videos.
    """
    path = Path(path)
    if path.is_dir():  # a folder of numbered frames (video/frames.py)
        return probe_frames(path, verify=verify)
    used, vr = _open(path, backend)
    if used == "pyav":
        return _pyav_info(path, verify)
    n = len(vr)
    fps = float(vr.get_avg_fps())
    probe = np.array([0, n - 1] if verify and n > 1 else [0], dtype=np.int64)
    try:
        frames = _decord_batch(path, vr, probe)  # (1 or 2, H, W, 3); frame 0 gives the size
    except VideoError as exc:
        if backend != "auto":
            raise
        _warn_fallback(path, exc)
        return _pyav_info(path, verify)
    if verify:
        decodable = count_decodable_frames(path)
        if decodable < n:
            raise VideoError(path, f"decord counts {n} frames but only {decodable} decode")
    return VideoInfo(n, fps, int(frames.shape[2]), int(frames.shape[1]), "decord")


def decode_frames(
    path: str | os.PathLike[str],
    indices: Sequence[int] | np.ndarray | None = None,
    *,
    backend: str = "auto",
) -> VideoFrames:
    """Decode the union of ``indices`` (any shape, e.g. (K, 16) clip indices) in one call.

    ``None`` decodes every frame. Indices outside [0, num_frames) raise :class:`VideoError`.
    """
    path = Path(path)
    want = None
    if indices is not None:
        want = np.unique(np.asarray(indices, dtype=np.int64))  # sorted union
        if want.size == 0:
            raise ValueError(f"{path}: no frame indices given")
        if want[0] < 0:
            raise VideoError(path, f"negative frame index {int(want[0])} requested")
    if path.is_dir():  # a folder of numbered frames (video/frames.py)
        return decode_frame_folder(path, want)
    used, vr = _open(path, backend)
    if used == "decord":
        n = len(vr)
        if want is None:
            want = np.arange(n, dtype=np.int64)
        elif want[-1] >= n:
            raise VideoError(path, f"frame {int(want[-1])} requested but the video has {n} frames")
        try:
            frames = _decord_batch(path, vr, want)
        except VideoError as exc:
            if backend != "auto":
                raise
            _warn_fallback(path, exc)
            used, vr = "pyav", None
    if used == "pyav":
        frames, seen = _pyav_decode(path, want)
        if frames is None:
            raise VideoError(path, "no decodable video frames", "empty")
        if want is None:
            want = np.arange(seen, dtype=np.int64)
    if frames.ndim != 4 or frames.shape[0] != len(want) or frames.shape[-1] != 3:
        raise VideoError(path, f"decoder returned frames of shape {frames.shape}, expected RGB")
    return VideoFrames(str(path), want, np.ascontiguousarray(frames, dtype=np.uint8), used)


def iter_decoded(
    path: str | os.PathLike[str],
    indices: Sequence[int] | np.ndarray,
    *,
    chunk: int = 32,
    backend: str = "auto",
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Decode the sorted union of ``indices`` with ONE reader, ``chunk`` frames at a time.

    Yields ``(frame numbers (n,), frames (n, H, W, 3) uint8)``. The frames equal
    :func:`decode_frames`'s; only ``chunk`` full-resolution frames are held at once, so a loader
    can shrink or copy each chunk before decoding the next (the reader keeps its position, so
    nothing is decoded twice). Small chunks also keep allocations below glibc's mmap threshold,
    which saves a page fault per 4 KiB on every chunk. Needs torch for decord's zero-copy hand-off.
    """
    path = Path(path)
    want = np.unique(np.asarray(indices, dtype=np.int64))
    if want.size == 0:
        raise ValueError(f"{path}: no frame indices given")
    if want[0] < 0:
        raise VideoError(path, f"negative frame index {int(want[0])} requested")
    chunk = max(1, int(chunk))
    if path.is_dir():  # a folder of numbered frames (video/frames.py): read a chunk at a time
        for s in range(0, len(want), chunk):
            part = decode_frame_folder(path, want[s : s + chunk])
            yield part.indices, part.frames
        return
    used, vr = _open(path, backend)
    if used == "decord":
        if want[-1] >= len(vr):
            raise VideoError(
                path, f"frame {int(want[-1])} requested but the video has {len(vr)} frames"
            )
        parts = _decord_chunks(path, vr, want, chunk, fallback=backend == "auto")
    else:  # PyAV decodes sequentially anyway: one pass, handed out in chunks
        frames, _ = _pyav_decode(path, want)
        if frames is None:
            raise VideoError(path, "no decodable video frames", "empty")
        parts = ((want[s : s + chunk], frames[s : s + chunk]) for s in range(0, len(want), chunk))
    for idx, frames in parts:
        if frames.ndim != 4 or frames.shape[0] != len(idx) or frames.shape[-1] != 3:
            raise VideoError(path, f"decoder returned frames of shape {frames.shape}, expected RGB")
        yield idx, np.ascontiguousarray(frames, dtype=np.uint8)


def _decord_chunks(
    path: Path, vr: Any, want: np.ndarray, chunk: int, *, fallback: bool
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """decord's chunks of ``want``; where decord fails to read one and ``fallback`` is set, the
    rest (from that chunk on) is decoded with PyAV, so the caller sees the same frames."""
    for s in range(0, len(want), chunk):
        try:
            frames = _decord_batch_shared(path, vr, want[s : s + chunk])
        except VideoError as exc:
            if not fallback:
                raise
            _warn_fallback(path, exc)
            rest = want[s:]
            decoded, _ = _pyav_decode(path, rest)
            if decoded is None:
                raise VideoError(path, "no decodable video frames", "empty") from exc
            for k in range(0, len(rest), chunk):
                yield rest[k : k + chunk], decoded[k : k + chunk]
            return
        yield want[s : s + chunk], frames


def read_video(
    path: str | os.PathLike[str],
    indices: Sequence[int] | None = None,
    *,
    backend: str = "auto",
) -> np.ndarray:
    """Frames ``indices`` (given order, repeats allowed) as (T, H, W, 3) uint8; all if None."""
    decoded = decode_frames(path, indices, backend=backend)
    if indices is None:
        return decoded.frames
    return decoded.take(np.asarray(indices, dtype=np.int64).reshape(-1))


def iter_clip_frames(
    path: str | os.PathLike[str],
    clip_indices: np.ndarray | Sequence[Sequence[int]],
    *,
    max_decoded_frames: int | None = None,
    backend: str = "auto",
) -> Iterator[tuple[int, np.ndarray, str]]:
    """Yield ``(k, frames (T, H, W, 3), backend)`` for every clip ``k`` of one video, in order.

    Clips are grouped into runs whose union of frames stays within ``max_decoded_frames`` (None:
    one group, i.e. one decode for the whole video); each group is decoded in one call. The bound
    keeps memory flat for the rare minute-long video (e.g. CREMA-D 1064_IEO_DIS_MD).
    """
    clips = np.asarray(clip_indices, dtype=np.int64)  # (K, T)
    if clips.ndim != 2 or len(clips) == 0:
        raise ValueError(f"{path}: clip indices must be a non-empty (clips, frames) array")
    start = 0
    while start < len(clips):
        stop, union = start + 1, set(clips[start].tolist())
        while stop < len(clips) and max_decoded_frames is not None:
            grown = union | set(clips[stop].tolist())
            if len(grown) > max_decoded_frames:
                break
            union, stop = grown, stop + 1
        if max_decoded_frames is None:
            stop = len(clips)
        decoded = decode_frames(path, clips[start:stop], backend=backend)
        for k in range(start, stop):
            yield k, decoded.take(clips[k]), decoded.backend
        start = stop

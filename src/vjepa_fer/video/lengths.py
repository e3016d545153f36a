"""Stage ``vjepa-fer lengths``: frame count, fps and size of every video in a manifest.

Clip planning (docs/protocol.md, section "Clips") needs each video's frame
count; this stage probes them once, in parallel, and lists the videos that cannot be used
(missing, empty, unreadable or corrupt — e.g. CREMA-D's known bad files, see
docs/datasets.md) in a report instead of stopping the run. It exits 0 even when some
videos are bad; downstream stages read ``status`` and skip those rows.

    vjepa-fer lengths --manifest results/crema-d/manifest.csv --root /data/CREMA-D \
        --out results/crema-d/lengths.csv --report results/crema-d/bad_videos.csv --jobs 2

With verification (the default) every frame of every video is decoded once, without colour
conversion, so a video corrupted in the middle is listed here as ``corrupt`` (and skipped by every
later stage) instead of stopping an encoder job.

lengths.csv: video, num_frames, fps, width, height, backend, status (ok|missing|empty|unreadable|
corrupt), error, identity — one row per manifest row, in manifest order. ``identity`` is
``<bytes>:<mtime_ns>`` of the file when measured (symbolic links followed; a string, so no
precision is lost), a digest of every frame's name, size and mtime for a frame folder, or with
``--identity content`` a SHA-256 of the bytes (:func:`vjepa_fer.io.file_identity`):
the feature store reuses tokens only for an unchanged video. The report holds
the rows whose status is not ok, with the full path.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from vjepa_fer import schema
from vjepa_fer.io import contained, file_identity, write_csv
from vjepa_fer.video.clips import WINDOW
from vjepa_fer.video.decode import BACKENDS, VideoError, probe_video

logger = logging.getLogger(__name__)

LENGTH_COLUMNS = [
    "video",
    "num_frames",
    "fps",
    "width",
    "height",
    "backend",
    "status",
    "error",
    "identity",
]
REPORT_COLUMNS = ["video", "path", "status", "error"]


def probe_row(task: tuple[str, str, str, bool, str]) -> dict:
    """Probe one video; never raises for a bad video (the row records the problem)."""
    video, path, backend, verify, identity = task
    row: dict = {"video": video, "num_frames": None, "fps": None, "width": None, "height": None}
    try:
        row["identity"] = file_identity(path, identity)  # follows links: the file actually read
    except OSError:
        row["identity"] = ""
    try:
        info = probe_video(path, backend=backend, verify=verify)
    except VideoError as exc:
        return {**row, "backend": None, "status": exc.status, "error": exc.problem}
    except Exception as exc:  # a decoder crash must not stop the other videos
        return {
            **row,
            "backend": None,
            "status": "corrupt",
            "error": f"{type(exc).__name__}: {exc}",
        }
    return {
        **row,
        "num_frames": info.num_frames,
        "fps": round(info.fps, 6),
        "width": info.width,
        "height": info.height,
        "backend": info.backend,
        "status": "ok",
        "error": "",
    }


def video_lengths(
    videos: list[str],
    root: str | Path,
    *,
    jobs: int = 1,
    backend: str = "auto",
    verify: bool = True,
    identity: str = "stat",
) -> pd.DataFrame:
    """One row per entry of ``videos`` (paths relative to ``root``), in the same order.

    ``identity`` is how each video's identity is recorded (``stat`` or ``content``,
    :func:`vjepa_fer.io.file_identity`)."""
    root = Path(root)
    tasks = [(v, str(root / v), backend, verify, identity) for v in videos]
    if jobs <= 1 or len(tasks) <= 1:
        rows = [probe_row(t) for t in tasks]
    else:
        # Executor.map keeps input order, so the table does not depend on worker timing. Spawned
        # (not forked) workers: a fork of a process that already ran FFmpeg/decord threads can hang.
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            rows = list(pool.map(probe_row, tasks, chunksize=max(1, len(tasks) // (jobs * 8))))
    df = pd.DataFrame(rows, columns=LENGTH_COLUMNS)
    for col in ("num_frames", "width", "height"):
        df[col] = df[col].astype("Int64")  # nullable: empty for bad videos
    df["fps"] = df["fps"].astype("float64")
    return df


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", required=True, help="manifest CSV with a 'video' column")
    parser.add_argument("--root", required=True, help="dataset root the 'video' paths are under")
    parser.add_argument("--out", required=True, help="lengths CSV to write")
    parser.add_argument("--report", required=True, help="CSV listing unusable videos")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--backend", choices=BACKENDS, default="auto", help="decoder (auto: decord, else PyAV)"
    )
    parser.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        help="trust the header's frame count instead of decoding every frame",
    )
    parser.add_argument(
        "--identity",
        choices=["stat", "content"],
        default=schema.default("features.identity"),
        help="how a video is identified for the feature store: stat (size and mtime of the file "
        "or of every frame of a folder) or content (SHA-256 of the bytes; reads every byte)",
    )


def run(args: argparse.Namespace) -> int:
    manifest = Path(args.manifest)
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest}: manifest not found")
    table = pd.read_csv(manifest, dtype={"video": str})
    if "video" not in table.columns:
        raise ValueError(f"{manifest}: no 'video' column (columns: {list(table.columns)})")
    empty = table.index[table["video"].isna()].tolist()
    if empty:
        raise ValueError(f"{manifest}: empty 'video' entries in rows {empty[:10]}")
    for i, video in enumerate(table["video"], start=2):  # every later stage reads these paths
        contained(video, source=f"{manifest} line {i}, column video")
    root = Path(args.root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: dataset root does not exist")
    if args.jobs < 1:
        raise ValueError(f"--jobs must be ≥ 1, got {args.jobs}")

    videos = table["video"].tolist()
    logger.info("probing %d videos under %s with %d worker(s)", len(videos), root, args.jobs)
    df = video_lengths(
        videos,
        root,
        jobs=args.jobs,
        backend=args.backend,
        verify=args.verify,
        identity=args.identity,
    )
    bad = df[df["status"] != "ok"]
    report = pd.DataFrame(
        {
            "video": bad["video"],
            "path": [str(root / v) for v in bad["video"]],
            "status": bad["status"],
            "error": bad["error"],
        },
        columns=REPORT_COLUMNS,
    )
    write_csv(df, args.out)
    write_csv(report, args.report)
    fallback = int((df["backend"] == "pyav").sum())
    if fallback and args.backend == "auto":
        logger.warning("%d video(s) needed the PyAV fallback (column 'backend')", fallback)
    if len(bad):
        logger.warning(
            "%d of %d videos are unusable, listed in %s: %s",
            len(bad),
            len(df),
            args.report,
            ", ".join(bad["video"].head(5)),
        )
    ok = df[df["status"] == "ok"]
    short = int((ok["num_frames"] < WINDOW).sum())
    logger.info(
        "%d videos ok (%d shorter than %d frames, padded); wrote %s",
        len(ok),
        short,
        WINDOW,
        args.out,
    )
    return 0

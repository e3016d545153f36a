"""Write the synthetic face-video demo dataset in the real RAVDESS / CREMA-D layouts.

The ``vjepa-fer synth`` command (:func:`run` hands over to the dataset module's ``synth_main``,
with the dataset's own options, e.g. RAVDESS's ``--statements``, added and read by its module)
and the generator of acted datasets. What differs between RAVDESS and CREMA-D (trial design,
actors, sentences, containers and codecs) is each dataset's :class:`Studio`, in
``datasets/ravdess/synth.py`` and ``datasets/cremad/synth.py``; the rendering, encoding, resuming
and parameter checks here are shared.

Implements the offline demo's data (docs/demo.md, ``config.demo.yaml``: synthetic data and
a tiny encoder) with the file formats of docs/datasets.md, so indexing, decoding, features,
probes and reports all run for real on a CPU:

* RAVDESS: ``Actor_XX/MM-VV-EE-II-SS-RR-AA.mp4``, H.264 (libx264, yuv420p), 30000/1001 fps, speech
  only; modality 01 and 02 of one trial carry identical frames and 01 also a quiet AAC track.
* CREMA-D: ``VideoFlash/AAAA_SSS_EEE_LL.flv`` (FLV1, 30 fps) and ``VideoDemographics.csv`` with the
  real rows of the chosen actors; IEO has levels LO/MD/HI (neutral XX), other sentences XX.

Real actor IDs are taken round-robin over the real folds, so every fold gets actors. Faces come from
:mod:`vjepa_fer.data.faces`. Everything derives from ``seed``; each video is written atomically and
existing videos are skipped, so an interrupted run resumes; ``synth.json`` (written last) records
the parameters and marks completion. ``.synth-params.json`` (written first, kept) records the
parameters of the videos in the directory even when ``synth.json`` is gone (Snakemake removes a
job's output before it reruns the job): other parameters stop the run, or with ``replace`` (what
the workflow's ``synth`` rule passes) remove the videos they invalidate and write new ones.

Run: ``vjepa-fer synth --dataset ravdess --out DIR --actors 10 --jobs 2``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import av  # heavy import kept inside (cli.py imports this module to build its parser)
import numpy as np

from vjepa_fer.data import faces
from vjepa_fer.datasets import add_dataset_arguments, get_dataset
from vjepa_fer.datasets.base import int_list
from vjepa_fer.datasets.folds import load_folds
from vjepa_fer.io import atomic_open, atomic_path

logger = logging.getLogger(__name__)

# The range of the few deliberately short videos (< 64 frames, one 16 x 4 clip window), which
# exercise the pipeline's padding path; each dataset's usual range is its Studio's ``durations``.
SHORT = (40, 63)
AUDIO_RATE = 48000


@dataclass(frozen=True)
class Trial:
    """One rendered recording and the files it is written to (RAVDESS: one per modality)."""

    dataset: str
    key: str  # seeds the video: RAVDESS trial code, CREMA-D stem
    actor: int
    emotion: str  # label name (naming.py tables)
    strength: float
    sentence: str  # RAVDESS statement "01"/"02" or CREMA-D sentence code
    files: tuple[str, ...]  # paths relative to the dataset root
    audio: tuple[bool, ...]  # per file: add a quiet audio track (RAVDESS modality 01)


class Studio:
    """What an acted dataset's module (RAVDESS, CREMA-D) tells the generator about its synthetic
    recordings: frame rate, size and length, the container and codec of its files, who the actors
    are and what they say. The module exposes one instance as ``STUDIO`` in its ``synth_module``,
    which also holds the dataset's trial design and its ``synth_main(args, **own_options)``."""

    dataset: ClassVar[str]
    fps: ClassVar[Fraction]
    default_size: ClassVar[tuple[int, int]]
    durations: ClassVar[tuple[int, int]]  # usual frame-count range
    container: ClassVar[str]  # PyAV output format
    layout: ClassVar[tuple[str, ...]]  # globs of the generated videos under the root

    def identity(self, actor: int, seed: int) -> faces.Identity:
        raise NotImplementedError

    def sentence_text(self, sentence: str) -> str:
        raise NotImplementedError

    def trial_for_file(self, name: str) -> Trial:
        """The :class:`Trial` behind one file name (directory ignored)."""
        raise NotImplementedError

    def add_video_stream(self, container: Any, width: int, height: int) -> Any:
        raise NotImplementedError


def studio(dataset: str) -> Studio:
    """The :class:`Studio` of ``dataset``'s generator module; ValueError if it has none."""
    module = get_dataset(dataset).synth_module
    found = getattr(importlib.import_module(module), "STUDIO", None) if module else None
    if not isinstance(found, Studio):
        raise ValueError(f"unknown dataset {dataset!r} for the acted-video generator")
    return found


def select_actors(dataset: str, actors: int | Sequence[int]) -> list[int]:
    """Real actor IDs: a count is filled round-robin over the folds (lowest IDs first)."""
    studio(dataset)
    table = load_folds(dataset)
    if not isinstance(actors, (int, np.integer)):
        bad = [a for a in actors if a not in table]
        if bad:
            raise ValueError(f"{dataset}: actors {bad} are not in the folds table")
        return sorted(set(actors))
    actors = int(actors)
    if not 1 <= actors <= len(table):
        raise ValueError(f"{dataset}: --actors must be 1..{len(table)}, got {actors}")
    by_fold = {
        f: sorted(a for a, g in table.items() if g == f) for f in sorted(set(table.values()))
    }
    chosen: list[int] = []
    depth = 0
    while len(chosen) < actors:
        for members in by_fold.values():
            if depth < len(members) and len(chosen) < actors:
                chosen.append(members[depth])
        depth += 1
    return sorted(chosen)


def trial_for_file(dataset: str, name: str) -> Trial:
    """The :class:`Trial` behind one file name (directory ignored), e.g. for tests."""
    return studio(dataset).trial_for_file(name)


def n_frames(trial: Trial, seed: int, short_fraction: float = 0.05) -> int:
    """Frame count of a trial; about ``short_fraction`` of videos are shorter than 64 frames."""
    rng = np.random.default_rng([seed, faces.stable_seed("duration", trial.dataset, trial.key)])
    lo, hi = SHORT if rng.random() < short_fraction else studio(trial.dataset).durations
    return int(rng.integers(lo, hi + 1))


def _plan(trial: Trial, seed: int, short_fraction: float) -> tuple[faces.Identity, faces.Plan]:
    st = studio(trial.dataset)
    ident = st.identity(trial.actor, seed)
    text = st.sentence_text(trial.sentence)
    talk = faces.talk_pattern(f"{trial.dataset}/{trial.sentence}", text, seed)
    rng = np.random.default_rng([seed, faces.stable_seed("video", trial.dataset, trial.key)])
    T = n_frames(trial, seed, short_fraction)
    return ident, faces.plan_video(
        ident, trial.emotion, trial.strength, talk, T, float(st.fps), rng
    )


def iter_frames(
    trial: Trial,
    *,
    seed: int,
    size: tuple[int, int],
    short_fraction: float = 0.05,
    frames: Sequence[int] | None = None,
) -> Iterator[np.ndarray]:
    """Chunks (t, H, W, 3) uint8 of one trial's video, before encoding."""
    _check_size(size)
    ident, plan = _plan(trial, seed, short_fraction)
    yield from faces.render(ident, plan, size, frames)


def video_frames(
    trial: Trial | str,
    *,
    seed: int,
    size: tuple[int, int],
    dataset: str | None = None,
    short_fraction: float = 0.05,
    frames: Sequence[int] | None = None,
) -> np.ndarray:
    """All (or the selected) frames of one video as uint8 (T, H, W, 3), without encoding.

    ``trial`` may be a file name, then ``dataset`` says which scheme it follows.
    """
    if isinstance(trial, str):
        if dataset is None:
            raise ValueError(f"{trial}: pass dataset= with a file name")
        trial = trial_for_file(dataset, trial)
    chunks = iter_frames(trial, seed=seed, size=size, short_fraction=short_fraction, frames=frames)
    return np.concatenate(list(chunks))


def _write_trial(job: tuple[Trial, Path, int, tuple[int, int], float]) -> int:
    """Render one trial once and encode every missing file of it; returns files written."""
    trial, root, seed, size, short_fraction = job
    todo = [
        (root / f, a)
        for f, a in zip(trial.files, trial.audio, strict=True)
        if not (root / f).exists()
    ]
    if not todo:
        return 0
    W, H = size
    st = studio(trial.dataset)
    fps = st.fps
    with contextlib.ExitStack() as stack:
        outs = []
        for path, audio in todo:
            tmp = stack.enter_context(atomic_path(path))
            container = stack.enter_context(av.open(str(tmp), "w", format=st.container))
            vs = st.add_video_stream(container, W, H)
            vs.width, vs.height, vs.pix_fmt = W, H, "yuv420p"
            aus = container.add_stream("aac", rate=AUDIO_RATE, layout="mono") if audio else None
            outs.append((container, vs, aus))
        T = 0
        for chunk in iter_frames(trial, seed=seed, size=size, short_fraction=short_fraction):
            for img in chunk:
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                for container, vs, _ in outs:
                    container.mux(vs.encode(frame))
            T += len(chunk)
        for container, vs, aus in outs:
            container.mux(vs.encode(None))
            if aus is not None:
                _write_silence(av, container, aus, T / float(fps))
    return len(todo)


def _write_silence(av: Any, container: Any, stream: Any, seconds: float) -> None:
    """Digital silence: the real layout's audio stream, at a tenth of the cost of encoding noise."""
    n = int(round(seconds * AUDIO_RATE))
    block = np.zeros((1, 1024), np.float32)  # (channels, samples)
    for k in range(0, n, 1024):
        af = av.AudioFrame.from_ndarray(block[:, : min(1024, n - k)], format="fltp", layout="mono")
        af.sample_rate, af.pts = AUDIO_RATE, k
        container.mux(stream.encode(af))
    container.mux(stream.encode(None))


def _clean_stale_temps(root: Path, subdirs: Iterable[str]) -> None:
    """Remove temp files an interrupted (killed) run left behind (atomic_path's naming)."""
    for sub in subdirs:
        for tmp in (root / sub).glob(".*.tmp"):
            logger.info("removing stale temporary file %s", tmp)
            tmp.unlink(missing_ok=True)


# Parameters that change every video's pixels; the others only choose which videos exist.
RENDER_KEYS = ("dataset", "seed", "size", "short_fraction", "fps")


def _generated(root: Path, dataset: str) -> list[Path]:
    """Video files of the dataset's layout under ``root``."""
    return sorted(p for pattern in studio(dataset).layout for p in root.glob(pattern))


def write_set(
    root: str | Path,
    trials: list[Trial],
    params: dict[str, Any],
    jobs: int,
    replace: bool = False,
) -> list[Path]:
    root = Path(root)
    marker, started = root / "synth.json", root / ".synth-params.json"
    # A resumed run must use the parameters of the files already there. The hidden record is
    # written first and kept, so it guards interrupted runs and finished ones alike, also when
    # synth.json was removed (as Snakemake does before rerunning the job).
    old = None
    for path in (started, marker):
        if path.exists():
            old, source = json.loads(path.read_text(encoding="utf-8"))["params"], path
            break
    if old is not None and old != params:
        changed = sorted(k for k in set(old) | set(params) if old.get(k) != params.get(k))
        if not replace:
            raise ValueError(
                f"{source}: this directory holds a synthetic set made with other parameters "
                f"({', '.join(changed)} differ: {old}); choose a fresh --out directory, delete "
                "it, or pass --replace"
            )
        wanted = {root / f for t in trials for f in t.files}
        rerender = any(old.get(k) != params.get(k) for k in RENDER_KEYS)
        stale = [p for p in _generated(root, params["dataset"]) if rerender or p not in wanted]
        logger.warning(
            "%s: parameters changed (%s): removing %d videos made with the old ones",
            root,
            ", ".join(changed),
            len(stale),
        )
        for p in stale:
            p.unlink()
        marker.unlink(missing_ok=True)
    with atomic_open(started, "w", encoding="utf-8") as fh:
        json.dump({"params": params}, fh)
    _clean_stale_temps(root, sorted({str(Path(f).parent) for t in trials for f in t.files}))
    size, seed, short = tuple(params["size"]), params["seed"], params["short_fraction"]
    work = [(t, root, seed, size, short) for t in trials]
    start, written = time.perf_counter(), 0
    with contextlib.ExitStack() as stack:
        if jobs > 1:
            pool = stack.enter_context(ProcessPoolExecutor(max_workers=jobs))
            results = pool.map(_write_trial, work, chunksize=4)
        else:
            results = map(_write_trial, work)
        for k, n in enumerate(results, 1):
            written += n
            if k % 100 == 0:
                logger.info("synth: %d/%d trials", k, len(work))
    files = [root / f for t in trials for f in t.files]
    secs = time.perf_counter() - start
    logger.info("synth %s: %d files (%d written, the rest existed) in %.1f s under %s",
                params["dataset"], len(files), written, secs, root)  # fmt: skip
    frames = {t.key: n_frames(t, seed, short) for t in trials}
    summary = {"generator": "vjepa_fer.datasets.synth", "params": params, "n_trials": len(trials),
               "n_files": len(files), "frames": frames}  # fmt: skip
    with atomic_open(marker, "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=1)
        fh.write("\n")
    return files


def set_params(dataset: str, ids: list[int], seed: int, size: Sequence[int], short: float,
            codes: dict[str, Sequence[Any]]) -> dict[str, Any]:  # fmt: skip
    W, H = _check_size(size)
    if not 0.0 <= short <= 1.0:
        raise ValueError(f"short_fraction must lie in [0, 1], got {short}")
    return {"dataset": dataset, "actors": ids, "seed": int(seed), "size": [W, H],
            "short_fraction": float(short), "fps": str(studio(dataset).fps),
            **{k: list(v) for k, v in codes.items()}}  # fmt: skip


def _check_size(size: Sequence[int]) -> tuple[int, int]:
    W, H = (int(v) for v in size)
    if W < 16 or H < 16 or W % 2 or H % 2:
        raise ValueError(f"frame size must be even and at least 16x16 (yuv420p), got {W}x{H}")
    return W, H


# ------------------------------------------------------------------------------------- CLI


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH such as 160x90, got {text!r}") from None
    return w, h


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--dataset", required=True, help="a registered dataset whose module has a generator")
    add("--out", required=True, type=Path, help="dataset root to write")
    add("--actors", type=int, default=10, help="how many real actor IDs, round-robin over folds")
    add("--actor-ids", type=int_list, help="explicit comma-separated actor IDs (over --actors)")
    add("--seed", type=int, default=0, help="random seed; the same seed writes identical files")
    add("--size", type=_size, help="WxH, even (default 160x90 RAVDESS, 128x96 CREMA-D)")
    add("--short-fraction", type=float, default=0.05, help="share of videos < 64 frames")
    add("--jobs", type=int, default=1, help="worker processes")
    add(
        "--replace",
        action="store_true",
        help="videos made with other parameters are removed and written anew (default: stop)",
    )
    add_dataset_arguments("synth", parser)  # each dataset's own, e.g. RAVDESS's --statements


def run(args: argparse.Namespace) -> int:
    ds = get_dataset(args.dataset)
    if ds.synth_module is None:
        raise ValueError(f"{args.dataset}: no synthetic generator")
    # The dataset's own module writes its layout (datasets/<name>/synth.py, datasets/synth_wild.py)
    # from the shared options in args and its own (Dataset.own_options) as keyword arguments.
    synth_main = importlib.import_module(ds.synth_module).synth_main
    return int(synth_main(args, **ds.own_options("synth", args)))


def common_options(args: argparse.Namespace, st: Studio) -> dict[str, Any]:
    """The options of ``vjepa-fer synth`` every acted dataset's generator takes."""
    return dict(actors=args.actor_ids if args.actor_ids else args.actors, seed=args.seed,
                size=args.size or st.default_size, short_fraction=args.short_fraction,
                jobs=max(1, args.jobs), replace=args.replace)  # fmt: skip

"""Write the synthetic face-video demo dataset in the real RAVDESS / CREMA-D layouts.

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
import csv
import io
import json
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

import av  # heavy import kept inside (cli.py imports this module to build its parser)
import numpy as np

from vjepa_fer.data import faces
from vjepa_fer.data.folds import packaged_resource
from vjepa_fer.datasets import get_dataset
from vjepa_fer.datasets.cremad.naming import (
    CREMAD_EMOTIONS,
    CREMAD_SENTENCES,
    CremadName,
    parse_cremad,
)
from vjepa_fer.datasets.folds import load_folds
from vjepa_fer.datasets.ravdess.naming import (
    RAVDESS_EMOTIONS,
    RAVDESS_STATEMENTS,
    parse_ravdess,
    ravdess_speech_design,
)
from vjepa_fer.io import atomic_open, atomic_path

logger = logging.getLogger(__name__)

DATASETS = ("ravdess", "crema-d")
FPS = {"ravdess": Fraction(30000, 1001), "crema-d": Fraction(30)}
DEFAULT_SIZE = {"ravdess": (160, 90), "crema-d": (128, 96)}
# Frame counts: the usual range and the range of the few deliberately short videos (< 64 frames,
# one 16 x 4 clip window), which exercise the pipeline's padding path.
DURATIONS = {"ravdess": (80, 140), "crema-d": (64, 100)}
SHORT = (40, 63)
RAVDESS_STRENGTH = {1: 1.0, 2: 1.6}
CREMAD_STRENGTH = {"LO": 0.6, "MD": 1.0, "HI": 1.5, "XX": 1.0}
CREMAD_LEVELLED = "IEO"  # the one sentence recorded at three emotion levels
DEMO_SENTENCES = ("IEO", "TIE", "IOM")
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


@cache
def cremad_demographics() -> dict[int, dict[str, str]]:
    """ActorID -> row of the packaged ``VideoDemographics.csv``."""
    rows = csv.DictReader(io.StringIO(packaged_resource("crema-d/VideoDemographics.csv")))
    return {int(r["ActorID"]): r for r in rows}


def _check_dataset(dataset: str) -> str:
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    return dataset


def select_actors(dataset: str, actors: int | Sequence[int]) -> list[int]:
    """Real actor IDs: a count is filled round-robin over the folds (lowest IDs first)."""
    table = load_folds(_check_dataset(dataset))
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


def ravdess_trials(
    actors: Iterable[int],
    statements: Sequence[int] = (1,),
    repetitions: Sequence[int] = (1,),
    intensities: Sequence[int] = (1, 2),
    modalities: Sequence[int] = (1, 2),
    emotions: Sequence[int] = tuple(RAVDESS_EMOTIONS),
) -> list[Trial]:
    """The speech-video design restricted to the given codes; modalities share one trial."""
    for name, vals, ok in (
        ("statements", statements, RAVDESS_STATEMENTS),
        ("repetitions", repetitions, (1, 2)),
        ("intensities", intensities, (1, 2)),
        ("modalities", modalities, (1, 2)),
        ("emotions", emotions, RAVDESS_EMOTIONS),
    ):
        if not vals or any(v not in ok for v in vals):
            raise ValueError(f"ravdess: {name} must be a non-empty subset of {list(ok)}: {vals}")
    groups: dict[str, list] = {}
    for n in ravdess_speech_design(list(actors), tuple(sorted(modalities))):
        if (n.statement in statements and n.repetition in repetitions) and (
            n.intensity in intensities and n.emotion in emotions
        ):
            groups.setdefault(n.trial, []).append(n)
    out = []
    for trial, names in groups.items():
        n = names[0]
        files = tuple(f"Actor_{n.actor:02d}/{m.filename()}" for m in names)
        audio = tuple(m.modality == 1 for m in names)
        strength = RAVDESS_STRENGTH[n.intensity]
        out.append(
            Trial("ravdess", trial, n.actor, n.label, strength, f"{n.statement:02d}", files, audio)
        )
    return out


def cremad_trials(
    actors: Iterable[int],
    sentences: Sequence[str] = DEMO_SENTENCES,
    emotions: Sequence[str] = tuple(CREMAD_EMOTIONS),
) -> list[Trial]:
    """CREMA-D's design: IEO at LO/MD/HI (neutral XX), every other sentence at XX."""
    bad = [s for s in sentences if s not in CREMAD_SENTENCES] + [
        e for e in emotions if e not in CREMAD_EMOTIONS
    ]
    if bad or not sentences or not emotions:
        raise ValueError(f"crema-d: unknown or empty sentence/emotion codes {bad}")
    out = []
    for actor in actors:
        for sent in sentences:
            for emo in emotions:
                levels = ("LO", "MD", "HI") if sent == CREMAD_LEVELLED and emo != "NEU" else ("XX",)
                for lvl in levels:
                    n = CremadName(actor, sent, emo, lvl)
                    files = (f"VideoFlash/{n.filename()}",)
                    strength = CREMAD_STRENGTH[lvl]
                    out.append(
                        Trial("crema-d", n.stem, actor, n.label, strength, sent, files, (False,))
                    )
    return out


def trial_for_file(dataset: str, name: str) -> Trial:
    """The :class:`Trial` behind one file name (directory ignored), e.g. for tests."""
    if _check_dataset(dataset) == "ravdess":
        n = parse_ravdess(name)
        return ravdess_trials(
            [n.actor], [n.statement], [n.repetition], [n.intensity], [n.modality], [n.emotion]
        )[0]
    c = parse_cremad(name)
    return next(t for t in cremad_trials([c.actor], [c.sentence], [c.emotion]) if t.key == c.stem)


def n_frames(trial: Trial, seed: int, short_fraction: float = 0.05) -> int:
    """Frame count of a trial; about ``short_fraction`` of videos are shorter than 64 frames."""
    rng = np.random.default_rng([seed, faces.stable_seed("duration", trial.dataset, trial.key)])
    lo, hi = SHORT if rng.random() < short_fraction else DURATIONS[trial.dataset]
    return int(rng.integers(lo, hi + 1))


def _identity(trial: Trial, seed: int) -> faces.Identity:
    if trial.dataset == "ravdess":
        return faces.make_identity(
            f"ravdess/{trial.actor}", seed, "male" if trial.actor % 2 else "female"
        )
    demo = cremad_demographics().get(trial.actor, {})
    age = float(demo["Age"]) if demo.get("Age") else None
    return faces.make_identity(f"crema-d/{trial.actor}", seed, demo.get("Sex"), age)


def _plan(trial: Trial, seed: int, short_fraction: float) -> tuple[faces.Identity, faces.Plan]:
    ident = _identity(trial, seed)
    text = (
        RAVDESS_STATEMENTS[int(trial.sentence)]
        if trial.dataset == "ravdess"
        else CREMAD_SENTENCES[trial.sentence]
    )
    talk = faces.talk_pattern(f"{trial.dataset}/{trial.sentence}", text, seed)
    rng = np.random.default_rng([seed, faces.stable_seed("video", trial.dataset, trial.key)])
    T = n_frames(trial, seed, short_fraction)
    return ident, faces.plan_video(
        ident, trial.emotion, trial.strength, talk, T, float(FPS[trial.dataset]), rng
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
    fps = FPS[trial.dataset]
    with contextlib.ExitStack() as stack:
        outs = []
        for path, audio in todo:
            tmp = stack.enter_context(atomic_path(path))
            fmt = "mp4" if trial.dataset == "ravdess" else "flv"
            container = stack.enter_context(av.open(str(tmp), "w", format=fmt))
            if trial.dataset == "ravdess":
                # One thread and a fixed preset: x264 output then depends only on the frames.
                # "superfast" keeps B-frames (as in the real files) at half veryfast's cost.
                opts = {"preset": "superfast", "crf": "20", "threads": "1"}
                vs = container.add_stream("libx264", rate=fps, options=opts)
            else:
                vs = container.add_stream("flv", rate=fps)
                vs.codec_context.bit_rate = max(200_000, W * H * 30 // 2)
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


def _generated(root: Path) -> list[Path]:
    """Video files of the generator's layouts under ``root``."""
    return sorted([*root.glob("Actor_*/*.mp4"), *root.glob("VideoFlash/*.flv")])


def _synth(
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
        stale = [p for p in _generated(root) if rerender or p not in wanted]
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


def synth_ravdess(
    root: str | Path,
    *,
    actors: int | Sequence[int],
    seed: int = 0,
    size: tuple[int, int] = DEFAULT_SIZE["ravdess"],
    statements: Sequence[int] = (1,),
    repetitions: Sequence[int] = (1,),
    intensities: Sequence[int] = (1, 2),
    modalities: Sequence[int] = (1, 2),
    emotions: Sequence[int] = tuple(RAVDESS_EMOTIONS),
    short_fraction: float = 0.05,
    jobs: int = 1,
    replace: bool = False,
) -> list[Path]:
    """Write ``Actor_XX/*.mp4`` under ``root``; defaults give 15 trials x 2 modalities per actor.

    The full speech design is ``statements=(1, 2), repetitions=(1, 2)`` (60 trials per actor).
    """
    ids = select_actors("ravdess", actors)
    trials = ravdess_trials(ids, statements, repetitions, intensities, modalities, emotions)
    codes = dict(statements=statements, repetitions=repetitions, intensities=intensities,
                 modalities=modalities, emotions=emotions)  # fmt: skip
    params = _params("ravdess", ids, seed, size, short_fraction, codes)
    return _synth(root, trials, params, jobs, replace)


def synth_cremad(
    root: str | Path,
    *,
    actors: int | Sequence[int],
    seed: int = 0,
    size: tuple[int, int] = DEFAULT_SIZE["crema-d"],
    sentences: Sequence[str] = DEMO_SENTENCES,
    emotions: Sequence[str] = tuple(CREMAD_EMOTIONS),
    short_fraction: float = 0.05,
    jobs: int = 1,
    replace: bool = False,
) -> list[Path]:
    """Write ``VideoFlash/*.flv`` and ``VideoDemographics.csv`` under ``root``.

    Per actor: 16 videos for IEO, 6 for each other sentence (all 12 sentences: 82 videos).
    """
    ids = select_actors("crema-d", actors)
    trials = cremad_trials(ids, sentences, emotions)
    params = _params(
        "crema-d", ids, seed, size, short_fraction, dict(sentences=sentences, emotions=emotions)
    )
    root = Path(root)
    # The real file's exact lines (quoting included) for the chosen actors.
    lines = packaged_resource("crema-d/VideoDemographics.csv").splitlines()
    keep = [ln for ln in lines[1:] if ln.split(",", 1)[0].strip('"') in {str(a) for a in ids}]
    with atomic_open(root / "VideoDemographics.csv", "w", encoding="utf-8", newline="") as fh:
        fh.write("\n".join([lines[0], *keep]) + "\n")
    return _synth(root, trials, params, jobs, replace)


def _params(dataset: str, ids: list[int], seed: int, size: Sequence[int], short: float,
            codes: dict[str, Sequence[Any]]) -> dict[str, Any]:  # fmt: skip
    W, H = _check_size(size)
    if not 0.0 <= short <= 1.0:
        raise ValueError(f"short_fraction must lie in [0, 1], got {short}")
    return {"dataset": dataset, "actors": ids, "seed": int(seed), "size": [W, H],
            "short_fraction": float(short), "fps": str(FPS[dataset]),
            **{k: list(v) for k, v in codes.items()}}  # fmt: skip


def _check_size(size: Sequence[int]) -> tuple[int, int]:
    W, H = (int(v) for v in size)
    if W < 16 or H < 16 or W % 2 or H % 2:
        raise ValueError(f"frame size must be even and at least 16x16 (yuv420p), got {W}x{H}")
    return W, H


# ------------------------------------------------------------------------------------- CLI


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 1,2, got {text!r}") from None


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH such as 160x90, got {text!r}") from None
    return w, h


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--dataset", required=True, help="ravdess, crema-d, or a module with a generator")
    add("--out", required=True, type=Path, help="dataset root to write")
    add("--actors", type=int, default=10, help="how many real actor IDs, round-robin over folds")
    add("--actor-ids", type=_int_list, help="explicit comma-separated actor IDs (over --actors)")
    add("--seed", type=int, default=0, help="random seed; the same seed writes identical files")
    add("--size", type=_size, help="WxH, even (default 160x90 RAVDESS, 128x96 CREMA-D)")
    add("--statements", type=_int_list, default=[1], help="RAVDESS statements, e.g. 1,2")
    add("--repetitions", type=_int_list, default=[1], help="RAVDESS repetitions, e.g. 1,2")
    add("--intensities", type=_int_list, default=[1, 2], help="RAVDESS intensities")
    add("--modalities", type=_int_list, default=[1, 2], help="RAVDESS: 1 (AV), 2 (video only)")
    add("--sentences", default=",".join(DEMO_SENTENCES), help="CREMA-D codes, or 'all'")
    add("--short-fraction", type=float, default=0.05, help="share of videos < 64 frames")
    add("--jobs", type=int, default=1, help="worker processes")
    add(
        "--replace",
        action="store_true",
        help="videos made with other parameters are removed and written anew (default: stop)",
    )
    add("--variant", help="in-the-wild sets: which copy of the videos (datasets/synth_wild.py)")
    add("--clips-per-class", type=int, default=5, help="in-the-wild sets: clips per class")


def run(args: argparse.Namespace) -> int:
    import importlib

    generator = get_dataset(args.dataset).synth_module
    if generator is None:
        raise ValueError(f"{args.dataset}: no synthetic generator")
    if generator != __name__:  # another dataset module's generator (e.g. datasets/synth_wild.py)
        return int(importlib.import_module(generator).synth_main(args))
    actors = args.actor_ids if args.actor_ids else args.actors
    size = args.size or DEFAULT_SIZE[args.dataset]
    common = dict(actors=actors, seed=args.seed, size=size, short_fraction=args.short_fraction,
                  jobs=max(1, args.jobs), replace=args.replace)  # fmt: skip
    if args.dataset == "ravdess":
        codes = dict(statements=args.statements, repetitions=args.repetitions,
                     intensities=args.intensities, modalities=args.modalities)  # fmt: skip
        files = synth_ravdess(args.out, **codes, **common)
    else:
        codes = list(CREMAD_SENTENCES) if args.sentences == "all" else args.sentences.split(",")
        files = synth_cremad(args.out, sentences=[c.strip().upper() for c in codes], **common)
    print(f"wrote {len(files)} synthetic {args.dataset} videos under {args.out}")
    return 0

"""RAVDESS's synthetic recordings: the speech design, who speaks, and H.264 MP4 files.

``Actor_XX/MM-VV-EE-II-SS-RR-AA.mp4``, libx264 yuv420p at 30000/1001 fps, speech only; modality 01
and 02 of one trial carry identical frames and 01 also a quiet AAC track. The rendering, encoding
and resuming are datasets/synth.py's.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from vjepa_fer.data import faces
from vjepa_fer.datasets.ravdess.naming import (
    RAVDESS_EMOTIONS,
    RAVDESS_STATEMENTS,
    parse_ravdess,
    ravdess_speech_design,
)
from vjepa_fer.datasets.synth import (
    Studio,
    Trial,
    common_options,
    select_actors,
    set_params,
    write_set,
)

RAVDESS_STRENGTH = {1: 1.0, 2: 1.6}


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


class RavdessStudio(Studio):
    dataset = "ravdess"
    fps = Fraction(30000, 1001)
    default_size = (160, 90)
    durations = (80, 140)
    container = "mp4"
    layout = ("Actor_*/*.mp4",)

    def identity(self, actor: int, seed: int) -> faces.Identity:
        # RAVDESS: odd-numbered actors are male, even-numbered female.
        return faces.make_identity(f"ravdess/{actor}", seed, "male" if actor % 2 else "female")

    def sentence_text(self, sentence: str) -> str:
        return RAVDESS_STATEMENTS[int(sentence)]

    def trial_for_file(self, name: str) -> Trial:
        n = parse_ravdess(name)
        return ravdess_trials(
            [n.actor], [n.statement], [n.repetition], [n.intensity], [n.modality], [n.emotion]
        )[0]

    def add_video_stream(self, container: Any, width: int, height: int) -> Any:
        # One thread and a fixed preset: x264 output then depends only on the frames.
        # "superfast" keeps B-frames (as in the real files) at half veryfast's cost.
        opts = {"preset": "superfast", "crf": "20", "threads": "1"}
        return container.add_stream("libx264", rate=self.fps, options=opts)


STUDIO = RavdessStudio()


def synth_ravdess(
    root: str | Path,
    *,
    actors: int | Sequence[int],
    seed: int = 0,
    size: tuple[int, int] = RavdessStudio.default_size,
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
    params = set_params("ravdess", ids, seed, size, short_fraction, codes)
    return write_set(root, trials, params, jobs, replace)


def synth_main(
    args: argparse.Namespace,
    *,
    statements: Sequence[int],
    repetitions: Sequence[int],
    intensities: Sequence[int],
    modalities: Sequence[int],
) -> int:
    """`vjepa-fer synth --dataset ravdess` (called by datasets/synth.py's run, with RAVDESS's own
    options, ``Ravdess.own_options``)."""
    codes = dict(statements=statements, repetitions=repetitions, intensities=intensities,
                 modalities=modalities)  # fmt: skip
    files = synth_ravdess(args.out, **codes, **common_options(args, STUDIO))
    print(f"wrote {len(files)} synthetic {args.dataset} videos under {args.out}")
    return 0

"""CREMA-D's synthetic recordings: sentences and levels, the real actors' demographics, FLV1.

``VideoFlash/AAAA_SSS_EEE_LL.flv`` (FLV1, 30 fps) and ``VideoDemographics.csv`` with the real rows
of the chosen actors; IEO has levels LO/MD/HI (neutral XX), the other sentences XX. The
rendering, encoding and resuming are datasets/synth.py's.
"""

from __future__ import annotations

import argparse
import csv
import io
from collections.abc import Iterable, Sequence
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

from vjepa_fer.data import faces
from vjepa_fer.datasets.cremad.naming import (
    CREMAD_EMOTIONS,
    CREMAD_SENTENCES,
    DEMOGRAPHICS,
    CremadName,
    parse_cremad,
)
from vjepa_fer.datasets.synth import (
    Studio,
    Trial,
    common_options,
    select_actors,
    set_params,
    write_set,
)
from vjepa_fer.io import atomic_open

CREMAD_STRENGTH = {"LO": 0.6, "MD": 1.0, "HI": 1.5, "XX": 1.0}

CREMAD_LEVELLED = "IEO"  # the one sentence recorded at three emotion levels

DEMO_SENTENCES = ("IEO", "TIE", "IOM")


@cache
def cremad_demographics() -> dict[int, dict[str, str]]:
    """ActorID -> row of the packaged ``VideoDemographics.csv``."""
    rows = csv.DictReader(io.StringIO(DEMOGRAPHICS.read_text("utf-8")))
    return {int(r["ActorID"]): r for r in rows}


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


class CremadStudio(Studio):
    dataset = "crema-d"
    fps = Fraction(30)
    default_size = (128, 96)
    durations = (64, 100)
    container = "flv"
    layout = ("VideoFlash/*.flv",)

    def identity(self, actor: int, seed: int) -> faces.Identity:
        demo = cremad_demographics().get(actor, {})
        age = float(demo["Age"]) if demo.get("Age") else None
        return faces.make_identity(f"crema-d/{actor}", seed, demo.get("Sex"), age)

    def sentence_text(self, sentence: str) -> str:
        return CREMAD_SENTENCES[sentence]

    def trial_for_file(self, name: str) -> Trial:
        c = parse_cremad(name)
        trials = cremad_trials([c.actor], [c.sentence], [c.emotion])
        return next(t for t in trials if t.key == c.stem)

    def add_video_stream(self, container: Any, width: int, height: int) -> Any:
        vs = container.add_stream("flv", rate=self.fps)
        vs.codec_context.bit_rate = max(200_000, width * height * 30 // 2)
        return vs


STUDIO = CremadStudio()


def synth_cremad(
    root: str | Path,
    *,
    actors: int | Sequence[int],
    seed: int = 0,
    size: tuple[int, int] = CremadStudio.default_size,
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
    params = set_params(
        "crema-d", ids, seed, size, short_fraction, dict(sentences=sentences, emotions=emotions)
    )
    root = Path(root)
    # The real file's exact lines (quoting included) for the chosen actors.
    lines = DEMOGRAPHICS.read_text("utf-8").splitlines()
    keep = [ln for ln in lines[1:] if ln.split(",", 1)[0].strip('"') in {str(a) for a in ids}]
    with atomic_open(root / "VideoDemographics.csv", "w", encoding="utf-8", newline="") as fh:
        fh.write("\n".join([lines[0], *keep]) + "\n")
    return write_set(root, trials, params, jobs, replace)


def synth_main(args: argparse.Namespace, *, sentences: str | None) -> int:
    """`vjepa-fer synth --dataset crema-d` (called by datasets/synth.py's run, with CREMA-D's own
    ``--sentences``, ``CremaD.own_options``)."""
    sentences = sentences or ",".join(DEMO_SENTENCES)
    codes = list(CREMAD_SENTENCES) if sentences == "all" else sentences.split(",")
    codes = [c.strip().upper() for c in codes]
    files = synth_cremad(args.out, sentences=codes, **common_options(args, STUDIO))
    print(f"wrote {len(files)} synthetic {args.dataset} videos under {args.out}")
    return 0

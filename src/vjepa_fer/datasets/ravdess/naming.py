"""RAVDESS file names ``MM-VV-EE-II-SS-RR-AA.mp4``: parse, format, the full design, the walk.

The manifest is built from names alone, so the parser is strict: a name that does not follow the
published scheme raises :class:`~vjepa_fer.data.walk.NameError_` with the offending path, never a
silent guess (docs/datasets.md).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePath

import pandas as pd

from vjepa_fer.data.walk import NameError_, reject_bad, walk_files

RAVDESS_MODALITIES = {1: "audio-video", 2: "video", 3: "audio"}
RAVDESS_CHANNELS = {1: "speech", 2: "song"}
RAVDESS_EMOTIONS = {
    1: "neutral",
    2: "calm",
    3: "happy",
    4: "sad",
    5: "angry",
    6: "fearful",
    7: "disgust",
    8: "surprised",
}
RAVDESS_INTENSITIES = {1: "normal", 2: "strong"}
RAVDESS_STATEMENTS = {1: "Kids are talking by the door", 2: "Dogs are sitting by the door"}


_RAVDESS_RE = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})\.(mp4|wav)$")


@dataclass(frozen=True)
class RavdessName:
    modality: int
    vocal_channel: int
    emotion: int
    intensity: int
    statement: int
    repetition: int
    actor: int

    @property
    def label(self) -> str:
        return RAVDESS_EMOTIONS[self.emotion]

    @property
    def sex(self) -> str:
        # RAVDESS: odd-numbered actors are male, even-numbered female.
        return "male" if self.actor % 2 else "female"

    @property
    def trial(self) -> str:
        """The recording this file belongs to, shared by its modality 01 and 02 versions."""
        return (
            f"{self.vocal_channel:02d}-{self.emotion:02d}-{self.intensity:02d}-"
            f"{self.statement:02d}-{self.repetition:02d}-{self.actor:02d}"
        )

    def filename(self, ext: str = "mp4") -> str:
        return f"{self.modality:02d}-{self.trial}.{ext}"


def _check(value: int, allowed: dict[int, str] | range, field: str, path: str) -> None:
    if value not in allowed:
        raise NameError_(f"{path}: field {field}={value:02d} is not a valid RAVDESS {field} code")


def parse_ravdess(path: str | PurePath) -> RavdessName:
    """Parse ``MM-VV-EE-II-SS-RR-AA.mp4`` (the directory part is ignored)."""
    name = PurePath(path).name
    m = _RAVDESS_RE.match(name)
    if not m:
        raise NameError_(
            f"{path}: not a RAVDESS file name (expected MM-VV-EE-II-SS-RR-AA.mp4, "
            "seven two-digit fields)"
        )
    mod, ch, emo, inten, stmt, rep, actor = (int(g) for g in m.groups()[:7])
    p = str(path)
    _check(mod, RAVDESS_MODALITIES, "modality", p)
    _check(ch, RAVDESS_CHANNELS, "vocal_channel", p)
    _check(emo, RAVDESS_EMOTIONS, "emotion", p)
    _check(inten, RAVDESS_INTENSITIES, "intensity", p)
    _check(stmt, RAVDESS_STATEMENTS, "statement", p)
    _check(rep, {1: "1st", 2: "2nd"}, "repetition", p)
    _check(actor, range(1, 25), "actor", p)
    if emo == 1 and inten == 2:
        raise NameError_(f"{p}: neutral (emotion 01) has no strong intensity (02) in RAVDESS")
    return RavdessName(mod, ch, emo, inten, stmt, rep, actor)


def ravdess_speech_design(
    actors: range | list[int] = range(1, 25), modalities: tuple[int, ...] = (1, 2)
) -> list[RavdessName]:
    """Every speech-video file of the full RAVDESS design: 60 trials per actor and modality."""
    out = []
    for actor in actors:
        for mod in modalities:
            for emo in RAVDESS_EMOTIONS:
                for inten in (1,) if emo == 1 else (1, 2):
                    for stmt in (1, 2):
                        for rep in (1, 2):
                            out.append(RavdessName(mod, 1, emo, inten, stmt, rep, actor))
    return out


def index_ravdess(
    root: Path, modalities: tuple[int, ...] = (1, 2), on_bad_name: str = "error"
) -> tuple[pd.DataFrame, Counter]:
    """Rows for RAVDESS speech videos; song and unselected modalities are ignored (counted)."""
    files, ignored = walk_files(root, ".mp4")
    rows = []
    for rel in files:
        try:
            n = parse_ravdess(root / rel)
        except NameError_ as exc:
            reject_bad(rel, exc, on_bad_name, ignored)
            continue
        parent = Path(rel).parent.name
        if parent.startswith("Actor_") and parent != f"Actor_{n.actor:02d}":
            raise ValueError(f"{root / rel}: file of actor {n.actor:02d} lies in folder {parent}")
        if n.vocal_channel != 1:
            ignored["song"] += 1
            continue
        if n.modality not in modalities:
            ignored[f"modality {n.modality:02d} not selected"] += 1
            continue
        rows.append(
            {
                "video": rel,
                "actor": n.actor,
                "label": n.label,
                "sex": n.sex,
                "age": pd.NA,
                "trial": n.trial,
                "modality": RAVDESS_MODALITIES[n.modality],
                "intensity": RAVDESS_INTENSITIES[n.intensity],
                "sentence": f"statement{n.statement:02d}",
                "repetition": n.repetition,
            }
        )
    return pd.DataFrame(rows), ignored

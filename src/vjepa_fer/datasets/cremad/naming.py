"""CREMA-D file names ``AAAA_SSS_EEE_LL.flv``: parse and format, the actors' demographics, the
walk of ``VideoFlash/``.

The parser is strict: a name that does not follow the published scheme raises
:class:`~vjepa_fer.data.walk.NameError_` with the offending path (docs/datasets.md).
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePath

import pandas as pd

from vjepa_fer.data.folds import describe, packaged
from vjepa_fer.data.walk import NameError_, reject_bad, walk_files

CREMAD_SENTENCES = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}

CREMAD_EMOTIONS = {
    "ANG": "angry",
    "DIS": "disgust",
    "FEA": "fearful",
    "HAP": "happy",
    "NEU": "neutral",
    "SAD": "sad",
}

CREMAD_LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}

CREMAD_ACTORS = range(1001, 1092)
# The actors' published demographics (ActorID, Age, Sex, ...), shipped in resources/.
DEMOGRAPHICS = packaged(__package__, "VideoDemographics.csv")

_CREMAD_RE = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})\.flv$")


@dataclass(frozen=True)
class CremadName:
    actor: int
    sentence: str
    emotion: str
    level: str

    @property
    def label(self) -> str:
        return CREMAD_EMOTIONS[self.emotion]

    @property
    def stem(self) -> str:
        return f"{self.actor}_{self.sentence}_{self.emotion}_{self.level}"

    def filename(self) -> str:
        return f"{self.stem}.flv"


def parse_cremad(path: str | PurePath) -> CremadName:
    """Parse ``AAAA_SSS_EEE_LL.flv`` (the directory part is ignored)."""
    name = PurePath(path).name
    m = _CREMAD_RE.match(name)
    if not m:
        raise NameError_(f"{path}: not a CREMA-D file name (expected AAAA_SSS_EEE_LL.flv)")
    actor, sentence, emotion, level = int(m.group(1)), m.group(2), m.group(3), m.group(4)
    if actor not in CREMAD_ACTORS:
        raise NameError_(f"{path}: actor {actor} is outside CREMA-D's 1001-1091")
    if sentence not in CREMAD_SENTENCES:
        raise NameError_(f"{path}: unknown CREMA-D sentence code {sentence!r}")
    if emotion not in CREMAD_EMOTIONS:
        raise NameError_(f"{path}: unknown CREMA-D emotion code {emotion!r}")
    if level not in CREMAD_LEVELS:
        raise NameError_(f"{path}: unknown CREMA-D emotion level {level!r}")
    return CremadName(actor, sentence, emotion, level)


def load_demographics(path: str | Path | None) -> pd.DataFrame:
    """CREMA-D demographics (ActorID, Age, Sex, ...); the packaged copy when ``path`` is None."""
    src = describe(DEMOGRAPHICS) if path is None else str(path)
    text = DEMOGRAPHICS.read_text("utf-8") if path is None else None
    df = pd.read_csv(io.StringIO(text) if text is not None else path)
    missing = {"ActorID", "Age", "Sex"} - set(df.columns)
    if missing:
        raise ValueError(f"{src}: demographics table lacks columns {sorted(missing)}")
    return df.set_index("ActorID")


def index_cremad(
    root: Path, demographics: pd.DataFrame, on_bad_name: str = "error"
) -> tuple[pd.DataFrame, Counter]:
    """Rows for every CREMA-D video under VideoFlash/."""
    flash = root / "VideoFlash"
    if not flash.is_dir():
        raise FileNotFoundError(f"{flash}: CREMA-D videos are expected in a VideoFlash/ folder")
    files, ignored = walk_files(flash, ".flv")
    rows = []
    for rel in files:
        try:
            n = parse_cremad(flash / rel)
        except NameError_ as exc:
            reject_bad(rel, exc, on_bad_name, ignored)
            continue
        if n.actor not in demographics.index:
            raise ValueError(f"{flash / rel}: actor {n.actor} is not in the demographics table")
        person = demographics.loc[n.actor]
        rows.append(
            {
                "video": f"VideoFlash/{rel}",
                "actor": n.actor,
                "label": n.label,
                "sex": str(person["Sex"]).lower(),
                "age": int(person["Age"]),
                "trial": n.stem,
                "modality": "audio-video",
                "intensity": CREMAD_LEVELS[n.level],
                "sentence": n.sentence,
                "repetition": 1,
            }
        )
    return pd.DataFrame(rows), ignored

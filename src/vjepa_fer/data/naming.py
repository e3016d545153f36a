"""Parse and format the file names of RAVDESS and CREMA-D (docs/datasets.md).

The manifest is built from names alone, so these parsers are strict: a name that does not follow the
published scheme raises :class:`NameError_` with the offending path, never a silent guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

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

_RAVDESS_RE = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})\.(mp4|wav)$")
_CREMAD_RE = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})\.flv$")


class NameError_(ValueError):
    """A file name that does not follow its dataset's naming scheme (message names the path)."""


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

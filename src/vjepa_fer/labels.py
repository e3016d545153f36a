"""Label spaces: the shared vocabulary and the classes of the RAVDESS / CREMA-D modules.

Outputs always carry class *names*; indices only exist inside a probe and follow the order below.
"""

from __future__ import annotations

# The union vocabulary used in manifests.
ALL_LABELS: tuple[str, ...] = (
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgust",
    "surprised",
)

# RAVDESS: index = emotion code - 1, as in the authors' label map.
RAVDESS_LABELS: tuple[str, ...] = ALL_LABELS

# CREMA-D: a fixed alphabetical order of the six codes (the authors' map came from an unordered
# set() and changed per process; we never reproduce that).
CREMAD_LABELS: tuple[str, ...] = ("angry", "disgust", "fearful", "happy", "neutral", "sad")

# One vocabulary for every dataset, so cross-dataset evaluation finds shared classes by name:
# RAVDESS/CREMA-D's eight plus MAFW's four. Dataset modules map their own names onto it (DFEW
# "Surprise" -> surprised, MAFW "happiness" -> happy, ...).
VOCABULARY: tuple[str, ...] = (
    *ALL_LABELS,
    "contempt",
    "anxiety",
    "helplessness",
    "disappointment",
)

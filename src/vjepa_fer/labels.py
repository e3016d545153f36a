"""Label spaces of the supported datasets (docs/datasets.md, "Label spaces").

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

DATASET_LABELS: dict[str, tuple[str, ...]] = {
    "ravdess": RAVDESS_LABELS,
    "crema-d": CREMAD_LABELS,
}


def labels_for(dataset: str) -> tuple[str, ...]:
    """Class names of ``dataset`` in probe-index order."""
    try:
        return DATASET_LABELS[dataset]
    except KeyError:
        raise ValueError(
            f"unknown dataset {dataset!r}; known: {', '.join(sorted(DATASET_LABELS))}"
        ) from None

"""How requested clips become encoder input: :class:`PixelConfig`, shared by the clip stream
(features/stream.py) and its frame loader (features/loader.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from vjepa_fer import schema
from vjepa_fer.video.augment import AugmentConfig

AUGMENT_BACKENDS = ("device", "reference")


@dataclass(frozen=True)
class PixelConfig:
    """How requested clips become encoder input."""

    size: int = schema.default("encoder.img_size")
    num_views: int = 1  # evaluation views (1 = the protocol's centre view)
    seed: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    backend: str = "auto"  # video decoder: auto, decord or pyav
    # device backend: frames per loader item; a video needing more is split (bounds memory)
    max_decoded_frames: int | None = 256
    augment_backend: str = "device"  # where clips are assembled and augmented (see module doc)

    def __post_init__(self) -> None:
        if self.augment_backend not in AUGMENT_BACKENDS:
            raise ValueError(
                f"augment_backend must be one of {AUGMENT_BACKENDS}, got {self.augment_backend!r}"
            )

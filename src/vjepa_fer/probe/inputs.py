"""What a probe's input is made of, saved with every probe so it can be rebuilt elsewhere.

A probe only makes sense on tokens of the same frozen encoder (same weights), fed clips of the same
geometry (size, frames, frame step), timing (the training videos' frame rate: a clip spans
``frames × step / fps`` seconds) and pixel normalisation. ``vjepa-fer train`` writes this as the
``input`` block of each ``probe.json``; ``vjepa-fer predict`` reads it, rebuilds the input for any
video and refuses an encoder whose name or checkpoint digest differ.

The checkpoint digest is the sha256 of the file, or for a Hugging Face model directory the sha256
of the sorted ``name:sha256`` lines of its files; a random-weight encoder (no checkpoint) is
identified by its seed instead.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import Any

from vjepa_fer.io import file_digest, trusted_digest

# The pipeline's clips are normalised with ImageNet's mean/std (video/transforms.py), the
# statistics every supported encoder (V-JEPA 1 and 2, VideoMAE) was pre-trained with.
from vjepa_fer.video.transforms import IMAGENET_MEAN, IMAGENET_STD, eval_short_side

EVAL_VIEW = "short side floor(S*256/224), centre crop S x S"


def checkpoint_sha256(path: str | os.PathLike[str] | None) -> str | None:
    """sha256 of a checkpoint file or of a model directory's files; None without checkpoint.

    A ``<file>.sha256`` written beside a download (``vjepa-fer download``) is trusted while the
    file has the size and mtime the sidecar recorded, so multi-GB checkpoints are not hashed on
    every run; a checkpoint swapped after the sidecar was written is hashed again (a sidecar newer
    than the file proves nothing: ``cp -p`` keeps an old mtime).
    """
    if path is None:
        return None
    path = Path(path)
    if path.is_file():
        return trusted_digest(path) or file_digest(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        if not files:
            raise FileNotFoundError(f"{path}: checkpoint directory holds no files")
        lines = "".join(f"{p.relative_to(path).as_posix()}:{file_digest(p)}\n" for p in files)
        return hashlib.sha256(lines.encode()).hexdigest()
    raise FileNotFoundError(f"{path}: checkpoint not found")


def input_spec(
    *,
    encoder: str,
    checkpoint: str | None,
    checkpoint_key: str,
    seed: int,
    img_size: int,
    num_frames: int,
    frame_step: int,
    fps: float,
    classes: list[str],
) -> dict[str, Any]:
    """The ``input`` block of probe.json (see the module docstring). ``fps`` 0 or NaN (frame
    folders have no frame rate) is recorded as unknown (None)."""
    known = float(fps) > 0 and math.isfinite(float(fps))
    return {
        "encoder": encoder,
        "checkpoint": checkpoint,
        "checkpoint_sha256": checkpoint_sha256(checkpoint),
        "checkpoint_key": checkpoint_key,
        # Random weights (no checkpoint) are drawn from the seed: it identifies them.
        "encoder_seed": seed if checkpoint is None else None,
        "img_size": img_size,
        "num_frames": num_frames,
        "frame_step": frame_step,
        "fps": round(float(fps), 5) if known else None,
        "clip_seconds": round(num_frames * frame_step / float(fps), 4) if known else None,
        "normalisation": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
        "eval_view": EVAL_VIEW,
        "eval_short_side": eval_short_side(img_size),
        "classes": list(classes),
    }


# Keys whose values must agree between the fold probes of one prediction.
SHARED_KEYS = (
    "encoder",
    "checkpoint_sha256",
    "encoder_seed",
    "img_size",
    "num_frames",
    "frame_step",
    "fps",
    "normalisation",
    "classes",
)


def check_encoder(spec: dict[str, Any], encoder: str, checkpoint: str | None, where: str) -> None:
    """Refuse an encoder (name, checkpoint) other than the one the probes were trained on."""
    if encoder != spec["encoder"]:
        raise ValueError(
            f"{where}: the probes were trained on encoder {spec['encoder']!r}, not {encoder!r}; "
            "tokens of another encoder mean nothing to them"
        )
    want = spec.get("checkpoint_sha256")
    if (checkpoint is None) != (want is None):
        raise ValueError(
            f"{where}: the probes were trained on "
            + (f"checkpoint sha256 {want}" if want else "random weights (no checkpoint)")
            + f", but the encoder is given {'no checkpoint' if checkpoint is None else checkpoint}"
        )
    if checkpoint is not None:
        got = checkpoint_sha256(checkpoint)
        if got != want:
            raise ValueError(
                f"{where}: checkpoint {checkpoint} has sha256 {got}, but the probes were trained "
                f"on {spec.get('checkpoint')} with sha256 {want}; pass that checkpoint"
            )

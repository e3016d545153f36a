"""Build a frozen V-JEPA 1 encoder and load an official ``.pth.tar`` checkpoint into it.

Implements docs/protocol.md, section "Encoder", bullets "Checkpoint" and
"Checkpoint layout" (the official loader is ``load_pretrained`` in facebookresearch/jepa
``evals/video_classification_frozen/eval.py``):

* the file is a pickled dict ``{"encoder", "predictor", "target_encoder", "epoch", "opt", ...}``;
  it is read with ``torch.load(weights_only=True)`` (memory-mapped when the file is in the zip
  format), so a file holding arbitrary pickled objects is refused, never executed;
* the weights used are ``checkpoint_key`` (default ``target_encoder``, the EMA encoder); when
  that key is absent we fall back to ``encoder`` with a warning, as upstream;
* the prefixes ``module.`` (DistributedDataParallel) and ``backbone.`` are stripped;
* ``pos_embed`` whose shape differs from the model's (checkpoint pre-trained at another
  resolution or frame count) is skipped with a log message: the model keeps its own sin-cos table.

Stricter than upstream (which loads with ``strict=False`` and only logs): a missing or unexpected
key, or any other shape mismatch, is an error naming the file, because it means the wrong
architecture or a broken file and would otherwise leave random weights in a "pre-trained" model.

Usage::

    from vjepa_fer.models.checkpoint import load_vjepa
    enc = load_vjepa("resources/vith16-384.pth.tar", "vit_huge", img_size=384, num_frames=16)
    tokens = enc(clips)  # (B, 3, 16, 384, 384) -> (B, 4608, 1280)

Tests: ``.venv/bin/pytest tests/unit/models/test_checkpoint.py``.
"""

from __future__ import annotations

import logging
import os
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from vjepa_fer import schema
from vjepa_fer.models.vit import VisionTransformer, ViTConfig, resolve_config

logger = logging.getLogger(__name__)

_PREFIXES = ("module.", "backbone.")
# Keys that may legitimately differ in shape; the model then keeps its own values.
_SHAPE_TOLERANT = ("pos_embed",)


def read_encoder_state(
    checkpoint_path: str | os.PathLike[str],
    checkpoint_key: str = schema.default("encoder.checkpoint_key"),
) -> dict[str, torch.Tensor]:
    """The encoder state dict stored under ``checkpoint_key`` of an official checkpoint.

    Prefixes ``module.`` / ``backbone.`` are stripped. A file that is a bare state dict (no
    ``encoder`` / ``target_encoder`` entry, every value a tensor) is accepted as is.
    """
    path = Path(checkpoint_path)
    if not path.is_file():
        raise FileNotFoundError(f"encoder checkpoint not found: {path}")
    try:
        # mmap avoids reading the whole file (several GB: two encoders, predictor, maybe optimiser
        # state) into memory; only the
        # zip format written by torch.save since PyTorch 1.6 supports it.
        checkpoint = torch.load(
            path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path)
        )
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower():
            raise ValueError(
                f"{path}: refused to load; it holds objects other than tensors and plain "
                f"containers (torch.load weights_only=True): {_weights_only_reason(exc)}"
            ) from exc
        raise ValueError(f"{path}: not a readable PyTorch checkpoint: {exc}") from exc
    except (RuntimeError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable PyTorch checkpoint: {exc}") from exc

    if not isinstance(checkpoint, Mapping):
        raise ValueError(f"{path}: expected a dict checkpoint, found {type(checkpoint).__name__}")
    if checkpoint_key in checkpoint:
        state = checkpoint[checkpoint_key]
    elif "encoder" in checkpoint:
        logger.warning(
            "%s: no %r entry; falling back to 'encoder' (the online, non-EMA encoder)",
            path,
            checkpoint_key,
        )
        state = checkpoint["encoder"]
    elif checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        logger.info("%s: a bare state dict; using it as the encoder weights", path)
        state = checkpoint
    else:
        raise ValueError(
            f"{path}: neither {checkpoint_key!r} nor 'encoder' found; keys: {sorted(checkpoint)}"
        )
    if not isinstance(state, Mapping):
        raise ValueError(f"{path}: entry {checkpoint_key!r} is {type(state).__name__}, not a dict")
    if "epoch" in checkpoint:
        logger.info("%s: pre-training epoch %s", path, checkpoint["epoch"])
    return {_strip_prefixes(key): value for key, value in state.items()}


def _weights_only_reason(exc: Exception) -> str:
    # torch's message is long; keep the line that names the refused global / opcode.
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if "WeightsUnpickler error" in line:
            return line
    return lines[0] if lines else type(exc).__name__


def _strip_prefixes(key: str) -> str:
    # Leading prefixes only, in any order/repetition ("module.backbone.", "backbone.", ...).
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix) :]
                changed = True
    return key


def load_encoder_state(
    model: torch.nn.Module, state: Mapping[str, torch.Tensor], source: str | os.PathLike[str]
) -> list[str]:
    """Copy ``state`` into ``model``; returns the keys skipped for shape (model kept its own).

    Raises ValueError naming ``source`` for missing / unexpected keys or a shape mismatch other
    than ``pos_embed``.
    """
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise ValueError(
            f"{source}: checkpoint does not match the model architecture; "
            f"missing keys {_preview(missing)}, unexpected keys {_preview(unexpected)}"
        )
    to_load: dict[str, torch.Tensor] = {}
    skipped: list[str] = []
    for key, target in own.items():
        value = state[key]
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{source}: entry {key!r} is {type(value).__name__}, not a tensor")
        if value.shape == target.shape:
            to_load[key] = value
        elif key in _SHAPE_TOLERANT:
            logger.info(
                "%s: %s has shape %s but the model needs %s; keeping the model's own table",
                source,
                key,
                tuple(value.shape),
                tuple(target.shape),
            )
            skipped.append(key)
        else:
            raise ValueError(
                f"{source}: {key} has shape {tuple(value.shape)}, the model needs "
                f"{tuple(target.shape)} (wrong architecture?)"
            )
    model.load_state_dict(to_load, strict=False)
    return skipped


def _preview(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    more = f" … (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return f"[{shown}{more}]"


def load_vjepa(
    checkpoint_path: str | os.PathLike[str] | None,
    arch: str | Mapping[str, Any] | ViTConfig = "vit_huge",
    img_size: int = schema.default("encoder.img_size"),
    num_frames: int = schema.default("encoder.num_frames"),
    checkpoint_key: str = schema.default("encoder.checkpoint_key"),
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    **overrides: Any,
) -> VisionTransformer:
    """A frozen V-JEPA 1 encoder (eval mode, ``requires_grad`` False) on ``device``.

    ``arch``: a preset name (vit_large, vit_huge, vit_giant, tiny), a dict of
    :class:`ViTConfig` fields, or a config; ``overrides`` change single fields (e.g.
    ``uniform_power=False``). ``img_size`` / ``num_frames`` fix the stored position table (the
    authors use 384 px, 16 frames). ``checkpoint_path=None`` gives random upstream-style weights
    drawn from ``seed`` (for benchmarks and tests), identical on every device.
    """
    config = resolve_config(arch, **overrides)
    # Build on the meta device: no memory and no wasted random init for weights we overwrite.
    with torch.device("meta"):
        model = VisionTransformer.from_config(config, img_size, num_frames)
    device = torch.device(device)

    if checkpoint_path is None:
        if device.type != "meta":
            # Draw on the CPU with our own generator so the weights do not depend on the device.
            model.to_empty(device="cpu")
            model.init_weights(generator=torch.Generator().manual_seed(seed))
            model.to(device)
        logger.info("random %s encoder (seed %d), no checkpoint", _describe(arch), seed)
    else:
        state = read_encoder_state(checkpoint_path, checkpoint_key)
        model.to_empty(device=device)
        model.reset_pos_embed()  # kept if the checkpoint's pos_embed is skipped
        own_table = model.pos_embed.detach().clone()
        skipped = load_encoder_state(model, state, checkpoint_path)
        del state
        if "pos_embed" not in skipped:
            _check_pos_embed(model, own_table, config, checkpoint_path)
        logger.info(
            "loaded %s encoder from %s[%r]%s",
            _describe(arch),
            checkpoint_path,
            checkpoint_key,
            f", kept own {skipped}" if skipped else "",
        )
    model.eval()
    model.requires_grad_(False)
    return model


def _check_pos_embed(
    model: VisionTransformer, own_table: torch.Tensor, config: ViTConfig, source: Any
) -> None:
    # The checkpoint's table is used as is (as upstream); a difference from our sin-cos table
    # means the uniform_power setting is wrong, which would matter at other resolutions.
    diff = (model.pos_embed.detach().float() - own_table.float()).abs().max().item()
    if diff > 1e-4:
        logger.warning(
            "%s: the stored pos_embed differs from the sin-cos table with uniform_power=%s "
            "(max |diff| %.3g); using the stored one",
            source,
            config.uniform_power,
            diff,
        )


def _describe(arch: str | Mapping[str, Any] | ViTConfig) -> str:
    return arch if isinstance(arch, str) else "custom ViT"

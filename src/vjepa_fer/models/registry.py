"""Encoders built by name: ``build_encoder("vit_huge", img_size=384, num_frames=16, ...)``.

Implements the encoder choice of docs/protocol.md, section "Encoder" (the authors use
``vit_huge`` with ``vith16-384.pth.tar``). Built-in entries: ``vit_large``, ``vit_huge``,
``vit_giant`` (official V-JEPA 1 architectures, loaded by :func:`load_vjepa`), ``tiny`` (64-d,
2 layers, for tests and demos) and ``tiny_deep`` (64-d, 4 layers: the demo's second encoder).
Optional encoders register themselves with the ``@register_encoder(name)`` decorator;
``vjepa_fer.models.hf`` (Hugging Face V-JEPA 2 / VideoMAE) is imported on the first lookup of an
unknown name, so it may keep its heavy imports lazy.

Contract of every factory::

    factory(*, img_size: int, num_frames: int, checkpoint: str | None,
            checkpoint_key: str, **kw) -> nn.Module

The module is frozen (eval, no grad), maps (B, 3, T, H, W) -> (B, N, D) and has the attributes
``embed_dim``, ``num_heads``, ``patch_size``, ``tubelet_size``.

Tests: ``.venv/bin/pytest tests/unit/models/test_registry.py``.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
from collections.abc import Callable
from typing import Any

import torch.nn as nn

from vjepa_fer import schema
from vjepa_fer.models.checkpoint import load_vjepa
from vjepa_fer.models.vit import VIT_PRESETS

logger = logging.getLogger(__name__)

EncoderFactory = Callable[..., nn.Module]

_REGISTRY: dict[str, EncoderFactory] = {}
# Modules that register optional encoders; imported lazily on an unknown name.
_OPTIONAL_MODULES = ("vjepa_fer.models.hf",)
REQUIRED_ATTRIBUTES = ("embed_dim", "num_heads", "patch_size", "tubelet_size")


def register_encoder(name: str) -> Callable[[EncoderFactory], EncoderFactory]:
    """Decorator: register ``factory`` under ``name`` (a name can be registered once)."""

    def decorator(factory: EncoderFactory) -> EncoderFactory:
        if name in _REGISTRY:
            raise ValueError(f"encoder {name!r} is already registered")
        _REGISTRY[name] = factory
        return factory

    return decorator


def available_encoders() -> list[str]:
    """Sorted names of every registered encoder (optional modules included)."""
    _import_optional()
    return sorted(_REGISTRY)


def build_encoder(
    name: str,
    *,
    img_size: int,
    num_frames: int,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_key: str = schema.default("encoder.checkpoint_key"),
    **kw: Any,
) -> nn.Module:
    """Build the encoder ``name``; ``checkpoint=None`` gives seeded random weights (``seed=``).

    For the ViT entries ``kw`` may hold ``seed``, ``device`` and any :class:`ViTConfig` field as
    an override (``embed_dim``, ``depth``, ``num_heads``, ``mlp_ratio``, ``patch_size``,
    ``tubelet_size``, ``uniform_power``), e.g. ``build_encoder("tiny", ..., depth=3)``.
    """
    if name not in _REGISTRY:
        _import_optional()
    if name not in _REGISTRY:
        raise KeyError(f"unknown encoder {name!r}; available: {sorted(_REGISTRY)}")
    model = _REGISTRY[name](
        img_size=img_size,
        num_frames=num_frames,
        checkpoint=checkpoint,
        checkpoint_key=checkpoint_key,
        **kw,
    )
    absent = [attr for attr in REQUIRED_ATTRIBUTES if not hasattr(model, attr)]
    if absent:
        raise TypeError(f"encoder {name!r} lacks the required attribute(s) {absent}")
    return model


# Encoders that exist only for tests and the offline demo: random weights are their normal state.
RANDOM_BY_DESIGN = frozenset({"tiny", "tiny_deep"})


def require_weights(name: str, checkpoint: object, random_weights: bool) -> None:
    """Refuse a real encoder without weights unless random weights were asked for explicitly.

    A ViT-H with random weights runs, trains probes and prints numbers, all meaningless; that
    must never happen because a checkpoint path was left out.
    """
    if checkpoint is None and not random_weights and name not in RANDOM_BY_DESIGN:
        raise ValueError(
            f"encoder {name!r} has no checkpoint: set encoder.checkpoint in the config "
            "(--checkpoint), or ask for random weights with encoder.random_weights: true "
            "(--random-weights)"
        )


def _import_optional() -> None:
    for module in _OPTIONAL_MODULES:
        # find_spec is None when the module does not exist (yet); import errors inside an
        # existing module are real bugs and propagate.
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)


def _vit_factory(preset: str) -> EncoderFactory:
    def factory(
        *,
        img_size: int,
        num_frames: int,
        checkpoint: str | os.PathLike[str] | None,
        checkpoint_key: str,
        **kw: Any,
    ) -> nn.Module:
        return load_vjepa(checkpoint, preset, img_size, num_frames, checkpoint_key, **kw)

    factory.__doc__ = f"V-JEPA 1 {preset} ({VIT_PRESETS[preset]})."
    return factory


for _preset in ("vit_large", "vit_huge", "vit_giant", "tiny", "tiny_deep"):
    register_encoder(_preset)(_vit_factory(_preset))

"""Frozen video encoders: the V-JEPA 1 ViT, its checkpoint loader and the encoder registry.

Implements docs/protocol.md, section "Encoder". Importing this package imports torch;
CLI stage modules should import it inside their functions.

    from vjepa_fer.models import build_encoder, load_vjepa
    enc = build_encoder("vit_huge", img_size=384, num_frames=16,
                        checkpoint="resources/vith16-384.pth.tar")
    tokens = enc(clips)  # (B, 3, 16, 384, 384) -> (B, 4608, 1280)

Tests: ``.venv/bin/pytest tests/unit/models/test_vit.py tests/unit/models/test_checkpoint.py
tests/unit/models/test_registry.py``.
"""

from vjepa_fer.models.checkpoint import load_encoder_state, load_vjepa, read_encoder_state
from vjepa_fer.models.pos_embed import interpolate_pos_embed, sincos_pos_embed_3d
from vjepa_fer.models.registry import available_encoders, build_encoder, register_encoder
from vjepa_fer.models.vit import VIT_PRESETS, VisionTransformer, ViTConfig, resolve_config

__all__ = [
    "VIT_PRESETS",
    "ViTConfig",
    "VisionTransformer",
    "available_encoders",
    "build_encoder",
    "interpolate_pos_embed",
    "load_encoder_state",
    "load_vjepa",
    "read_encoder_state",
    "register_encoder",
    "resolve_config",
    "sincos_pos_embed_3d",
]

"""The V-JEPA 1 video Vision Transformer (frozen feature extractor).

Implements docs/protocol.md, section "Encoder" ("Architecture" and "Position
embedding"). The module and parameter names follow the official facebookresearch/jepa
``src/models/vision_transformer.py`` so the published ``.pth.tar`` state dicts load unchanged:
``patch_embed.proj``, ``pos_embed``, ``blocks.{i}.norm1``, ``blocks.{i}.attn.qkv``,
``blocks.{i}.attn.proj``, ``blocks.{i}.norm2``, ``blocks.{i}.mlp.fc1``, ``blocks.{i}.mlp.fc2``,
``norm``.

Computation, input (B, 3, T, H, W) normalised float -> output (B, N, D), N = T/2 * H/16 * W/16:

    x = patch_embed(video) + pos_embed           # Conv3d, kernel = stride = (2, 16, 16)
    for block: x = x + attn(norm1(x)); x = x + mlp(norm2(x))
    x = norm(x)                                  # every token, no CLS token, no pooling

LayerNorm eps 1e-6, qkv with bias, exact GELU, no dropout. Attention uses
``torch.nn.functional.scaled_dot_product_attention`` (flash / memory-efficient kernels on GPU
under bf16/fp16 autocast; plain math in float32 on CPU).

Load real weights with :func:`vjepa_fer.models.checkpoint.load_vjepa`; tests:
``.venv/bin/pytest tests/unit/models/test_vit.py``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from vjepa_fer import schema
from vjepa_fer.models.pos_embed import interpolate_pos_embed, sincos_pos_embed_3d

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ViTConfig:
    """Architecture of a video ViT (everything except the input size).

    ``uniform_power``: every official V-JEPA 1 checkpoint was pre-trained and evaluated with
    ``uniform_power: true`` (configs/pretrain/vitl16.yaml, vith16.yaml, vith16_384.yaml and the
    evals/*_k400_16x8x3.yaml configs of facebookresearch/jepa), so it is the default. It only
    matters when the checkpoint's own ``pos_embed`` cannot be used (another resolution / frame
    count at build time) and the model falls back to its freshly computed table.
    """

    embed_dim: int
    depth: int
    num_heads: int
    mlp_ratio: float = 4.0
    patch_size: int = 16
    tubelet_size: int = 2
    uniform_power: bool = True
    in_chans: int = 3


# Presets of the official V-JEPA 1 encoders; "tiny" and "tiny_deep" are ours, for tests and the
# demo (tiny_deep: the demo's second encoder in its encoder comparison, twice tiny's depth).
VIT_PRESETS: dict[str, ViTConfig] = {
    "vit_large": ViTConfig(embed_dim=1024, depth=24, num_heads=16),
    "vit_huge": ViTConfig(embed_dim=1280, depth=32, num_heads=16),
    "vit_giant": ViTConfig(embed_dim=1408, depth=40, num_heads=16, mlp_ratio=48 / 11),
    "tiny": ViTConfig(embed_dim=64, depth=2, num_heads=4),
    "tiny_deep": ViTConfig(embed_dim=64, depth=4, num_heads=4),
}


def resolve_config(arch: str | Mapping[str, Any] | ViTConfig, **overrides: Any) -> ViTConfig:
    """A :class:`ViTConfig` from a preset name, a dict of fields or a config, plus overrides."""
    if isinstance(arch, ViTConfig):
        config = arch
    elif isinstance(arch, str):
        if arch not in VIT_PRESETS:
            raise ValueError(f"unknown ViT preset {arch!r}; choose one of {sorted(VIT_PRESETS)}")
        config = VIT_PRESETS[arch]
    elif isinstance(arch, Mapping):
        _check_fields(arch)
        config = ViTConfig(**arch)
    else:
        raise TypeError(f"arch must be a preset name, a dict or a ViTConfig, not {type(arch)}")
    _check_fields(overrides)
    config = replace(config, **overrides)
    if config.embed_dim % config.num_heads != 0:
        raise ValueError(
            f"embed_dim {config.embed_dim} is not divisible by num_heads {config.num_heads}"
        )
    return config


def _check_fields(values: Mapping[str, Any]) -> None:
    known = {f.name for f in fields(ViTConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise TypeError(f"unknown ViT option(s) {unknown}; known: {sorted(known)}")


class PatchEmbed3D(nn.Module):
    """Non-overlapping tubelets -> tokens: Conv3d with kernel = stride = (tubelet, patch, patch)."""

    def __init__(self, patch_size: int, tubelet_size: int, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        kernel = (tubelet_size, patch_size, patch_size)
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=kernel, stride=kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)  # (B, D, T/tubelet, H/patch, W/patch)
        return x.flatten(2).transpose(1, 2)  # (B, N, D), tokens ordered (t, h, w), t slowest


class Attention(nn.Module):
    """Multi-head self-attention; one fused qkv Linear laid out (3, heads, head_dim)."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, heads, N, head_dim)
        # Default scale head_dim ** -0.5, as the official model (qk_scale=None).
        x = F.scaled_dot_product_attention(q, k, v)  # (B, heads, N, head_dim)
        x = x.transpose(1, 2).reshape(B, N, C)  # (B, N, C)
        return self.proj(x)


class MLP(nn.Module):
    """fc1 -> exact GELU -> fc2."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()  # exact (erf) GELU, not the tanh approximation
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        # int() truncation as upstream: vit_giant 1408 * 48/11 = 6144.
        self.mlp = MLP(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        x = x + self.mlp(self.norm2(x))
        return x


class VisionTransformer(nn.Module):
    """Video ViT encoder: (B, in_chans, T, H, W) -> (B, N, embed_dim), every token.

    ``img_size`` and ``num_frames`` fix the size of the stored ``pos_embed`` table; inputs of
    another size or frame count are accepted and get a trilinearly interpolated table.
    """

    def __init__(
        self,
        img_size: int = 224,
        num_frames: int = schema.default("encoder.num_frames"),
        *,
        embed_dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        patch_size: int = 16,
        tubelet_size: int = 2,
        uniform_power: bool = True,
        in_chans: int = 3,
        init_std: float = 0.02,
    ) -> None:
        super().__init__()
        if img_size % patch_size or num_frames % tubelet_size:
            raise ValueError(
                f"img_size {img_size} must be a multiple of patch_size {patch_size} and "
                f"num_frames {num_frames} a multiple of tubelet_size {tubelet_size}"
            )
        self.config = ViTConfig(
            embed_dim=embed_dim,
            depth=depth,
            num_heads=num_heads,
            mlp_ratio=mlp_ratio,
            patch_size=patch_size,
            tubelet_size=tubelet_size,
            uniform_power=uniform_power,
            in_chans=in_chans,
        )
        # Attributes every encoder of the registry exposes.
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.patch_size = patch_size
        self.tubelet_size = tubelet_size
        self.img_size = img_size
        self.num_frames = num_frames
        self.uniform_power = uniform_power
        self.init_std = init_std
        self.grid = (num_frames // tubelet_size, img_size // patch_size, img_size // patch_size)

        self.patch_embed = PatchEmbed3D(patch_size, tubelet_size, in_chans, embed_dim)
        # A frozen Parameter (not a buffer) so it is part of the state dict, as upstream.
        self.pos_embed = nn.Parameter(
            torch.zeros(1, math.prod(self.grid), embed_dim), requires_grad=False
        )
        self.blocks = nn.ModuleList(Block(embed_dim, num_heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.init_weights()

    @classmethod
    def from_config(cls, config: ViTConfig, img_size: int, num_frames: int) -> VisionTransformer:
        return cls(img_size, num_frames, **asdict(config))

    # ----------------------------------------------------------------------------- init
    @torch.no_grad()
    def reset_pos_embed(self) -> None:
        """Fill ``pos_embed`` with the sin-cos table of the build-time grid."""
        if self.pos_embed.is_meta:  # built on the meta device: nothing to fill yet
            return
        table = sincos_pos_embed_3d(self.embed_dim, *self.grid, uniform_power=self.uniform_power)
        self.pos_embed.copy_(table.unsqueeze(0))  # (1, N, D)

    @torch.no_grad()
    def init_weights(self, generator: torch.Generator | None = None) -> None:
        """Upstream initialisation, reproducible when a (CPU) ``generator`` is given.

        Linear / Conv3d weights truncated normal (std ``init_std``, bounds +-2), biases 0,
        LayerNorm 1 / 0; then the attention output projection and fc2 of block ``i`` (from 1)
        are divided by sqrt(2 i). Only used for random-weight benchmarks and tests.
        """
        self.reset_pos_embed()
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Conv3d)):
                nn.init.trunc_normal_(module.weight, std=self.init_std, generator=generator)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        for layer_id, block in enumerate(self.blocks, start=1):
            block.attn.proj.weight.div_(math.sqrt(2.0 * layer_id))
            block.mlp.fc2.weight.div_(math.sqrt(2.0 * layer_id))

    # -------------------------------------------------------------------------- forward
    def token_grid(self, num_frames: int, height: int, width: int) -> tuple[int, int, int]:
        """Token grid (t, h, w) of an input of that size; N is their product."""
        return (
            num_frames // self.tubelet_size,
            height // self.patch_size,
            width // self.patch_size,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5 or x.shape[1] != self.config.in_chans:
            raise ValueError(
                f"expected a video batch (B, {self.config.in_chans}, T, H, W), got {tuple(x.shape)}"
            )
        _, _, T, H, W = x.shape
        if T % self.tubelet_size or H % self.patch_size or W % self.patch_size:
            # The Conv3d would silently drop the remainder; refuse instead.
            raise ValueError(
                f"input (T={T}, H={H}, W={W}) must be multiples of tubelet {self.tubelet_size} "
                f"and patch {self.patch_size}"
            )
        tokens = self.patch_embed(x)  # (B, N, D)
        pos = interpolate_pos_embed(self.pos_embed, self.grid, self.token_grid(T, H, W))
        # Add in the tokens' dtype (bf16/fp16 under autocast), like upstream's in-place add.
        x = tokens + pos.to(tokens.dtype)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)  # (B, N, D)

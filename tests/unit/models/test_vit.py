"""Tests of the V-JEPA 1 ViT (vjepa_fer.models.vit) and its sin-cos table (models.pos_embed).

The model is checked against independent re-implementations written here in another style:
a naive per-entry loop for the position table, and a functional forward with an explicit
matmul-softmax attention, a hand-written LayerNorm, an erf GELU and the patch embedding as an
unfold + matmul. Agreement in float64 shows we compute what the official V-JEPA 1 ViT computes.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from vjepa_fer.models.checkpoint import load_vjepa
from vjepa_fer.models.pos_embed import interpolate_pos_embed, sincos_pos_embed_3d
from vjepa_fer.models.vit import VIT_PRESETS, VisionTransformer, ViTConfig, resolve_config

OFFICIAL_BLOCK_KEYS = [
    "norm1.weight",
    "norm1.bias",
    "attn.qkv.weight",
    "attn.qkv.bias",
    "attn.proj.weight",
    "attn.proj.bias",
    "norm2.weight",
    "norm2.bias",
    "mlp.fc1.weight",
    "mlp.fc1.bias",
    "mlp.fc2.weight",
    "mlp.fc2.bias",
]


def naive_pos_embed(dim: int, depth: int, size_h: int, size_w: int, uniform: bool) -> torch.Tensor:
    """Entry by entry, straight from the spec's wording."""
    if uniform:
        axis = [math.ceil(dim / 6) * 2] * 3
    else:
        axis = [dim // 2, dim // 4, dim // 4]
    rows = []
    for t in range(depth):
        for h in range(size_h):
            for w in range(size_w):
                row = []
                for pos, n in zip((t, h, w), axis, strict=True):
                    half = n // 2
                    sines = [math.sin(pos * 10000 ** (-k / half)) for k in range(half)]
                    cosines = [math.cos(pos * 10000 ** (-k / half)) for k in range(half)]
                    row += sines + cosines
                rows.append(row[:dim])
    return torch.tensor(rows, dtype=torch.float64)


@pytest.mark.parametrize("uniform", [True, False])
@pytest.mark.parametrize("dim", [64, 48])
def test_pos_embed_matches_naive_loop(uniform: bool, dim: int) -> None:
    table = sincos_pos_embed_3d(dim, 3, 2, 4, uniform_power=uniform)
    assert table.shape == (3 * 2 * 4, dim) and table.dtype == torch.float32
    torch.testing.assert_close(
        table.double(), naive_pos_embed(dim, 3, 2, 4, uniform), atol=1e-6, rtol=0
    )


def test_uniform_power_changes_the_table() -> None:
    a = sincos_pos_embed_3d(64, 2, 2, 2, uniform_power=True)
    b = sincos_pos_embed_3d(64, 2, 2, 2, uniform_power=False)
    assert not torch.allclose(a, b)


def test_pos_embed_is_frozen_parameter_in_state_dict() -> None:
    model = VisionTransformer(64, 16, **_tiny())
    assert "pos_embed" in model.state_dict()
    assert isinstance(model.pos_embed, torch.nn.Parameter) and not model.pos_embed.requires_grad
    assert model.pos_embed.shape == (1, 8 * 4 * 4, 64)
    expected = naive_pos_embed(64, 8, 4, 4, uniform=True).float()
    torch.testing.assert_close(model.pos_embed[0], expected, atol=1e-6, rtol=0)


def _tiny(**overrides: object) -> dict:
    config = resolve_config("tiny", **overrides)
    return {k: getattr(config, k) for k in config.__dataclass_fields__}


def test_tiny_shapes_and_attributes() -> None:
    model = load_vjepa(None, "tiny", img_size=64, num_frames=16)
    out = model(torch.randn(2, 3, 16, 64, 64))
    assert out.shape == (2, 8 * 4 * 4, 64)
    assert (model.embed_dim, model.num_heads, model.patch_size, model.tubelet_size) == (
        64,
        4,
        16,
        2,
    )
    assert model.token_grid(16, 64, 64) == (8, 4, 4)


def test_parameter_names_match_official_layout() -> None:
    model = VisionTransformer(64, 16, **_tiny())
    expected = {"pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias"}
    expected |= {f"blocks.{i}.{key}" for i in range(2) for key in OFFICIAL_BLOCK_KEYS}
    expected |= {"norm.weight", "norm.bias"}
    assert set(model.state_dict()) == expected
    assert model.patch_embed.proj.weight.shape == (64, 3, 2, 16, 16)
    assert model.blocks[0].attn.qkv.bias is not None


@pytest.mark.parametrize(
    ("name", "dim", "depth", "hidden"),
    [("vit_large", 1024, 24, 4096), ("vit_huge", 1280, 32, 5120), ("vit_giant", 1408, 40, 6144)],
)
def test_presets(name: str, dim: int, depth: int, hidden: int) -> None:
    with torch.device("meta"):  # no memory: shapes only
        model = VisionTransformer.from_config(VIT_PRESETS[name], 224, 16)
    assert model.embed_dim == dim and len(model.blocks) == depth and model.num_heads == 16
    assert model.blocks[0].mlp.fc1.weight.shape == (hidden, dim)
    # qkv + proj + fc1 + fc2 + two LayerNorms per block; Conv3d; final LayerNorm.
    per_block = (3 * dim * dim + 3 * dim) + (dim * dim + dim) + 2 * hidden * dim + hidden + dim
    per_block += 4 * dim
    expected = depth * per_block + (dim * 3 * 2 * 16 * 16 + dim) + 2 * dim
    counted = sum(p.numel() for n, p in model.named_parameters() if n != "pos_embed")
    assert counted == expected
    if name == "vit_huge":
        assert round(counted / 1e6) == 632  # the published ViT-H/16 size
    assert VIT_PRESETS[name].uniform_power  # official configs: uniform_power: true


def test_resolve_config_dict_and_errors() -> None:
    config = resolve_config({"embed_dim": 32, "depth": 1, "num_heads": 2})
    assert config == ViTConfig(embed_dim=32, depth=1, num_heads=2)
    assert resolve_config("tiny", depth=5).depth == 5
    with pytest.raises(TypeError, match="unknown ViT option"):
        resolve_config("tiny", depht=5)
    with pytest.raises(ValueError, match="unknown ViT preset"):
        resolve_config("vit_enormous")
    with pytest.raises(ValueError, match="divisible"):
        resolve_config("tiny", num_heads=5)


# ------------------------------------------------------------------- reference forward
def ref_layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + 1e-6) * weight + bias


def ref_forward(
    sd: dict[str, torch.Tensor], video: torch.Tensor, heads: int, depth: int
) -> torch.Tensor:
    """Functional V-JEPA 1 ViT forward from a state dict, with no nn modules."""
    w = sd["patch_embed.proj.weight"]  # (D, C, 2, 16, 16)
    dim = w.shape[0]
    B, C, T, H, W = video.shape
    # Tubelets as explicit vectors:
    # (B, C, T/2, 2, H/16, 16, W/16, 16) -> (B, T/2 * H/16 * W/16, C*2*16*16)
    cubes = video.reshape(B, C, T // 2, 2, H // 16, 16, W // 16, 16)
    cubes = cubes.permute(0, 2, 4, 6, 1, 3, 5, 7).reshape(B, -1, C * 2 * 16 * 16)
    x = cubes @ w.reshape(dim, -1).T + sd["patch_embed.proj.bias"]
    x = x + sd["pos_embed"]
    for i in range(depth):
        p = f"blocks.{i}."
        h = ref_layer_norm(x, sd[p + "norm1.weight"], sd[p + "norm1.bias"])
        qkv = h @ sd[p + "attn.qkv.weight"].T + sd[p + "attn.qkv.bias"]  # (B, N, 3D)
        hd = dim // heads
        outs = []
        for head in range(heads):
            q = qkv[..., head * hd : (head + 1) * hd]
            k = qkv[..., dim + head * hd : dim + (head + 1) * hd]
            v = qkv[..., 2 * dim + head * hd : 2 * dim + (head + 1) * hd]
            scores = (q @ k.transpose(1, 2)) / math.sqrt(hd)
            weights = torch.exp(scores - scores.amax(-1, keepdim=True))
            weights = weights / weights.sum(-1, keepdim=True)
            outs.append(weights @ v)
        attn = torch.cat(outs, dim=-1) @ sd[p + "attn.proj.weight"].T + sd[p + "attn.proj.bias"]
        x = x + attn
        h = ref_layer_norm(x, sd[p + "norm2.weight"], sd[p + "norm2.bias"])
        h = h @ sd[p + "mlp.fc1.weight"].T + sd[p + "mlp.fc1.bias"]
        h = 0.5 * h * (1.0 + torch.erf(h / math.sqrt(2.0)))
        x = x + h @ sd[p + "mlp.fc2.weight"].T + sd[p + "mlp.fc2.bias"]
    return ref_layer_norm(x, sd["norm.weight"], sd["norm.bias"])


def _randomised_model(dtype: torch.dtype) -> VisionTransformer:
    """Tiny model whose every parameter (LayerNorm affine and biases too) is non-trivial."""
    model = load_vjepa(None, "tiny", img_size=32, num_frames=4, seed=1).to(dtype)
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name != "pos_embed":
                noise = torch.randn(param.shape, generator=gen, dtype=torch.float64).to(dtype)
                param.add_(0.1 * noise)
    return model


def test_forward_matches_reference_float64() -> None:
    model = _randomised_model(torch.float64)
    video = torch.randn(
        2, 3, 4, 32, 32, generator=torch.Generator().manual_seed(3), dtype=torch.float64
    )
    expected = ref_forward(model.state_dict(), video, heads=4, depth=2)
    torch.testing.assert_close(model(video), expected, atol=1e-10, rtol=1e-10)


def test_forward_matches_reference_float32() -> None:
    model = _randomised_model(torch.float32)
    video = torch.randn(2, 3, 4, 32, 32, generator=torch.Generator().manual_seed(3))
    sd = {k: v.double() for k, v in model.state_dict().items()}
    expected = ref_forward(sd, video.double(), heads=4, depth=2).float()
    torch.testing.assert_close(model(video), expected, atol=2e-4, rtol=1e-4)


def test_cpu_bf16_autocast_runs_close() -> None:
    model = _randomised_model(torch.float32)
    video = torch.randn(1, 3, 4, 32, 32, generator=torch.Generator().manual_seed(4))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = model(video)
    high = model(video)
    assert torch.isfinite(low).all()
    assert (low.float() - high).abs().mean() < 0.1  # bf16 has ~3 significant digits


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_cuda_autocast_close_to_float32(dtype: torch.dtype) -> None:
    model = _randomised_model(torch.float32).cuda()
    video = torch.randn(2, 3, 4, 32, 32, generator=torch.Generator().manual_seed(5)).cuda()
    high = model(video)
    with torch.autocast("cuda", dtype=dtype):
        low = model(video)
    assert torch.isfinite(low).all()
    assert not torch.equal(low.float(), high)  # autocast was in effect
    assert (low.float() - high).abs().mean() < 0.05


# ----------------------------------------------------------------------- interpolation
def test_interpolation_for_other_size_and_frames() -> None:
    model = load_vjepa(None, "tiny", img_size=64, num_frames=16)
    out = model(torch.randn(1, 3, 8, 32, 48))
    assert out.shape == (1, 4 * 2 * 3, 64)
    # The official code passes a scale factor; same sampling positions as our output size.
    volume = model.pos_embed.reshape(1, 8, 4, 4, 64).permute(0, 4, 1, 2, 3)
    official = F.interpolate(volume, scale_factor=(4 / 8, 2 / 4, 3 / 4), mode="trilinear")
    official = official.permute(0, 2, 3, 4, 1).reshape(1, -1, 64)
    ours = interpolate_pos_embed(model.pos_embed, (8, 4, 4), (4, 2, 3))
    torch.testing.assert_close(ours, official)


def test_interpolation_is_identity_at_build_size() -> None:
    table = sincos_pos_embed_3d(64, 8, 4, 4, uniform_power=True).unsqueeze(0)
    assert interpolate_pos_embed(table, (8, 4, 4), (8, 4, 4)) is table


def test_bad_inputs_are_refused() -> None:
    model = load_vjepa(None, "tiny", img_size=64, num_frames=16)
    with pytest.raises(ValueError, match="expected a video batch"):
        model(torch.randn(3, 16, 64, 64))
    with pytest.raises(ValueError, match="multiples"):
        model(torch.randn(1, 3, 15, 64, 64))
    with pytest.raises(ValueError, match="multiple of patch_size"):
        VisionTransformer(60, 16, **_tiny())


def test_random_init_is_seeded() -> None:
    a = load_vjepa(None, "tiny", img_size=32, num_frames=4, seed=0).state_dict()
    b = load_vjepa(None, "tiny", img_size=32, num_frames=4, seed=0).state_dict()
    c = load_vjepa(None, "tiny", img_size=32, num_frames=4, seed=1).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["blocks.0.attn.qkv.weight"], c["blocks.0.attn.qkv.weight"])
    # upstream init: LayerNorm 1/0, biases 0, deeper blocks' output projections scaled down
    assert torch.equal(a["norm.weight"], torch.ones(64)) and not a["blocks.1.mlp.fc1.bias"].any()
    assert a["blocks.1.attn.proj.weight"].std() < a["blocks.1.attn.qkv.weight"].std()

"""Tests of vjepa_fer.models.registry: encoders built by name, and optional registrations."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn as nn

from vjepa_fer.models import registry
from vjepa_fer.models.registry import available_encoders, build_encoder, register_encoder


def test_builtin_names() -> None:
    assert {"vit_large", "vit_huge", "vit_giant", "tiny"} <= set(available_encoders())


@pytest.mark.parametrize(
    ("name", "dim", "depth", "hidden"),
    [("vit_large", 1024, 24, 4096), ("vit_huge", 1280, 32, 5120), ("vit_giant", 1408, 40, 6144)],
)
def test_presets_built_by_name(name: str, dim: int, depth: int, hidden: int) -> None:
    model = build_encoder(name, img_size=384, num_frames=16, device="meta")  # shapes only
    assert (model.embed_dim, model.num_heads, model.patch_size, model.tubelet_size) == (
        dim,
        16,
        16,
        2,
    )
    assert len(model.blocks) == depth and model.blocks[-1].mlp.fc1.out_features == hidden
    assert model.pos_embed.shape == (1, 8 * 24 * 24, dim)  # 4608 tokens at 384 px, 16 frames


def test_tiny_random_and_overrides() -> None:
    model = build_encoder("tiny", img_size=64, num_frames=16, seed=4)
    assert model(torch.randn(1, 3, 16, 64, 64)).shape == (1, 128, 64)
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    deeper = build_encoder("tiny", img_size=64, num_frames=16, depth=3, embed_dim=32, num_heads=2)
    assert len(deeper.blocks) == 3 and deeper.embed_dim == 32
    with pytest.raises(TypeError, match="unknown ViT option"):
        build_encoder("tiny", img_size=64, num_frames=16, dept=3)


def test_tiny_from_checkpoint(tmp_path: Path) -> None:
    source = build_encoder("tiny", img_size=64, num_frames=16, seed=9)
    state = {"module.backbone." + k: v for k, v in source.state_dict().items()}
    path = tmp_path / "tiny.pth.tar"
    torch.save({"encoder": {}, "target_encoder": state, "predictor": {}, "epoch": 1}, path)
    model = build_encoder("tiny", img_size=64, num_frames=16, checkpoint=path)
    loaded, original = model.state_dict(), source.state_dict()
    assert loaded.keys() == original.keys()
    assert all(torch.equal(loaded[k], original[k]) for k in loaded)
    with pytest.raises(ValueError, match="tiny.pth.tar"):
        build_encoder("tiny", img_size=64, num_frames=16, checkpoint=path, checkpoint_key="encoder")


def test_unknown_name_lists_choices() -> None:
    with pytest.raises(KeyError, match="vit_huge"):
        build_encoder("vit_enormous", img_size=224, num_frames=16)


class _Constant(nn.Module):
    embed_dim, num_heads, patch_size, tubelet_size = 8, 2, 16, 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, _, T, H, W = x.shape
        return torch.zeros(B, (T // 2) * (H // 16) * (W // 16), 8)


def test_register_encoder_decorator(monkeypatch: pytest.MonkeyPatch) -> None:
    registry._import_optional()  # optional modules register into the real table, not the copy
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    calls = {}

    @register_encoder("constant")
    def make(*, img_size, num_frames, checkpoint, checkpoint_key, **kw):
        calls.update(img_size=img_size, num_frames=num_frames, checkpoint=checkpoint, kw=kw)
        return _Constant()

    model = build_encoder("constant", img_size=32, num_frames=4, flag=True)
    assert model(torch.zeros(1, 3, 4, 32, 32)).shape == (1, 8, 8)
    assert calls == {"img_size": 32, "num_frames": 4, "checkpoint": None, "kw": {"flag": True}}
    with pytest.raises(ValueError, match="already registered"):
        register_encoder("constant")(make)

    @register_encoder("attributeless")
    def bad(**_kw):
        return nn.Identity()

    with pytest.raises(TypeError, match="embed_dim"):
        build_encoder("attributeless", img_size=32, num_frames=4)


def test_top_level_exports_are_lazy():
    import subprocess
    import sys

    code = (
        "import sys, vjepa_fer; assert 'torch' not in sys.modules; "
        "from vjepa_fer import load_vjepa, build_encoder; assert 'torch' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_real_encoder_needs_a_checkpoint_or_random_weights():
    from vjepa_fer.config import RANDOM_WEIGHT_ENCODERS
    from vjepa_fer.models.registry import RANDOM_BY_DESIGN, require_weights

    with pytest.raises(ValueError, match=r"encoder\.checkpoint.*--random-weights"):
        require_weights("vit_huge", None, random_weights=False)
    require_weights("vit_huge", None, random_weights=True)
    require_weights("vit_huge", "w.pth.tar", random_weights=False)
    require_weights("tiny", None, random_weights=False)
    assert RANDOM_WEIGHT_ENCODERS == RANDOM_BY_DESIGN  # the torch-free config check agrees

"""Tests for vjepa_fer.models.hf: HF transformers encoders behind the project's encoder interface.

Tiny random configs only, no network (HF_HUB_OFFLINE=1, local_files_only everywhere).
Run: pytest tests/unit/models/test_hf.py
"""

from __future__ import annotations

import ast
import json
import shutil
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")

from vjepa_fer.models import available_encoders, build_encoder, hf  # noqa: E402

IMG, FRAMES, TUBELET, PATCH, DIM, HEADS = 64, 16, 2, 16, 64, 4
N_TOKENS = (FRAMES // TUBELET) * (IMG // PATCH) * (IMG // PATCH)  # 8 * 4 * 4 = 128

TINY = {
    "vjepa2": {
        "hidden_size": DIM,
        "num_hidden_layers": 2,
        "num_attention_heads": HEADS,
        "patch_size": PATCH,
        "tubelet_size": TUBELET,
        # The predictor is built but never run: keep it minimal.
        "pred_hidden_size": 32,
        "pred_num_hidden_layers": 1,
        "pred_num_attention_heads": 4,
        "num_pooler_layers": 1,
    },
    "videomae": {
        "hidden_size": DIM,
        "num_hidden_layers": 2,
        "num_attention_heads": HEADS,
        "intermediate_size": 4 * DIM,
        "patch_size": PATCH,
        "tubelet_size": TUBELET,
    },
}
FAMILIES = ["vjepa2", "videomae"]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _tiny(family: str, seed: int = 0) -> hf._HFVideoEncoder:
    return hf.build_hf_encoder(
        family, img_size=IMG, num_frames=FRAMES, config=TINY[family], seed=seed
    )


def _clip(batch: int = 2, frames: int = FRAMES, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, frames, IMG, IMG, generator=g)  # (B, 3, T, H, W)


def _hf_direct(family: str, encoder: hf._HFVideoEncoder, x: torch.Tensor) -> torch.Tensor:
    """The HF model called as its documentation says, on a (B, T, 3, H, W) tensor."""
    video = x.permute(0, 2, 1, 3, 4).contiguous()  # (B, T, 3, H, W)
    if family == "vjepa2":
        return encoder.model(pixel_values_videos=video, skip_predictor=True).last_hidden_state
    return encoder.model(pixel_values=video).last_hidden_state


@pytest.mark.parametrize("family", FAMILIES)
def test_shape_attributes_and_frozen(family: str) -> None:
    enc = _tiny(family)
    with torch.no_grad():
        out = enc(_clip())
    assert out.shape == (2, N_TOKENS, DIM)
    assert torch.isfinite(out).all()
    assert (enc.embed_dim, enc.num_heads, enc.patch_size, enc.tubelet_size) == (
        DIM,
        HEADS,
        PATCH,
        TUBELET,
    )
    assert enc.grid == (FRAMES // TUBELET, IMG // PATCH, IMG // PATCH)
    assert not enc.training and not enc.model.training
    assert not any(p.requires_grad for p in enc.parameters())
    assert enc.model.config._attn_implementation == "sdpa"
    enc.train()  # a parent's .train() must not unfreeze dropout / drop-path
    assert not enc.training and not enc.model.training


@pytest.mark.parametrize("family", FAMILIES)
def test_matches_hf_model_on_permuted_input(family: str) -> None:
    enc = _tiny(family)
    x = _clip()
    with torch.no_grad():
        ours = enc(x)
        ref = _hf_direct(family, enc, x)
        # The classic layout bug, a reshape instead of a permute, must give other tokens:
        # otherwise the comparison above could not catch a wrong layout.
        wrong = x.reshape(2, FRAMES, 3, IMG, IMG)  # (B, T, 3, H, W) but channels mixed
        wrong_out = _hf_direct(family, enc, wrong.permute(0, 2, 1, 3, 4))
    torch.testing.assert_close(ours, ref, rtol=0, atol=0)
    assert not torch.allclose(wrong_out, ours, atol=1e-3)


@pytest.mark.parametrize("family", FAMILIES)
def test_deterministic_and_seeded(family: str) -> None:
    x = _clip()
    a, b, c = _tiny(family, seed=0), _tiny(family, seed=0), _tiny(family, seed=1)
    with torch.no_grad():
        out_a = a(x)
        torch.testing.assert_close(a(x), out_a, rtol=0, atol=0)
        torch.testing.assert_close(b(x), out_a, rtol=0, atol=0)
        assert not torch.allclose(c(x), out_a)


def test_register_hf_encoders_names() -> None:
    builders: dict[str, object] = {}

    def register(name: str):
        def deco(fn):
            builders[name] = fn
            return fn

        return deco

    hf.register_hf_encoders(register)
    expected = {"vjepa2_hf", "videomae_hf", *hf.VJEPA2_PRESETS, *hf.VIDEOMAE_PRESETS}
    assert set(builders) == expected
    assert set(expected) <= set(available_encoders())


@pytest.mark.parametrize("family", FAMILIES)
def test_save_and_reload_via_registry(family: str, tmp_path) -> None:
    enc = build_encoder(f"{family}_hf", img_size=IMG, num_frames=FRAMES, config=TINY[family])
    enc.model.save_pretrained(tmp_path / "model")
    loaded = build_encoder(
        f"{family}_hf", img_size=IMG, num_frames=FRAMES, checkpoint=str(tmp_path / "model")
    )
    x = _clip()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), enc(x), rtol=0, atol=0)
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    assert loaded.model.config._attn_implementation == "sdpa"
    assert "torchvision" not in sys.modules


def test_preset_falls_back_to_hub_id_offline(tmp_path) -> None:
    # No checkpoint: the preset's hub id, looked up only in the (empty) cache_dir.
    with pytest.raises(FileNotFoundError, match="facebook/vjepa2-vitl-fpc64-256"):
        build_encoder("vjepa2_vitl_fpc64_256", img_size=256, num_frames=16, cache_dir=tmp_path)


def test_vjepa2_other_resolution_and_frame_count(tmp_path) -> None:
    # RoPE has no parameters: the same weights run at another size once img_size is set to it.
    _tiny("vjepa2").model.save_pretrained(tmp_path / "m")
    enc = hf.build_hf_encoder("vjepa2", img_size=32, num_frames=4, checkpoint=tmp_path / "m")
    with torch.no_grad():
        out = enc(torch.zeros(1, 3, 8, 32, 32))
    assert out.shape == (1, 4 * 2 * 2, DIM)
    with pytest.raises(ValueError, match="32x32"):
        enc(torch.zeros(1, 3, 8, 64, 64))
    with pytest.raises(ValueError, match="multiple of the tubelet"):
        enc(torch.zeros(1, 3, 7, 32, 32))


def test_videomae_rejects_other_frame_count() -> None:
    with pytest.raises(ValueError, match="16 frames"):
        _tiny("videomae")(_clip(frames=8))


def test_missing_directory_names_path(tmp_path) -> None:
    missing = tmp_path / "no_such_model"
    with pytest.raises(FileNotFoundError, match="no_such_model"):
        hf.build_hf_encoder("vjepa2", img_size=IMG, num_frames=FRAMES, checkpoint=missing)


def test_malformed_directories(tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no config.json"):
        hf.build_hf_encoder("vjepa2", img_size=IMG, num_frames=FRAMES, checkpoint=empty)

    saved = tmp_path / "vjepa2"
    _tiny("vjepa2").model.save_pretrained(saved)
    with pytest.raises(ValueError, match="expected 'videomae'"):
        hf.build_hf_encoder("videomae", img_size=IMG, num_frames=FRAMES, checkpoint=saved)

    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    shutil.copy(saved / "config.json", no_weights / "config.json")
    with pytest.raises(ValueError, match="no_weights"):
        hf.build_hf_encoder("vjepa2", img_size=IMG, num_frames=FRAMES, checkpoint=no_weights)


def test_checkpoint_with_missing_encoder_weights_is_refused(tmp_path) -> None:
    # A VideoMAE checkpoint with a different depth: layer 1 would silently be random in HF.
    saved = tmp_path / "shallow"
    hf.build_hf_encoder(
        "videomae",
        img_size=IMG,
        num_frames=FRAMES,
        config={**TINY["videomae"], "num_hidden_layers": 1},
    ).model.save_pretrained(saved)
    config = json.loads((saved / "config.json").read_text())
    config["num_hidden_layers"] = 2
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="weights missing"):
        hf.build_hf_encoder("videomae", img_size=IMG, num_frames=FRAMES, checkpoint=saved)


def test_hub_id_needs_cache_or_allow_download(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="allow_download=True"):
        hf.build_hf_encoder(
            "vjepa2",
            img_size=IMG,
            num_frames=FRAMES,
            checkpoint="vjepa-fer-test/not-a-real-model",
            cache_dir=tmp_path,
        )


def test_config_must_agree_with_geometry_and_exactly_one_source(tmp_path) -> None:
    with pytest.raises(ValueError, match="contradicts"):
        hf.build_hf_encoder(
            "vjepa2", img_size=IMG, num_frames=FRAMES, config={**TINY["vjepa2"], "crop_size": 32}
        )
    with pytest.raises(ValueError, match="exactly one"):
        hf.build_hf_encoder("vjepa2", img_size=IMG, num_frames=FRAMES)


def test_preprocessor_normalisation_is_read(tmp_path) -> None:
    saved = tmp_path / "m"
    _tiny("videomae").model.save_pretrained(saved)
    (saved / "preprocessor_config.json").write_text(
        json.dumps({"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]})
    )
    enc = hf.build_hf_encoder("videomae", img_size=IMG, num_frames=FRAMES, checkpoint=saved)
    assert enc.input_mean == (0.5, 0.5, 0.5) and enc.input_std == (0.5, 0.5, 0.5)
    assert _tiny("videomae").input_mean == hf.IMAGENET_MEAN


def test_transformers_is_imported_lazily_and_torchvision_never() -> None:
    # Module level must not import transformers (optional extra, and the registry imports this
    # module on any unknown encoder name). Checked on the source: a fresh interpreter costs ~8 s.
    tree = ast.parse(Path(hf.__file__).read_text(encoding="utf-8"))
    top_level = [
        alias.name if isinstance(node, ast.Import) else node.module
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in (node.names if isinstance(node, ast.Import) else [None])
    ]
    assert not [m for m in top_level if m and m.split(".")[0] in {"transformers", "torchvision"}]
    _tiny("vjepa2")
    _tiny("videomae")
    # torchvision's presence breaks transformers on CPU-only machines: building must not load it.
    assert "torchvision" not in sys.modules

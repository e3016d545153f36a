"""Tests of vjepa_fer.models.checkpoint: loading checkpoints laid out like the official V-JEPA 1
``.pth.tar`` files (``{'encoder', 'target_encoder', 'predictor', 'epoch', ...}``, keys prefixed
``module.backbone.``), built here from tiny random models and saved with torch.save."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from vjepa_fer.models.checkpoint import load_vjepa, read_encoder_state
from vjepa_fer.models.pos_embed import sincos_pos_embed_3d


def _state(
    seed: int,
    img_size: int = 64,
    num_frames: int = 16,
    prefix: str = "module.backbone.",
    uniform_power: bool = True,
):
    model = load_vjepa(None, "tiny", img_size, num_frames, seed=seed, uniform_power=uniform_power)
    return {prefix + k: v.clone() for k, v in model.state_dict().items()}


def _save(path: Path, **entries: object) -> Path:
    checkpoint = {"predictor": {}, "epoch": 3, "opt": {"state": {}, "param_groups": []}}
    checkpoint.update(entries)
    torch.save(checkpoint, path)
    return path


def _same(model: torch.nn.Module, state: dict[str, torch.Tensor], prefix: str) -> bool:
    own = model.state_dict()
    return all(torch.equal(own[k], state[prefix + k]) for k in own)


@pytest.fixture
def official(tmp_path: Path) -> tuple[Path, dict, dict]:
    """Official layout whose encoder and target_encoder differ."""
    encoder, target = _state(seed=10), _state(seed=20)
    path = _save(tmp_path / "vjepa-tiny.pth.tar", encoder=encoder, target_encoder=target)
    return path, encoder, target


def test_loads_target_encoder_by_default(official: tuple[Path, dict, dict]) -> None:
    path, encoder, target = official
    model = load_vjepa(path, "tiny", img_size=64, num_frames=16)
    assert _same(model, target, "module.backbone.")
    assert not _same(model, encoder, "module.backbone.")
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert model(torch.randn(1, 3, 16, 64, 64)).shape == (1, 128, 64)


def test_checkpoint_key_encoder(official: tuple[Path, dict, dict]) -> None:
    path, encoder, _ = official
    model = load_vjepa(path, "tiny", img_size=64, num_frames=16, checkpoint_key="encoder")
    assert _same(model, encoder, "module.backbone.")


def test_falls_back_to_encoder_with_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    encoder = _state(seed=10)
    path = _save(tmp_path / "no-target.pth.tar", encoder=encoder)
    with caplog.at_level(logging.WARNING, logger="vjepa_fer.models.checkpoint"):
        model = load_vjepa(path, "tiny", img_size=64, num_frames=16)
    assert _same(model, encoder, "module.backbone.")
    assert "falling back to 'encoder'" in caplog.text


@pytest.mark.parametrize("prefix", ["module.backbone.", "module.", "backbone.", ""])
def test_prefix_stripping(tmp_path: Path, prefix: str) -> None:
    target = _state(seed=5, prefix=prefix)
    path = _save(
        tmp_path / "p.pth.tar", encoder=_state(seed=6, prefix=prefix), target_encoder=target
    )
    state = read_encoder_state(path)
    assert "blocks.0.attn.qkv.weight" in state and not any("module" in k for k in state)
    assert _same(load_vjepa(path, "tiny", img_size=64, num_frames=16), target, prefix)


def test_pos_embed_of_other_resolution_is_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = _state(seed=7, img_size=32)  # pos_embed (1, 8*2*2, 64)
    path = _save(
        tmp_path / "32px.pth.tar", encoder=_state(seed=8, img_size=32), target_encoder=target
    )
    with caplog.at_level(logging.INFO, logger="vjepa_fer.models.checkpoint"):
        model = load_vjepa(path, "tiny", img_size=64, num_frames=16)
    assert "keeping the model's own table" in caplog.text
    own = sincos_pos_embed_3d(64, 8, 4, 4, uniform_power=True).unsqueeze(0)
    assert torch.equal(model.pos_embed, own)
    weights = {k: v for k, v in target.items() if not k.endswith("pos_embed")}
    assert _same_subset(model, weights, "module.backbone.")


def test_stored_pos_embed_is_used_and_checked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = _state(seed=7, uniform_power=False)  # same shape, other table
    path = _save(tmp_path / "nonuniform.pth.tar", target_encoder=target)
    with caplog.at_level(logging.WARNING, logger="vjepa_fer.models.checkpoint"):
        model = load_vjepa(path, "tiny", img_size=64, num_frames=16)
    assert torch.equal(model.pos_embed, target["module.backbone.pos_embed"])
    assert "differs from the sin-cos table with uniform_power=True" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vjepa_fer.models.checkpoint"):
        load_vjepa(path, "tiny", img_size=64, num_frames=16, uniform_power=False)
    assert "differs" not in caplog.text


def _same_subset(model: torch.nn.Module, state: dict, prefix: str) -> bool:
    own = model.state_dict()
    return all(torch.equal(own[k[len(prefix) :]], v) for k, v in state.items())


def test_missing_key_is_an_error_naming_the_file(tmp_path: Path) -> None:
    target = _state(seed=1)
    del target["module.backbone.blocks.1.mlp.fc2.bias"]
    path = _save(tmp_path / "broken.pth.tar", encoder=_state(seed=2), target_encoder=target)
    with pytest.raises(
        ValueError, match=r"broken\.pth\.tar.*missing keys \[blocks\.1\.mlp\.fc2\.bias\]"
    ):
        load_vjepa(path, "tiny", img_size=64, num_frames=16)


def test_unexpected_key_and_wrong_architecture_are_errors(tmp_path: Path) -> None:
    target = _state(seed=1)
    target["module.backbone.cls_token"] = torch.zeros(1, 1, 64)
    path = _save(tmp_path / "extra.pth.tar", target_encoder=target)
    with pytest.raises(ValueError, match=r"extra\.pth\.tar.*unexpected keys \[cls_token\]"):
        load_vjepa(path, "tiny", img_size=64, num_frames=16)
    path = _save(tmp_path / "tiny.pth.tar", target_encoder=_state(seed=1))
    with pytest.raises(ValueError, match=r"tiny\.pth\.tar: blocks\.0\.mlp\.fc1\.weight has shape"):
        load_vjepa(path, {"embed_dim": 64, "depth": 2, "num_heads": 4, "mlp_ratio": 2.0}, 64, 16)


def test_interpolation_for_another_input_size(official: tuple[Path, dict, dict]) -> None:
    path, _, target = official
    model = load_vjepa(path, "tiny", img_size=64, num_frames=16)
    assert model(torch.randn(1, 3, 8, 48, 48)).shape == (1, 4 * 3 * 3, 64)
    # stored table untouched by the interpolation
    assert torch.equal(model.pos_embed, target["module.backbone.pos_embed"])


def test_pickled_object_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    path = _save(tmp_path / "evil.pth.tar", target_encoder=_state(seed=1), extra=_Payload(marker))
    with pytest.raises(ValueError, match=r"evil\.pth\.tar: refused to load"):
        load_vjepa(path, "tiny", img_size=64, num_frames=16)
    assert not marker.exists()


class _Payload:
    """Unpickling this would run _touch(marker): weights_only must refuse it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (_touch, (str(self.marker),))


def _touch(path: str) -> None:
    Path(path).write_text("unpickled")


def test_missing_file_and_bad_content(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothere.pth.tar"):
        load_vjepa(tmp_path / "nothere.pth.tar", "tiny", 64, 16)
    garbage = tmp_path / "garbage.pth.tar"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="garbage.pth.tar"):
        load_vjepa(garbage, "tiny", 64, 16)
    listed = tmp_path / "list.pth.tar"
    torch.save([1, 2, 3], listed)
    with pytest.raises(ValueError, match="expected a dict checkpoint"):
        load_vjepa(listed, "tiny", 64, 16)
    nokey = _save(tmp_path / "nokey.pth.tar", classifier={})
    with pytest.raises(ValueError, match="neither 'target_encoder' nor 'encoder'"):
        load_vjepa(nokey, "tiny", 64, 16)


def test_random_init_when_no_checkpoint() -> None:
    a = load_vjepa(None, "tiny", 64, 16, seed=3)
    b = load_vjepa(None, "tiny", 64, 16, seed=3)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not a.training and not any(p.requires_grad for p in a.parameters())


def test_a_swapped_checkpoint_is_hashed_again_despite_a_newer_sidecar(tmp_path):
    """The sidecar's digest is trusted only while the file has the size and mtime the sidecar
    recorded: a file swapped afterwards (its mtime older than the sidecar's, as `cp -p` keeps
    it) is hashed again instead of inheriting the old digest."""
    import hashlib
    import os

    from vjepa_fer.io import write_digest_sidecar
    from vjepa_fer.probe.inputs import checkpoint_sha256

    ckpt = tmp_path / "w.pth.tar"
    ckpt.write_bytes(b"original weights")
    digest = hashlib.sha256(b"original weights").hexdigest()
    sidecar = write_digest_sidecar(ckpt, digest)
    assert checkpoint_sha256(ckpt) == digest
    # Trusted without hashing: a sidecar with a made-up digest is believed while stats match.
    sidecar.write_text(sidecar.read_text().replace(digest, "f" * 64))
    assert checkpoint_sha256(ckpt) == "f" * 64
    old = ckpt.stat()
    ckpt.write_bytes(b"swapped in weights")
    os.utime(ckpt, ns=(old.st_atime_ns, old.st_mtime_ns - 10**9))  # older than the sidecar
    assert sidecar.stat().st_mtime > ckpt.stat().st_mtime
    assert checkpoint_sha256(ckpt) == hashlib.sha256(b"swapped in weights").hexdigest()
    # Same size, mtime restored: only the digest would tell (not trusted without a record).
    legacy = tmp_path / "legacy.pth.tar"
    legacy.write_bytes(b"abc")
    (tmp_path / "legacy.pth.tar.sha256").write_text("0" * 64 + "  legacy.pth.tar\n")
    assert checkpoint_sha256(legacy) == hashlib.sha256(b"abc").hexdigest()

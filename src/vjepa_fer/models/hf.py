"""Optional third-party video encoders from Hugging Face ``transformers`` (V-JEPA 2, VideoMAE).

Implements the "optional third-party encoders" entry of the encoder registry (docs/encoders.md:
encoders by name from one registry; docs/protocol.md, "Encoder": frozen, eval mode, every token
out, no pooling). The wrappers take the clip tensor the pipeline already produces — a
float ``(B, 3, T, H, W)`` tensor, resized and normalised with the ImageNet mean/std — and return the
encoder's last hidden state ``(B, N, D)`` with ``N = (T / tubelet) * (H / patch) * (W / patch)``.

No ``transformers`` processor is used: ``VJEPA2VideoProcessor`` needs torchvision, which is not
usable here, and the pipeline does its own resizing and normalisation. ``transformers`` is imported
only inside functions, so importing this module stays cheap and works without the ``hf`` extra.

Weights come from a local directory written by ``save_pretrained`` or ``hf download --local-dir``
(always ``local_files_only=True``), from the local Hugging Face cache for a hub id, or (only with
an explicit ``allow_download=True``) from the hub. Usage::

    enc = build_encoder("vjepa2_vitl_fpc64_256", img_size=256, num_frames=16,
                        checkpoint="resources/hf/vjepa2-vitl-fpc64-256")
    tokens = enc(clips)  # (B, 3, 16, 256, 256) -> (B, 2048, 1024)

Tests: ``pytest tests/unit/models/test_hf.py``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vjepa_fer.models.registry import register_encoder

logger = logging.getLogger(__name__)

# ImageNet mean/std: what the pipeline normalises with (docs/protocol.md, "Clips").
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Registry name -> Hugging Face hub id of a real checkpoint.
VJEPA2_PRESETS: dict[str, str] = {
    "vjepa2_vitl_fpc64_256": "facebook/vjepa2-vitl-fpc64-256",
    "vjepa2_vith_fpc64_256": "facebook/vjepa2-vith-fpc64-256",
    "vjepa2_vitg_fpc64_256": "facebook/vjepa2-vitg-fpc64-256",
    "vjepa2_vitg_fpc64_384": "facebook/vjepa2-vitg-fpc64-384",
}
VIDEOMAE_PRESETS: dict[str, str] = {
    "videomae_base": "MCG-NJU/videomae-base",
    "videomae_large": "MCG-NJU/videomae-large",
}

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _as_int_patch(patch: int | list[int] | tuple[int, ...], where: str) -> int:
    """HF configs allow (h, w) patch sizes; the pipeline's token grid assumes square patches."""
    if isinstance(patch, int):
        return patch
    if len(set(patch)) != 1:
        raise ValueError(f"{where}: non-square patch size {patch} is not supported")
    return int(patch[0])


class _HFVideoEncoder(nn.Module):
    """Frozen wrapper: checks a ``(B, 3, T, H, W)`` clip, permutes it, returns ``(B, N, D)``."""

    def __init__(
        self,
        model: nn.Module,
        *,
        embed_dim: int,
        num_heads: int,
        num_layers: int,
        patch_size: int,
        tubelet_size: int,
        img_size: int,
        num_frames: int,
        fixed_num_frames: bool,
    ) -> None:
        super().__init__()
        if img_size % patch_size or num_frames % tubelet_size:
            raise ValueError(
                f"img_size {img_size} must be a multiple of patch_size {patch_size} and "
                f"num_frames {num_frames} a multiple of tubelet_size {tubelet_size}"
            )
        self.model = model
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.num_layers = num_layers
        self.patch_size = patch_size
        self.tubelet_size = tubelet_size
        self.img_size = img_size
        self.num_frames = num_frames
        self.grid = self.token_grid(num_frames, img_size, img_size)
        # VideoMAE's 1-D sin-cos table is sized for exactly num_frames; V-JEPA 2 uses RoPE and
        # accepts any multiple of the tubelet.
        self._fixed_num_frames = fixed_num_frames
        self.input_mean: tuple[float, ...] = IMAGENET_MEAN
        self.input_std: tuple[float, ...] = IMAGENET_STD
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> _HFVideoEncoder:
        # The encoder is frozen (docs/protocol.md, "Frozen"): a parent module's .train() must
        # never switch on dropout / drop-path inside it.
        return super().train(False)

    def token_grid(self, num_frames: int, height: int, width: int) -> tuple[int, int, int]:
        """Token grid (t, h, w) of an input of that size; N is their product (t slowest)."""
        return (
            num_frames // self.tubelet_size,
            height // self.patch_size,
            width // self.patch_size,
        )

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 5 or x.shape[1] != 3:
            raise ValueError(
                f"{type(self).__name__} expects a (B, 3, T, H, W) clip, got {tuple(x.shape)}"
            )
        _, _, t, h, w = x.shape
        if h != self.img_size or w != self.img_size:
            raise ValueError(
                f"{type(self).__name__} was built for {self.img_size}x{self.img_size} px "
                f"(its position grid depends on it), got {h}x{w}; rebuild with img_size={h}"
            )
        if t % self.tubelet_size:
            # Conv3d with stride = tubelet would silently drop the trailing frame(s).
            raise ValueError(f"T={t} is not a multiple of the tubelet size {self.tubelet_size}")
        if self._fixed_num_frames and t != self.num_frames:
            raise ValueError(
                f"{type(self).__name__} was built for {self.num_frames} frames, got T={t}"
            )

    def _to_hf_layout(self, x: torch.Tensor) -> torch.Tensor:
        """Check the clip and permute it to the layout HF video models take."""
        self._check(x)
        # HF video models take (B, T, 3, H, W) and permute back to (B, 3, T, H, W) for Conv3d.
        return x.permute(0, 2, 1, 3, 4)  # (B, T, 3, H, W)


class HFVJEPA2Encoder(_HFVideoEncoder):
    """V-JEPA 2 encoder (``transformers.VJEPA2Model``), predictor unused."""

    def __init__(self, model: nn.Module) -> None:
        cfg = model.config
        super().__init__(
            model,
            embed_dim=cfg.hidden_size,
            num_heads=cfg.num_attention_heads,
            num_layers=cfg.num_hidden_layers,
            patch_size=_as_int_patch(cfg.patch_size, "VJEPA2Config"),
            tubelet_size=cfg.tubelet_size,
            # RoPE derives the token's (h, w) from crop_size // patch_size: input must match it.
            img_size=cfg.crop_size,
            num_frames=cfg.frames_per_clip,
            fixed_num_frames=False,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map a normalised clip ``(B, 3, T, H, W)`` to tokens ``(B, N, D)``, t slowest."""
        pixel_values = self._to_hf_layout(x)  # (B, T, 3, H, W)
        # Call the encoder sub-module directly: VJEPA2Model.forward would also build full-length
        # masks and gather a masked copy of every token, which the frozen pipeline never uses.
        # Its last_hidden_state is after the final LayerNorm, as in the reference encoder.
        return self.model.encoder(pixel_values_videos=pixel_values).last_hidden_state


class HFVideoMAEEncoder(_HFVideoEncoder):
    """VideoMAE encoder (``transformers.VideoMAEModel``), no masking, no pooling."""

    def __init__(self, model: nn.Module) -> None:
        cfg = model.config
        image_size = cfg.image_size
        if not isinstance(image_size, int):
            if len(set(image_size)) != 1:
                raise ValueError(f"VideoMAEConfig: non-square image size {image_size}")
            image_size = int(image_size[0])
        super().__init__(
            model,
            embed_dim=cfg.hidden_size,
            num_heads=cfg.num_attention_heads,
            num_layers=cfg.num_hidden_layers,
            patch_size=_as_int_patch(cfg.patch_size, "VideoMAEConfig"),
            tubelet_size=cfg.tubelet_size,
            img_size=image_size,
            num_frames=cfg.num_frames,
            fixed_num_frames=True,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map a normalised clip ``(B, 3, T, H, W)`` to tokens ``(B, N, D)``, t slowest."""
        pixel_values = self._to_hf_layout(x)  # (B, T, 3, H, W)
        # With use_mean_pooling=True (fine-tuned checkpoints) VideoMAEModel has no final norm:
        # the fc_norm belongs to the classification head, so these tokens are un-normalised.
        return self.model(pixel_values=pixel_values).last_hidden_state


# --------------------------------------------------------------------------- loading


def _hf_classes(family: str) -> tuple[type, type, type[_HFVideoEncoder]]:
    """Import the modeling modules directly, never ``transformers``' processors or auto classes."""
    if family == "vjepa2":
        from transformers.models.vjepa2.configuration_vjepa2 import VJEPA2Config
        from transformers.models.vjepa2.modeling_vjepa2 import VJEPA2Model

        return VJEPA2Config, VJEPA2Model, HFVJEPA2Encoder
    if family == "videomae":
        from transformers.models.videomae.configuration_videomae import VideoMAEConfig
        from transformers.models.videomae.modeling_videomae import VideoMAEModel

        return VideoMAEConfig, VideoMAEModel, HFVideoMAEEncoder
    raise ValueError(f"unknown HF encoder family {family!r}")


def _geometry(family: str, img_size: int, num_frames: int) -> dict[str, int]:
    """Config keys that carry the clip geometry in each HF family."""
    if family == "vjepa2":
        return {"crop_size": img_size, "frames_per_clip": num_frames}
    return {"image_size": img_size, "num_frames": num_frames}


def _check_local_dir(path: Path, family: str) -> None:
    """Fail early, naming the directory, instead of transformers' generic OSError."""
    if not path.is_dir():
        raise FileNotFoundError(f"HF model directory {path} does not exist (or is not a directory)")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ValueError(f"{path} is not a saved Hugging Face model: no config.json in it")
    try:
        model_type = json.loads(config_file.read_text(encoding="utf-8")).get("model_type")
    except (json.JSONDecodeError, AttributeError) as err:
        raise ValueError(f"{config_file}: not a valid JSON config ({err})") from err
    if model_type != family:
        raise ValueError(f"{config_file}: model_type is {model_type!r}, expected {family!r}")


def _read_normalisation(path: Path) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """Mean/std from a saved preprocessor config, read as plain JSON (no processor import)."""
    for name in ("video_preprocessor_config.json", "preprocessor_config.json"):
        file = path / name
        if file.is_file():
            data = json.loads(file.read_text(encoding="utf-8"))
            if "image_mean" in data and "image_std" in data:
                return tuple(data["image_mean"]), tuple(data["image_std"])
    return None


def _load_pretrained(
    family: str,
    source: str,
    *,
    img_size: int,
    num_frames: int,
    allow_download: bool,
    attn_implementation: str,
    dtype: torch.dtype,
    cache_dir: str | os.PathLike[str] | None,
) -> tuple[nn.Module, Path | None]:
    _, model_cls, _ = _hf_classes(family)
    path = Path(source).expanduser()
    local = path.exists() or not _HUB_ID.match(source)
    if local:
        _check_local_dir(path, family)
    load_kw: dict[str, Any] = {
        "local_files_only": not allow_download or local,
        "attn_implementation": attn_implementation,
        "dtype": dtype,
        "output_loading_info": True,
        "cache_dir": cache_dir,
        # The requested clip geometry overrides the checkpoint's: no parameter depends on it
        # (V-JEPA 2: RoPE grid; VideoMAE: a recomputed, non-persistent sin-cos table).
        **_geometry(family, img_size, num_frames),
    }
    try:
        model, info = model_cls.from_pretrained(str(path) if local else source, **load_kw)
    except OSError as err:
        if local:
            raise ValueError(f"cannot load the HF model in {path}: {err}") from err
        if allow_download:
            raise FileNotFoundError(f"cannot download the HF model {source}: {err}") from err
        raise FileNotFoundError(
            f"{source} is neither an existing directory nor in the local Hugging Face cache, "
            f"and downloads are off; run `hf download {source} --local-dir DIR` and pass "
            "checkpoint=DIR, or pass allow_download=True"
        ) from err
    # transformers only warns about missing weights and initialises them at random: for a frozen
    # encoder that is a silent disaster, so refuse (V-JEPA 2's predictor is never used).
    missing = sorted(k for k in info["missing_keys"] if not k.startswith("predictor."))
    if missing:
        raise ValueError(
            f"{source}: {len(missing)} encoder weights missing from the checkpoint "
            f"(e.g. {missing[:3]}); is it a {family} model?"
        )
    return model, (path if local else None)


def build_hf_encoder(
    family: str,
    *,
    img_size: int,
    num_frames: int,
    checkpoint: str | os.PathLike[str] | None = None,
    config: Mapping[str, Any] | None = None,
    allow_download: bool = False,
    attn_implementation: str = "sdpa",
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
    device: str | torch.device | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> _HFVideoEncoder:
    """Build a frozen HF video encoder of ``family`` (``"vjepa2"`` or ``"videomae"``).

    Exactly one of ``checkpoint`` and ``config`` must be given. ``checkpoint`` is a local
    ``save_pretrained`` directory, or a hub id read from the local cache (or ``cache_dir``) and
    downloaded only if ``allow_download``; ``config`` is a dict of HF config fields for random
    weights drawn from ``seed`` (tests, smoke runs). ``img_size`` and ``num_frames`` set the clip
    geometry and override the checkpoint's. Weights stay in ``dtype`` (fp32 by default; the
    pipeline runs bf16 through autocast) and move to ``device`` if given.
    """
    if (checkpoint is None) == (config is None):
        raise ValueError(f"{family}: pass exactly one of checkpoint= (HF model dir) or config=")
    config_cls, model_cls, wrapper_cls = _hf_classes(family)
    geometry = _geometry(family, img_size, num_frames)
    model_dir: Path | None = None
    if config is not None:
        clash = {k: v for k, v in geometry.items() if k in config and config[k] != v}
        if clash:
            raise ValueError(f"{family} config {clash} contradicts img_size/num_frames {geometry}")
        cfg = config_cls(**{**config, **geometry})
        # Random init draws from the global RNG: fork it so the seed is explicit and the
        # caller's RNG state is left untouched.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = model_cls._from_config(cfg, attn_implementation=attn_implementation)
        model = model.to(dtype)
    else:
        model, model_dir = _load_pretrained(
            family,
            os.fspath(checkpoint),
            img_size=img_size,
            num_frames=num_frames,
            allow_download=allow_download,
            attn_implementation=attn_implementation,
            dtype=dtype,
            cache_dir=cache_dir,
        )
    encoder = wrapper_cls(model)
    if device is not None:
        encoder = encoder.to(device)
    norm = _read_normalisation(model_dir) if model_dir is not None else None
    if norm is not None:
        encoder.input_mean, encoder.input_std = norm
        if not torch.allclose(torch.tensor(norm[0]), torch.tensor(IMAGENET_MEAN), atol=1e-3):
            logger.warning(
                "%s expects inputs normalised with mean %s std %s, not ImageNet's",
                model_dir,
                norm[0],
                norm[1],
            )
    logger.info(
        "built %s encoder: %d layers, dim %d, %d heads, %d px, %d frames (%s)",
        family,
        encoder.num_layers,
        encoder.embed_dim,
        encoder.num_heads,
        encoder.img_size,
        encoder.num_frames,
        checkpoint if checkpoint is not None else "random init",
    )
    return encoder


def _builder(family: str, default_checkpoint: str | None) -> Callable[..., nn.Module]:
    """A registry builder ``fn(*, img_size, num_frames, checkpoint=None, ...) -> nn.Module``."""

    def build(
        *,
        img_size: int,
        num_frames: int,
        checkpoint: str | os.PathLike[str] | None = None,
        checkpoint_key: str | None = None,
        **kwargs: Any,
    ) -> nn.Module:
        # checkpoint_key selects a sub-dict of the native .pth.tar files; HF directories have
        # none, so it is accepted (uniform builder signature) and ignored.
        del checkpoint_key
        if checkpoint is None and kwargs.get("config") is None:
            checkpoint = default_checkpoint
        return build_hf_encoder(
            family, img_size=img_size, num_frames=num_frames, checkpoint=checkpoint, **kwargs
        )

    build.__name__ = f"build_{family}_{default_checkpoint or 'hf'}"
    return build


def register_hf_encoders(register: Callable[[str], Callable[[Callable], Callable]]) -> None:
    """Register every HF encoder name with a ``register(name)`` decorator factory."""
    register("vjepa2_hf")(_builder("vjepa2", None))
    register("videomae_hf")(_builder("videomae", None))
    for name, hub_id in VJEPA2_PRESETS.items():
        register(name)(_builder("vjepa2", hub_id))
    for name, hub_id in VIDEOMAE_PRESETS.items():
        register(name)(_builder("videomae", hub_id))


# Registered on import; vjepa_fer.models.registry imports this module on the first unknown name.
register_hf_encoders(register_encoder)

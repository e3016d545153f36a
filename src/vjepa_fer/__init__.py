"""vjepa-fer: facial-expression recognition from video with frozen V-JEPA encoders.

The package holds every step of the Snakemake pipeline as importable code; the rules in
``workflow/rules`` only call the ``vjepa-fer`` command line (``vjepa_fer.cli``).

    from vjepa_fer import load_vjepa, build_encoder
    encoder = load_vjepa("vith16-384.pth.tar", "vit_huge", img_size=384, num_frames=16)
"""

from typing import Any

__version__ = "0.1.0"

# Encoder entry points are resolved lazily so that `import vjepa_fer` (and light CLI stages such
# as `vjepa-fer index`) do not pay for importing torch.
_LAZY = {"load_vjepa": "vjepa_fer.models", "build_encoder": "vjepa_fer.models"}
__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vjepa_fer' has no attribute {name!r}")

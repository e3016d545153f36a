"""Display names of encoders for figures and tables (``vjepa-fer compare-encoders --label``).

An encoder entry of the config has an id (``vjepa-vith16-384``), a registry name (``vit_huge``,
``videomae_base``, ...), an input size and a checkpoint; readers of a figure want
"V-JEPA ViT-H/16, 384 px". No heavy imports: the Snakefile calls :func:`encoder_label`.
"""

from __future__ import annotations

from collections.abc import Mapping

# Registry names of the V-JEPA 1 ViT presets (vjepa_fer.models.vit.VIT_PRESETS).
ARCHITECTURES = {
    "vit_large": "V-JEPA ViT-L/16",
    "vit_huge": "V-JEPA ViT-H/16",
    "vit_giant": "V-JEPA ViT-g/16",
    "tiny": "Tiny ViT (2 blocks)",
    "tiny_deep": "Tiny ViT (4 blocks)",
}
# Hugging Face families (vjepa_fer.models.hf): registry names start with the family.
FAMILIES = {"vjepa2": "V-JEPA 2", "videomae": "VideoMAE"}


def architecture_name(name: str) -> str:
    """``vit_huge`` -> "V-JEPA ViT-H/16", ``videomae_base`` -> "VideoMAE base"; others as given."""
    if name in ARCHITECTURES:
        return ARCHITECTURES[name]
    family, _, rest = name.partition("_")
    if family in FAMILIES:
        rest = " ".join(p for p in rest.split("_") if p != "hf")
        return f"{FAMILIES[family]} {rest}".strip()
    return name


def encoder_label(entry: Mapping) -> str:
    """What a figure calls an encoder entry: architecture, input size, and "random weights"
    when it has no checkpoint (the demo's encoders)."""
    parts = [architecture_name(str(entry["name"]))]
    if entry.get("img_size"):
        parts.append(f"{entry['img_size']} px")
    if not entry.get("checkpoint"):
        parts.append("random weights")
    return ", ".join(parts)

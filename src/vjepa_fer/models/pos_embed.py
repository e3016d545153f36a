"""Fixed 3-D sine-cosine position embedding of the V-JEPA 1 video encoder.

Implements docs/protocol.md, section "Encoder", bullet "Position embedding":

* one 1-D sin-cos code per axis; an axis of ``D`` channels uses the frequencies
  ``omega_k = 10000 ** (-k / (D / 2))``, ``k = 0 .. D/2 - 1``, and lays out
  ``[sin(pos * omega), cos(pos * omega)]`` (all sines first, then all cosines);
* the three axis codes are concatenated depth | height | width;
* ``uniform_power=True``: every axis gets ``ceil(d / 6) * 2`` channels and the concatenation is
  truncated to ``d`` (the tail of the width code is cut off); ``uniform_power=False``: depth gets
  ``d // 2`` channels, height and width ``d // 4`` each;
* tokens are ordered (t, h, w) with t slowest, like the patch embedding's flatten.

The table is computed in float64 (the official code uses NumPy float64) and returned as float32.
For an input whose token grid differs from the grid the table was built for,
:func:`interpolate_pos_embed` resamples it trilinearly, as the official
``interpolate_pos_encoding``.

Run the tests with ``.venv/bin/pytest tests/unit/models/test_vit.py``.
"""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F

logger = logging.getLogger(__name__)


def axis_channels(embed_dim: int, uniform_power: bool) -> tuple[int, int, int]:
    """Channels given to the (depth, height, width) codes before truncation to ``embed_dim``."""
    if uniform_power:
        per_axis = math.ceil(embed_dim / 6) * 2
        return per_axis, per_axis, per_axis
    return embed_dim // 2, embed_dim // 4, embed_dim // 4


def sincos_1d(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """Sin-cos code of ``positions`` (M,) with ``dim`` channels -> (M, dim), float64."""
    if dim % 2 != 0:
        raise ValueError(f"a sin-cos axis code needs an even channel count, got {dim}")
    k = torch.arange(dim // 2, dtype=torch.float64)
    omega = 1.0 / (10000.0 ** (k / (dim / 2.0)))  # (dim/2,)
    angles = positions.to(torch.float64).reshape(-1, 1) * omega.reshape(1, -1)  # (M, dim/2)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)  # (M, dim)


def sincos_pos_embed_3d(
    embed_dim: int,
    grid_depth: int,
    grid_height: int,
    grid_width: int,
    uniform_power: bool,
) -> torch.Tensor:
    """The (grid_depth * grid_height * grid_width, embed_dim) float32 table, (t, h, w) t slowest."""
    d_dim, h_dim, w_dim = axis_channels(embed_dim, uniform_power)
    if d_dim + h_dim + w_dim < embed_dim:
        # Only possible without uniform_power when embed_dim is not a multiple of 4.
        raise ValueError(
            f"embed_dim {embed_dim} cannot be split into depth/height/width sin-cos codes "
            f"(uniform_power={uniform_power}); use a multiple of 8"
        )
    # Integer coordinates of every token, t slowest, w fastest.
    t, h, w = torch.meshgrid(
        torch.arange(grid_depth), torch.arange(grid_height), torch.arange(grid_width), indexing="ij"
    )  # each (T, H, W)
    table = torch.cat(
        [
            sincos_1d(d_dim, t.reshape(-1)),
            sincos_1d(h_dim, h.reshape(-1)),
            sincos_1d(w_dim, w.reshape(-1)),
        ],
        dim=1,
    )  # (N, d_dim + h_dim + w_dim)
    return table[:, :embed_dim].to(torch.float32)  # (N, embed_dim)


def interpolate_pos_embed(
    pos_embed: torch.Tensor,
    src_grid: tuple[int, int, int],
    dst_grid: tuple[int, int, int],
) -> torch.Tensor:
    """Trilinearly resample a (1, N, D) table from the token grid ``src_grid`` to ``dst_grid``.

    Grids are (depth, height, width) in tokens. Matches the official ``interpolate_pos_encoding``
    (trilinear, ``align_corners=False``); we pass the output size instead of a scale factor, which
    gives the same sampling positions but cannot lose a row to floating-point flooring.
    """
    if tuple(src_grid) == tuple(dst_grid):
        return pos_embed
    _, n, dim = pos_embed.shape
    st, sh, sw = src_grid
    if st * sh * sw != n:
        raise ValueError(
            f"pos_embed has {n} tokens but the grid {tuple(src_grid)} needs {st * sh * sw}"
        )
    volume = pos_embed.reshape(1, st, sh, sw, dim).permute(0, 4, 1, 2, 3)  # (1, D, T, H, W)
    volume = F.interpolate(volume, size=tuple(dst_grid), mode="trilinear", align_corners=False)
    return volume.permute(0, 2, 3, 4, 1).reshape(1, -1, dim)  # (1, T'*H'*W', D)

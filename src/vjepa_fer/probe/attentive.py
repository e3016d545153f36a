"""The attentive probe: one learnable query cross-attends to frozen encoder tokens, then a head.

Implements docs/protocol.md, sections "Attentive probe" and "Training unit".
It is the authors' ``AttentiveClassifier`` with ``depth=1`` (V-JEPA 1 ``AttentivePooler`` with
``complete_block=True``); module and parameter names follow the official code so a state dict of
theirs loads unchanged (strip a DDP ``module.`` prefix first):

    pooler.query_tokens                                   (1, 1, d)
    pooler.cross_attention_block.norm1                    LayerNorm(d), eps 1e-5, tokens only
    pooler.cross_attention_block.xattn.q                  Linear(d, d)    query -> Q
    pooler.cross_attention_block.xattn.kv                 Linear(d, 2d)   tokens -> [K | V]
    pooler.cross_attention_block.xattn.proj               Linear(d, d)    output projection
    pooler.cross_attention_block.norm2                    LayerNorm(d), eps 1e-5
    pooler.cross_attention_block.mlp.fc1 / mlp.fc2        d -> 4d -> d, exact GELU
    linear                                                Linear(d, num_classes)

Computation, tokens (B, N, d) -> logits (B, C):

    q = query + proj(MHA(Q = q(query), K, V = kv(norm1(tokens))))   # the query is never normalised
    q = q + fc2(GELU(fc1(norm2(q))))                                  # pooled token, :meth:`pool`
    logits = linear(q)

The output projection ``proj`` is applied, as in the authors' fork (upstream V-JEPA 1/2 compute
it but drop the result). No position embedding is added, so pooling is invariant to the order of
the tokens: a video training unit is its 8 clips' tokens concatenated along N, (B, 8*N, d).

Initialisation (official ``_init_weights`` + ``_rescale_blocks`` for depth 1): the query and every
Linear of the pooler trunc-normal std 0.02 with *absolute* bounds +-2 (timm / ``nn.init``
semantics, i.e. practically untruncated), biases 0, LayerNorm 1 / 0; then ``xattn.proj`` and
``mlp.fc2`` weights divided by sqrt(2 * 1). The head keeps PyTorch's default Linear init. All of it
is drawn from a private ``torch.Generator`` seeded with ``seed`` (modules are built on the meta
device first), so the global RNG is never touched and a probe's weights do not depend on what
else was built before it.

Precision: float32 parameters; tokens may arrive as bf16/fp16. Under autocast they are used as
they are (LayerNorm runs in float32, the Linears and attention in the autocast dtype); without
autocast they are cast to the parameters' dtype. Logits are always returned as float32.

Tests: ``.venv/bin/pytest tests/unit/probe/test_attentive.py``.
"""

from __future__ import annotations

import logging
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from vjepa_fer.models.vit import MLP

logger = logging.getLogger(__name__)

INIT_STD = 0.02
LN_EPS = 1e-5  # the pooler's norm_layer is a plain nn.LayerNorm (eps 1e-5, not the ViT's 1e-6)


class CrossAttention(nn.Module):
    """Multi-head attention of a few queries over many tokens; K and V from one fused Linear."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim, bias=True)
        # Output channels laid out (2, heads, head_dim): first d are K, last d are V (official).
        self.kv = nn.Linear(dim, 2 * dim, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(
        self, query: torch.Tensor, x: torch.Tensor, attn_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        B, n, C = query.shape
        heads, head_dim = self.num_heads, C // self.num_heads
        q = self.q(query).reshape(B, n, heads, head_dim).transpose(1, 2)  # (B, heads, n, hd)
        N = x.shape[1]
        kv = self.kv(x).reshape(B, N, 2, heads, head_dim).permute(2, 0, 3, 1, 4)
        k, v = kv.unbind(0)  # each (B, heads, N, hd)
        # Default scale head_dim ** -0.5, as upstream.
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (B, heads, n, hd)
        out = out.transpose(1, 2).reshape(B, n, C)  # (B, n, C)
        return self.proj(out)


class CrossAttentionBlock(nn.Module):
    """q = q + xattn(q, norm1(x)); q = q + mlp(norm2(q)). The queries are not normalised."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.xattn = CrossAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = MLP(dim, int(dim * mlp_ratio))  # int() truncation as upstream

    def forward(
        self, q: torch.Tensor, x: torch.Tensor, attn_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        q = q + self.xattn(q, self.norm1(x), attn_mask)
        return q + self.mlp(self.norm2(q))


class AttentivePooler(nn.Module):
    """One learnable query token, repeated over the batch, pooled by one cross-attention block."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.query_tokens = nn.Parameter(torch.zeros(1, 1, dim))
        self.cross_attention_block = CrossAttentionBlock(dim, num_heads, mlp_ratio)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        q = self.query_tokens.expand(x.shape[0], -1, -1)  # (B, 1, d)
        return self.cross_attention_block(q, x, attn_mask)  # (B, 1, d)


def default_linear_init_(linear: nn.Linear, generator: torch.Generator | None = None) -> None:
    """PyTorch's own ``nn.Linear.reset_parameters``, drawn from ``generator``.

    kaiming_uniform(a=sqrt(5)) gives weight ~ U(+-1/sqrt(fan_in)); the bias is U(+-1/sqrt(fan_in)).
    Same draws in the same order as ``reset_parameters`` with the global RNG at the same state.
    """
    with torch.no_grad():
        nn.init.kaiming_uniform_(linear.weight, a=math.sqrt(5), generator=generator)
        if linear.bias is not None:
            bound = 1.0 / math.sqrt(linear.in_features) if linear.in_features > 0 else 0.0
            linear.bias.uniform_(-bound, bound, generator=generator)


class AttentiveProbe(nn.Module):
    """The authors' depth-1 ``AttentiveClassifier``: tokens (B, N, d) -> logits (B, num_classes).

    ``num_heads`` should be the encoder's (16 for V-JEPA ViT-L/H/g). ``seed`` fixes the
    initialisation (see the module docstring); parameters live on the CPU until ``.to(device)``.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        num_classes: int,
        *,
        mlp_ratio: float = 4.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(
                f"AttentiveProbe: embed_dim {embed_dim} must be a positive multiple of "
                f"num_heads {num_heads}"
            )
        if num_classes < 1:
            raise ValueError(f"AttentiveProbe: num_classes must be >= 1, got {num_classes}")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.num_classes = num_classes
        self.mlp_ratio = mlp_ratio
        self.seed = seed
        # Built on the meta device so nn.Linear's own init draws nothing from the global RNG;
        # every value is then drawn from the probe's private generator in reset_parameters().
        with torch.device("meta"):
            self.pooler = AttentivePooler(embed_dim, num_heads, mlp_ratio)
            self.linear = nn.Linear(embed_dim, num_classes, bias=True)
        self.to_empty(device="cpu")
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Official initialisation, drawn from ``generator`` (default: a CPU one seeded ``seed``).

        Draw order: query, then the pooler's Linears in module order (xattn.q, xattn.kv,
        xattn.proj, mlp.fc1, mlp.fc2), then the head.
        """
        if self.linear.weight.device.type != "cpu":
            if generator is not None:
                raise ValueError(
                    "AttentiveProbe.reset_parameters: a generator needs CPU parameters"
                )
            # Draw on the CPU (device generators give other streams) and copy: same weights.
            twin = AttentiveProbe(
                self.embed_dim,
                self.num_heads,
                self.num_classes,
                mlp_ratio=self.mlp_ratio,
                seed=self.seed,
            )
            for dst, src in zip(self.parameters(), twin.parameters(), strict=True):
                dst.copy_(src)
            return
        if generator is None:
            generator = torch.Generator(device="cpu").manual_seed(self.seed)
        nn.init.trunc_normal_(
            self.pooler.query_tokens, std=INIT_STD, a=-2.0, b=2.0, generator=generator
        )
        for module in self.pooler.modules():
            if isinstance(module, nn.Linear):
                # a, b are absolute bounds (+-2 = 100 sigma at std 0.02), as timm / upstream.
                nn.init.trunc_normal_(
                    module.weight, std=INIT_STD, a=-2.0, b=2.0, generator=generator
                )
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        # Official _rescale_blocks: the cross-attention block is layer 1 -> divide by sqrt(2 * 1).
        block = self.pooler.cross_attention_block
        block.xattn.proj.weight.div_(math.sqrt(2.0))
        block.mlp.fc2.weight.div_(math.sqrt(2.0))
        default_linear_init_(self.linear, generator)

    def _attn_mask(self, tokens: torch.Tensor, key_padding_mask: torch.Tensor | None):
        if key_padding_mask is None:
            return None
        B, N = tokens.shape[:2]
        if key_padding_mask.shape != (B, N) or key_padding_mask.dtype != torch.bool:
            raise ValueError(
                f"AttentiveProbe: key_padding_mask must be a bool tensor of shape {(B, N)} "
                f"(True = padding), got {key_padding_mask.dtype} {tuple(key_padding_mask.shape)}"
            )
        if bool(key_padding_mask.all(dim=1).any()):
            # A fully padded row would make the softmax 0/0 = NaN.
            raise ValueError("AttentiveProbe: key_padding_mask pads every token of a sample")
        return (~key_padding_mask)[:, None, None, :]  # (B, 1, 1, N), True = attend

    def pool(
        self, tokens: torch.Tensor, key_padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The pooled token after the cross-attention block, before the head: (B, N, d) -> (B, d).

        ``key_padding_mask``: optional bool (B, N), True marks padding tokens to ignore.
        """
        if tokens.ndim != 3 or tokens.shape[-1] != self.embed_dim:
            raise ValueError(
                f"AttentiveProbe: expected tokens (B, N, {self.embed_dim}), "
                f"got {tuple(tokens.shape)}"
            )
        if tokens.shape[1] == 0:
            raise ValueError("AttentiveProbe: no tokens to pool (N = 0)")
        dtype = self.pooler.query_tokens.dtype
        if tokens.dtype != dtype and not torch.is_autocast_enabled(tokens.device.type):
            # Outside autocast the LayerNorm needs tokens in the parameters' dtype; inside it,
            # autocast does the casts (and saves a float32 copy of 8 * 4608 tokens per video).
            tokens = tokens.to(dtype)
        pooled = self.pooler(tokens, self._attn_mask(tokens, key_padding_mask))  # (B, 1, d)
        return pooled.squeeze(1)  # (B, d)

    def forward(
        self, tokens: torch.Tensor, key_padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits (B, num_classes), float32 even under autocast."""
        return self.linear(self.pool(tokens, key_padding_mask)).float()

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
            f"num_classes={self.num_classes}, seed={self.seed}"
        )

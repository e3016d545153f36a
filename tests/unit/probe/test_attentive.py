"""Tests of the attentive probe (vjepa_fer.probe.attentive).

The forward is checked in float64 against a functional re-implementation written here in another
style (hand-written LayerNorm, explicit matmul-softmax attention, erf GELU), which fixes the
official q / kv layout, that only the tokens are normalised and that the output projection is
applied. The initialisation is checked statistically at the real size (d = 1280, 16 heads).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from vjepa_fer.probe.attentive import AttentiveProbe, default_linear_init_

OFFICIAL_KEYS = {
    "pooler.query_tokens": lambda d, c: (1, 1, d),
    "pooler.cross_attention_block.norm1.weight": lambda d, c: (d,),
    "pooler.cross_attention_block.norm1.bias": lambda d, c: (d,),
    "pooler.cross_attention_block.xattn.q.weight": lambda d, c: (d, d),
    "pooler.cross_attention_block.xattn.q.bias": lambda d, c: (d,),
    "pooler.cross_attention_block.xattn.kv.weight": lambda d, c: (2 * d, d),
    "pooler.cross_attention_block.xattn.kv.bias": lambda d, c: (2 * d,),
    "pooler.cross_attention_block.xattn.proj.weight": lambda d, c: (d, d),
    "pooler.cross_attention_block.xattn.proj.bias": lambda d, c: (d,),
    "pooler.cross_attention_block.norm2.weight": lambda d, c: (d,),
    "pooler.cross_attention_block.norm2.bias": lambda d, c: (d,),
    "pooler.cross_attention_block.mlp.fc1.weight": lambda d, c: (4 * d, d),
    "pooler.cross_attention_block.mlp.fc1.bias": lambda d, c: (4 * d,),
    "pooler.cross_attention_block.mlp.fc2.weight": lambda d, c: (d, 4 * d),
    "pooler.cross_attention_block.mlp.fc2.bias": lambda d, c: (d,),
    "linear.weight": lambda d, c: (c, d),
    "linear.bias": lambda d, c: (c,),
}


@pytest.fixture(scope="module")
def huge_probe() -> AttentiveProbe:
    """The paper's size: ViT-H tokens (d = 1280, 16 heads), 8 classes."""
    return AttentiveProbe(1280, 16, 8, seed=0)


def layer_norm(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, eps: float) -> torch.Tensor:
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * w + b


def reference_pool(sd: dict[str, torch.Tensor], tokens: torch.Tensor, heads: int) -> torch.Tensor:
    """The spec's computation, written out: (B, N, d) -> pooled (B, d)."""
    p = "pooler.cross_attention_block."
    B, N, d = tokens.shape
    hd = d // heads
    x = layer_norm(tokens, sd[p + "norm1.weight"], sd[p + "norm1.bias"], 1e-5)
    query = sd["pooler.query_tokens"][0, 0]  # (d,), never normalised
    q = sd[p + "xattn.q.weight"] @ query + sd[p + "xattn.q.bias"]  # (d,)
    kv = x @ sd[p + "xattn.kv.weight"].T + sd[p + "xattn.kv.bias"]  # (B, N, 2d)
    k, v = kv[..., :d], kv[..., d:]  # first half K, second half V
    out = []
    for h in range(heads):
        sl = slice(h * hd, (h + 1) * hd)
        scores = torch.einsum("c,bnc->bn", q[sl], k[..., sl]) / math.sqrt(hd)  # (B, N)
        weights = torch.softmax(scores, dim=-1)
        out.append(torch.einsum("bn,bnc->bc", weights, v[..., sl]))  # (B, hd)
    attn = torch.cat(out, dim=-1)  # (B, d), heads concatenated in order
    attn = attn @ sd[p + "xattn.proj.weight"].T + sd[p + "xattn.proj.bias"]
    y = query + attn
    h = layer_norm(y, sd[p + "norm2.weight"], sd[p + "norm2.bias"], 1e-5)
    h = h @ sd[p + "mlp.fc1.weight"].T + sd[p + "mlp.fc1.bias"]
    h = 0.5 * h * (1.0 + torch.erf(h / math.sqrt(2.0)))  # exact GELU
    h = h @ sd[p + "mlp.fc2.weight"].T + sd[p + "mlp.fc2.bias"]
    return y + h


def randomised(probe: AttentiveProbe, seed: int = 1) -> AttentiveProbe:
    """Every parameter random (LayerNorm affine and biases too), so the reference sees them all."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in probe.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.3 + (p.ndim == 1))
    return probe


# --------------------------------------------------------------------------- structure
def test_parameter_names_and_shapes() -> None:
    d, c = 64, 6
    probe = AttentiveProbe(d, 4, c)
    shapes = {k: tuple(v.shape) for k, v in probe.state_dict().items()}
    assert shapes == {k: f(d, c) for k, f in OFFICIAL_KEYS.items()}
    assert all(p.requires_grad for p in probe.parameters())


def test_exact_parameter_count_vit_huge(huge_probe: AttentiveProbe) -> None:
    d, c = 1280, 8
    count = (
        d  # query token
        + 2 * d  # norm1
        + (d * d + d)  # q
        + (d * 2 * d + 2 * d)  # kv
        + (d * d + d)  # proj
        + 2 * d  # norm2
        + (d * 4 * d + 4 * d)  # fc1
        + (4 * d * d + d)  # fc2
        + (d * c + c)  # head
    )
    assert count == 19_688_968  # "about 19.7 M"
    assert sum(p.numel() for p in huge_probe.parameters()) == count


def test_official_state_dict_loads(huge_probe: AttentiveProbe) -> None:
    # A state dict keyed like the authors' AttentiveClassifier loads strictly.
    other = AttentiveProbe(1280, 16, 8, seed=5)
    other.load_state_dict(dict(huge_probe.state_dict()), strict=True)
    assert torch.equal(other.linear.weight, huge_probe.linear.weight)


@pytest.mark.parametrize("bad", [dict(embed_dim=30, num_heads=4), dict(num_classes=0)])
def test_bad_arguments(bad: dict) -> None:
    args = dict(embed_dim=32, num_heads=4, num_classes=3) | bad
    with pytest.raises(ValueError):
        AttentiveProbe(**args)


# ----------------------------------------------------------------------------- forward
def test_output_shapes() -> None:
    probe = AttentiveProbe(32, 4, 7)
    tokens = torch.randn(3, 50, 32)
    assert probe(tokens).shape == (3, 7)
    assert probe(tokens).dtype == torch.float32
    assert probe.pool(tokens).shape == (3, 32)
    # forward = head(pool)
    torch.testing.assert_close(probe(tokens), probe.linear(probe.pool(tokens)))
    with pytest.raises(ValueError, match="expected tokens"):
        probe(torch.randn(3, 50, 16))
    with pytest.raises(ValueError, match="expected tokens"):
        probe(torch.randn(50, 32))


def test_forward_matches_reference_float64() -> None:
    probe = randomised(AttentiveProbe(48, 4, 5)).double()
    tokens = torch.randn(2, 37, 48, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    sd = probe.state_dict()
    expected_pool = reference_pool(sd, tokens, heads=4)
    torch.testing.assert_close(probe.pool(tokens), expected_pool, rtol=1e-10, atol=1e-10)
    expected = expected_pool @ sd["linear.weight"].T + sd["linear.bias"]
    torch.testing.assert_close(probe(tokens), expected.float(), rtol=1e-6, atol=1e-6)


def test_query_is_not_normalised() -> None:
    # With a normalised query, scaling it (norm2 aside) would leave attention unchanged; here
    # it must change, and the reference with an explicitly normalised query must disagree.
    probe = randomised(AttentiveProbe(32, 4, 3)).double()
    tokens = torch.randn(2, 20, 32, dtype=torch.float64)
    sd = probe.state_dict()
    normed = dict(sd)
    p = "pooler.cross_attention_block."
    q0 = sd["pooler.query_tokens"]
    normed["pooler.query_tokens"] = layer_norm(
        q0, sd[p + "norm1.weight"], sd[p + "norm1.bias"], 1e-5
    )
    assert not torch.allclose(reference_pool(normed, tokens, 4), probe.pool(tokens), atol=1e-3)
    before = probe.pool(tokens)
    with torch.no_grad():
        probe.pooler.query_tokens.mul_(3.0)
    assert not torch.allclose(probe.pool(tokens), before, atol=1e-3)


def test_clip_order_does_not_matter() -> None:
    # A video unit = its 8 clips' tokens concatenated; pooling ignores token order.
    probe = AttentiveProbe(32, 4, 6, seed=3)
    g = torch.Generator().manual_seed(4)
    clips = torch.randn(2, 8, 25, 32, generator=g)  # (B, clips, N, D)
    unit = clips.reshape(2, 8 * 25, 32)  # (B, 8 N, D)
    perm = torch.randperm(8, generator=g)
    shuffled = clips[:, perm].reshape(2, 8 * 25, 32)
    torch.testing.assert_close(probe(shuffled), probe(unit), rtol=1e-5, atol=1e-5)
    tokens_perm = torch.randperm(8 * 25, generator=g)
    torch.testing.assert_close(probe(unit[:, tokens_perm]), probe(unit), rtol=1e-5, atol=1e-5)


def test_key_padding_mask_ignores_padding() -> None:
    probe = AttentiveProbe(32, 4, 3)
    a, b = torch.randn(1, 10, 32), torch.randn(1, 6, 32)
    batch = torch.cat([a, torch.cat([b, 100 * torch.randn(1, 4, 32)], dim=1)])  # (2, 10, 32)
    mask = torch.zeros(2, 10, dtype=torch.bool)
    mask[1, 6:] = True
    out = probe(batch, key_padding_mask=mask)
    torch.testing.assert_close(out[0], probe(a)[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out[1], probe(b)[0], rtol=1e-5, atol=1e-5)
    mask[0] = True
    with pytest.raises(ValueError, match="every token"):
        probe(batch, key_padding_mask=mask)
    with pytest.raises(ValueError, match="key_padding_mask"):
        probe(batch, key_padding_mask=torch.zeros(2, 9, dtype=torch.bool))


def test_low_precision_tokens() -> None:
    probe = AttentiveProbe(32, 4, 3)
    tokens = torch.randn(2, 40, 32)
    ref = probe(tokens)
    # bf16 tokens without autocast are cast to the parameters' dtype.
    out = probe(tokens.bfloat16())
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref, rtol=0.05, atol=0.05)
    # Under (CPU) bf16 autocast: bf16 tokens accepted, float32 logits, gradients reach the query.
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = probe(tokens.bfloat16())
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    torch.testing.assert_close(out, ref, rtol=0.1, atol=0.1)
    out.sum().backward()
    assert probe.pooler.query_tokens.grad is not None
    assert probe.pooler.query_tokens.grad.dtype == torch.float32


# -------------------------------------------------------------------------------- init
def test_init_statistics(huge_probe: AttentiveProbe) -> None:
    block = huge_probe.pooler.cross_attention_block
    for name in ("xattn.q", "xattn.kv", "mlp.fc1"):
        w = block.get_submodule(name).weight
        assert abs(w.std().item() - 0.02) < 0.02 * 0.01, name
        assert abs(w.mean().item()) < 1e-4, name
    # Rescaled by 1/sqrt(2) relative to the un-rescaled layers.
    for name in ("xattn.proj", "mlp.fc2"):
        w = block.get_submodule(name).weight
        assert abs(w.std().item() - 0.02 / math.sqrt(2)) < 0.02 * 0.01, name
    ratio = block.mlp.fc2.weight.std() / block.mlp.fc1.weight.std()
    assert abs(ratio.item() - 1 / math.sqrt(2)) < 0.005
    # Bounds are +-2 absolute (timm semantics), not +-2 sigma: about 4.55 % of the values of a
    # N(0, 0.02) lie beyond 2 sigma = 0.04.
    fc1 = block.mlp.fc1.weight
    tail = (fc1.abs() > 0.04).float().mean().item()
    assert abs(tail - 0.0455) < 0.002
    assert fc1.abs().max().item() < 2.0
    q = huge_probe.pooler.query_tokens
    assert abs(q.std().item() - 0.02) < 0.002
    for name, p in huge_probe.named_parameters():
        if name.endswith("bias") and not name.startswith("linear"):
            assert torch.count_nonzero(p) == 0, name
    for norm in (block.norm1, block.norm2):
        assert torch.all(norm.weight == 1) and torch.all(norm.bias == 0)
        assert norm.eps == 1e-5


def test_head_keeps_pytorch_default_init(huge_probe: AttentiveProbe) -> None:
    bound = 1 / math.sqrt(1280)
    w, b = huge_probe.linear.weight, huge_probe.linear.bias
    assert w.abs().max() <= bound and b.abs().max() <= bound
    assert abs(w.std().item() - bound / math.sqrt(3)) < 0.05 * bound / math.sqrt(3)  # uniform
    # The helper draws exactly what nn.Linear.reset_parameters draws from the same RNG state.
    lin_a, lin_b = nn.Linear(64, 5), nn.Linear(64, 5)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)
        lin_a.reset_parameters()
    default_linear_init_(lin_b, torch.Generator().manual_seed(123))
    assert torch.equal(lin_a.weight, lin_b.weight) and torch.equal(lin_a.bias, lin_b.bias)


def test_init_deterministic_and_independent_of_global_rng() -> None:
    def build(seed: int) -> dict[str, torch.Tensor]:
        return AttentiveProbe(64, 4, 5, seed=seed).state_dict()

    state = torch.get_rng_state()
    first = build(0)
    assert torch.equal(torch.get_rng_state(), state), "building a probe consumed the global RNG"
    # Other probes built in between and a different global seed change nothing.
    build(1), build(2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(999)
        torch.rand(10)
        again = build(0)
    assert first.keys() == again.keys()
    assert all(torch.equal(first[k], again[k]) for k in first)
    other = build(1)
    assert not torch.equal(first["pooler.query_tokens"], other["pooler.query_tokens"])
    assert not torch.equal(first["linear.weight"], other["linear.weight"])


def test_reset_parameters_restores_init() -> None:
    probe = AttentiveProbe(32, 4, 3, seed=7)
    before = {k: v.clone() for k, v in probe.state_dict().items()}
    randomised(probe)
    probe.reset_parameters()
    assert all(torch.equal(before[k], v) for k, v in probe.state_dict().items())


# --------------------------------------------------------------------------------- GPU
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_bf16_autocast_and_reset() -> None:
    cpu = AttentiveProbe(64, 4, 5, seed=3)
    probe = AttentiveProbe(64, 4, 5, seed=3).cuda()
    with torch.no_grad():
        for p in probe.parameters():
            p.zero_()
    probe.reset_parameters()  # drawn on the CPU, copied: same weights as a CPU-built probe
    for a, b in zip(cpu.parameters(), probe.parameters(), strict=True):
        assert torch.equal(a, b.cpu())
    tokens = torch.randn(4, 8 * 49, 64, device="cuda").bfloat16()  # (B, 8 N, D)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        logits = probe(tokens)
    assert logits.dtype == torch.float32 and logits.shape == (4, 5)
    logits.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in probe.parameters())
    torch.testing.assert_close(logits.cpu(), cpu(tokens.float().cpu()), rtol=0.1, atol=0.1)

"""Tests of the probe's optimiser and schedules (vjepa_fer.probe.optim)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from vjepa_fer.probe.attentive import AttentiveProbe
from vjepa_fer.probe.optim import (
    ProbeOptimConfig,
    Schedules,
    cosine,
    make_optimizer,
    param_groups,
)

DECAYED = {
    "pooler.query_tokens",
    "pooler.cross_attention_block.xattn.q.weight",
    "pooler.cross_attention_block.xattn.kv.weight",
    "pooler.cross_attention_block.xattn.proj.weight",
    "pooler.cross_attention_block.mlp.fc1.weight",
    "pooler.cross_attention_block.mlp.fc2.weight",
    "linear.weight",
}


@pytest.fixture
def probe() -> AttentiveProbe:
    return AttentiveProbe(32, 4, 5, seed=0)


def names_of(model: torch.nn.Module, params: list) -> set[str]:
    ids = {id(p) for p in params}
    return {n for n, p in model.named_parameters() if id(p) in ids}


def test_param_groups_membership(probe: AttentiveProbe) -> None:
    decay, no_decay = param_groups(probe, 0.05)
    assert names_of(probe, decay["params"]) == DECAYED
    all_names = {n for n, _ in probe.named_parameters()}
    assert names_of(probe, no_decay["params"]) == all_names - DECAYED
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    assert len(decay["params"]) + len(no_decay["params"]) == len(all_names)
    # LayerNorm weights are 1-D: not decayed.
    assert "pooler.cross_attention_block.norm1.weight" in names_of(probe, no_decay["params"])


def test_param_groups_skip_frozen(probe: AttentiveProbe) -> None:
    probe.linear.weight.requires_grad_(False)
    decay, _ = param_groups(probe, 0.01)
    assert "linear.weight" not in names_of(probe, decay["params"])
    for p in probe.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable"):
        param_groups(probe, 0.01)


def test_make_optimizer_defaults(probe: AttentiveProbe) -> None:
    opt = make_optimizer(probe)
    assert isinstance(opt, torch.optim.AdamW)
    g0, g1 = opt.param_groups
    assert g0["lr"] == g1["lr"] == 1e-3
    assert g0["weight_decay"] == 0.01 and g1["weight_decay"] == 0.0
    assert g0["betas"] == (0.9, 0.999) and g0["eps"] == 1e-8
    cfg = ProbeOptimConfig()
    assert (cfg.lr, cfg.final_lr, cfg.weight_decay, cfg.final_weight_decay) == (
        1e-3,
        0.0,
        0.01,
        1e-6,
    )
    assert (cfg.epochs, cfg.batch_videos, cfg.grad_clip, cfg.warmup_epochs) == (20, 4, 1.0, 0.0)
    assert cfg.betas == (0.9, 0.999) and cfg.eps == 1e-8


def test_cosine_values() -> None:
    assert cosine(1.0, 0.0, 0, 10) == 1.0
    assert cosine(1.0, 0.0, 5, 10) == pytest.approx(0.5)
    assert cosine(1.0, 0.0, 10, 10) == pytest.approx(0.0)
    assert cosine(0.01, 1e-6, 10, 10) == pytest.approx(1e-6)
    assert cosine(1.0, 0.0, 15, 10) == pytest.approx(0.0)  # clamped past the end
    assert cosine(2.0, 1.0, 2.5, 10) == pytest.approx(1 + 0.5 * (1 + math.cos(math.pi / 4)))


def test_schedules_first_middle_last(probe: AttentiveProbe) -> None:
    total = 100
    opt = make_optimizer(probe)
    sched = Schedules(opt, total, lr_schedule="aligned")
    lrs, wds, wd_groups1 = [], [], []
    for _ in range(total):
        lr, wd = sched.step()
        assert opt.param_groups[0]["lr"] == opt.param_groups[1]["lr"] == lr == sched.lr
        assert opt.param_groups[0]["weight_decay"] == wd == sched.weight_decay
        lrs.append(lr)
        wds.append(wd)
        wd_groups1.append(opt.param_groups[1]["weight_decay"])
    # Official convention: counter advanced before setting, so iteration 0 is at k = 1.
    assert lrs[0] == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi / total)))
    assert lrs[0] < 1e-3
    assert lrs[total // 2 - 1] == pytest.approx(0.5e-3)
    assert lrs[-1] == pytest.approx(0.0, abs=1e-15)
    assert wds[0] == pytest.approx(1e-6 + (0.01 - 1e-6) * 0.5 * (1 + math.cos(math.pi / total)))
    assert wds[total // 2 - 1] == pytest.approx((0.01 + 1e-6) / 2)
    assert wds[-1] == pytest.approx(1e-6)
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))  # monotone
    assert set(wd_groups1) == {0.0}  # biases / LayerNorm never decayed
    with pytest.raises(RuntimeError, match="already taken"):
        sched.step()


def test_schedules_resume(probe: AttentiveProbe) -> None:
    a = Schedules(make_optimizer(probe), 10)
    for _ in range(4):
        a.step()
    opt_b = make_optimizer(probe)
    b = Schedules(opt_b, 10)
    b.load_state_dict(a.state_dict())
    assert (b.lr, b.weight_decay) == (a.lr, a.weight_decay)
    assert b.step() == a.step()


def test_schedules_warmup_and_from_config(probe: AttentiveProbe) -> None:
    opt = make_optimizer(probe)
    cfg = ProbeOptimConfig(warmup_epochs=1.0, start_lr=0.0, lr_schedule="aligned")
    sched = Schedules.from_config(opt, cfg, steps_per_epoch=5)
    assert sched.total_steps == 100 and sched.warmup_steps == 5
    lrs = [sched.step()[0] for _ in range(100)]
    assert lrs[:4] == pytest.approx([2e-4, 4e-4, 6e-4, 8e-4])  # k/5 of the way to 1e-3
    assert lrs[4] == pytest.approx(1e-3)  # k = 5 = warmup: cosine starts at its top
    assert lrs[-1] == pytest.approx(0.0, abs=1e-15)
    plain = Schedules.from_config(make_optimizer(probe), ProbeOptimConfig(), steps_per_epoch=5)
    assert plain.warmup_steps == 0 and plain.total_steps == 100
    with pytest.raises(ValueError):
        Schedules(opt, 0)


def test_one_step_reduces_loss() -> None:
    probe = AttentiveProbe(32, 4, 3, seed=0)
    g = torch.Generator().manual_seed(0)
    tokens = torch.randn(8, 30, 32, generator=g)
    labels = torch.arange(8) % 3
    opt = make_optimizer(probe, lr=1e-3)
    sched = Schedules(opt, 10)
    before = F.cross_entropy(probe(tokens), labels)
    sched.step()
    opt.zero_grad()
    before.backward()
    torch.nn.utils.clip_grad_norm_(probe.parameters(), ProbeOptimConfig().grad_clip)
    opt.step()
    after = F.cross_entropy(probe(tokens), labels)
    assert after.item() < before.item()


class _AuthorsLRScheduler(torch.optim.lr_scheduler.LRScheduler):
    """The authors' per-iteration LR schedule written out from its description.

    Their WarmupCosineLRSchedule is a torch LRScheduler whose ``step`` advances a counter and
    sets warm-up / cosine values; torch's constructor calls ``step`` once, so the first
    training iteration already runs at counter 2. The cosine is floored at final_lr only.
    """

    def __init__(self, optimizer, total, ref_lr, final_lr, start_lr, warmup) -> None:
        self.total, self.ref, self.final, self.start, self.warmup = (
            total,
            ref_lr,
            final_lr,
            start_lr,
            warmup,
        )
        self.counter = 0.0
        super().__init__(optimizer)

    def step(self, epoch=None) -> None:  # noqa: ARG002 - torch's signature
        self.counter += 1
        span = self.total - self.warmup
        if self.counter < self.warmup:
            lr = self.start + self.counter / max(1, self.warmup) * (self.ref - self.start)
        else:
            progress = (self.counter - self.warmup) / max(1, span)
            lr = self.final + (self.ref - self.final) * 0.5 * (1.0 + math.cos(math.pi * progress))
            lr = max(self.final, lr)
        for group in self.optimizer.param_groups:
            group["lr"] = lr


@pytest.mark.parametrize(("total", "warmup", "final_lr"), [(100, 0, 0.0), (37, 5, 1e-5)])
def test_authors_lr_schedule_matches_their_scheduler(
    probe: AttentiveProbe, total: int, warmup: int, final_lr: float
) -> None:
    # Spec: their scheduler has stepped once when training starts, so iteration k runs at the
    # value of their counter k + 1; the weight decay (a plain object) is not shifted.
    ref_opt = torch.optim.AdamW(probe.parameters(), lr=1e-3)
    ref = _AuthorsLRScheduler(ref_opt, total, 1e-3, final_lr, 0.0, warmup)
    opt = make_optimizer(probe)
    sched = Schedules(
        opt, total, final_lr=final_lr, warmup_steps=warmup, start_lr=0.0
    )  # default: the authors' schedule
    aligned = Schedules(
        make_optimizer(probe),
        total,
        final_lr=final_lr,
        warmup_steps=warmup,
        start_lr=0.0,
        lr_schedule="aligned",
    )
    for k in range(1, total + 1):
        ref.step()
        expected = ref_opt.param_groups[0]["lr"]
        lr, wd = sched.step()
        assert lr == pytest.approx(expected, rel=1e-12, abs=1e-18), k
        assert wd == aligned.step()[1]  # weight decay unshifted
    lrs = [sched.lr_at(k) for k in range(1, total + 1)]
    if warmup == 0 and final_lr == 0.0:
        assert lrs[0] == pytest.approx(1e-3 * 0.5 * (1 + math.cos(2 * math.pi / total)))
        assert lrs[-2] == 0.0  # iteration T - 1: exactly final_lr
        assert 0.0 < lrs[-1] < 1e-6  # the last: cosine just past pi, a tiny positive LR


def test_lr_schedule_rejects_unknown(probe: AttentiveProbe) -> None:
    with pytest.raises(ValueError, match="lr_schedule"):
        Schedules(make_optimizer(probe), 10, lr_schedule="paper")

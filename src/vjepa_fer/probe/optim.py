"""AdamW for the attentive probe and its per-iteration cosine schedules of LR and weight decay.

Implements docs/protocol.md, section "Optimisation", after the official
facebookresearch/jepa ``evals/video_classification_frozen/eval.py`` (``init_opt``) and
``src/utils/schedulers.py`` (``WarmupCosineSchedule``, ``CosineWDSchedule``):

- two parameter groups: weights (ndim > 1, the query token included) decayed; biases and 1-D
  parameters (LayerNorm) with weight decay 0, and excluded from the weight-decay schedule;
- AdamW, betas (0.9, 0.999), eps 1e-8;
- LR cosine lr -> final_lr (1e-3 -> 0) and weight decay cosine 0.01 -> 1e-6 (decayed group only),
  both over the total number of iterations, stepped once per iteration *before* the optimiser step.

Step convention (the official one): :meth:`Schedules.step` advances its counter first, then sets
the values; the loop calls it once before every optimiser step. With T = total_steps:

    call k = 1 .. T:  lr_k = final + (lr - final) * (1 + cos(pi * k / T)) / 2
                      (the same for the weight decay)

That is the weight-decay schedule (``CosineWDSchedule``, a plain object) and, with
``lr_schedule="aligned"``, the LR too. The authors' LR schedule (``WarmupCosineLRSchedule`` of the
paper's code, default ``lr_schedule="authors"``) is a torch ``LRScheduler``: constructing it already
steps it once, so their k-th iteration runs at the value of call k + 1, and the cosine is not
clamped at the end, only floored at final_lr:

    authors:  lr_k = max(final, final + (lr - final) * (1 + cos(pi * (k + 1) / T)) / 2)

so iteration T - 1 runs at exactly final_lr (0) and the last one (k = T) at a tiny positive LR
(cos just past pi); the first at lr * (1 + cos(2 pi / T)) / 2. The weight decay is not shifted.
"aligned" (this project's earlier variant): lr_k = final + (lr - final) * (1 + cos(pi k / T)) / 2,
first iteration just below 1e-3, last at exactly final_lr.
The values before the first call are the optimiser's initial ones (lr, weight_decay). With
``warmup_steps`` > 0, calls k < warmup_steps ramp linearly from start_lr to lr and the cosine
runs over the remaining T - warmup_steps calls (official; the weight decay ignores warm-up); the
authors' one-call shift applies to the warm-up too.

Gradient-norm clipping (1.0) and mixed precision belong to the training loop
(``probe/train.py``); :class:`ProbeOptimConfig` carries the authors' values for both.

Tests: ``.venv/bin/pytest tests/unit/probe/test_optim.py``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

from vjepa_fer import schema

logger = logging.getLogger(__name__)

# probe.lr_schedule: "authors" = their LRScheduler, stepped once at construction (one call ahead);
# "aligned" = call k sets the value of step k (this project's earlier variant).
LR_SCHEDULES = ("authors", "aligned")

# Group flag read by Schedules: such groups keep weight decay 0 (official key "WD_exclude").
WD_EXCLUDE = "wd_exclude"


@dataclass(frozen=True)
class ProbeOptimConfig:
    """The authors' optimisation hyper-parameters (official eval config + ``init_opt`` defaults).

    ``warmup_epochs`` and ``start_lr`` only matter with a warm-up (the authors use none).
    """

    # Equal to vjepa_fer/schemas/config.schema.yaml's probe defaults (tests/unit/test_defaults.py).
    lr: float = schema.default("probe.lr")
    final_lr: float = schema.default("probe.final_lr")
    start_lr: float = lr
    warmup_epochs: float = 0.0
    weight_decay: float = schema.default("probe.weight_decay")
    final_weight_decay: float = schema.default("probe.final_weight_decay")
    epochs: int = schema.default("probe.epochs")
    batch_videos: int = schema.default("probe.batch_videos")
    # max gradient norm, applied by the loop before optimizer.step()
    grad_clip: float = schema.default("probe.grad_clip")
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    lr_schedule: str = schema.default("probe.lr_schedule")


def is_decayed(name: str, param: torch.Tensor) -> bool:
    """Official rule: decay unless the name contains "bias" or the parameter is 1-D.

    (Official ``init_opt`` decays ``ndim != 1``; 0-d parameters, which the probe has none of,
    are not decayed here.)
    """
    return "bias" not in name and param.ndim > 1


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two AdamW groups: [decayed weights (``weight_decay``), biases and 1-D params (0)].

    Only trainable parameters are included. Group 1 carries ``wd_exclude=True`` so
    :class:`Schedules` never changes its weight decay.
    """
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (decay if is_decayed(name, param) else no_decay).append(param)
    if not decay and not no_decay:
        raise ValueError(f"param_groups: {type(model).__name__} has no trainable parameters")
    return [
        {"params": decay, "weight_decay": weight_decay, WD_EXCLUDE: False},
        {"params": no_decay, "weight_decay": 0.0, WD_EXCLUDE: True},
    ]


AUTHORS = ProbeOptimConfig()  # the single place of the authors' values in this package
AUTHORS_LR_SCHEDULE = AUTHORS.lr_schedule


def make_optimizer(
    model: nn.Module,
    *,
    lr: float = AUTHORS.lr,
    weight_decay: float = AUTHORS.weight_decay,
    betas: tuple[float, float] = AUTHORS.betas,
    eps: float = AUTHORS.eps,
) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups`; the LR and decayed group's WD are the initial values."""
    return torch.optim.AdamW(
        param_groups(model, weight_decay), lr=lr, betas=betas, eps=eps, weight_decay=weight_decay
    )


def cosine(start: float, end: float, step: float, total: float) -> float:
    """Half-cosine from ``start`` (step 0) to ``end`` (step ``total``), step clamped."""
    if total <= 0:
        raise ValueError(f"cosine: total must be > 0, got {total}")
    progress = min(max(step / total, 0.0), 1.0)
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * progress))


class Schedules:
    """Sets LR (all groups) and weight decay (groups without ``wd_exclude``) once per iteration.

    Call :meth:`step` once before every optimiser step (see the module docstring for the
    convention); ``lr`` and ``weight_decay`` hold the values last set. The counter is in
    :meth:`state_dict` so a resumed run continues the same curve.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        total_steps: int,
        *,
        lr: float = AUTHORS.lr,
        final_lr: float = AUTHORS.final_lr,
        weight_decay: float = AUTHORS.weight_decay,
        final_weight_decay: float = AUTHORS.final_weight_decay,
        warmup_steps: int = 0,
        start_lr: float | None = None,
        lr_schedule: str = AUTHORS_LR_SCHEDULE,
    ) -> None:
        if lr_schedule not in LR_SCHEDULES:
            raise ValueError(
                f"Schedules: lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}"
            )
        if total_steps < 1:
            raise ValueError(f"Schedules: total_steps must be >= 1, got {total_steps}")
        if not 0 <= warmup_steps < total_steps:
            raise ValueError(
                f"Schedules: warmup_steps must be in [0, {total_steps}), got {warmup_steps}"
            )
        self.optimizer = optimizer
        self.total_steps = int(total_steps)
        self.base_lr = lr
        self.final_lr = final_lr
        self.base_weight_decay = weight_decay
        self.final_weight_decay = final_weight_decay
        self.warmup_steps = int(warmup_steps)
        self.start_lr = lr if start_lr is None else start_lr
        self.lr_schedule = lr_schedule
        self.steps_taken = 0
        self.lr = lr
        self.weight_decay = weight_decay

    @classmethod
    def from_config(
        cls, optimizer: torch.optim.Optimizer, config: ProbeOptimConfig, steps_per_epoch: int
    ) -> Schedules:
        """Schedules over ``config.epochs * steps_per_epoch`` iterations (official int())."""
        return cls(
            optimizer,
            int(config.epochs * steps_per_epoch),
            lr=config.lr,
            final_lr=config.final_lr,
            weight_decay=config.weight_decay,
            final_weight_decay=config.final_weight_decay,
            warmup_steps=int(config.warmup_epochs * steps_per_epoch),
            start_lr=config.start_lr,
            lr_schedule=config.lr_schedule,
        )

    def lr_at(self, k: int) -> float:
        """LR set by the k-th call of :meth:`step` (k = 1 .. total_steps): iteration k's LR."""
        if self.lr_schedule == "aligned":
            if k < self.warmup_steps:
                return self.start_lr + (k / self.warmup_steps) * (self.base_lr - self.start_lr)
            span = self.total_steps - self.warmup_steps
            return cosine(self.base_lr, self.final_lr, k - self.warmup_steps, span)
        # The authors' scheduler is one call ahead (their constructor steps it once) and its
        # cosine runs past the end unclamped, floored at final_lr.
        step = k + 1
        if step < self.warmup_steps:
            return self.start_lr + (step / self.warmup_steps) * (self.base_lr - self.start_lr)
        span = max(1, self.total_steps - self.warmup_steps)
        progress = (step - self.warmup_steps) / span
        value = self.final_lr + (self.base_lr - self.final_lr) * 0.5 * (
            1.0 + math.cos(math.pi * progress)
        )
        return max(self.final_lr, value)

    def weight_decay_at(self, k: int) -> float:
        """Weight decay of the decayed group set by the k-th call of :meth:`step`."""
        return cosine(self.base_weight_decay, self.final_weight_decay, k, self.total_steps)

    def step(self) -> tuple[float, float]:
        """Advance one iteration and set its values on the optimiser; returns (lr, wd)."""
        if self.steps_taken >= self.total_steps:
            # Official code would climb back up the cosine; past the end is a loop bug.
            raise RuntimeError(
                f"Schedules.step: all {self.total_steps} scheduled iterations already taken"
            )
        self.steps_taken += 1
        self.lr = self.lr_at(self.steps_taken)
        self.weight_decay = self.weight_decay_at(self.steps_taken)
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr
            if not group.get(WD_EXCLUDE, False):
                group["weight_decay"] = self.weight_decay
        return self.lr, self.weight_decay

    def state_dict(self) -> dict[str, int]:
        return {"steps_taken": self.steps_taken}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Restore the counter and the values it had set (the optimiser's own state holds them)."""
        steps = int(state["steps_taken"])
        if not 0 <= steps <= self.total_steps:
            raise ValueError(f"Schedules: steps_taken {steps} outside [0, {self.total_steps}]")
        self.steps_taken = steps
        if steps:
            self.lr = self.lr_at(steps)
            self.weight_decay = self.weight_decay_at(steps)

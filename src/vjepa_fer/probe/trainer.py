"""One probe's training state: :class:`ProbeTrainer`, a clip-stream consumer.

Implements docs/protocol.md ("Attentive probe", "Training unit",
"Optimisation"). A probe's weights do not depend on which other probes train beside it: its
initialisation comes from its own seed, the epoch's video order is a keyed permutation of the
*whole* dataset filtered to its training set (:func:`epoch_order`), and augmentation is keyed by
(seed, video, epoch, clip). The loop that drives trainers is in probe/train.py.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from vjepa_fer import schema
from vjepa_fer.probe.attentive import AttentiveProbe
from vjepa_fer.probe.optim import AUTHORS, Schedules, make_optimizer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeSpec:
    """One probe: which fold it holds out and its optimisation hyper-parameters."""

    dataset: str
    fold: int
    variant: str = "main"
    lr: float = AUTHORS.lr
    final_lr: float = AUTHORS.final_lr
    weight_decay: float = AUTHORS.weight_decay
    final_weight_decay: float = AUTHORS.final_weight_decay
    seed: int = 0
    head_classes: int = 0  # 0 = the dataset's own class count; 8 = the authors' CREMA-D head

    @property
    def name(self) -> str:
        return f"fold{self.fold}/{self.variant}"


@dataclass(frozen=True)
class TrainConfig:
    """The authors' values are the defaults (docs/protocol.md, "Optimisation")."""

    epochs: int = AUTHORS.epochs
    batch_videos: int = AUTHORS.batch_videos
    grad_clip: float = AUTHORS.grad_clip
    clips: int = schema.default("probe.clips")
    # video: 8 clips pooled at once | clip: the paper's one clip per sample
    unit: str = schema.default("probe.unit")
    drop_last: bool = False  # the authors' training loader keeps the last partial batch
    reshuffle: bool = True  # False repeats epoch 0's order (the authors' sampler bug)
    random_clips: bool = False
    # ≥ 520 frames: the authors' random window per partition
    long_window: str = schema.default("probe.long_window")
    augment: bool = True
    seed: int = 0
    lr_schedule: str = AUTHORS.lr_schedule  # "authors" (one call ahead) | "aligned"
    extra: dict = field(default_factory=dict)


def epoch_order(videos: list[str], seed: int, epoch: int) -> list[str]:
    """A permutation of the dataset's videos keyed by (seed, epoch), independent of any probe."""
    digest = hashlib.blake2b(f"order|{seed}|{epoch}".encode(), digest_size=8).digest()
    rng = np.random.default_rng(int.from_bytes(digest, "little"))
    ordered = sorted(videos)
    return [ordered[i] for i in rng.permutation(len(ordered))]


class ProbeTrainer:
    """Trains one probe from the clips streamed to it (a clip-stream consumer)."""

    def __init__(
        self,
        spec: ProbeSpec,
        labels: dict[str, int],
        *,
        embed_dim: int,
        num_heads: int,
        num_classes: int,
        cfg: TrainConfig,
        device: str = "cpu",
        amp_dtype: torch.dtype | None = None,
    ) -> None:
        self.spec, self.labels, self.cfg = spec, labels, cfg
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.device, self.amp_dtype = torch.device(device), amp_dtype
        # fp16 autocast goes with a GradScaler, as in the authors' code (their fp16 switch);
        # bf16 and float32 need none. Gradients are unscaled before the norm clip.
        self.scaler = torch.amp.GradScaler(self.device.type) if amp_dtype == torch.float16 else None
        self.last_grad_norm = float("nan")
        self.probe = AttentiveProbe(embed_dim, num_heads, num_classes, seed=spec.seed)
        self.probe.to(self.device).train()
        self.optimizer = make_optimizer(self.probe, lr=spec.lr, weight_decay=spec.weight_decay)
        n = len(labels)
        self.steps_per_epoch = (
            n // cfg.batch_videos if cfg.drop_last else math.ceil(n / cfg.batch_videos)
        )
        if self.steps_per_epoch == 0:
            raise ValueError(
                f"probe {spec.name}: {n} training videos < batch of {cfg.batch_videos}"
            )
        self.schedules = Schedules(
            self.optimizer,
            total_steps=cfg.epochs * self.steps_per_epoch,
            lr=spec.lr,
            final_lr=spec.final_lr,
            weight_decay=spec.weight_decay,
            final_weight_decay=spec.final_weight_decay,
            lr_schedule=cfg.lr_schedule,
        )
        self._clips: dict[str, dict[int, object]] = {}
        self._batch: list[tuple[object, int]] = []
        self._epoch_loss: list[float] = []
        self._epoch_correct = 0
        self._epoch_seen = 0
        self.curve: list[dict] = []

    def wants(self, request) -> bool:
        return request.video in self.labels

    def consume(self, requests, tokens) -> None:
        for r, t in zip(requests, tokens, strict=True):
            clips = self._clips.setdefault(r.video, {})
            clips[r.clip] = t
            if len(clips) == self.cfg.clips:
                self._video_ready(r.video)

    def _video_ready(self, video: str) -> None:
        clips = self._clips.pop(video)
        stacked = torch.stack([clips[k] for k in sorted(clips)])  # (clips, N, D)
        self._batch.append((stacked, self.labels[video]))
        if len(self._batch) == self.cfg.batch_videos:
            self._step()

    def _step(self) -> None:
        tokens = torch.stack([t for t, _ in self._batch])  # (B, clips, N, D)
        target = torch.tensor([y for _, y in self._batch], device=self.device)
        self._batch = []
        b, c, n, d = tokens.shape
        if self.cfg.unit == "video":
            x = tokens.reshape(b, c * n, d)  # the 8 clips' tokens pooled at once
        else:
            x = tokens.reshape(b * c, n, d)  # one clip per sample, the video's label on each
            target = target.repeat_interleave(c)
        x = x.to(self.device, torch.float32)
        self.schedules.step()
        with torch.autocast(
            self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None
        ):
            logits = self.probe(x)
        loss = F.cross_entropy(logits.float(), target)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(self.probe.parameters(), self.cfg.grad_clip)
            self.optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)  # clip the true gradients, not scaled ones
            norm = torch.nn.utils.clip_grad_norm_(self.probe.parameters(), self.cfg.grad_clip)
            self.scaler.step(self.optimizer)  # skipped when the gradients are not finite
            self.scaler.update()
        self.last_grad_norm = float(norm)
        self._epoch_loss.append(float(loss.detach()))
        self._epoch_correct += int((logits.argmax(1) == target).sum())
        self._epoch_seen += len(target)

    def end_epoch(self, epoch: int) -> None:
        """Close the epoch: train on (or drop) the partial batch, record the curve."""
        if self._clips:
            raise RuntimeError(
                f"probe {self.spec.name}: incomplete videos {sorted(self._clips)[:3]}"
            )
        if self._batch and not self.cfg.drop_last:
            self._step()
        self._batch = []
        self.curve.append(
            {
                "epoch": epoch + 1,
                "loss": float(np.mean(self._epoch_loss)) if self._epoch_loss else float("nan"),
                "train_accuracy": 100.0 * self._epoch_correct / max(1, self._epoch_seen),
                "lr": self.schedules.lr,
                "weight_decay": self.schedules.weight_decay,
                "steps": len(self._epoch_loss),
            }
        )
        self._epoch_loss, self._epoch_correct, self._epoch_seen = [], 0, 0

    def state(self) -> dict:
        """Everything a resumed job needs; loadable with torch.load(weights_only=True)."""
        state = {
            "probe": self.probe.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedules": self.schedules.state_dict(),
            "curve": self.curve,
        }
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        return state

    def load_state(self, state: dict) -> None:
        self.probe.load_state_dict(state["probe"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedules.load_state_dict(state["schedules"])
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
        self.curve = list(state["curve"])

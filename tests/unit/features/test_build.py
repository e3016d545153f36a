"""The encoder stages' shared stream wiring (vjepa_fer.features.build): flags -> pixel settings,
and the run with its CPU-fallback report and progress bar, written once for extract/infer/train."""

from __future__ import annotations

import argparse
import logging

import pytest
import torch

from vjepa_fer.features import build
from vjepa_fer.features.stream import ClipStream
from vjepa_fer.models import build_encoder
from vjepa_fer.video.augment import AugmentConfig


def flags(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    build.add_encoder_arguments(parser)
    return parser.parse_args(["--encoder", "tiny", "--img-size", "32", *argv])


def test_pixel_config_follows_the_flags():
    args = flags("--seed", "7", "--augment-backend", "reference")
    cfg = build.pixel_config(args, num_views=3)
    assert (cfg.size, cfg.seed, cfg.num_views, cfg.augment_backend) == (32, 7, 3, "reference")
    assert cfg.augment == AugmentConfig()
    custom = AugmentConfig(reprob=0.0)
    assert build.pixel_config(args, augment=custom).augment is custom


class Feeder:
    """Stands in for a stage's work: hands the stream's consumers ``n`` clips' tokens."""

    def __init__(self, stream: ClipStream, n: int) -> None:
        self.stream, self.n = stream, n

    def __call__(self) -> str:
        self.stream._feed([object()] * self.n, torch.zeros(self.n, 2, 2))
        return "done"


def test_run_reported_reports_the_cpu_fallback_and_counts_clips(caplog):
    args = flags("--device", "auto")
    encoder = build_encoder("tiny", img_size=32, num_frames=16)
    stream = ClipStream(encoder, device="cpu")
    with caplog.at_level(logging.INFO, logger="vjepa_fer"):
        out = build.run_reported(
            stream, encoder, args, clips=5, desc="extract eval", work=Feeder(stream, 5)
        )
    assert out == "done"  # the work's result comes back
    (fallback,) = [r for r in caplog.records if r.name == "vjepa_fer.features.cpu_fallback"]
    assert "5 clip forwards" in fallback.getMessage()
    (counter,) = [c for c, _ in stream._consumers]
    assert counter.progress.n == 5  # the bar counted every clip the stream handed out


def test_cpu_budget_is_the_jobs_omp_threads_else_every_core():
    assert build.cpu_budget({"OMP_NUM_THREADS": "3"}) == 3
    assert build.cpu_budget({"OMP_NUM_THREADS": "0"}) == 1
    cores = build.cpu_budget({})
    assert cores >= 1
    assert build.cpu_budget({"OMP_NUM_THREADS": "lots"}) == cores


def test_encoder_threads_split_the_budget_among_ranks():
    assert build.encoder_threads(budget=16, ranks=1) == 16
    assert build.encoder_threads(budget=16, ranks=2) == 8
    assert build.encoder_threads(budget=2, ranks=3) == 1  # never 0
    assert build.encoder_threads(budget=16, ranks=2, override="3") == 3
    assert build.encoder_threads(budget=16, ranks=2, override="") == 8  # empty = not set
    for bad in ("0", "-1", "two"):
        with pytest.raises(ValueError, match="VJEPA_FER_ENCODER_THREADS='"):
            build.encoder_threads(budget=4, ranks=1, override=bad)


def test_build_stream_sets_the_cpu_encoders_threads(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    monkeypatch.delenv(build.ENCODER_THREADS_ENV, raising=False)
    try:
        build.build_stream(flags("--random-weights", "--device", "cpu", "--workers", "2"))
        assert torch.get_num_threads() == 5  # the job's budget, workers not subtracted
        ranks = build.Ranks(rank=0, size=2)
        build.build_stream(flags("--random-weights", "--device", "cpu"), ranks=ranks)
        assert torch.get_num_threads() == 2  # 5 cores, 2 ranks
        monkeypatch.setenv(build.ENCODER_THREADS_ENV, "1")
        build.build_stream(flags("--random-weights", "--device", "cpu", "--workers", "2"))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)

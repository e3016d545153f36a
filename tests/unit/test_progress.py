"""Progress reporting (vjepa_fer.progress) and the CPU-fallback warning (features.cpu_fallback)."""

from __future__ import annotations

import io
import logging
import re

import pytest
import torch

from vjepa_fer.features.cpu_fallback import clip_flops, report_cpu_fallback
from vjepa_fer.models.registry import build_encoder
from vjepa_fer.progress import ClipCounter, Progress, format_duration

LINE = re.compile(
    r"^(?P<desc>.+): (?P<done>\d+)/(?P<total>\d+) (?P<unit>\w+) \((?P<pct>[\d.]+)%\), "
    r"(?P<rate>[\d.e+]+) \w+/s, elapsed \S+, ETA (?P<eta>\S+)$"
)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_log_lines_without_a_tty_every_interval(caplog):
    clock = Clock()
    log = logging.getLogger("vjepa_fer.test_progress")
    with caplog.at_level(logging.INFO, logger=log.name):
        bar = Progress(100, "CREMA-D", "files", interval=30, tty=False, log=log, clock=clock)
        for _ in range(10):  # 10 files in 5 s: no line yet
            clock.t += 0.5
            bar.update(1)
        assert caplog.records == []
        clock.t += 25.0  # 30 s after the start
        bar.update(10)
        clock.t += 1.0
        bar.update(1)  # within the interval: no second line
        bar.close()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    first = LINE.match(lines[0])
    assert first, lines[0]
    assert (first["desc"], first["done"], first["total"], first["unit"]) == (
        "CREMA-D",
        "20",
        "100",
        "files",
    )
    assert float(first["pct"]) == 20.0
    assert float(first["rate"]) == pytest.approx(20 / 30, rel=1e-2)
    assert first["eta"] == "2m00s"  # 80 files at 2/3 file/s
    assert lines[1].startswith("CREMA-D: 21/100 files (21.0%)")  # the final line on close


def test_bytes_are_human_readable_and_unknown_total_has_no_eta():
    clock = Clock()
    bar = Progress(None, "ckpt", "B", tty=False, clock=clock)
    clock.t += 2
    bar.update(3 * 1024 * 1024)
    assert bar.line() == "ckpt: 3.0 MiB B, 1.5 MiB/s, elapsed 2s"


def test_disabled_progress_reports_nothing(caplog):
    with caplog.at_level(logging.INFO, logger="vjepa_fer"):
        with Progress(5, "x", interval=0, enabled=False, tty=False) as bar:
            bar.update(5)
    assert caplog.records == []


def test_tty_draws_a_tqdm_bar_and_logs_nothing(caplog):
    stream = io.StringIO()
    with caplog.at_level(logging.INFO, logger="vjepa_fer"):
        with Progress(4, "train ravdess", "clips", stream=stream, tty=True, interval=0) as bar:
            assert bar.bar is not None
            bar.update(4)
            assert bar.bar.n == 4
    assert "train ravdess:" in stream.getvalue() and "/4 [" in stream.getvalue()
    assert caplog.records == []


def test_format_duration():
    assert [format_duration(s) for s in (5, 65, 3 * 3600 + 5 * 60, float("inf"))] == [
        "5s",
        "1m05s",
        "3h05m",
        "?",
    ]


def test_clip_counter_counts_what_the_stream_hands_it():
    clock = Clock()
    bar = Progress(10, "infer", "clips", tty=False, clock=clock)
    counter = ClipCounter(bar)
    counter.consume([object()] * 4, torch.zeros(4, 2, 2))
    counter.consume([object()] * 6, torch.zeros(6, 2, 2))
    assert bar.n == 10


def test_cpu_fallback_is_loud_for_a_big_encoder(caplog):
    big = build_encoder("vit_huge", img_size=384, num_frames=16, device="meta")
    # compute.md: ViT-H/16 at 384 px is about 9.3 TFLOP per clip.
    assert clip_flops(big, 384, 16) == pytest.approx(9.3e12, rel=0.03)
    with caplog.at_level(logging.INFO, logger="vjepa_fer"):
        seconds = report_cpu_fallback(
            "auto", "cpu", big, name="vit_huge", img_size=384, num_frames=16,
            clips=1_000_000, flops_per_second=1e11,
        )  # fmt: skip
    assert seconds == pytest.approx(1e6 * clip_flops(big, 384, 16) / 1e11)
    (record,) = [r for r in caplog.records if r.name == "vjepa_fer.features.cpu_fallback"]
    assert record.levelno == logging.WARNING
    text = record.getMessage()
    assert "no CUDA GPU" in text and "vit_huge" in text and "1,000,000 clip forwards" in text
    assert "9.35 TFLOP each" in text and "100 GFLOP/s" in text
    assert "features.device: cpu" in text and "GPU" in text


def test_cpu_fallback_is_one_info_line_for_a_tiny_encoder_and_silent_otherwise(caplog):
    tiny = build_encoder("tiny", img_size=32, num_frames=16)
    with caplog.at_level(logging.INFO, logger="vjepa_fer"):
        assert (
            report_cpu_fallback(
                "cpu", "cpu", tiny, name="tiny", img_size=32, num_frames=16, clips=10
            )
            is None
        )  # asked for the CPU: nothing to say
        seconds = report_cpu_fallback(
            "auto", "cpu", tiny, name="tiny", img_size=32, num_frames=16, clips=100
        )
    assert seconds is not None and seconds < 60
    (record,) = [r for r in caplog.records if r.name == "vjepa_fer.features.cpu_fallback"]
    assert record.levelno == logging.INFO and "tiny encoder runs on the CPU" in record.getMessage()

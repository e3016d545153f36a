"""Progress a user can see: a bar in a terminal, periodic one-line log records elsewhere.

Downloads, extraction, training and inference run for minutes to days. Run by hand in a terminal
they draw a tqdm bar; under Snakemake (stderr redirected into the rule's log, not a TTY) or in CI
they log one line every ``interval`` seconds instead, e.g.::

    CREMA-D: 1200/7442 files (16.1%), 14.3 files/s, elapsed 1m24s, ETA 7m16s

so ``tail -f results/logs/...`` shows how far a job is and when it will end. The last line is
always logged when the work is complete, so every log ends with the totals.

    with Progress(total=len(files), desc="CREMA-D", unit="files") as bar:
        for f in files:
            ...
            bar.update(1)
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Callable
from typing import IO, Any

logger = logging.getLogger(__name__)

# Seconds between log lines when not on a terminal; VJEPA_FER_PROGRESS_INTERVAL overrides it.
DEFAULT_INTERVAL = 30.0


def _interval_from_env() -> float:
    raw = os.environ.get("VJEPA_FER_PROGRESS_INTERVAL")
    if raw is None:
        return DEFAULT_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        logger.warning("VJEPA_FER_PROGRESS_INTERVAL=%r is not a number; using %s s", raw, 30)
        return DEFAULT_INTERVAL
    return max(0.0, value)


def format_duration(seconds: float) -> str:
    """``3h05m``, ``4m07s``, ``12s``: short enough for one log line."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def format_amount(value: float, unit: str) -> str:
    """Bytes as ``12.3 MiB``; anything else as a plain number."""
    if unit == "B":
        for prefix in ("", "Ki", "Mi", "Gi", "Ti"):
            if abs(value) < 1024 or prefix == "Ti":
                return f"{value:.0f} B" if not prefix else f"{value:.1f} {prefix}B"
            value /= 1024
    return f"{int(value)}" if float(value).is_integer() else f"{value:.1f}"


class Progress:
    """Counts work done out of ``total``; draws a bar on a TTY, else logs periodic lines.

    ``enabled=False`` reports nothing at all. ``tty`` forces the mode (default: whether
    ``stream`` is a terminal). ``clock`` is for tests. ``total`` may be ``None`` (unknown): the
    lines then show the count and the rate only.
    """

    def __init__(
        self,
        total: float | None,
        desc: str,
        unit: str = "it",
        *,
        enabled: bool = True,
        interval: float | None = None,
        stream: IO[str] | None = None,
        tty: bool | None = None,
        log: logging.Logger | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.enabled = enabled
        self.interval = _interval_from_env() if interval is None else interval
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None else tty
        self.log = log or logger
        self.clock = clock
        self.n = 0.0
        self.start = self.clock()
        self._last_line = self.start
        self._closed = False
        self.bar: Any = None
        if enabled and self.tty:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                desc=desc,
                unit=unit,
                unit_scale=unit == "B",
                unit_divisor=1024,
                file=self.stream,
                leave=False,
                dynamic_ncols=True,
            )

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(complete=exc[0] is None)

    def reset(self, total: float | None = None, done: float = 0.0) -> None:
        """Start over (a restarted transfer) with a new ``total`` and ``done`` already."""
        self.total, self.n = total, float(done)
        if self.bar is not None:
            self.bar.reset(total=total)
            self.bar.update(done)

    def update(self, n: float = 1) -> None:
        if not self.enabled or self._closed:
            return
        self.n += n
        if self.bar is not None:
            self.bar.update(n)
            return
        now = self.clock()
        if now - self._last_line >= self.interval:
            self._last_line = now
            self.log.info("%s", self.line(now))

    def line(self, now: float | None = None) -> str:
        """``desc: done/total unit (pct), rate unit/s, elapsed ..., ETA ...``."""
        now = self.clock() if now is None else now
        elapsed = max(now - self.start, 1e-9)
        rate = self.n / elapsed
        done = format_amount(self.n, self.unit)
        if self.total:
            total = format_amount(self.total, self.unit)
            pct = 100.0 * self.n / self.total
            eta = (self.total - self.n) / rate if rate > 0 else float("inf")
            head = f"{done}/{total} {self.unit} ({pct:.1f}%)"
            tail = f", ETA {format_duration(eta)}"
        else:
            head, tail = f"{done} {self.unit}", ""
        if self.unit == "B":
            rate_text = f"{format_amount(rate, self.unit)}/s"
        else:
            rate_text = f"{rate:.3g} {self.unit}/s"
        return f"{self.desc}: {head}, {rate_text}, elapsed {format_duration(elapsed)}{tail}"

    def close(self, complete: bool = True) -> None:
        """Remove the bar; without a TTY log the final line (only for finished work)."""
        if self._closed:
            return
        self._closed = True
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.close()
        elif complete and self.n > 0:
            self.log.info("%s", self.line())


class ClipCounter:
    """A clip-stream consumer that only counts the clips it is handed into a :class:`Progress`.

    Registered without a filter, it sees every encoded clip once, so stages report progress
    without reaching into the stream: ``stream.register(ClipCounter(progress))``.
    """

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def consume(self, requests: list[Any], tokens: Any) -> None:
        self.progress.update(len(requests))

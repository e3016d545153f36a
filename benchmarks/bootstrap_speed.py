"""Bootstrap intervals: a naive per-resample loop against the vectorised count-weighted version.

A CREMA-D-sized case (7442 videos in 5 folds, 6 classes, ~50 % accuracy). Both versions draw the
same resamples (the stratum seeds of vjepa_fer.evaluate.stats), so their fold-mean UAR, WAR and
paper-compatible UAR must agree; the script checks that before printing the times.

    python benchmarks/bootstrap_speed.py --samples 1000 --naive-samples 100
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from vjepa_fer.evaluate.metrics import metrics_from_predictions
from vjepa_fer.evaluate.stats import METRICS, Decisions, replicates, stratum_seed

CLASSES = ("angry", "disgust", "fearful", "happy", "neutral", "sad")


def case(videos: int, folds: int, seed: int = 0) -> list[Decisions]:
    rng = np.random.default_rng(seed)
    out = []
    for k, part in enumerate(np.array_split(np.arange(videos), folds), start=1):
        y = rng.integers(0, len(CLASSES), len(part))
        p = np.where(rng.random(len(part)) < 0.5, y, rng.integers(0, len(CLASSES), len(part)))
        names = tuple(f"v{i}" for i in part)
        out.append(Decisions(f"crema-d/fold{k}", names, y, p, CLASSES))
    return out


def naive(folds: list[Decisions], samples: int, seed: int) -> dict[str, np.ndarray]:
    """One metrics_from_predictions call per fold and resample."""
    per_fold = []
    for d in folds:
        rng = np.random.default_rng(stratum_seed(seed, d.stratum))
        draws = rng.integers(0, len(d.videos), size=(samples, len(d.videos)))
        names = np.asarray(d.classes)
        rows = []
        for idx in draws:
            m = metrics_from_predictions(names[d.y[idx]], names[d.p[idx]], d.classes)
            rows.append([m[k] for k in METRICS])
        per_fold.append(np.asarray(rows))  # (samples, metrics)
    mean = np.mean(per_fold, axis=0)
    return {m: mean[:, j] for j, m in enumerate(METRICS)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=7442)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--naive-samples", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    folds = case(args.videos, args.folds)

    t0 = time.perf_counter()
    fast = replicates({"x": folds}, samples=args.samples, seed=args.seed)["x"]
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    slow = naive(folds, args.naive_samples, args.seed)
    t_slow = time.perf_counter() - t0
    # The first naive_samples resamples are the same draws in both (same seed, same order).
    for m in METRICS:
        np.testing.assert_allclose(fast.samples[m][: len(slow[m])], slow[m], rtol=0, atol=1e-9)
    per_naive = t_slow / args.naive_samples
    print(f"{args.videos} videos, {args.folds} folds, {len(CLASSES)} classes")
    print(f"naive loop : {per_naive * 1e3:8.2f} ms per resample "
          f"({per_naive * args.samples:7.1f} s for {args.samples})")  # fmt: skip
    print(f"vectorised : {t_fast / args.samples * 1e3:8.2f} ms per resample "
          f"({t_fast:7.2f} s for {args.samples}); identical replicates checked")  # fmt: skip
    print(f"speed-up   : {per_naive / (t_fast / args.samples):.0f}x")


if __name__ == "__main__":
    main()

"""Sharded on-disk store of encoder tokens (cached mode of docs/compute.md).

A store is a folder of *parts*. A part is one safetensors file of stacked clip tokens plus a CSV
index of its rows (video, clip, view, epoch, start, identity, settings). Parts are written
atomically and hold whole videos only, so a killed extraction loses at most the part in progress.

The store is a cache keyed by content and settings: every row records the video file's ``identity``
(size and modification time of the file or of every frame of a frame folder, or a content hash with
``features.identity: content``; ``io.file_identity``) and the ``settings`` key (a digest of every
setting that changes the tokens: encoder, checkpoint file, resolution, frames, step, precision,
seed, pooling, clip plan, ...). A stored video is reused only when both match; anything else is
re-encoded, with a log line saying why. Extraction shards (separate Snakemake jobs, split by actor)
write parts under their own tag and delete or rewrite only their own files, but reuse any tag's
parts, so a changed shard count re-plans cleanly. :func:`merge_stores` picks, per video, one part
holding it with the current identity and settings and joins those indexes without touching the
tensors, so the merge is exact by construction.

Settings trade disk for fidelity: tokens in fp16, optionally mean-pooled over space (one token per
tubelet step) or over everything (one token per clip), and optionally 8-bit with one fp16 scale
per token (symmetric absmax).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from vjepa_fer import schema
from vjepa_fer.io import atomic_open, atomic_path, write_csv

logger = logging.getLogger(__name__)

INDEX_COLUMNS = ["video", "clip", "view", "epoch", "start", "part", "row", "identity", "settings"]
POOLING = ("none", "space", "all")
PART = re.compile(r"^part-(?P<tag>[^-]+)-(?P<num>\d+)$")


def settings_key(settings: Mapping) -> str:
    """A short digest of the settings that change stored tokens (order of keys irrelevant)."""
    blob = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _changed(old: Mapping, new: Mapping) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


@dataclass(frozen=True)
class StoreConfig:
    """How tokens are reduced before they are written."""

    # none | space (one token per time step) | all (one token per clip)

    pool: str = schema.default("features.pool")
    int8: bool = False
    grid: tuple[int, int, int] = (0, 0, 0)  # (t, h, w) token grid, needed for pool="space"

    def __post_init__(self) -> None:
        if self.pool not in POOLING:
            raise ValueError(f"store pooling must be one of {POOLING}, got {self.pool!r}")
        if self.pool == "space" and 0 in self.grid:
            raise ValueError("pool='space' needs the token grid (t, h, w)")


def reduce_tokens(tokens: torch.Tensor, cfg: StoreConfig) -> torch.Tensor:
    """(B, N, D) encoder tokens -> (B, N', D) float32 tokens as the store keeps them."""
    tokens = tokens.float()
    if cfg.pool == "all":
        return tokens.mean(dim=1, keepdim=True)  # (B, 1, D)
    if cfg.pool == "space":
        t, h, w = cfg.grid
        b, n, d = tokens.shape
        if n != t * h * w:
            raise ValueError(f"tokens have N={n}, the grid {cfg.grid} needs {t * h * w}")
        return tokens.reshape(b, t, h * w, d).mean(dim=2)  # (B, T', D)
    return tokens


def quantize(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-token int8: values round(x / s) with s = max|x| / 127, s kept in fp16."""
    scale = tokens.abs().amax(dim=-1, keepdim=True).clamp_min(1e-8) / 127.0
    scale = scale.half()
    q = torch.round(tokens / scale.float()).clamp(-127, 127).to(torch.int8)
    return q, scale


def dequantize(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return q.float() * scale.float()


class StoreWriter:
    """Collects clip tokens video by video and flushes whole videos into parts of ~part_clips."""

    def __init__(
        self,
        root: str | Path,
        tag: str,
        cfg: StoreConfig,
        part_clips: int = 4096,
        meta: dict | None = None,
    ) -> None:
        self.root = Path(root)
        self.tag = tag
        self.cfg = cfg
        self.part_clips = part_clips
        if not re.fullmatch(r"[A-Za-z0-9_]+", tag):
            raise ValueError(f"store tag {tag!r}: letters, digits and _ only")
        self.root.mkdir(parents=True, exist_ok=True)
        self._rows: list[dict] = []
        self._tensors: list[torch.Tensor] = []
        # Row identities of the videos being written (video -> file_identity), set by the caller.
        self.identities: dict[str, str] = {}
        self.settings = {**asdict(self.cfg), "grid": list(cfg.grid), **(meta or {})}
        self.key = settings_key(self.settings)
        existing = self.root / "store.json"
        if existing.exists():
            old = json.loads(existing.read_text())
            if old != self.settings:
                logger.warning(
                    "%s: settings changed (%s): clips stored with the old settings are not "
                    "reused but encoded again",
                    self.root,
                    ", ".join(_changed(old, self.settings)),
                )
        write_json(existing, self.settings)
        self._clean_own_parts()
        numbers = [int(m["num"]) for m in map(PART.match, self._own_names()) if m]
        self._next = max(numbers) + 1 if numbers else 0

    def _own_names(self) -> set[str]:
        names = {p.stem for p in self.root.glob(f"part-{self.tag}-*.csv")}
        return names | {p.stem for p in self.root.glob(f"part-{self.tag}-*.safetensors")}

    def _clean_own_parts(self) -> None:
        """Remove this tag's leftovers: temporary files of a killed job, tensor files whose index
        never appeared, and parts written with other settings. Other tags' files are untouched
        (another shard may be writing them right now)."""
        for tmp in self.root.glob(f".part-{self.tag}-*.tmp"):
            logger.info("removing a killed job's temporary file %s", tmp.name)
            tmp.unlink(missing_ok=True)
        for name in remove_incomplete(self.root, self.tag):
            logger.info("removed %s: its index never appeared (a killed job)", name)
        for csv in sorted(self.root.glob(f"part-{self.tag}-*.csv")):
            keys = set(pd.read_csv(csv).get("settings", pd.Series(["(none)"])).astype(str))
            if keys != {self.key}:
                logger.info("removing %s: written with other settings", csv.stem)
                csv.with_suffix(".safetensors").unlink(missing_ok=True)
                csv.unlink()

    def done_videos(self) -> set[str]:
        """Videos in complete parts of any tag written with the current settings."""
        index = part_index(self.root)
        return set(index.loc[index["settings"] == self.key, "video"])

    def stored_forwards(self, videos: set[str], identities: Mapping[str, str]) -> int:
        """Clip forwards that produced the stored rows of ``videos`` (current settings and
        identities; one row = one clip view = one forward, each counted once however many parts
        hold it): the work of earlier jobs, e.g. one killed after its last part was written."""
        index = part_index(self.root)
        index = index[index["video"].isin(videos) & (index["settings"] == self.key)]
        index = index[index["identity"].astype(str) == index["video"].map(identities)]
        return int(len(index.drop_duplicates(["video", "clip", "view", "epoch"])))

    def reusable(self, identities: Mapping[str, str]) -> set[str]:
        """Videos of ``identities`` (video -> file_identity) stored with the same identity and
        the current settings, in complete parts of any tag; logs why any other stored video of
        ``identities`` will be encoded again."""
        index = part_index(self.root)
        index = index[index["video"].isin(identities)]
        current = index["settings"] == self.key
        same = index["identity"].astype(str) == index["video"].map(identities)
        ok = set(index.loc[current & same, "video"])
        changed = index.loc[current & ~same & ~index["video"].isin(ok)]
        for video, old in changed.drop_duplicates("video")[["video", "identity"]].itertuples(
            index=False
        ):
            logger.info(
                "re-encoding %s: the file changed since it was stored (identity %s -> %s)",
                video,
                old,
                identities[video],
            )
        other = set(index.loc[~current, "video"]) - ok - set(changed["video"])
        if other:
            logger.info(
                "re-encoding %d stored videos: stored with other settings, e.g. %s",
                len(other),
                sorted(other)[:3],
            )
        return ok

    def add(self, meta: Sequence[dict], tokens: torch.Tensor) -> None:
        """Rows of one or more clips (dicts with video, clip, view, epoch, start) and (B, N, D)."""
        if len(meta) != tokens.shape[0]:
            raise ValueError(f"{len(meta)} rows of metadata for {tokens.shape[0]} clips")
        self._rows.extend(dict(m) for m in meta)
        self._tensors.append(reduce_tokens(tokens.detach().cpu(), self.cfg))

    def end_video(self) -> None:
        """Mark a video boundary: a part may be flushed only here."""
        if sum(t.shape[0] for t in self._tensors) >= self.part_clips:
            self.flush()

    def flush(self) -> None:
        if not self._rows:
            return

        stacked = torch.cat(self._tensors)  # (M, N', D)
        name = f"part-{self.tag}-{self._next:05d}"
        tensors = {"tokens": stacked.half().contiguous()}
        if self.cfg.int8:
            q, scale = quantize(stacked)
            tensors = {"tokens": q.contiguous(), "scale": scale.contiguous()}
        with atomic_path(self.root / f"{name}.safetensors") as tmp:
            save_file(tensors, str(tmp))
        index = pd.DataFrame(self._rows)
        index["part"] = name
        index["row"] = range(len(index))
        unknown = sorted(set(index["video"]) - set(self.identities))
        if unknown:
            raise ValueError(f"{self.root}: no file identity for videos {unknown[:5]}")
        index["identity"] = index["video"].map(self.identities)
        index["settings"] = self.key
        # The CSV is written last: its presence beside the tensors marks the part complete.
        write_csv(index[INDEX_COLUMNS], self.root / f"{name}.csv")
        logger.info("stored %d clips in %s", len(index), name)
        self._next += 1
        self._rows, self._tensors = [], []

    def close(self) -> None:
        self.flush()


def write_json(path: Path, obj: dict) -> None:
    with atomic_open(path) as fh:
        json.dump(obj, fh, indent=2)


def part_index(root: str | Path, tags: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows of every complete part under root (optionally only the given shard tags)."""
    root = Path(root)
    frames = []
    for csv in sorted(root.glob("part-*.csv")):
        m = PART.match(csv.stem)
        if not m or (tags is not None and m["tag"] not in tags):
            continue
        if not csv.with_suffix(".safetensors").exists():
            logger.warning("%s has no tensor file; ignored", csv)
            continue
        frame = pd.read_csv(csv, dtype={"identity": str, "settings": str})
        for col in ("identity", "settings"):  # parts of older versions: never reused
            if col not in frame.columns:
                frame[col] = ""
        frames.append(frame[INDEX_COLUMNS])
    if not frames:
        return pd.DataFrame(columns=INDEX_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def merge_stores(
    root: str | Path,
    out_index: str | Path,
    *,
    settings: str | None = None,
    identities: Mapping[str, str] | None = None,
    tags: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Join part indexes into one ``index.csv``: per video, the rows of one part that holds it
    with the current ``settings`` key and file identity (None: no filter), so parts left by an
    earlier shard plan or settings are skipped, not counted twice. ValueError on a clip stored
    twice within the chosen rows."""
    index = part_index(root, tags)
    if settings is not None:
        index = index[index["settings"] == settings]
    if identities is not None:
        index = index[index["identity"].astype(str) == index["video"].map(identities)]
    # One part per video (the first in name order): equal keys mean equal tokens.
    first = index.groupby("video", sort=False)["part"].transform("min")
    unused = sorted(set(index["part"]) - set(index.loc[index["part"] == first, "part"]))
    if unused:
        logger.info("%d parts hold only videos stored again elsewhere: %s", len(unused), unused)
    index = index[index["part"] == first]
    key = ["video", "clip", "view", "epoch"]
    dupes = index[index.duplicated(key, keep=False)]
    if len(dupes):
        raise ValueError(f"{root}: clips stored twice, e.g. {dupes.head(3).to_dict('records')}")
    index = index.sort_values(key, kind="stable").reset_index(drop=True)
    write_csv(index, out_index)
    return index


class FeatureStore:
    """Read access to a store: tokens of any rows, as float32."""

    def __init__(self, root: str | Path, index: str | Path | None = None) -> None:
        self.root = Path(root)
        meta = self.root / "store.json"
        if not meta.exists():
            raise FileNotFoundError(f"{meta}: not a feature store (no store.json)")
        self.cfg = json.loads(meta.read_text())
        self.index = pd.read_csv(index) if index else part_index(self.root)
        self._cache: dict[str, dict[str, torch.Tensor]] = {}

    def _part(self, name: str) -> dict[str, torch.Tensor]:
        if name not in self._cache:
            self._cache = {name: load_file(str(self.root / f"{name}.safetensors"))}
        return self._cache[name]

    def tokens(self, rows: pd.DataFrame) -> torch.Tensor:
        """(len(rows), N', D) float32 tokens of index rows, in the order given."""
        out = []
        for _, r in rows.iterrows():
            part = self._part(r["part"])
            t = part["tokens"][int(r["row"])]
            if "scale" in part:
                t = dequantize(t, part["scale"][int(r["row"])])
            out.append(t.float())
        return torch.stack(out) if out else torch.empty(0)

    def videos(self) -> Iterator[tuple[str, pd.DataFrame]]:
        yield from self.index.groupby("video", sort=True)


def store_bytes(clips: int, tokens_per_clip: int, dim: int, int8: bool = False) -> int:
    """Disk size of ``clips`` stored clips (tensor payload only)."""
    per_token = dim * (1 if int8 else 2) + (2 if int8 else 0)
    return clips * tokens_per_clip * per_token


def remove_incomplete(root: str | Path, tag: str | None = None) -> list[str]:
    """Delete tensor files whose index CSV never appeared (a part killed mid-write), of one
    shard ``tag`` (None: every tag, only safe when no shard is running)."""
    removed = []
    for st in Path(root).glob(f"part-{tag or '*'}-*.safetensors"):
        if not st.with_suffix(".csv").exists():
            os.remove(st)
            removed.append(st.name)
    return removed

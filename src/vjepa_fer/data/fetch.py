"""Resumable, verified HTTP downloads and safe zip extraction.

The generic half of the download stage (docs/datasets.md: sources and checksums); each dataset's own
logic lives in its module (``datasets/<name>/download.py``). :func:`fetch` writes ``<dest>.part``,
resumes it with HTTP ``Range`` requests, retries with exponential backoff, falls back to mirror
URLs, and renames the part onto ``dest`` only after its size, checksum and an optional content check
(``validate``, e.g. "loads as a checkpoint") pass, so a file that exists under its final name is
always a verified one. A host that refuses connections or whose name does not resolve is not retried
(:class:`HostUnreachable`); timeouts, 5xx and cut transfers are. :func:`fetch_many` runs many
fetches on a thread pool, collects every failure, and stops early when the hosts are unreachable
instead of failing thousands of files one by one. :func:`extract_zip` refuses archive members that
would land outside the target folder and moves the extracted tree into place only when the whole
archive has been unpacked. :func:`fetch_zenodo_checksums` reads sizes and md5s from a Zenodo
record's JSON; :func:`write_json` / :func:`read_json` handle the small marker and state files.

Used from Python::

    from vjepa_fer.data.fetch import fetch, extract_zip
    fetch(["https://mirror-a/x.zip", "https://mirror-b/x.zip"], Path("x.zip"),
          size=1234, checksum=("md5", "0123..."))
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import stat
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from vjepa_fer import __version__, schema
from vjepa_fer.io import PathEscapeError, atomic_open, contained, file_digest
from vjepa_fer.progress import Progress

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20
# A transfer slower than MIN_SPEED bytes/s over SPEED_WINDOW seconds is cut and retried (resumed):
# a server that trickles a byte now and then never trips the per-read timeout. A file not finished
# DEADLINE seconds after its first request fails for good (retries included), so no download
# hangs for ever. The defaults are the config's download.* keys, read from the schema.
MIN_SPEED = float(schema.default("download.min_speed"))
SPEED_WINDOW = 60.0
DEADLINE = float(schema.default("download.deadline"))
RETRIES: int = schema.default("download.retries")  # failed attempts allowed per file
TIMEOUT = float(schema.default("download.timeout"))  # seconds per network read
JOBS: int = schema.default("download.jobs")  # parallel transfers of a many-file dataset
# Statuses after which asking the same URL again cannot help: go to the next mirror at once.
PERMANENT_STATUS = frozenset({400, 401, 403, 404, 405, 410, 451})
USER_AGENT = f"vjepa-fer/{__version__} python-requests/{requests.__version__}"


class DownloadError(RuntimeError):
    """A file could not be downloaded (every URL and retry failed) or failed verification."""


class ChecksumError(DownloadError):
    """A downloaded file's size or digest differs from the expected one, twice in a row."""


class HostUnreachable(DownloadError):
    """Every URL of a file failed because its host refused connections or did not resolve.

    ``hosts`` maps each host to what happened (``connection refused``, ``name does not
    resolve``, ...). Asking again cannot help while the machine is offline, so it is not retried.
    """

    def __init__(self, message: str, hosts: Mapping[str, str]) -> None:
        super().__init__(message)
        self.hosts = dict(hosts)


# errno values of a socket that cannot reach its host at all (not a slow or overloaded one).
_UNREACHABLE_ERRNO = {
    errno.ECONNREFUSED: "connection refused",
    errno.ENETUNREACH: "network is unreachable",
    errno.EHOSTUNREACH: "no route to host",
}


def unreachable_reason(exc: BaseException) -> str | None:
    """Why ``exc`` means the host cannot be reached, or ``None`` for anything retryable.

    Connection refused, DNS failure, no route or no network: the same request would fail the
    same way at once. Timeouts (including connect timeouts) stay retryable: a busy host is slow.
    """
    if isinstance(exc, requests.Timeout):
        return None
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        err = stack.pop()
        if not isinstance(err, BaseException) or id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, (socket.timeout, TimeoutError)):
            return None
        if isinstance(err, (socket.gaierror, urllib3.exceptions.NameResolutionError)):
            return "name does not resolve"
        if isinstance(err, OSError) and err.errno in _UNREACHABLE_ERRNO:
            return _UNREACHABLE_ERRNO[err.errno]
        stack += [err.__cause__, err.__context__, getattr(err, "reason", None), *err.args]
    return None


def host_of(url: str) -> str:
    """``host[:port]`` of a URL, as named in messages."""
    return urlsplit(url).netloc or url


class UnsafeArchiveError(ValueError):
    """An archive member is absolute, escapes the target folder, or is a symbolic link."""


class _Transient(Exception):
    """A retryable transfer problem that requests does not raise itself (short body, bad range)."""


class _Permanent(Exception):
    """This URL will not work however often it is asked (404 and friends)."""


def new_session() -> requests.Session:
    """A requests session with the project's User-Agent (some hosts reject the default one)."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    return session


def verify_file(
    path: str | os.PathLike[str],
    *,
    size: int | None = None,
    checksum: tuple[str, str] | None = None,
) -> str | None:
    """Return ``None`` when ``path`` has the expected size and digest, else what is wrong."""
    path = Path(path)
    if not path.is_file():
        return "file is missing"
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        return f"size is {actual_size} bytes, expected {size}"
    if checksum is not None:
        algorithm, expected = checksum
        actual = file_digest(path, algorithm)
        if actual.lower() != expected.lower():
            return f"{algorithm} is {actual}, expected {expected.lower()}"
    return None


def _check_checksum_arg(checksum: tuple[str, str] | None) -> None:
    if checksum is None:
        return
    algorithm, hexdigest = checksum
    if algorithm not in hashlib.algorithms_available:
        raise ValueError(f"unknown checksum algorithm {algorithm!r}")
    width = hashlib.new(algorithm).digest_size * 2
    if not re.fullmatch(rf"[0-9a-fA-F]{{{width}}}", hexdigest):
        raise ValueError(f"{algorithm} checksum must be {width} hex digits, got {hexdigest!r}")


def fetch(
    urls: str | Sequence[str],
    dest: str | os.PathLike[str],
    *,
    size: int | None = None,
    checksum: tuple[str, str] | None = None,
    retries: int = RETRIES,
    timeout: float = TIMEOUT,
    progress: bool = True,
    session: requests.Session | None = None,
    backoff: float = 1.0,
    validate: Callable[[Path], str | None] | None = None,
    min_speed: float = MIN_SPEED,
    deadline: float | None = DEADLINE,
    speed_window: float = SPEED_WINDOW,
) -> Path:
    """Download ``dest`` from the first working URL of ``urls`` and verify it.

    ``checksum`` is ``(algorithm, hexdigest)``, e.g. ``("md5", "3c8e...")``. An existing ``dest``
    that verifies is returned without any network access. ``retries`` counts failed attempts
    (connection errors, 5xx, truncated bodies) across all mirrors; waits grow as
    ``backoff * 2**k`` seconds (capped at 60). A 404-like status drops that mirror at once.
    A file that fails verification is deleted and downloaded once more from scratch; failing
    again raises :class:`ChecksumError` naming the file, URL, expected and actual digest.
    ``validate(path)`` returns ``None`` for acceptable content or what is wrong with it; it runs on
    the complete ``.part`` file before the rename (a body cut short without a Content-Length
    passes size-less checks, not a content check). Hosts that refuse connections or do not
    resolve raise :class:`HostUnreachable` at once. A transfer averaging less than ``min_speed``
    bytes/s over ``speed_window`` seconds counts as a failed attempt (resumed); a file not
    downloaded within ``deadline`` seconds of the first request raises :class:`DownloadError`.
    """
    url_list = [urls] if isinstance(urls, str) else list(urls)
    if not url_list:
        raise ValueError(f"no URL given for {dest}")
    _check_checksum_arg(checksum)
    dest = Path(dest)
    if dest.exists():
        problem = verify_file(dest, size=size, checksum=checksum)
        if problem is None and validate is not None:
            problem = validate(dest)
        if problem is None:
            logger.debug("%s is present and verified; not downloading", dest)
            return dest
        logger.warning("%s exists but %s; downloading it again", dest, problem)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    own_session = session is None
    sess = session if session is not None else new_session()
    bar = Progress(size, dest.name, "B", enabled=progress, log=logger)
    # A mismatch is retried once from scratch; with mirrors, each mirror gets its turn, because
    # one of them may serve something else under the right name (an LFS pointer, an error page).
    order, rounds = list(url_list), max(2, len(url_list))
    pace = _Pace(min_speed, speed_window, deadline, dest.name)
    try:
        for attempt in range(1, rounds + 1):
            url = _download_part(order, part, size, retries, timeout, sess, backoff, bar, pace)
            problem = verify_file(part, size=size, checksum=checksum)
            if problem is None and validate is not None:
                problem = validate(part)
            if problem is None:
                # The rename is the commit point: only a verified file gets the final name.
                os.replace(part, dest)
                logger.info("downloaded and verified %s", dest)
                return dest
            # A stale or corrupt .part must not be resumed again.
            part.unlink(missing_ok=True)
            if attempt < rounds:
                logger.warning(
                    "%s from %s failed verification (%s); downloading again from scratch",
                    dest.name,
                    url,
                    problem,
                )
                i = order.index(url)
                order = order[i + 1 :] + order[: i + 1]  # the next mirror goes first
        raise ChecksumError(
            f"{dest.name} failed verification {rounds} times, last downloaded from {url}: "
            f"{problem}. The partial file was deleted and {dest} was not written."
        )
    finally:
        bar.close(complete=dest.exists())
        if own_session:
            sess.close()


class _Pace:
    """The minimum speed and the per-file deadline of one :func:`fetch`."""

    def __init__(self, min_speed: float, window: float, deadline: float | None, name: str):
        if min_speed < 0 or window <= 0 or (deadline is not None and deadline <= 0):
            raise ValueError(
                f"min_speed must be >= 0, the speed window and deadline > 0; got {min_speed}, "
                f"{window}, {deadline}"
            )
        self.min_speed, self.window, self.deadline, self.name = min_speed, window, deadline, name
        self.end = None if deadline is None else time.monotonic() + deadline

    def left(self) -> float | None:
        """Seconds left before the deadline (None: no deadline); raises once it has passed."""
        if self.end is None:
            return None
        left = self.end - time.monotonic()
        if left <= 0:
            raise DownloadError(
                f"{self.name} was not downloaded within the deadline of {self.deadline:g} s "
                "(download.deadline); the partial file is kept and resumed by the next run"
            )
        return left

    def read_timeout(self, timeout: float) -> float:
        left = self.left()
        return timeout if left is None else max(0.001, min(timeout, left))

    def meter(self) -> Callable[[int], None]:
        """A per-transfer check called with each chunk's size: raises _Transient when the
        last ``window`` seconds brought fewer than ``min_speed * window`` bytes."""
        start, got = time.monotonic(), 0

        def check(n: int) -> None:
            nonlocal start, got
            got += n
            self.left()
            elapsed = time.monotonic() - start
            if elapsed >= self.window:
                if got < self.min_speed * elapsed:
                    raise _Transient(
                        f"slower than {self.min_speed:g} B/s over {elapsed:.0f} s "
                        f"({got} bytes; download.min_speed)"
                    )
                start, got = time.monotonic(), 0

        return check


def _part_size(part: Path) -> int:
    return part.stat().st_size if part.exists() else 0


def _download_part(
    urls: list[str],
    part: Path,
    size: int | None,
    retries: int,
    timeout: float,
    session: requests.Session,
    backoff: float,
    bar: Progress,
    pace: _Pace | None = None,
) -> str:
    """Fill ``part`` from one of ``urls``; return the URL that finished it."""
    pace = pace or _Pace(MIN_SPEED, SPEED_WINDOW, DEADLINE, part.name)
    alive = list(urls)
    index = failures = 0
    errors: list[str] = []
    unreachable: dict[str, str] = {}  # host -> reason, for URLs dropped as unreachable
    while alive:
        url = alive[index % len(alive)]
        before = _part_size(part)
        try:
            _stream(url, part, size, timeout, session, bar, pace)
            have = _part_size(part)
            if size is not None and have < size:
                raise _Transient(f"transfer ended at {have} of {size} bytes")
            return url
        except _Permanent as exc:
            errors.append(f"{url}: {exc}")
            logger.info("%s: %s; trying the next URL", url, exc)
            alive.remove(url)  # the next mirror now sits at the same index
            continue
        except (_Transient, requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            errors.append(f"{url}: {exc}")
            reason = unreachable_reason(exc)
            if reason is not None:
                # Asking again cannot help (offline, firewall, wrong host): next URL, no wait.
                unreachable[host_of(url)] = reason
                logger.info("%s: %s; trying the next URL", host_of(url), reason)
                alive.remove(url)
                continue
            failures += 1
            if failures > retries:
                break
            # A mirror that made progress is kept (resume it); one that gave nothing is skipped.
            if _part_size(part) <= before:
                index += 1
            delay = min(backoff * 2 ** (failures - 1), 60.0)
            left = pace.left()
            delay = delay if left is None else min(delay, left)
            logger.warning(
                "download of %s from %s failed (%s); retry %d/%d in %.1f s",
                part.name[: -len(".part")],
                url,
                exc,
                failures,
                retries,
                delay,
            )
            time.sleep(delay)
    name = part.name[: -len(".part")]
    if unreachable and len(unreachable) == len({host_of(u) for u in urls}):
        hosts = ", ".join(f"{h} ({why})" for h, why in unreachable.items())
        raise HostUnreachable(f"could not download {name}: cannot reach {hosts}", unreachable)
    raise DownloadError(
        f"could not download {part.name[: -len('.part')]} from {len(urls)} URL(s) "
        f"({failures} failed attempt(s)); last errors: " + "; ".join(errors[-4:])
    )


def _content_range_start(header: str | None) -> int | None:
    match = re.match(r"bytes (\d+)-", header or "")
    return int(match.group(1)) if match else None


def _announced_size(resp: requests.Response, offset: int, length: int | None) -> int | None:
    """Full file size the server claims: Content-Range's total for 206, else Content-Length."""
    if resp.status_code == 206:
        match = re.search(r"/(\d+)$", resp.headers.get("Content-Range", ""))
        return int(match.group(1)) if match else None
    return length


def _stream(
    url: str,
    part: Path,
    size: int | None,
    timeout: float,
    session: requests.Session,
    bar: Progress,
    pace: _Pace | None = None,
) -> None:
    """One HTTP request appending to (or restarting) ``part``."""
    pace = pace or _Pace(MIN_SPEED, SPEED_WINDOW, None, part.name)
    check = pace.meter()
    offset = _part_size(part)
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    if size is not None and size > 0 and offset == size:
        return  # complete from an earlier run; the caller verifies it
    # identity: a transparently gunzipped body would not match the published size or digest.
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    read_timeout = pace.read_timeout(timeout)
    with session.get(url, headers=headers, stream=True, timeout=read_timeout) as resp:
        if resp.status_code == 416 and offset:
            part.unlink(missing_ok=True)
            raise _Transient("server refused the byte range (HTTP 416); restarting from zero")
        if resp.status_code in PERMANENT_STATUS:
            raise _Permanent(f"HTTP {resp.status_code} {resp.reason}")
        resp.raise_for_status()
        if resp.status_code == 206:
            start = _content_range_start(resp.headers.get("Content-Range"))
            if start != offset:
                part.unlink(missing_ok=True)
                raise _Transient(
                    f"Content-Range {resp.headers.get('Content-Range')!r} does not start at "
                    f"byte {offset}; restarting from zero"
                )
        elif offset:
            logger.info("%s ignored the Range request; restarting from zero", url)
            offset = 0
        length = resp.headers.get("Content-Length", "")
        expected = int(length) if length.isdigit() else None
        announced = _announced_size(resp, offset, expected)
        if size is not None and announced is not None and announced != size:
            # Not the file we want (an LFS pointer, an HTML page): try the next mirror.
            raise _Permanent(f"serves {announced} bytes, expected {size}")
        total = size if size is not None else (offset + expected if expected is not None else None)
        bar.reset(total=total)
        bar.update(offset)
        written = 0
        # read1 hands over whatever arrived, so bytes received before a dropped connection are
        # kept for the resume (iter_content would drop a partly filled chunk with the error).
        read = getattr(resp.raw, "read1", resp.raw.read)
        with open(part, "ab" if offset else "wb") as fh:
            try:
                while chunk := read(CHUNK_SIZE):
                    fh.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
                    check(len(chunk))
            finally:
                fh.flush()
                os.fsync(fh.fileno())
        if expected is not None and written < expected:
            raise _Transient(f"connection closed after {written} of {expected} bytes")


def _check_member(info: zipfile.ZipInfo, archive: Path) -> None:
    name = info.filename
    if stat.S_ISLNK(info.external_attr >> 16):
        raise UnsafeArchiveError(f"{archive}: member {name!r} is a symbolic link; refusing it")
    try:  # the pipeline's one containment rule (vjepa_fer.io.contained)
        contained(name, source=f"{archive}: member {name!r}")
    except PathEscapeError as exc:
        raise UnsafeArchiveError(str(exc)) from None


def _move_into(src: Path, dst: Path) -> None:
    """Rename ``src`` onto ``dst``, merging into an existing folder file by file.

    Merging keeps files the archive does not contain (RAVDESS song and speech archives share
    the ``Actor_XX`` folders); same-named files are replaced. Symlinks at ``dst`` are removed,
    never followed.
    """
    if dst.is_symlink():
        dst.unlink()
    elif src.is_dir() and dst.is_dir():
        for child in sorted(src.iterdir()):
            _move_into(child, dst / child.name)
        return
    elif dst.is_dir():
        shutil.rmtree(dst)
    elif dst.exists() and src.is_dir():
        dst.unlink()
    os.replace(src, dst)


def extract_zip(archive: str | os.PathLike[str], target: str | os.PathLike[str]) -> list[Path]:
    """Unpack ``archive`` into ``target`` and return the top-level paths it created.

    Every member is checked before anything is written. The archive is unpacked into a hidden
    ``.extract-*`` folder inside ``target`` and only then renamed into place: a new top-level
    folder in one rename, an existing one by merging (same-named files replaced, others kept).
    An interrupted extraction therefore leaves the hidden folder, not a half-filled new tree.
    """
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            _check_member(info, archive)
        tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=target))
        try:
            zf.extractall(tmp)
            moved = []
            for name in sorted(os.listdir(tmp)):
                _move_into(tmp / name, target / name)
                moved.append(target / name)
            return moved
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def fetch_zenodo_checksums(
    record_api: str, *, session: requests.Session, timeout: float = TIMEOUT
) -> dict[str, tuple[int, str]] | None:
    """``{file: (size, md5)}`` from a Zenodo record's JSON, or ``None`` when unreachable."""
    try:
        resp = session.get(record_api, timeout=timeout, headers={"Accept": "application/json"})
        resp.raise_for_status()
        data = resp.json()
    except (requests.RequestException, ValueError) as exc:
        logger.warning(
            "Zenodo record API %s unreachable (%s); using the pinned table", record_api, exc
        )
        return None
    files: Any = data.get("files", data.get("entries", [])) if isinstance(data, dict) else []
    # The legacy API returns a list; InvenioRDM's files endpoint nests entries (list or mapping).
    if isinstance(files, dict):
        files = files.get("entries", [])
    if isinstance(files, dict):
        files = list(files.values())
    out: dict[str, tuple[int, str]] = {}
    for entry in files if isinstance(files, list) else []:
        if not isinstance(entry, dict):
            continue
        key = entry.get("key") or entry.get("filename")
        algorithm, _, digest = str(entry.get("checksum", "")).rpartition(":")
        size = entry.get("size", entry.get("filesize"))
        if key and algorithm in ("md5", "") and re.fullmatch(r"[0-9a-fA-F]{32}", digest):
            out[key] = (int(size), digest.lower()) if size is not None else (-1, digest.lower())
    if not out:
        logger.warning(
            "Zenodo record API %s lists no md5 checksums; using the pinned table", record_api
        )
        return None
    return out


@dataclass(frozen=True)
class FetchTask:
    """One file for :func:`fetch_many`: its mirror URLs, destination and expected content."""

    urls: Sequence[str]
    dest: Path
    size: int | None = None
    checksum: tuple[str, str] | None = None


def fetch_many(
    tasks: Mapping[str, FetchTask],
    *,
    jobs: int = JOBS,
    desc: str = "files",
    retries: int = RETRIES,
    timeout: float = TIMEOUT,
    progress: bool = True,
    backoff: float = 1.0,
    max_unreachable: int = 3,
    min_speed: float = MIN_SPEED,
    deadline: float | None = DEADLINE,
) -> dict[str, str]:
    """Run :func:`fetch` for every task on ``jobs`` threads; return ``{key: error}`` of failures.

    One progress reporter counts finished files. A failure never stops the other downloads, so
    one run reports every broken file at once, except when ``max_unreachable`` files in a row
    failed because every host of theirs was unreachable: then the queued files are dropped and
    one :class:`HostUnreachable` names the hosts (offline, the other thousands would fail alike).
    """
    # requests sessions are not documented as thread-safe: one per worker thread.
    local, sessions, lock = threading.local(), [], threading.Lock()

    def one(task: FetchTask) -> None:
        if getattr(local, "session", None) is None:
            local.session = new_session()
            with lock:
                sessions.append(local.session)
        fetch(
            task.urls,
            task.dest,
            size=task.size,
            checksum=task.checksum,
            retries=retries,
            timeout=timeout,
            progress=False,
            session=local.session,
            backoff=backoff,
            min_speed=min_speed,
            deadline=deadline,
        )

    failures: dict[str, str] = {}
    bar = Progress(len(tasks), desc, "files", enabled=progress, log=logger)
    pool = ThreadPoolExecutor(max_workers=jobs)
    in_a_row = 0
    hosts: dict[str, str] = {}
    try:
        futures = {pool.submit(one, task): key for key, task in tasks.items()}
        for future in as_completed(futures):
            try:
                future.result()
                in_a_row = 0
            except HostUnreachable as exc:
                failures[futures[future]] = str(exc)
                hosts.update(exc.hosts)
                in_a_row += 1
                if in_a_row >= max_unreachable:
                    names = ", ".join(f"{h} ({why})" for h, why in hosts.items())
                    raise HostUnreachable(
                        f"stopped after {len(failures)} of {len(tasks)} {desc} file(s) failed: "
                        f"cannot reach {names}",
                        hosts,
                    ) from None
            except (DownloadError, OSError) as exc:  # OSError: e.g. a full disk
                failures[futures[future]] = str(exc)
                in_a_row = 0
            bar.update(1)
    finally:
        # On Ctrl-C or when the hosts are unreachable, drop the queued downloads instead of
        # running all of them first.
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close(complete=not failures)
        for sess in sessions:
            sess.close()
    return failures


def write_json(path: Path, payload: Mapping[str, Any]) -> None:
    """Write ``payload`` as indented JSON, atomically (markers and state files)."""
    with atomic_open(path, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2, sort_keys=True)
        fh.write("\n")


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; ``{}`` when it is missing or unreadable."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        logger.warning("%s is not valid JSON; ignoring it", path)
        return {}
    return data if isinstance(data, dict) else {}

"""Tests for vjepa_fer.data.fetch and vjepa_fer.data.download against a local HTTP server.

The server (127.0.0.1, port 0, threaded) serves bytes the test registers, honours ``Range``
requests, logs every request, and injects faults per path: a fixed status, a body cut short
after N bytes (with the full Content-Length announced), or ignoring ``Range``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import socket
import stat
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from vjepa_fer.data import download as dl
from vjepa_fer.data.fetch import (
    ChecksumError,
    DownloadError,
    UnsafeArchiveError,
    extract_zip,
    fetch,
)

FAST = {"retries": 3, "timeout": 5, "progress": False, "backoff": 0.01}


class _State:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, dict] = {}
        self.log: list[tuple[str, str | None]] = []  # (path, Range header)
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        state: _State = self.server.state  # type: ignore[attr-defined]
        path, rng = urlsplit(self.path).path, self.headers.get("Range")
        with state.lock:
            state.log.append((path, rng))
            fault = state.faults.get(path, {})
            cut = None
            if fault.get("truncate_times", 0) > 0:
                fault["truncate_times"] -= 1
                cut = fault["truncate_at"]
        if "status" in fault:
            self.send_error(fault["status"])
            return
        data = state.files.get(path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        if rng and not fault.get("ignore_range"):
            start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1))
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # A cut transfer announces the full length, then the connection closes early.
        self.wfile.write(body if cut is None else body[:cut])


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.state = _State()  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    httpd.state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd.state
    httpd.shutdown()
    httpd.server_close()


def _blob(n: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _paths(state: _State, path: str) -> list[str | None]:
    return [rng for p, rng in state.log if p == path]


# ----------------------------------------------------------------------------- fetch


def test_full_download_verified(server, tmp_path):
    data = _blob(300_000)
    server.files["/a.bin"] = data
    dest = fetch(
        f"{server.url}/a.bin",
        tmp_path / "a.bin",
        size=len(data),
        checksum=("sha256", _sha(data)),
        **FAST,
    )
    assert dest.read_bytes() == data
    assert not (tmp_path / "a.bin.part").exists()
    assert _paths(server, "/a.bin") == [None]


def test_resume_from_existing_part(server, tmp_path):
    data = _blob(200_000, seed=1)
    server.files["/a.bin"] = data
    (tmp_path / "a.bin.part").write_bytes(data[:50_000])
    fetch(
        f"{server.url}/a.bin",
        tmp_path / "a.bin",
        size=len(data),
        checksum=("md5", hashlib.md5(data).hexdigest()),
        **FAST,
    )
    assert (tmp_path / "a.bin").read_bytes() == data
    assert _paths(server, "/a.bin") == ["bytes=50000-"]


def test_server_ignoring_range_restarts(server, tmp_path):
    data = _blob(100_000, seed=2)
    server.files["/a.bin"] = data
    server.faults["/a.bin"] = {"ignore_range": True}
    (tmp_path / "a.bin.part").write_bytes(b"\0" * 30_000)  # wrong bytes: must be discarded
    fetch(f"{server.url}/a.bin", tmp_path / "a.bin", checksum=("sha256", _sha(data)), **FAST)
    assert (tmp_path / "a.bin").read_bytes() == data


def test_truncated_transfer_is_resumed(server, tmp_path):
    data = _blob(150_000, seed=3)
    server.files["/a.bin"] = data
    server.faults["/a.bin"] = {"truncate_times": 1, "truncate_at": 40_000}
    fetch(
        f"{server.url}/a.bin",
        tmp_path / "a.bin",
        size=len(data),
        checksum=("sha256", _sha(data)),
        **FAST,
    )
    assert (tmp_path / "a.bin").read_bytes() == data
    requests_seen = _paths(server, "/a.bin")
    assert requests_seen[0] is None and requests_seen[-1] == "bytes=40000-"


def test_checksum_mismatch_raises_and_leaves_nothing(server, tmp_path):
    data = _blob(10_000, seed=4)
    server.files["/clip.flv"] = data
    wrong = "0" * 64
    with pytest.raises(ChecksumError, match=r"clip\.flv.*" + wrong) as info:
        fetch(f"{server.url}/clip.flv", tmp_path / "clip.flv", checksum=("sha256", wrong), **FAST)
    assert _sha(data) in str(info.value) and server.url in str(info.value)
    assert not (tmp_path / "clip.flv").exists() and not (tmp_path / "clip.flv.part").exists()
    assert len(_paths(server, "/clip.flv")) == 2  # retried once from scratch


def test_mirror_fallback_after_404_and_refused_connection(server, tmp_path):
    data = _blob(5_000, seed=5)
    server.files["/good/a.bin"] = data
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/a.bin"
    urls = [f"{server.url}/missing/a.bin", dead, f"{server.url}/good/a.bin"]
    fetch(urls, tmp_path / "a.bin", size=len(data), **FAST)
    assert (tmp_path / "a.bin").read_bytes() == data
    assert [p for p, _ in server.log] == ["/missing/a.bin", "/good/a.bin"]


def test_all_mirrors_failing_raises_download_error(server, tmp_path):
    with pytest.raises(DownloadError, match=r"a\.bin"):
        fetch([f"{server.url}/x/a.bin", f"{server.url}/y/a.bin"], tmp_path / "a.bin", **FAST)
    assert not (tmp_path / "a.bin").exists()


def test_existing_verified_file_needs_no_network(server, tmp_path):
    data = _blob(1_000, seed=6)
    (tmp_path / "a.bin").write_bytes(data)
    fetch(
        f"{server.url}/a.bin",
        tmp_path / "a.bin",
        size=len(data),
        checksum=("sha256", _sha(data)),
        **FAST,
    )
    assert server.log == []


# ----------------------------------------------------------------------------- zip safety


def _zip(path: Path, members: dict[str, bytes], symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, payload in members.items():
            zf.writestr(zipfile.ZipInfo(name), payload)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


@pytest.mark.parametrize("bad", ["../evil", "Actor_01/../../evil", "/tmp/evil_abs"])
def test_zip_escaping_member_refused(tmp_path, bad):
    archive = _zip(tmp_path / "bad.zip", {"Actor_01/ok.mp4": b"ok", bad: b"evil"})
    target = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match=re.escape(bad)):
        extract_zip(archive, target)
    assert not (tmp_path / "evil").exists() and not Path("/tmp/evil_abs").exists()
    assert list(target.iterdir()) == []  # nothing extracted, no temp folder left


def test_zip_symlink_member_refused(tmp_path):
    archive = _zip(tmp_path / "bad.zip", {"a.txt": b"a"}, symlink="link")
    with pytest.raises(UnsafeArchiveError, match="symbolic link"):
        extract_zip(archive, tmp_path / "out")


def test_zip_extracts_into_place_and_merges(tmp_path):
    archive = _zip(tmp_path / "ok.zip", {"Actor_01/a.mp4": b"a", "Actor_01/b.mp4": b"b"})
    target = tmp_path / "out"
    (target / "Actor_01").mkdir(parents=True)
    (target / "Actor_01" / "a.mp4").write_bytes(b"old")  # a stale copy: replaced
    (target / "Actor_01" / "song.mp4").write_bytes(b"s")  # from another archive: kept
    assert extract_zip(archive, target) == [target / "Actor_01"]
    assert sorted(p.name for p in (target / "Actor_01").iterdir()) == ["a.mp4", "b.mp4", "song.mp4"]
    assert (target / "Actor_01" / "a.mp4").read_bytes() == b"a"
    assert [p.name for p in target.iterdir()] == ["Actor_01"]  # no temp folder left
    fresh = tmp_path / "fresh"
    assert extract_zip(archive, fresh) == [fresh / "Actor_01"]
    assert sorted(p.name for p in (fresh / "Actor_01").iterdir()) == ["a.mp4", "b.mp4"]


# ----------------------------------------------------------------------------- RAVDESS


def _ravdess_fixture(server: _State, tmp_path: Path) -> tuple[dict[str, bytes], Path]:
    zips = {}
    for actor in (1, 2):
        members = {
            f"Actor_{actor:02d}/01-01-0{e}-01-01-01-{actor:02d}.mp4": _blob(500, e + actor)
            for e in (1, 2, 3)
        }
        name = f"Video_Speech_Actor_{actor:02d}.zip"
        zips[name] = _zip(tmp_path / name, members).read_bytes()
        server.files[f"/files/{name}"] = zips[name]
    md5 = {n: hashlib.md5(b).hexdigest() for n, b in zips.items()}
    record = {
        "files": [
            {
                "key": n,
                "size": len(b),
                "checksum": f"md5:{md5[n]}",
                "links": {"self": f"{server.url}/api/files/{n}/content"},
            }
            for n, b in zips.items()
        ]
    }
    server.files["/api/records/1"] = json.dumps(record).encode()
    pinned = tmp_path / "pinned.tsv"
    pinned.write_text(
        "file\tbytes\tmd5\n"
        f"Video_Speech_Actor_01.zip\t{len(zips['Video_Speech_Actor_01.zip'])}\t"
        f"{md5['Video_Speech_Actor_01.zip']}\n"
        f"Video_Speech_Actor_02.zip\t{len(zips['Video_Speech_Actor_02.zip'])}\t{'f' * 32}\n"
    )
    return zips, pinned


def test_ravdess_flow_record_wins_and_rerun_skips(server, tmp_path, caplog):
    _, pinned = _ravdess_fixture(server, tmp_path)
    root = tmp_path / "ravdess"
    kw = {"actors": [1, 2], "base_url": f"{server.url}/files", "pinned": pinned, **FAST}
    with caplog.at_level(logging.WARNING, logger="vjepa_fer"):
        marker = dl.download_ravdess(root, record_api=f"{server.url}/api/records/1", **kw)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("Video_Speech_Actor_02.zip" in w and "f" * 32 in w for w in warnings)
    assert not any("Video_Speech_Actor_01.zip" in w for w in warnings)
    assert len(list((root / "Actor_01").glob("*.mp4"))) == 3
    assert len(list((root / "Actor_02").glob("*.mp4"))) == 3
    assert not (root / "archives").exists()  # archives deleted after extraction
    info = json.loads(marker.read_text())
    assert marker == root / dl.MARKER_NAME and info["checksums_from"] == "zenodo-record"
    assert sorted(info["archives"]) == ["Video_Speech_Actor_01.zip", "Video_Speech_Actor_02.zip"]
    assert info["disagreements"][0]["file"] == "Video_Speech_Actor_02.zip"
    n_requests = len(server.log)
    dl.download_ravdess(root, record_api=f"{server.url}/api/records/1", **kw)
    assert len(server.log) == n_requests  # finished actors: no network at all


def test_ravdess_pinned_table_when_record_unreachable(server, tmp_path):
    _, pinned = _ravdess_fixture(server, tmp_path)
    root = tmp_path / "ravdess"
    marker = dl.download_ravdess(
        root,
        actors=[1],
        base_url=f"{server.url}/files",
        record_api=f"{server.url}/api/records/404",
        pinned=pinned,
        keep_archives=True,
        **FAST,
    )
    assert json.loads(marker.read_text())["checksums_from"] == "pinned-table"
    assert (root / "archives" / "Video_Speech_Actor_01.zip").is_file()
    # Actor 2's pinned md5 is wrong and the record is unreachable: the download must fail.
    with pytest.raises(ChecksumError, match="Video_Speech_Actor_02.zip"):
        dl.download_ravdess(
            root, actors=[2], base_url=f"{server.url}/files", record_api=None, pinned=pinned, **FAST
        )
    assert not (root / "Actor_02").exists()


# ----------------------------------------------------------------------------- CREMA-D


def _cremad_fixture(server: _State, tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    videos = {
        f"1001_DFA_{e}_XX.flv": _blob(2_000 + i, seed=10 + i)
        for i, e in enumerate(["ANG", "DIS", "FEA"])
    }
    table = tmp_path / "lfs.tsv"
    table.write_text(
        "file\tsha256\tsize\n" + "".join(f"{n}\t{_sha(b)}\t{len(b)}\n" for n, b in videos.items())
    )
    for name, payload in videos.items():
        server.files[f"/github/{name}"] = payload
    # The first mirror serves an LFS pointer for one file and same-size garbage for another:
    # both must fall through to the second mirror.
    server.files["/gitlab/1001_DFA_FEA_XX.flv"] = b"version https://git-lfs.github.com/spec/v1\n"
    server.files["/gitlab/1001_DFA_ANG_XX.flv"] = bytes(len(videos["1001_DFA_ANG_XX.flv"]))
    bad = bytearray(videos["1001_DFA_DIS_XX.flv"])
    bad[100] ^= 0xFF  # corrupted on the server, same size
    server.files["/github/1001_DFA_DIS_XX.flv"] = bytes(bad)
    return table, videos


def test_cremad_flow_reports_corrupt_file(server, tmp_path):
    table, videos = _cremad_fixture(server, tmp_path)
    root = tmp_path / "crema-d"
    templates = [f"{server.url}/gitlab/{{name}}", f"{server.url}/github/{{name}}"]
    with pytest.raises(DownloadError, match=r"(?s)1 of 3 .*1001_DFA_DIS_XX\.flv") as info:
        dl.download_cremad(root, url_templates=templates, table=table, jobs=2, **FAST)
    assert "1001_DFA_ANG_XX" not in str(info.value)
    assert (root / "VideoFlash" / "1001_DFA_ANG_XX.flv").read_bytes() == videos[
        "1001_DFA_ANG_XX.flv"
    ]
    assert not (root / "VideoFlash" / "1001_DFA_DIS_XX.flv").exists()
    assert not (root / dl.MARKER_NAME).exists()
    report = dl.verify_cremad(root, table=table)
    assert report.missing == ["1001_DFA_DIS_XX.flv"] and len(report.ok) == 2 and not report.clean
    # The server is repaired: a rerun fetches only the missing file and writes the marker.
    server.files["/github/1001_DFA_DIS_XX.flv"] = videos["1001_DFA_DIS_XX.flv"]
    server.log.clear()
    marker = dl.download_cremad(root, url_templates=templates, table=table, jobs=2, **FAST)
    assert {p for p, _ in server.log} == {
        "/gitlab/1001_DFA_DIS_XX.flv",
        "/github/1001_DFA_DIS_XX.flv",
    }
    assert json.loads(marker.read_text())["files"] == 3
    (root / "VideoFlash" / "1001_DFA_FEA_XX.flv").write_bytes(b"x" * 2_002)  # damaged locally
    report = dl.verify_cremad(root, table=table)
    assert (
        list(report.wrong) == ["1001_DFA_FEA_XX.flv"]
        and "sha256" in report.wrong["1001_DFA_FEA_XX.flv"]
    )


def test_cremad_unknown_name_rejected(tmp_path):
    with pytest.raises(ValueError, match="NOPE"):
        dl.download_cremad(tmp_path, names=["NOPE"], url_templates=["http://x/{name}"])


def test_packaged_tables_load():
    assert len(dl.load_cremad_table()) == 7442
    ravdess = dl.load_ravdess_table()
    assert len(ravdess) == 24 and ravdess["Video_Speech_Actor_01.zip"][0] == 552968353


# ----------------------------------------------------------------------------- checkpoint + CLI


def test_checkpoint_records_sha256_then_verifies(server, tmp_path):
    data = _blob(50_000, seed=20)
    server.files["/ckpt.pth.tar"] = data
    dest = tmp_path / "ckpt.pth.tar"
    assert dl.download_checkpoint(f"{server.url}/ckpt.pth.tar", dest, **FAST) == _sha(data)
    assert (tmp_path / "ckpt.pth.tar.sha256").read_text().split()[0] == _sha(data)
    server.log.clear()
    dl.download_checkpoint(f"{server.url}/ckpt.pth.tar", dest, **FAST)
    assert server.log == []
    with pytest.raises(ChecksumError, match="ckpt.pth.tar"):
        dl.download_checkpoint(
            f"{server.url}/ckpt.pth.tar", tmp_path / "other.pth.tar", sha256="a" * 64, **FAST
        )
    assert not (tmp_path / "other.pth.tar").exists()


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    dl.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_cli_crema_d_subset_and_verify_only(server, tmp_path, monkeypatch):
    table, videos = _cremad_fixture(server, tmp_path)
    server.files["/github/1001_DFA_DIS_XX.flv"] = videos["1001_DFA_DIS_XX.flv"]
    root = tmp_path / "crema-d"
    names = tmp_path / "names.txt"
    names.write_text("# subset\n1001_DFA_ANG_XX\n")
    real_table = dl.load_cremad_table
    # The CLI reads the packaged 7442-row table; point it at the 3-row test table.
    monkeypatch.setattr(dl, "load_cremad_table", lambda path=None: real_table(table))
    args = _args(
        "--dataset",
        "crema-d",
        "--root",
        str(root),
        "--mirror",
        f"{server.url}/github/{{name}}",
        "--names-file",
        str(names),
        "--no-progress",
        "--jobs",
        "1",
    )
    assert dl.run(args) == 0
    assert json.loads((root / dl.MARKER_NAME).read_text())["names"] == ["1001_DFA_ANG_XX.flv"]
    assert (
        dl.run(
            _args(
                "--dataset",
                "crema-d",
                "--root",
                str(root),
                "--verify-only",
                "--names-file",
                str(names),
            )
        )
        == 0
    )
    with pytest.raises(DownloadError, match="2 missing"):
        dl.run(_args("--dataset", "crema-d", "--root", str(root), "--verify-only"))


def test_cli_requires_root_or_dest():
    with pytest.raises(ValueError, match="--dest"):
        dl.run(_args("--dataset", "checkpoint"))
    with pytest.raises(ValueError, match="--root"):
        dl.run(_args("--dataset", "ravdess"))


def test_cli_main_checkpoint_end_to_end(server, tmp_path):
    from vjepa_fer import cli

    server.files["/vith16-384.pth.tar"] = _blob(3_000, seed=30)
    dest = tmp_path / "ckpt" / "vith16-384.pth.tar"
    argv = [
        "download",
        "--dataset",
        "checkpoint",
        "--dest",
        str(dest),
        "--url",
        f"{server.url}/vith16-384.pth.tar",
        "--no-progress",
    ]
    assert cli.main(argv) == 0
    assert dest.read_bytes() == server.files["/vith16-384.pth.tar"]
    assert (tmp_path / "ckpt" / "vith16-384.pth.tar.sha256").is_file()

"""Tests for vjepa_fer.data.fetch and vjepa_fer.datasets.download against a local HTTP server.

The server (tests/loopback.py: 127.0.0.1, port 0, threaded) serves bytes the test registers,
honours ``Range`` requests, logs every request, and injects faults per path: a fixed status, a
body cut short after N bytes (with or without Content-Length), or ignoring ``Range``. Unreachable
hosts are a closed port on 127.0.0.1 and names under ``.invalid`` whose lookup is answered by a
patched resolver, so no test sends anything beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import socket
import stat
import time
import zipfile
from pathlib import Path

import pytest
import requests

from tests.loopback import ServerState, blob, closed_port_url, serve
from tests.loopback import sha256 as _sha
from vjepa_fer.data import download as data_dl
from vjepa_fer.data.fetch import (
    ChecksumError,
    DownloadError,
    FetchTask,
    HostUnreachable,
    UnsafeArchiveError,
    extract_zip,
    fetch,
    fetch_many,
    unreachable_reason,
)
from vjepa_fer.data.folds import packaged
from vjepa_fer.datasets import download as dl
from vjepa_fer.datasets.cremad import download as cremad_dl
from vjepa_fer.datasets.ravdess import download as ravdess_dl

FAST = {"retries": 3, "timeout": 5, "progress": False, "backoff": 0.01}
_State = ServerState


@pytest.fixture
def server():
    with serve() as state:
        yield state


def _blob(n: int, seed: int = 0) -> bytes:
    return blob(n, seed)


def _paths(state: ServerState, path: str) -> list[str | None]:
    return state.requests_for(path)


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
        marker = ravdess_dl.download_ravdess(root, record_api=f"{server.url}/api/records/1", **kw)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("Video_Speech_Actor_02.zip" in w and "f" * 32 in w for w in warnings)
    assert not any("Video_Speech_Actor_01.zip" in w for w in warnings)
    assert len(list((root / "Actor_01").glob("*.mp4"))) == 3
    assert len(list((root / "Actor_02").glob("*.mp4"))) == 3
    assert not (root / "archives").exists()  # archives deleted after extraction
    info = json.loads(marker.read_text())
    assert marker == root / data_dl.MARKER_NAME and info["checksums_from"] == "zenodo-record"
    assert sorted(info["archives"]) == ["Video_Speech_Actor_01.zip", "Video_Speech_Actor_02.zip"]
    assert info["disagreements"][0]["file"] == "Video_Speech_Actor_02.zip"
    n_requests = len(server.log)
    ravdess_dl.download_ravdess(root, record_api=f"{server.url}/api/records/1", **kw)
    assert len(server.log) == n_requests  # finished actors: no network at all


def test_ravdess_pinned_table_when_record_unreachable(server, tmp_path):
    _, pinned = _ravdess_fixture(server, tmp_path)
    root = tmp_path / "ravdess"
    marker = ravdess_dl.download_ravdess(
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
        ravdess_dl.download_ravdess(
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
        cremad_dl.download_cremad(root, url_templates=templates, table=table, jobs=2, **FAST)
    assert "1001_DFA_ANG_XX" not in str(info.value)
    assert (root / "VideoFlash" / "1001_DFA_ANG_XX.flv").read_bytes() == videos[
        "1001_DFA_ANG_XX.flv"
    ]
    assert not (root / "VideoFlash" / "1001_DFA_DIS_XX.flv").exists()
    assert not (root / data_dl.MARKER_NAME).exists()
    report = cremad_dl.verify_cremad(root, table=table)
    assert report.missing == ["1001_DFA_DIS_XX.flv"] and len(report.ok) == 2 and not report.clean
    # The server is repaired: a rerun fetches only the missing file and writes the marker.
    server.files["/github/1001_DFA_DIS_XX.flv"] = videos["1001_DFA_DIS_XX.flv"]
    server.log.clear()
    marker = cremad_dl.download_cremad(root, url_templates=templates, table=table, jobs=2, **FAST)
    assert {p for p, _ in server.log} == {
        "/gitlab/1001_DFA_DIS_XX.flv",
        "/github/1001_DFA_DIS_XX.flv",
    }
    assert json.loads(marker.read_text())["files"] == 3
    (root / "VideoFlash" / "1001_DFA_FEA_XX.flv").write_bytes(b"x" * 2_002)  # damaged locally
    report = cremad_dl.verify_cremad(root, table=table)
    assert (
        list(report.wrong) == ["1001_DFA_FEA_XX.flv"]
        and "sha256" in report.wrong["1001_DFA_FEA_XX.flv"]
    )


def test_cremad_unknown_name_rejected(tmp_path):
    with pytest.raises(ValueError, match="NOPE"):
        cremad_dl.download_cremad(tmp_path, names=["NOPE"], url_templates=["http://x/{name}"])


def test_a_packaged_checksum_table_is_read_and_named(tmp_package: Path) -> None:
    digest = "ab" * 32
    (tmp_package / "sums.tsv").write_text(f"file\tsize\tsha256\na.flv\t3\t{digest}\n")
    table = packaged("outer.inner", "sums.tsv")
    assert data_dl.load_table(None, table, "sha256") == {"a.flv": (3, digest)}
    with pytest.raises(ValueError, match=r"package resource outer/inner/resources/sums.tsv: needs"):
        data_dl.load_table(None, table, "md5")


# ----------------------------------------------------------------------------- checkpoint + CLI


def _checkpoint(key: str = "target_encoder", seed: int = 0) -> bytes:
    """A small checkpoint in the official layout: ``key`` -> ``module.backbone.*`` tensors."""
    import io

    import torch

    g = torch.Generator().manual_seed(seed)
    state = {
        "module.backbone.patch_embed.proj.weight": torch.randn(8, 3, 2, 4, 4, generator=g),
        "module.backbone.norm.weight": torch.ones(8),
    }
    buf = io.BytesIO()
    torch.save({key: state, "epoch": 300}, buf)
    return buf.getvalue()


def test_checkpoint_records_sha256_then_verifies(server, tmp_path):
    data = _checkpoint(seed=20)
    server.files["/ckpt.pth.tar"] = data
    dest = tmp_path / "ckpt.pth.tar"
    assert data_dl.download_checkpoint(f"{server.url}/ckpt.pth.tar", dest, **FAST) == _sha(data)
    assert (tmp_path / "ckpt.pth.tar.sha256").read_text().split()[0] == _sha(data)
    server.log.clear()
    data_dl.download_checkpoint(f"{server.url}/ckpt.pth.tar", dest, **FAST)
    assert server.log == []
    with pytest.raises(ChecksumError, match="ckpt.pth.tar"):
        data_dl.download_checkpoint(
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
    real_table = cremad_dl.load_cremad_table
    # The CLI reads the packaged 7442-row table; point it at the 3-row test table.
    monkeypatch.setattr(cremad_dl, "load_cremad_table", lambda path=None: real_table(table))
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
    assert json.loads((root / data_dl.MARKER_NAME).read_text())["names"] == ["1001_DFA_ANG_XX.flv"]
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

    server.files["/vith16-384.pth.tar"] = _checkpoint(seed=30)
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


# ----------------------------------------------------------------------------- checkpoint checks


def test_truncated_checkpoint_without_length_is_never_renamed(server, tmp_path, caplog):
    """A body cut short with no Content-Length looks complete to HTTP; loading it does not."""
    data = _checkpoint(seed=40)
    server.files["/ckpt.pth.tar"] = data
    server.faults["/ckpt.pth.tar"] = {
        "no_length": True,
        "truncate_times": 99,
        "truncate_at": len(data) // 2,
    }
    dest = tmp_path / "ckpt.pth.tar"
    with pytest.raises(ChecksumError, match="not a usable checkpoint"):
        data_dl.download_checkpoint(f"{server.url}/ckpt.pth.tar", dest, **FAST)
    assert not dest.exists() and not (tmp_path / "ckpt.pth.tar.part").exists()
    assert not (tmp_path / "ckpt.pth.tar.sha256").exists()  # no digest recorded for it
    # Once the server sends the whole file (still without a length) it is accepted.
    server.faults["/ckpt.pth.tar"] = {"no_length": True}
    assert data_dl.download_checkpoint(f"{server.url}/ckpt.pth.tar", dest, **FAST) == _sha(data)
    assert dest.read_bytes() == data


def test_checkpoint_must_hold_the_configured_weights(server, tmp_path, caplog):
    server.files["/other.pth.tar"] = _checkpoint(key="predictor")
    with pytest.raises(ChecksumError, match="'target_encoder'"):
        data_dl.download_checkpoint(f"{server.url}/other.pth.tar", tmp_path / "o.pth.tar", **FAST)
    assert not (tmp_path / "o.pth.tar").exists()
    # The loader's fallback: no target_encoder, but an encoder entry (with a warning).
    server.files["/enc.pth.tar"] = _checkpoint(key="encoder")
    with caplog.at_level(logging.WARNING, logger="vjepa_fer"):
        data_dl.download_checkpoint(f"{server.url}/enc.pth.tar", tmp_path / "e.pth.tar", **FAST)
    assert (tmp_path / "e.pth.tar").is_file()
    assert any("falling back to 'encoder'" in r.getMessage() for r in caplog.records)
    # A named key other than the default is honoured.
    server.files["/pred.pth.tar"] = _checkpoint(key="predictor")
    data_dl.download_checkpoint(
        f"{server.url}/pred.pth.tar", tmp_path / "p.pth.tar", checkpoint_key="predictor", **FAST
    )
    assert (tmp_path / "p.pth.tar").is_file()


# ----------------------------------------------------------------------------- unreachable hosts


@pytest.fixture
def invalid_dns(monkeypatch):
    """Names under .invalid fail to resolve here, without asking any DNS server."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_unreachable_reason_classifies_errors(invalid_dns):
    with pytest.raises(requests.ConnectionError) as refused:
        requests.get(closed_port_url(), timeout=5)
    assert unreachable_reason(refused.value) == "connection refused"
    with pytest.raises(requests.ConnectionError) as dns:
        requests.get("http://mirror.example.invalid/a.bin", timeout=5)
    assert unreachable_reason(dns.value) == "name does not resolve"
    # A slow host is not an absent one: timeouts stay retryable.
    assert unreachable_reason(requests.ConnectTimeout("connect timed out")) is None
    assert unreachable_reason(requests.ReadTimeout("read timed out")) is None


def test_unreachable_hosts_are_not_retried(tmp_path, invalid_dns):
    urls = [closed_port_url(), "http://mirror.example.invalid/a.bin"]
    t0 = time.perf_counter()
    with pytest.raises(HostUnreachable) as info:
        fetch(urls, tmp_path / "a.bin", retries=5, timeout=5, progress=False, backoff=2.0)
    assert time.perf_counter() - t0 < 2.0  # 5 retries with a 2 s backoff would take > 60 s
    assert set(info.value.hosts.values()) == {"connection refused", "name does not resolve"}
    assert "mirror.example.invalid" in str(info.value) and "127.0.0.1" in str(info.value)


def test_transient_errors_are_still_retried(server, tmp_path):
    server.files["/a.bin"] = _blob(1_000, seed=50)
    server.faults["/a.bin"] = {"status": 503}
    with pytest.raises(DownloadError) as info:
        fetch(f"{server.url}/a.bin", tmp_path / "a.bin", **FAST)
    assert not isinstance(info.value, HostUnreachable)
    assert len(_paths(server, "/a.bin")) == FAST["retries"] + 1


def test_fetch_many_stops_after_a_few_unreachable_files(tmp_path):
    dead = closed_port_url("/{name}")
    names = [f"v{i}" for i in range(500)]
    tasks = {n: FetchTask([dead.format(name=n)], tmp_path / n) for n in names}
    with pytest.raises(HostUnreachable, match=r"stopped after \d+ of 500") as info:
        fetch_many(tasks, jobs=2, desc="test", **FAST)
    assert "connection refused" in str(info.value)
    assert "0 of 500" not in str(info.value)
    failed = int(re.search(r"stopped after (\d+)", str(info.value)).group(1))
    assert 3 <= failed <= 5  # a few files, not 500


def test_one_working_mirror_keeps_going_when_another_host_is_down(server, tmp_path):
    data = {f"v{i}": _blob(100, seed=60 + i) for i in range(6)}
    for name, payload in data.items():
        server.files[f"/ok/{name}"] = payload
    dead = closed_port_url("/{name}")
    tasks = {
        n: FetchTask([dead.format(name=n), f"{server.url}/ok/{n}"], tmp_path / n, size=len(p))
        for n, p in data.items()
    }
    assert fetch_many(tasks, jobs=2, desc="test", **FAST) == {}
    assert all((tmp_path / n).read_bytes() == p for n, p in data.items())


def test_cremad_offline_gives_one_message_with_local_advice(tmp_path, invalid_dns, caplog):
    table = tmp_path / "sha.csv"
    rows = [f"1001_DFA_{e}_XX.flv,{'a' * 64},{100 + i}" for i, e in enumerate(["ANG", "DIS"])]
    rows += [f"1002_DFA_{e}_XX.flv,{'b' * 64},{200 + i}" for i, e in enumerate(["ANG", "DIS"])]
    table.write_text("name,sha256,size\n" + "\n".join(rows) + "\n")
    templates = [closed_port_url("/{name}"), "http://gitlab.example.invalid/{name}"]
    with caplog.at_level(logging.WARNING, logger="vjepa_fer"):
        with pytest.raises(HostUnreachable) as info:
            cremad_dl.download_cremad(
                tmp_path / "c", url_templates=templates, table=table, jobs=1, **FAST
            )
    message = str(info.value)
    assert "gitlab.example.invalid (name does not resolve)" in message
    assert "connection refused" in message
    assert "source: local" in message and "root:" in message and "cremad_mirrors" in message
    assert not any("retry" in r.getMessage() for r in caplog.records)  # no retry storm


def test_ravdess_offline_stops_at_the_first_archive(tmp_path, invalid_dns):
    base = "http://zenodo.example.invalid/records/1188976/files"
    with pytest.raises(HostUnreachable, match="source: local") as info:
        ravdess_dl.download_ravdess(
            tmp_path / "r", actors=[1, 2, 3], base_url=base, record_api=None, **FAST
        )
    assert "zenodo.example.invalid" in str(info.value)
    assert "ravdess_base_url" in str(info.value)


def test_checkpoint_offline_names_encoder_checkpoint(tmp_path):
    with pytest.raises(HostUnreachable) as info:
        data_dl.download_checkpoint(
            closed_port_url("/vith16-384.pth.tar"), tmp_path / "c.pt", **FAST
        )
    assert "encoder.checkpoint" in str(info.value) and "127.0.0.1" in str(info.value)


def test_cli_reports_unreachable_host_once(tmp_path, capsys):
    from vjepa_fer import cli

    argv = ["download", "--dataset", "checkpoint", "--dest", str(tmp_path / "c.pt")]
    argv += ["--url", closed_port_url("/c.pt"), "--retries", "5"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("vjepa-fer download: error:") == 1 and "encoder.checkpoint" in err


# ----------------------------------------------------------------------------- checksum tables


def test_user_checksum_table_csv_defines_and_verifies_the_files(server, tmp_path):
    videos = {f"{a}_TIE_ANG_XX.flv": _blob(300 + a % 7, seed=a) for a in (1001, 1002, 1003)}
    for name, payload in videos.items():
        server.files[f"/m/{name}"] = payload
    table = tmp_path / "our_copy.csv"
    table.write_text(
        "name,sha256,size\n" + "".join(f"{n},{_sha(b)},{len(b)}\n" for n, b in videos.items())
    )
    root = tmp_path / "crema-d"
    args = _args(
        "--dataset", "crema-d", "--root", str(root), "--checksums", str(table),
        "--mirror", f"{server.url}/m/{{name}}", "--actors", "1001", "1003", "--no-progress",
    )  # fmt: skip
    assert dl.run(args) == 0
    assert sorted(p.name for p in (root / "VideoFlash").iterdir()) == [
        "1001_TIE_ANG_XX.flv",
        "1003_TIE_ANG_XX.flv",
    ]
    marker = json.loads((root / data_dl.MARKER_NAME).read_text())
    assert marker["table"] == str(table) and marker["files"] == 2
    # The same table verifies a copy; a damaged file is named.
    (root / "VideoFlash" / "1003_TIE_ANG_XX.flv").write_bytes(b"x" * 302)
    report = cremad_dl.verify_cremad(root, table=table, actors=[1001, 1003])
    assert list(report.wrong) == ["1003_TIE_ANG_XX.flv"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("name,size\nx.flv,3\n", "'sha256'"),
        ("name,sha256,size\nx.flv,abc,3\n", r"line 2: expected a name, a sha256 of 64"),
        ("name,sha256,size\n", "lists no files"),
    ],
)
def test_bad_checksum_table_is_named(tmp_path, text, match):
    table = tmp_path / "t.csv"
    table.write_text(text)
    with pytest.raises(ValueError, match=match) as info:
        cremad_dl.load_cremad_table(table)
    assert str(table) in str(info.value)


def test_missing_checksum_table_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        cremad_dl.load_cremad_table(tmp_path / "nope.csv")


def test_ravdess_checksum_table_replaces_the_pinned_one(server, tmp_path):
    members = {"Actor_03/01-01-01-01-01-01-03.mp4": _blob(400, seed=3)}
    archive = _zip(tmp_path / "a.zip", members).read_bytes()
    server.files["/files/Video_Speech_Actor_03.zip"] = archive
    table = tmp_path / "ravdess.csv"
    table.write_text(
        f"name,md5,size\nVideo_Speech_Actor_03.zip,{hashlib.md5(archive).hexdigest()},"
        f"{len(archive)}\n"
    )
    args = _args(
        "--dataset", "ravdess", "--root", str(tmp_path / "r"), "--actors", "3",
        "--base-url", f"{server.url}/files", "--record-api", "", "--checksums", str(table),
        "--no-progress",
    )  # fmt: skip
    assert dl.run(args) == 0
    assert (tmp_path / "r" / "Actor_03" / "01-01-01-01-01-01-03.mp4").is_file()


def test_download_dispatches_through_the_dataset_modules(tmp_path):
    """`vjepa-fer download` asks the dataset's module; a licence-gated one says why it cannot."""
    from vjepa_fer.cli import main
    from vjepa_fer.datasets import get_dataset

    assert main(["download", "--dataset", "dfew", "--root", str(tmp_path)]) == 1
    assert get_dataset("crema-d").download_options({"cremad_mirrors": ["a/{name}", "b"]}, {}) == [
        "--mirror",
        "a/{name}",
        "--mirror",
        "b",
    ]
    with pytest.raises(ValueError, match="DFEW cannot be downloaded"):
        get_dataset("dfew").download(None, {})


# ----------------------------------------------------------------------------- slow servers


def test_a_trickling_server_fails_within_the_deadline(server, tmp_path):
    """One byte every 0.2 s never trips the 5 s read timeout; the minimum speed cuts each
    transfer (resumed as a retry, keeping what arrived) and the per-file deadline ends the
    download, in bounded time, with a message naming the file and the setting."""
    data = _blob(10_000)
    server.files["/slow.bin"] = data
    server.faults["/slow.bin"] = {"trickle": 0.2}
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"slow\.bin was not downloaded within the deadline"):
        fetch(
            f"{server.url}/slow.bin",
            tmp_path / "slow.bin",
            size=len(data),
            **{**FAST, "retries": 50},
            min_speed=100,
            speed_window=1.0,
            deadline=4.0,
        )
    assert time.monotonic() - start < 10
    assert len(_paths(server, "/slow.bin")) >= 2  # slow transfers were cut and resumed
    assert not (tmp_path / "slow.bin").exists()
    part = tmp_path / "slow.bin.part"
    assert part.exists() and 0 < part.stat().st_size < len(data)
    assert part.read_bytes() == data[: part.stat().st_size]


def test_minimum_speed_alone_gives_up_after_the_retries(server, tmp_path, caplog):
    server.files["/slow.bin"] = _blob(10_000)
    server.faults["/slow.bin"] = {"trickle": 0.2}
    start = time.monotonic()
    caplog.set_level("WARNING")
    with pytest.raises(DownloadError, match="could not download"):
        fetch(
            f"{server.url}/slow.bin", tmp_path / "slow.bin", size=10_000, **FAST,
            min_speed=100, speed_window=0.6, deadline=None,
        )  # fmt: skip
    assert time.monotonic() - start < 10
    assert "slower than 100 B/s" in caplog.text


def test_download_cli_passes_the_speed_limits(tmp_path):
    parser = argparse.ArgumentParser()
    dl.add_arguments(parser)
    args = parser.parse_args(["--dataset", "checkpoint", "--min-speed", "5", "--deadline", "9"])
    assert (args.min_speed, args.deadline) == (5.0, 9.0)


@pytest.mark.parametrize("name", ["../../x.flv", "/vjepa-fer-abs/x.flv", "VideoFlash/../../x.flv"])
def test_checksum_table_names_outside_the_root_are_refused(tmp_path, name):
    """A checksum table's names become paths under the dataset root: one that leaves it is
    refused when the table is read, naming the table and the line."""
    table = tmp_path / "lfs.csv"
    table.write_text(f"name,sha256,size\n1001_DFA_ANG_XX.flv,{'a' * 64},10\n{name},{'b' * 64},10\n")
    with pytest.raises(ValueError, match=rf"{re.escape(str(table))}, line 3, column name: path"):
        cremad_dl.load_cremad_table(table)
    root = tmp_path / "root"
    with pytest.raises(ValueError, match="line 3"):
        cremad_dl.download_cremad(root, url_templates=["http://127.0.0.1:9/{name}"], table=table)
    assert not (tmp_path / "x.flv").exists() and not Path("/vjepa-fer-abs").exists()

"""A loopback HTTP server that plays the datasets' and checkpoints' publishers in tests.

It listens on 127.0.0.1 only (port 0: the system picks a free one), serves bytes the test
registers under a path, honours ``Range`` requests, logs every request, and injects faults per
path: a fixed status, a body cut short after N bytes (with the full Content-Length announced), a
body cut short with no Content-Length at all (the client can only see the connection close),
ignoring ``Range``, or trickling the body (``trickle``: one byte every that many seconds, the full
Content-Length announced; the server gives up when the client hangs up). Nothing here ever
contacts another host.

    with serve() as server:
        server.files["/a.bin"] = b"..."
        server.faults["/a.bin"] = {"truncate_times": 1, "truncate_at": 100}
        fetch(f"{server.url}/a.bin", ...)
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np


class ServerState:
    """What the server serves (``files``), how it misbehaves (``faults``) and what it saw."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, dict] = {}
        self.log: list[tuple[str, str | None]] = []  # (path, Range header)
        self.lock = threading.Lock()
        self.url = ""

    def requests_for(self, path: str) -> list[str | None]:
        """The Range header of every request of ``path`` (``None``: a plain GET)."""
        return [rng for p, rng in self.log if p == path]


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        state: ServerState = self.server.state  # type: ignore[attr-defined]
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
        if not fault.get("no_length"):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if fault.get("trickle"):
            import time

            try:
                for k in range(len(body)):
                    self.wfile.write(body[k : k + 1])
                    self.wfile.flush()
                    time.sleep(fault["trickle"])
            except OSError:  # the client hung up
                pass
            return
        # A cut transfer ends early; with a Content-Length the client can tell, without one
        # (HTTP/1.0, the connection closes) the cut body looks complete.
        self.wfile.write(body if cut is None else body[:cut])


@contextmanager
def serve() -> Iterator[ServerState]:
    """A running loopback server; its state's ``url`` is ``http://127.0.0.1:PORT``."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.state = ServerState()  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    httpd.state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield httpd.state
    finally:
        httpd.shutdown()
        httpd.server_close()


def closed_port_url(path: str = "/a.bin") -> str:
    """A URL on 127.0.0.1 whose port nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def blob(n: int, seed: int = 0) -> bytes:
    """``n`` reproducible random bytes."""
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    """A zip archive of ``members`` (name -> bytes), stored uncompressed like media archives."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, payload in members.items():
            zf.writestr(zipfile.ZipInfo(name), payload)
    return path


def zenodo_record(server: ServerState, archives: dict[str, bytes]) -> bytes:
    """A Zenodo-style record JSON (InvenioRDM ``files`` list) listing sizes and md5s."""
    import json

    files = [
        {
            "key": name,
            "size": len(payload),
            "checksum": f"md5:{md5(payload)}",
            "links": {"self": f"{server.url}/api/files/{name}/content"},
        }
        for name, payload in archives.items()
    ]
    return json.dumps({"id": 1188976, "files": files}).encode()

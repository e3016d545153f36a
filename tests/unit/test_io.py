import os

import pandas as pd
import pytest

from vjepa_fer.io import atomic_open, atomic_path, file_digest, write_csv


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_outputs_get_ordinary_file_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_csv(pd.DataFrame({"a": [1]}), tmp_path / "t.csv")
        with atomic_path(tmp_path / "b.bin") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(old)
    for name in ("t.csv", "b.bin"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644


def test_digest(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(b"abc")
    assert file_digest(p, "md5") == "900150983cd24fb0d6963f7d28e17f72"


# ----------------------------------------------------------------------------- path containment


@pytest.mark.parametrize(
    ("rel", "problem"),
    [
        ("../x.flv", "leaves its root"),
        ("../../x.flv", "leaves its root"),
        ("Actor_01/../../x.mp4", "leaves its root"),
        ("..", "leaves its root"),
        ("/etc/passwd", "is absolute"),
        ("\\\\server\\share\\x.mp4", "is absolute"),
        ("C:\\data\\x.mp4", "is absolute"),
        ("", "is empty"),
        ("a\0b", "NUL"),
    ],
)
def test_safe_join_refuses_paths_that_leave_the_root(tmp_path, rel, problem):
    from vjepa_fer.io import PathEscapeError, safe_join

    with pytest.raises(PathEscapeError, match=problem) as info:
        safe_join(tmp_path, rel, source="table.csv line 7")
    assert str(info.value).startswith("table.csv line 7: path ")  # names the file and the entry


def test_safe_join_keeps_paths_inside_the_root(tmp_path):
    from vjepa_fer.io import contained, safe_join

    assert safe_join(tmp_path, "a/./b/../c.mp4", source="t") == tmp_path / "a/c.mp4"
    assert contained("Actor_01\\x.mp4", source="t") == "Actor_01/x.mp4"
    assert contained("a..b/c", source="t") == "a..b/c"  # dots inside a name are no parent step

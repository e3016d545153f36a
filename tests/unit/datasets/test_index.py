import io
import json
from pathlib import Path

import pandas as pd
import pytest

from vjepa_fer.cli import main
from vjepa_fer.datasets import IndexOptions
from vjepa_fer.datasets.cremad.download import CHECKSUMS as CREMAD_CHECKSUMS
from vjepa_fer.datasets.index import MANIFEST_COLUMNS, build_manifest
from vjepa_fer.datasets.ravdess.naming import ravdess_speech_design


def touch(root: Path, rel: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.touch()


@pytest.fixture(scope="module")
def ravdess_tree(tmp_path_factory) -> Path:
    """The full RAVDESS speech-video tree as empty files, plus song, audio and foreign files."""
    root = tmp_path_factory.mktemp("ravdess")
    for n in ravdess_speech_design():
        touch(root, f"Actor_{n.actor:02d}/{n.filename()}")
    touch(root, "Actor_01/01-02-03-01-01-01-01.mp4")  # song video
    touch(root, "Actor_01/03-01-03-01-01-01-01.wav")  # audio-only
    touch(root, "Actor_01/README.txt")
    touch(root, "Actor_01/.DS_Store")
    return root


@pytest.fixture(scope="module")
def cremad_tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cremad")
    table = pd.read_csv(io.StringIO(CREMAD_CHECKSUMS.read_text("utf-8")), sep="\t")
    for name in table["file"]:
        touch(root, f"VideoFlash/{name}")
    touch(root, "VideoFlash/notes.txt")
    touch(root, "AudioWAV/1001_DFA_ANG_XX.wav")
    return root


def test_full_ravdess_manifest(ravdess_tree):
    df, report = build_manifest("ravdess", ravdess_tree, expect_full=True)
    assert len(df) == 2880
    assert list(df.columns) == MANIFEST_COLUMNS
    counts = df["label"].value_counts()
    assert counts["neutral"] == 192
    assert all(counts[c] == 384 for c in counts.index if c != "neutral")
    assert sorted(df["actor"].unique()) == list(range(1, 25))
    assert df.groupby("fold")["actor"].nunique().tolist() == [5, 5, 5, 5, 4]
    assert df.groupby("fold").size().tolist() == [600, 600, 600, 600, 480]
    assert report["ignored"] == {"song": 1, "not a video file": 2}
    # odd actors male, even female; every take appears once per modality
    assert set(df.loc[df["actor"] == 7, "sex"]) == {"male"}
    assert df["trial"].value_counts().eq(2).all()
    assert df["video"].iloc[0] == "Actor_01/01-01-01-01-01-01-01.mp4"


def test_ravdess_one_modality_switch(ravdess_tree):
    opts = IndexOptions(extra={"modalities": (2,)})  # RAVDESS's own option (--modalities 2)
    df, _ = build_manifest("ravdess", ravdess_tree, options=opts, expect_full=True)
    assert len(df) == 1440
    assert set(df["modality"]) == {"video"}
    assert df["trial"].is_unique


def test_full_cremad_manifest(cremad_tree):
    df, report = build_manifest("crema-d", cremad_tree, expect_full=True)
    assert len(df) == 7442
    counts = df["label"].value_counts()
    assert counts["neutral"] == 1087
    assert all(counts[c] == 1271 for c in ["angry", "disgust", "fearful", "happy", "sad"])
    assert df["actor"].nunique() == 91
    assert df.groupby("fold").size().tolist() == [1551, 1470, 1476, 1469, 1476]
    people = df.drop_duplicates("actor")
    assert (people["sex"] == "male").sum() == 48 and (people["sex"] == "female").sum() == 43
    assert people["age"].min() == 20 and people["age"].max() == 74
    assert report["ignored"] == {"not a video file": 1}


def test_cremad_exclude_list(cremad_tree):
    bad = [
        "1076_MTI_NEU_XX.flv",
        "1076_MTI_SAD_XX.flv",
        "1064_TIE_SAD_XX.flv",
        "1064_IEO_DIS_MD.flv",
        "1040_ITH_SAD_XX.flv",
    ]
    df, report = build_manifest("crema-d", cremad_tree, expect_full=True, exclude=tuple(bad))
    assert len(df) == 7437
    assert report["excluded"] == sorted(bad)


def test_missing_actor_is_listed(tmp_path):
    for n in ravdess_speech_design():
        if n.actor != 17 and not (n.actor == 3 and n.emotion == 5):
            touch(tmp_path, f"Actor_{n.actor:02d}/{n.filename()}")
    with pytest.raises(ValueError) as info:
        build_manifest("ravdess", tmp_path, expect_full=True)
    msg = str(info.value)
    assert "expected 2880 videos, found 2744" in msg
    assert "actors missing entirely: [17]" in msg
    assert "missing 136 files" in msg and "01-01-05-01-01-01-03.mp4" in msg
    # the same tree indexes fine as a partial copy
    df, _ = build_manifest("ravdess", tmp_path, expect_full=False)
    assert len(df) == 2744


def test_cremad_missing_file_is_named(tmp_path, cremad_tree):
    root = tmp_path / "c"
    (root / "VideoFlash").mkdir(parents=True)
    for p in sorted((cremad_tree / "VideoFlash").glob("*.flv"))[1:]:
        (root / "VideoFlash" / p.name).touch()
    with pytest.raises(ValueError, match=r"missing files of actors present: 1001_DFA_ANG_XX.flv"):
        build_manifest("crema-d", root, expect_full=True)


def test_malformed_name_is_reported_with_its_path(tmp_path):
    touch(tmp_path, "Actor_01/01-01-03-01-01-01-01.mp4")
    touch(tmp_path, "Actor_01/01-01-03-01-01-1-01.mp4")
    with pytest.raises(ValueError, match=r"Actor_01/01-01-03-01-01-1-01.mp4: not a RAVDESS"):
        build_manifest("ravdess", tmp_path)
    df, report = build_manifest("ravdess", tmp_path, on_bad_name="skip", check_fold_coverage=False)
    assert len(df) == 1 and report["ignored"] == {"malformed name": 1}


def test_actor_folder_mismatch(tmp_path):
    touch(tmp_path, "Actor_02/01-01-03-01-01-01-01.mp4")
    with pytest.raises(ValueError, match="actor 01 lies in folder Actor_02"):
        build_manifest("ravdess", tmp_path)


def test_missing_root_and_empty_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_manifest("ravdess", tmp_path / "nope")
    with pytest.raises(ValueError, match="no ravdess videos found"):
        build_manifest("ravdess", tmp_path)
    with pytest.raises(FileNotFoundError, match="VideoFlash"):
        build_manifest("crema-d", tmp_path)


def test_custom_folds_must_cover_every_actor(tmp_path):
    touch(tmp_path, "Actor_01/01-01-03-01-01-01-01.mp4")
    touch(tmp_path, "Actor_02/01-01-03-01-01-01-02.mp4")
    folds = tmp_path / "folds.csv"
    folds.write_text("actor,fold\n1,1\n")
    with pytest.raises(ValueError, match=r"actors \[2\] are in no fold"):
        build_manifest("ravdess", tmp_path, folds=folds)


def test_cli_writes_manifest_and_report(tmp_path, ravdess_tree):
    out, rep = tmp_path / "m.csv", tmp_path / "r.json"
    rc = main(
        [
            "index",
            "--dataset",
            "ravdess",
            "--root",
            str(ravdess_tree),
            "--out",
            str(out),
            "--report",
            str(rep),
            "--expect-full",
            "--modalities",
            "2",
        ]
    )
    assert rc == 0
    assert len(pd.read_csv(out)) == 1440
    assert json.loads(rep.read_text())["videos"] == 1440
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_cli_error_exit_code(tmp_path, capsys):
    rc = main(
        [
            "index",
            "--dataset",
            "ravdess",
            "--root",
            str(tmp_path / "x"),
            "--out",
            str(tmp_path / "m.csv"),
        ]
    )
    assert rc == 1
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "m.csv").exists()


@pytest.mark.parametrize("which", ["ravdess", "crema-d"])
def test_manifests_follow_the_manifest_schema(which, ravdess_tree, cremad_tree, tmp_path):
    from snakemake.utils import validate

    from tests.conftest import REPO

    root = ravdess_tree if which == "ravdess" else cremad_tree
    df, _ = build_manifest(which, root)
    path = tmp_path / "m.csv"
    df.to_csv(path, index=False)
    validate(pd.read_csv(path), str(REPO / "workflow/schemas/manifest.schema.yaml"))
    bad = pd.read_csv(path).head(3)
    bad.loc[0, "label"] = "bored"
    with pytest.raises(Exception, match="bored"):
        validate(bad, str(REPO / "workflow/schemas/manifest.schema.yaml"))


def _small_ravdess(root: Path, actors: list[int], emotions=range(1, 9)) -> None:
    for a in actors:
        for e in emotions:
            touch(root, f"Actor_{a:02d}/01-01-{e:02d}-01-01-01-{a:02d}.mp4")


def test_an_empty_fold_stops_the_index_naming_dataset_and_fold(tmp_path):
    # Fold 1 of the paper's RAVDESS split is actors 2 5 14 15 16: leave them all out.
    _small_ravdess(tmp_path, [3, 10, 8, 1])  # one actor of each of folds 2, 3, 4, 5
    with pytest.raises(ValueError, match=r"ravdess: .*fold 1 has no videos"):
        build_manifest("ravdess", tmp_path)


def test_a_fold_without_a_class_stops_the_index(tmp_path):
    _small_ravdess(tmp_path, [2, 3, 10, 8])
    _small_ravdess(tmp_path, [1], emotions=[1, 2, 3, 4, 5, 6, 7])  # fold 5 lacks surprised
    with pytest.raises(
        ValueError, match=r"ravdess: .*fold 5 \(its actors \[1\]\) has no video of class surprised"
    ):
        build_manifest("ravdess", tmp_path)
    _small_ravdess(tmp_path, [1], emotions=[8])
    df, _ = build_manifest("ravdess", tmp_path)
    assert sorted(df["fold"].unique()) == [1, 2, 3, 4, 5]


def test_symlinked_actor_folders_are_followed(tmp_path):
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    _small_ravdess(root, [2, 3, 10, 8])
    _small_ravdess(elsewhere, [1])
    (root / "Actor_01").symlink_to(elsewhere / "Actor_01", target_is_directory=True)
    (root / "loop").symlink_to(root, target_is_directory=True)  # refused, never walked twice
    df, report = build_manifest("ravdess", root)
    assert (df["actor"] == 1).sum() == 8
    assert report["ignored"].get("symbolic link loop") == 1

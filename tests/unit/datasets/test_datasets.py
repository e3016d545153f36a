"""Dataset modules (vjepa_fer.datasets): registry, DFEW / FERV39k / MAFW on synthetic trees in
their exact layouts (datasets/synth_wild.py), custom CSV datasets, cross-dataset label sharing."""

import importlib
import json
import re
from pathlib import Path

import pandas as pd
import pytest

import vjepa_fer
from vjepa_fer.cli import main
from vjepa_fer.datasets import (
    BUILTIN,
    IndexOptions,
    builtin_names,
    get_dataset,
    labels_for,
    load_cards,
    resolve,
)
from vjepa_fer.datasets.index import build_manifest
from vjepa_fer.datasets.synth_wild import synth_wild
from vjepa_fer.labels import CREMAD_LABELS, RAVDESS_LABELS, VOCABULARY
from vjepa_fer.video.frames import list_frames

SIZE = (32, 32)


def test_registry_and_vocabulary():
    assert builtin_names()[:2] == ["ravdess", "crema-d"]
    assert labels_for("ravdess") == RAVDESS_LABELS and labels_for("crema-d") == CREMAD_LABELS
    for name in builtin_names():
        ds = get_dataset(name)
        assert set(ds.classes) <= set(VOCABULARY), name  # one vocabulary: shared classes by name
        assert ds.display_name and ds.licence and ds.citation
    assert get_dataset("dfew").classes[:3] == ("happy", "sad", "neutral")  # DFEW's 1, 2, 3
    assert len(get_dataset("mafw").classes) == 11
    assert get_dataset("ferv39k").test_folds == (1,) and get_dataset("ferv39k").fixed_split
    assert [get_dataset(d).frame_step for d in ("dfew", "ferv39k", "mafw")] == [4, 1, 4]
    assert not any(get_dataset(d).downloadable for d in ("dfew", "ferv39k", "mafw"))
    with pytest.raises(ValueError, match="unknown dataset 'afew'"):
        get_dataset("afew")


@pytest.mark.parametrize("name", builtin_names())
def test_each_dataset_is_one_module(name):
    """Everything about a registered dataset sits behind its module: the module (or package) of
    the registry line defines the class, its generator has a ``synth_main``, and no file of the
    package outside the module compares anything with the dataset's name
    (docs/adding-a-dataset.md)."""
    ds = get_dataset(name)
    assert type(ds).__module__ == BUILTIN[name]
    assert ds.synth_module is None or callable(importlib.import_module(ds.synth_module).synth_main)
    # a comparison with the name outside the dataset's own files is a branch on the dataset
    src = Path(vjepa_fer.__file__).parent
    branch = re.compile(rf"(==|!=|\bin)\s*\(?\s*[\"']{re.escape(name)}[\"']")
    own = Path(importlib.import_module(BUILTIN[name]).__file__)
    own = own.parent if own.name == "__init__.py" else own
    hits = [
        f"{p.relative_to(src)}:{i}"
        for p in sorted(src.rglob("*.py"))
        if not p.is_relative_to(own) and p != own
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if branch.search(line)
    ]
    assert not hits, f"branches on {name!r} outside its module: {hits}"
    with pytest.raises(ValueError, match="must be 'custom'"):
        resolve("mine", {"type": "dfew"})


@pytest.fixture(scope="module")
def dfew(tmp_path_factory):
    root = tmp_path_factory.mktemp("dfew")
    synth_wild("dfew", root, clips_per_class=5, size=SIZE)
    return root


def test_dfew_index_folds_labels_and_layout(dfew):
    df, report = build_manifest("dfew", dfew)
    assert len(df) == 35 and df.groupby("fold").size().tolist() == [7] * 5
    assert (df.groupby("fold")["label"].nunique() == 7).all()
    assert report["ignored"] == {"not single-labelled (in no split file)": 1}
    # The CSVs hold unpadded ids and 1-based labels; folders are 5-digit padded.
    test1 = (dfew / "EmoLabel_DataSplit/test(single-labeled)/set_1.csv").read_text().splitlines()
    vid, code = test1[1].split(",")
    assert vid == str(int(vid)) and 1 <= int(code) <= 7
    row = df[df["video"] == f"Clip/clip_224x224/{int(vid):05d}"].iloc[0]
    assert row["label"] == get_dataset("dfew").classes[int(code) - 1] and row["fold"] == 1
    assert (dfew / "EmoLabel_DataSplit/train(single_labeled)").is_dir()  # the other spelling
    names = [p.name for p in list_frames(dfew / row["video"])]
    assert names[0] == f"{int(vid):05d}_00001.jpg"


def test_dfew_16f_variant_and_original(tmp_path):
    root = tmp_path / "d16"
    synth_wild("dfew", root, clips_per_class=5, size=SIZE, variant="clip_224x224_16f")
    # The default variant (clip_224x224) is absent: every listed clip is missing.
    with pytest.raises(ValueError, match="35 videos listed in the DFEW split files are missing"):
        build_manifest("dfew", root, expect_full=True)

    df, _ = build_manifest("dfew", root, options=IndexOptions(variant="clip_224x224_16f"))
    assert len(df) == 35 and df["video"].str.startswith("Clip/clip_224x224_16f/").all()
    names = [p.name for p in list_frames(root / df["video"].iloc[0])]
    assert names[:3] == ["1.jpg", "2.jpg", "3.jpg"] and names[-1] == "16.jpg"


def test_dfew_split_errors_name_file_line_and_column(dfew, tmp_path):
    import shutil

    root = tmp_path / "bad"
    shutil.copytree(dfew / "EmoLabel_DataSplit", root / "EmoLabel_DataSplit")
    csv = root / "EmoLabel_DataSplit/test(single-labeled)/set_2.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([lines[0], lines[1].split(",")[0] + ",0", *lines[2:]]) + "\n")
    with pytest.raises(ValueError, match=r"set_2.csv line 2, column label: '0' is not a 1-based"):
        build_manifest("dfew", root)
    csv.write_text("\n".join([lines[0], *lines[1:], lines[1]]) + "\n")  # listed twice
    with pytest.raises(ValueError, match="already in the test list of fold 2"):
        build_manifest("dfew", root)


def test_dfew_missing_clips(dfew, tmp_path):
    import shutil

    root = tmp_path / "partial"
    shutil.copytree(dfew, root)
    gone = sorted((root / "Clip/clip_224x224").iterdir())[0]
    shutil.rmtree(gone)
    with pytest.raises(ValueError, match=f"missing: Clip/clip_224x224/{gone.name}"):
        build_manifest("dfew", root, expect_full=True)
    # The tiny tree has one clip of a class per fold: the removed one leaves its fold without
    # that class, which the fold check refuses (tested in test_index.py); here only the count.
    df, report = build_manifest("dfew", root, check_fold_coverage=False)
    assert len(df) == 34 and report["ignored"]["listed but missing"] == 1


def test_ferv39k_fixed_split_and_short_clips(tmp_path):
    root = tmp_path / "ferv39k"
    synth_wild("ferv39k", root, clips_per_class=5, size=SIZE)
    df, report = build_manifest("ferv39k", root)
    assert report["per_fold"] == {0: 28, 1: 7}  # fold 0 = training split, 1 = test split
    assert df["video"].str.match(r"^2_ClipsforFaceCrop/\w+/\w+/\d{4}$").all()
    frames = json.loads((root / "synth.json").read_text())["frames"]
    assert min(frames.values()) < 16  # some clips shorter than one 16-frame clip
    split = (root / "4_setups/All_scenes/test_All.csv").read_text().splitlines()
    assert len(split[0].split(" ")) == 2 and "," not in split[0]  # no header, space-separated
    bad = root / "4_setups/All_scenes/test_All.csv"
    clip, name = split[0].split(" ")
    bad.write_text("\n".join([f"{clip} Happy" if name != "Happy" else f"{clip} Sad", *split[1:]]))
    with pytest.raises(ValueError, match=r"test_All.csv line 1: clip .* but is labelled"):
        build_manifest("ferv39k", root)


def test_mafw_eleven_classes_png_frames(tmp_path):
    root = tmp_path / "mafw"
    synth_wild("mafw", root, clips_per_class=5, size=SIZE)
    df, report = build_manifest("mafw", root)
    assert len(df) == 55 and df["label"].nunique() == 11
    assert df.groupby("fold").size().tolist() == [11] * 5
    assert set(df["label"]) == set(get_dataset("mafw").classes)
    ids = sorted(int(v.rsplit("/", 1)[-1]) for v in df["video"])
    assert ids != list(range(ids[0], ids[0] + len(ids)))  # not contiguous, as the real ids
    first = list_frames(root / df["video"].iloc[0])[0]
    assert first.suffix == ".png"
    line = (root / "Train & Test Set/single/no_caption/set_1/test.txt").read_text().split("\n")[0]
    assert line.split(" ")[0].endswith(".mp4") and line.split(" ")[1].islower()


def test_synth_cli_writes_dfew(tmp_path):
    out = tmp_path / "d"
    args = ["synth", "--dataset", "dfew", "--out", str(out), "--clips-per-class", "5"]
    assert main([*args, "--size", "32x32"]) == 0
    assert (out / "synth.json").is_file() and (out / "Clip/clip_224x224").is_dir()


# --------------------------------------------------------------------------- custom datasets


def custom_tree(root, rows, header="video,label,subject"):
    for r in rows:
        (root / r[0]).parent.mkdir(parents=True, exist_ok=True)
        (root / r[0]).touch()
    lines = [header, *(",".join(map(str, r)) for r in rows)]
    (root / "labels.csv").write_text("\n".join(lines))
    return root / "labels.csv"


CLASSES = ["neutral", "happy", "sad"]


def test_custom_folds_made_from_the_seed_and_written(tmp_path):
    rows = [(f"v/{s}_{c}_{k}.mp4", c, f"P{s:02d}") for s in range(12) for c in CLASSES
            for k in range(2)]  # fmt: skip
    manifest = custom_tree(tmp_path, rows)
    cfg = {"type": "custom", "classes": CLASSES, "manifest": str(manifest), "n_folds": 4}
    out = tmp_path / "folds.csv"

    opts = IndexOptions(manifest=str(manifest), n_folds=4, seed=3, folds_out=str(out))
    df, _ = build_manifest("mine", tmp_path, custom=cfg, options=opts)
    assert sorted(df["fold"].unique()) == [1, 2, 3, 4]
    assert (df.groupby("actor")["fold"].nunique() == 1).all()  # subject-independent
    per = df.groupby(["fold", "label"]).size().unstack()
    assert (per.max() - per.min()).max() <= 2  # stratified: classes spread evenly
    table = pd.read_csv(out)
    assert list(table.columns) == ["subject", "actor", "fold"] and len(table) == 12
    again, _ = build_manifest("mine", tmp_path, custom=cfg, options=opts)
    assert again.equals(df)  # deterministic in the seed
    # The written table is reusable as `folds:`.
    reuse, _ = build_manifest("mine", tmp_path, custom=cfg, options=opts, folds=out)
    assert reuse["fold"].tolist() == df["fold"].tolist()


def test_custom_split_column_is_a_fixed_split(tmp_path):
    rows = [(f"a{k}.mp4", CLASSES[k % 3], f"s{k % 4}", "test" if k % 4 == 0 else "train")
            for k in range(12)]  # fmt: skip
    manifest = custom_tree(tmp_path, rows, "video,label,subject,split")
    cfg = {"type": "custom", "classes": CLASSES, "manifest": str(manifest)}
    assert resolve("mine", cfg).test_folds == (1,)

    df, _ = build_manifest(
        "mine", tmp_path, custom=cfg, options=IndexOptions(manifest=str(manifest))
    )
    assert set(df["fold"]) == {0, 1} and (df["fold"] == 1).sum() == 3


@pytest.mark.parametrize(
    ("header", "row", "message"),
    [
        ("video,label,subject", "x.mp4,angry,s1", r"line 3, column label: 'angry' is not one"),
        ("video,label,subject", "x.mp4,happy,", r"line 3, column subject: empty"),
        ("video,label,subject,fold", "x.mp4,happy,s9,zero", r"line 3, column fold: 'zero'"),
        ("video,label,subject,split", "x.mp4,happy,s9,val", r"line 3, column split: 'val'"),
        ("video,label,subject", "../x.mp4,happy,s1", r"line 3, column video: .* leaves its root"),
        ("video,label,subject", "/etc/x.mp4,happy,s1", r"line 3, column video: .* is absolute"),
        ("video,label,subject,fold", "x.mp4,happy,s0,2", r"line 2, column fold: subject s0 is"),
        ("video,label", "x.mp4,happy", r"line 1: missing column\(s\) \['subject'\]"),
    ],
)
def test_custom_errors_name_line_and_column(tmp_path, header, row, message):
    first = "a.mp4,happy,s0" + (",1" if "fold" in header else ",test" if "split" in header else "")
    if header == "video,label":
        first = "a.mp4,happy"
    (tmp_path / "m.csv").write_text(f"{header}\n{first}\n{row}\n")
    (tmp_path / "a.mp4").touch()
    (tmp_path / "x.mp4").touch()
    cfg = {"type": "custom", "classes": CLASSES, "manifest": str(tmp_path / "m.csv")}

    with pytest.raises(ValueError, match=message):
        build_manifest("mine", tmp_path, custom=cfg, options=IndexOptions(manifest=cfg["manifest"]))


def test_custom_card_reaches_later_stages(tmp_path):
    rows = [(f"v{k}.mp4", CLASSES[k % 3], f"s{k % 5}") for k in range(15)]
    manifest = custom_tree(tmp_path / "data", rows)
    results = tmp_path / "results"
    cfg = {"type": "custom", "classes": CLASSES, "manifest": str(manifest), "n_folds": 5,
           "display_name": "My faces"}  # fmt: skip
    args = ["index", "--dataset", "myfaces", "--root", str(tmp_path / "data"), "--out",
            str(results / "myfaces/manifest.csv"), "--custom", json.dumps(cfg), "--card",
            str(results / "myfaces/dataset.json"), "--folds-out",
            str(results / "myfaces/folds.csv")]  # fmt: skip
    assert main(args) == 0
    assert load_cards(results) == ["myfaces"]
    assert labels_for("myfaces") == tuple(CLASSES)
    assert get_dataset("myfaces").display_name == "My faces"
    assert (results / "myfaces/folds.csv").is_file()


# --------------------------------------------------------------------------- cross-dataset


def _videos(probe, labels, pred):
    rows = []
    for k, lab in enumerate(labels):
        row = {"video": f"v{k}", "label": lab, "pbv": pred, "mv": pred}
        row.update({f"s_{c}": float(c == pred) for c in probe})
        row.update({f"v_{c}": int(c == pred) for c in probe})
        rows.append(row)
    return pd.DataFrame(rows)


def test_cross_rules_per_pair():
    from vjepa_fer.evaluate.results import evaluate_videos

    dfew, mafw = get_dataset("dfew").classes, get_dataset("mafw").classes
    videos = _videos(dfew, ["happy", "contempt", "sad"], "happy")
    rules = {r for _, r, *_ in evaluate_videos(videos, "dfew", "mafw", mv_tie="lowest")}
    assert rules == {"strict"}  # the paper's drop/merge rules only for RAVDESS <-> CREMA-D
    out = list(evaluate_videos(videos, "dfew", "mafw", mv_tie="lowest"))
    _, _, labels, preds, classes, dropped = out[0]
    assert len(labels) == 3 and list(classes) == list(mafw) and not dropped
    r2c = _videos(RAVDESS_LABELS, ["happy", "sad"], "happy")
    rules = {r for _, r, *_ in evaluate_videos(r2c, "ravdess", "crema-d", mv_tie="lowest")}
    assert rules == {"drop", "merge", "strict"}
    custom = _videos(("blink", "wink"), ["happy"], "wink")
    assert list(evaluate_videos(custom, "mine", "dfew", mv_tie="lowest")) == []  # nothing shared


def test_wild_manifests_follow_the_manifest_schema(dfew, tmp_path):
    from snakemake.utils import validate

    from tests.conftest import REPO

    df, _ = build_manifest("dfew", dfew)
    df.to_csv(tmp_path / "m.csv", index=False)
    validate(pd.read_csv(tmp_path / "m.csv"), str(REPO / "workflow/schemas/manifest.schema.yaml"))


def test_index_options_carry_only_the_datasets_own_flags():
    """RAVDESS alone has modalities: no other dataset's `vjepa-fer index` gets --modalities."""
    cfg = {"modalities": [2], "source": "local", "variant": None, "synth": {}}
    assert get_dataset("ravdess").index_options(cfg, "r") == ["--modalities", "2"]
    for name in builtin_names():
        if name != "ravdess":
            assert "--modalities" not in get_dataset(name).index_options(cfg, "r"), name


@pytest.mark.parametrize(
    ("clip", "problem"), [("../Sad/0001", "leaves"), ("/Sad/0001", "absolute")]
)
def test_split_file_entries_outside_the_root_are_refused(tmp_path, clip, problem):
    """A split file's video id becomes a path under the dataset root (DFEW, FERV39k, MAFW share
    wild.Entry): one that leaves the root is refused, naming the split file and the line."""
    from vjepa_fer.datasets.ferv39k import read_split
    from vjepa_fer.io import PathEscapeError

    split = tmp_path / "train_All.csv"
    split.write_text(f"Action/Happy/0002 Happy\n{clip} Sad\n")
    with pytest.raises(PathEscapeError, match=rf"{re.escape(str(split))} line 2: .*{problem}"):
        read_split(split)


def test_locate_refuses_a_pattern_that_leaves_the_root(tmp_path):
    from vjepa_fer.datasets.wild import locate
    from vjepa_fer.io import PathEscapeError

    with pytest.raises(PathEscapeError, match=r"DFEW split files, video '00001'.*leaves its root"):
        locate(tmp_path, ["00001"], lambda v: f"../{v}.mp4", expect_full=True, what="DFEW")

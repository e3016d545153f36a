"""Adding a dataset touches its module, one registry line and its tests (docs/adding-a-dataset.md).

The test writes a dataset module into a temporary folder, adds its one registry line at run time
(``BUILTIN[name] = module``) and then drives the ordinary stages with no other edit: the config
check accepts the name, ``vjepa-fer synth`` and ``vjepa-fer index`` dispatch to the module, the
fold machinery assigns and checks folds, ``vjepa-fer summary`` counts them, and the module's own
``vjepa-fer index`` option (``--toy-takes``) is on the command line and reaches its ``index()``.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from vjepa_fer import datasets
from vjepa_fer.cli import main
from vjepa_fer.config import check_dataset_names

# A complete dataset module, as a contributor would write it: identity, classes, the walk of a
# local copy (names like <actor>_<label>_<take>.mp4 under Actor_<actor>/) and a generator.
TOY_MODULE = '''
"""Toy: <root>/Actor_<AA>/<AA>_<label>_<take>.mp4, two classes, folds from a user's table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vjepa_fer.data.walk import NameError_, reject_bad, walk_files
from vjepa_fer.datasets import register
from vjepa_fer.datasets.base import Dataset, int_list

CLASSES = ("happy", "sad")


def parse(rel):
    actor, label, take = Path(rel).stem.split("_")
    if label not in CLASSES or not actor.isdigit():
        raise NameError_(f"{rel}: not a toy file name (expected AA_<label>_<take>.mp4)")
    return int(actor), label, take


class Toy(Dataset):
    name = "toyset"
    display_name = "Toy"
    classes = CLASSES
    test_folds = (1, 2)
    synth_module = __name__

    def add_arguments(self, command, parser):
        if command == "index":
            parser.add_argument("--toy-takes", type=int_list, help="takes kept, e.g. 1,2")

    def own_options(self, command, args):
        return {"takes": args.toy_takes} if command == "index" else {}

    def index(self, root, opts):
        files, ignored = walk_files(root, ".mp4")
        takes = opts.extra.get("takes")  # --toy-takes; None: every take
        rows = []
        for rel in files:
            try:
                actor, label, take = parse(rel)
            except NameError_ as exc:
                reject_bad(rel, exc, opts.on_bad_name, ignored)
                continue
            if takes is not None and int(take) not in takes:
                ignored["another take"] += 1
                continue
            rows.append({"video": rel, "actor": actor, "label": label, "sex": None,
                         "age": None, "trial": Path(rel).stem, "modality": "video",
                         "intensity": None, "sentence": None, "repetition": 1})
        return pd.DataFrame(rows), ignored


def synth_main(args):
    for actor in range(1, args.actors + 1):
        for label in CLASSES:
            path = Path(args.out) / f"Actor_{actor:02d}" / f"{actor:02d}_{label}_1.mp4"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"toy")
    return 0


register(Toy())
'''


@pytest.fixture
def toyset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The toy module on sys.path and its one registry line; both undone after the test."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "toyset_module.py").write_text(textwrap.dedent(TOY_MODULE))
    monkeypatch.syspath_prepend(str(src))
    monkeypatch.setitem(datasets.BUILTIN, "toyset", "toyset_module")  # the registry line
    yield "toyset"
    datasets._REGISTRY.pop("toyset", None)
    sys.modules.pop("toyset_module", None)


def test_a_dataset_added_at_run_time_runs_through_the_stages(toyset: str, tmp_path: Path) -> None:
    # The config accepts the registered name without `type: custom`.
    check_dataset_names({"datasets": {toyset: {"source": "local", "root": "x"}}}, "config.yaml")
    assert toyset in datasets.builtin_names()

    root, out = tmp_path / "toy", tmp_path / "results" / toyset
    assert main(["synth", "--dataset", toyset, "--out", str(root), "--actors", "4"]) == 0
    (root / "Actor_01" / "notes.txt").write_text("not a video")
    folds = tmp_path / "folds.csv"
    folds.write_text("actor,fold\n1,1\n2,1\n3,2\n4,2\n")
    args = ["index", "--dataset", toyset, "--root", str(root), "--folds", str(folds)]
    args += ["--out", str(out / "manifest.csv"), "--report", str(out / "index.json")]
    assert main([*args, "--card", str(out / "dataset.json")]) == 0

    manifest = pd.read_csv(out / "manifest.csv")
    assert len(manifest) == 8 and set(manifest["dataset"]) == {toyset}
    assert manifest.groupby("fold")["actor"].unique().map(sorted).to_dict() == {
        1: [1, 2],
        2: [3, 4],
    }
    report = json.loads((out / "index.json").read_text())
    assert report["ignored"] == {"not a video file": 1}
    card = json.loads((out / "dataset.json").read_text())
    assert card["classes"] == ["happy", "sad"] and card["display_name"] == "Toy"

    assert (
        main(["summary", "--manifest", str(out / "manifest.csv"), "--out", str(out / "s.csv")]) == 0
    )
    summary = pd.read_csv(out / "s.csv")
    assert summary["videos"].head(2).tolist() == [4, 4]


def test_the_fold_check_and_the_name_parser_apply_to_an_added_dataset(
    toyset: str, tmp_path: Path
) -> None:
    root = tmp_path / "toy"
    assert main(["synth", "--dataset", toyset, "--out", str(root), "--actors", "2"]) == 0
    (root / "Actor_02" / "02_angry_1.mp4").write_bytes(b"toy")  # not a class of the dataset
    folds = tmp_path / "folds.csv"
    folds.write_text("actor,fold\n1,1\n2,2\n")
    out = tmp_path / "m.csv"
    args = ["index", "--dataset", toyset, "--root", str(root), "--folds", str(folds)]
    assert main([*args, "--out", str(out)]) == 1  # the bad name stops the index (one line)
    (root / "Actor_02" / "02_angry_1.mp4").unlink()
    (root / "Actor_02" / "02_sad_1.mp4").unlink()  # fold 2 now lacks "sad"
    assert main([*args, "--out", str(out)]) == 1
    assert not out.exists()


def test_an_added_dataset_brings_its_own_index_option(
    toyset: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["index", "--help"])
    help_text = capsys.readouterr().out
    assert "Toy (--dataset toyset):\n  --toy-takes TOY_TAKES" in help_text
    assert "takes kept, e.g. 1,2" in help_text

    root = tmp_path / "toy"
    assert main(["synth", "--dataset", toyset, "--out", str(root), "--actors", "2"]) == 0
    for video in sorted(root.rglob("*_1.mp4")):  # a second take of every recording
        video.with_name(video.name.replace("_1.mp4", "_2.mp4")).write_bytes(b"toy")
    folds = tmp_path / "folds.csv"
    folds.write_text("actor,fold\n1,1\n2,2\n")
    args = ["index", "--dataset", toyset, "--root", str(root), "--folds", str(folds)]
    out, report = tmp_path / "m.csv", tmp_path / "r.json"
    assert main([*args, "--out", str(out), "--report", str(report), "--toy-takes", "2"]) == 0
    manifest = pd.read_csv(out)
    assert len(manifest) == 4 and manifest["trial"].str.endswith("_2").all()
    assert json.loads(report.read_text())["ignored"] == {"another take": 4}
    assert main([*args, "--out", str(out)]) == 0  # without the option: every take
    assert len(pd.read_csv(out)) == 8


TWIN_MODULE = """
from toyset_module import Toy
from vjepa_fer.datasets import register


class Twin(Toy):  # a second dataset on the same implementation (its hooks included)
    name = "toytwin"
    display_name = "Twin"


register(Twin())
"""


def test_datasets_sharing_an_implementation_add_its_options_once(
    toyset: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "src" / "toytwin_module.py").write_text(TWIN_MODULE)
    monkeypatch.setitem(datasets.BUILTIN, "toytwin", "toytwin_module")
    try:
        parser = argparse.ArgumentParser()
        datasets.add_dataset_arguments("index", parser)  # no "conflicting option" error
        groups = {g.title: [a.dest for a in g._group_actions] for g in parser._action_groups}
        assert groups["Toy, Twin (--dataset toyset, toytwin)"] == ["toy_takes"]
        args = parser.parse_args(["--toy-takes", "3"])
        assert datasets.get_dataset("toytwin").own_options("index", args) == {"takes": [3]}
    finally:
        datasets._REGISTRY.pop("toytwin", None)
        sys.modules.pop("toytwin_module", None)

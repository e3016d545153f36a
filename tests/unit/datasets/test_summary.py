import pandas as pd

from vjepa_fer.cli import main
from vjepa_fer.datasets.summary import fold_summary


def manifest() -> pd.DataFrame:
    rows = [
        # actor, fold, label, sex, age
        (1001, 1, "angry", "male", 30),
        (1001, 1, "sad", "male", 30),
        (1002, 1, "angry", "female", 40),
        (1003, 2, "neutral", "female", 60),
        (1004, 2, "sad", "female", 20),
        (1004, 2, "sad", "female", 20),
    ]
    return pd.DataFrame(
        [
            {
                "video": f"v{i}",
                "dataset": "crema-d",
                "actor": a,
                "fold": f,
                "label": lab,
                "sex": s,
                "age": age,
            }
            for i, (a, f, lab, s, age) in enumerate(rows)
        ]
    )


def test_fold_summary_counts():
    s = fold_summary(manifest()).set_index("fold")
    assert s.loc["1", "videos"] == 3 and s.loc["1", "actors"] == 2
    assert s.loc["1", "angry"] == 2 and s.loc["1", "sad"] == 1 and s.loc["1", "neutral"] == 0
    assert (s.loc["1", "male_actors"], s.loc["1", "female_actors"]) == (1, 1)
    assert (s.loc["2", "male_actors"], s.loc["2", "female_actors"]) == (0, 2)
    assert s.loc["2", "age_mean"] == 40.0 and s.loc["2", "age_min"] == 20
    assert s.loc["all", "videos"] == 6 and s.loc["all", "actors"] == 4
    # classes not present anywhere are not columns; present ones keep the dataset's order
    assert [c for c in s.columns if c in {"angry", "neutral", "sad"}] == ["angry", "neutral", "sad"]
    assert "happy" not in s.columns


def test_summary_cli(tmp_path):
    m = tmp_path / "m.csv"
    manifest().to_csv(m, index=False)
    rc = main(
        [
            "summary",
            "--manifest",
            str(m),
            "--out",
            str(tmp_path / "s.csv"),
            "--markdown",
            str(tmp_path / "s.md"),
        ]
    )
    assert rc == 0
    md = (tmp_path / "s.md").read_text()
    assert md.startswith("# crema-d: videos, actors and classes per fold")
    assert "| all | 6 | 4 |" in md

import argparse
import json

import pandas as pd
import pytest

from vjepa_fer.evaluate.forwards import (
    COLUMNS,
    Settings,
    add_arguments,
    add_measured,
    authors_protocol,
    distinct_train_positions,
    encoder_flops,
    encoder_tokens,
    forwards_table,
    full_size_tables,
    h100_hours,
    our_protocol,
    prepare,
    run,
)


def tables(rows: list[tuple], dataset: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """rows: (video, fold, num_frames[, status[, trial]]) -> manifest and lengths."""
    m = pd.DataFrame(
        {
            "video": [r[0] for r in rows],
            "dataset": dataset,
            "actor": [r[1] for r in rows],  # one actor per fold is enough here
            "fold": [r[1] for r in rows],
            "label": "happy",
            "trial": [r[4] if len(r) > 4 else r[0] for r in rows],
        }
    )
    lg = pd.DataFrame(
        {
            "video": [r[0] for r in rows],
            "num_frames": [r[2] for r in rows],
            "status": [r[3] if len(r) > 3 else "ok" for r in rows],
        }
    )
    return m, lg


# Evaluation clips: L > 64 -> L - 64, else 1.
#   A: 100 -> 36, 64 -> 1 | 70 -> 6 | 30 -> 1, 200 -> 136; a6 unreadable (dropped). Sum 180.
#   B: 65 -> 1 | 80 -> 16. Sum 17.
A = tables(
    [
        ("a1", 1, 100),
        ("a2", 1, 64),
        ("a3", 2, 70),
        ("a4", 3, 30),
        ("a5", 3, 200),
        ("a6", 2, 0, "unreadable"),
    ],
    "A",
)
B = tables([("b1", 1, 65), ("b2", 2, 80)], "B")
SMALL = dict(epochs=2, clips=3)


def forwards(table: pd.DataFrame, part: str, dataset: str) -> int:
    sel = table[(table["part"] == part) & (table["dataset"] == dataset)]
    return int(sel["forwards"].sum())


@pytest.fixture(scope="module")
def full() -> dict:
    # Assumed frame counts (no data here): RAVDESS 111 (47 evaluation clips, spec ≈ 46.6),
    # CREMA-D 78 (14 clips, spec ≈ 13.8).
    return {"ravdess": full_size_tables("ravdess", 111), "crema-d": full_size_tables("crema-d", 78)}


def test_full_size_manifests(full):
    rm, rl = full["ravdess"]
    cm, cl = full["crema-d"]
    assert len(rm) == 2880 and len(cm) == 7442
    assert rm.groupby("fold").size().tolist() == [600, 600, 600, 600, 480]
    assert cm.groupby("fold").size().tolist() == [1551, 1470, 1476, 1469, 1476]
    assert rm["trial"].value_counts().eq(2).all() and cm["trial"].is_unique
    assert (rl["video"] == rm["video"]).all() and set(cl["status"]) == {"ok"}
    assert rm["video"].iloc[0] == "Actor_01/01-01-01-01-01-01-01.mp4"
    lengths = {v: 70 for v in cm["video"]}
    assert full_size_tables("crema-d", lengths)[1]["num_frames"].eq(70).all()
    with pytest.raises(ValueError, match="frame counts missing"):
        full_size_tables("crema-d", {"VideoFlash/1001_DFA_ANG_XX.flv": 70})
    with pytest.raises(ValueError, match="no packaged name list"):
        full_size_tables("afew", 100)


def test_compute_md_training_and_validation_rows(full):
    t, s = authors_protocol(full)
    assert forwards(t, "training", "ravdess") == 1_843_200  # 20 x 8 x 4 x 2880
    assert forwards(t, "validation", "ravdess") == 1_382_400  # 20 x 8 x 3 x 2880
    assert forwards(t, "training", "crema-d") == 4_762_880  # 20 x 8 x 4 x 7442
    assert forwards(t, "validation", "crema-d") == 3_572_160
    # Depend on the assumed lengths (47 and 14 clips per video).
    assert forwards(t, "evaluation", "ravdess") == 2880 * 47
    assert forwards(t, "cross-dataset", "ravdess") == 5 * 7442 * 14
    assert forwards(t, "cross-dataset", "crema-d") == 5 * 2880 * 47
    # "One fold of RAVDESS alone ≈ 0.68 M": a 600-video fold without the cross-dataset part.
    f1 = s["per_fold"]["ravdess"][1]
    assert f1["training"] + f1["validation"] + f1["evaluation"] == 681_000
    online, _ = our_protocol(full, mode="online")
    assert online.loc[online["part"] == "training", "forwards"].sum() == 1_651_520


def test_full_size_totals_match_compute_md(full):
    _, s = forwards_table(full)
    p = s["protocols"]
    assert round(p["authors"]["forwards"] / 1e6, 1) == 13.0
    assert round(p["authors"]["h100_hours"]) == 84
    assert round(p["authors"]["forwards_without_validation"] / 1e6, 1) == 8.0
    assert round(p["ours-online"]["forwards"] / 1e6, 1) == 1.9
    assert round(p["ours-online"]["h100_hours"]) == 12
    assert round(p["ours-cached"]["forwards"] / 1e6, 2) == 0.32
    assert round(p["ours-cached"]["h100_hours"]) == 2
    # Every (clip, probe) use of the authors' code except the unused validation is still served.
    assert p["ours-online"]["probe_uses"] == p["authors"]["forwards_without_validation"]
    assert s["datasets"]["crema-d"]["eval_clips_per_video"] == 14.0


def test_authors_hand_counts():
    t, s = authors_protocol({"A": A, "B": B}, views=2, **SMALL)
    # training: epochs x clips x (F - 1) x N; A has 5 usable videos in 3 folds, B 2 in 2.
    assert forwards(t, "training", "A") == 2 * 3 * 2 * 5
    assert forwards(t, "validation", "A") == 2 * 3 * 2 * 5
    assert forwards(t, "evaluation", "A") == 180
    assert forwards(t, "cross-dataset", "A") == 3 * 17
    assert forwards(t, "training", "B") == 2 * 3 * 1 * 2
    assert forwards(t, "validation", "B") == 2 * 3 * 2 * 2
    assert forwards(t, "evaluation", "B") == 17
    assert forwards(t, "cross-dataset", "B") == 2 * 180
    assert s["forwards"] == 60 + 60 + 180 + 51 + 12 + 24 + 17 + 360
    assert s["per_fold"]["A"][2] == {
        "training": 2 * 3 * 4,
        "validation": 2 * 3 * 2 * 1,
        "evaluation": 6,
        "cross_dataset": 17,
        "total": 24 + 12 + 6 + 17,
    }
    cross = t[t["part"] == "cross-dataset"].set_index("dataset")["clips_of"]
    assert cross.to_dict() == {"A": "B", "B": "A"}
    doubled, s2 = authors_protocol({"A": A, "B": B}, views=2, probe_sets=2, **SMALL)
    assert s2["forwards"] == 2 * s["forwards"]


def test_stride_and_single_dataset():
    t, s = authors_protocol({"A": A}, stride=4, **SMALL)
    # ceil((L - 64) / 4): 100 -> 9, 64 -> 1, 70 -> 2, 30 -> 1, 200 -> 34
    assert forwards(t, "evaluation", "A") == 47
    assert "cross-dataset" not in set(t["part"])


def test_ours_online_and_cached_counts():
    ds = {"A": A, "B": B}
    online, s = our_protocol(ds, mode="online", **SMALL)
    assert forwards(online, "training", "A") == 2 * 3 * 5
    assert forwards(online, "training", "B") == 2 * 3 * 2
    assert forwards(online, "evaluation", "A") == 180
    assert forwards(online, "cross-dataset", "A") == 0 and forwards(online, "validation", "A") == 0
    assert s["forwards"] == 30 + 12 + 180 + 17
    cached, s = our_protocol(ds, mode="cached", **SMALL)
    assert s["forwards"] == 3 * 7 + 197
    # 3 clips: 100 -> 3, 64 -> 1, 70 -> 3 (stride 3), 30 -> 1, 200 -> 3 (long) | 65 -> 1, 80 -> 3
    _, s = our_protocol(ds, mode="cached", distinct=True, **SMALL)
    assert s["forwards"] == 15 + 197
    _, s = our_protocol(ds, mode="cached", copies=2, distinct=True, **SMALL)
    assert s["forwards"] == 2 * 3 * 7 + 197  # augmented copies differ even at equal positions
    with pytest.raises(ValueError, match="mode"):
        our_protocol(ds, mode="offline")


def test_extra_probes_add_uses_not_forwards():
    ds = {"A": A, "B": B}
    base, s0 = our_protocol(ds, **SMALL)
    more, s1 = our_protocol(ds, extra_probes=1, **SMALL)
    assert s0["forwards"] == s1["forwards"]
    uses = more.set_index(["part", "dataset"])["probe_uses"]
    assert uses["evaluation", "A"] == 2 * 180
    assert uses["cross-dataset", "A"] == 2 * 3 * 17  # A's 3 fold probes on B's clips, 2 sets
    assert uses["training", "A"] == 2 * (2 * 3 * 2 * 5)


def test_distinct_train_positions():
    # Starts i * ((L - 64) // 7): identical for L < 71; partitions of 65+ frames for L >= 520.
    assert [distinct_train_positions(n) for n in (10, 64, 70)] == [1, 1, 1]
    assert [distinct_train_positions(n) for n in (71, 111, 519, 520, 900)] == [8] * 5
    v = prepare("A", *A)
    assert v["train_positions"].tolist() == [8, 1, 1, 1, 8]  # 100, 64, 70, 30, 200 frames
    assert v["eval_clips"].tolist() == [36, 1, 6, 1, 136] and "a6" not in set(v["video"])
    _, s = our_protocol({"A": A}, mode="cached", distinct=True)
    assert s["forwards"] == (8 + 1 + 1 + 1 + 8) + 180


def test_modality_sharing_is_separate_and_off_by_default():
    # r1/r2: one trial, same length (shared); r3/r4: one trial, lengths differ (not shared).
    r = tables(
        [
            ("r1", 1, 100, "ok", "t1"),
            ("r2", 1, 100, "ok", "t1"),
            ("r3", 2, 90, "ok", "t2"),
            ("r4", 2, 91, "ok", "t2"),
        ],
        "R",
    )
    _, s = our_protocol({"R": r}, mode="cached")
    assert s["forwards"] == 4 * 8 + (36 + 36 + 26 + 27)
    t, s = our_protocol({"R": r}, mode="cached", share_modalities=True)
    assert s["forwards"] == 3 * 8 + (36 + 26 + 27)
    assert set(t["protocol"]) == {"ours-cached-shared"}
    _, s = our_protocol({"R": r}, mode="online", share_modalities=True)
    assert s["forwards"] == 20 * 8 * 4 + (36 + 26 + 27)  # augmented clips are keyed by video
    table, summary = forwards_table({"R": r})
    assert "ours-cached-shared" not in summary["protocols"]
    table, summary = forwards_table({"R": r}, Settings(share_modalities=True))
    assert summary["protocols"]["ours-cached-shared"]["forwards"] == 3 * 8 + 89
    assert summary["protocols"]["ours-cached"]["forwards"] == 4 * 8 + 125


def test_encoder_flops_match_compute_md():
    assert encoder_tokens(384, 16) == 4608 and encoder_tokens(224, 16) == 1568
    d, n = 1280, 4608
    assert encoder_flops() == 32 * (24 * d * d * n + 4 * n * n * d)
    assert 32 * 24 * d * d * n == pytest.approx(5.80e12, rel=1e-3)  # linear layers
    assert 32 * 4 * n * n * d == pytest.approx(3.48e12, rel=1e-3)  # attention
    assert encoder_flops(img_size=384) == pytest.approx(9.3e12, rel=0.01)
    # 224 px: the formula gives 2.376e12, which docs/compute.md rounds to 2.4 (1.0 % above).
    small = encoder_flops(img_size=224)
    assert small == 32 * (24 * d * d * 1568 + 4 * 1568 * 1568 * d)
    assert round(small / 1e12, 1) == 2.4
    assert encoder_flops(img_size=224, include_patch_embed=True) == pytest.approx(2.4e12, rel=0.01)
    assert encoder_flops(1024, 24, 224) < small  # ViT-L
    with pytest.raises(ValueError, match="divisible"):
        encoder_tokens(200, 16)
    # 13.0 M forwards at 384 ≈ 1.2e20 FLOP ≈ 84 H100-hours at 400 TFLOP/s.
    assert h100_hours(13.0e6 * encoder_flops()) == pytest.approx(83.8, abs=0.1)
    assert h100_hours(3600 * 800e12, tflops=800) == pytest.approx(1.0)


def test_forwards_table_layout():
    table, summary = forwards_table({"A": A, "B": B}, Settings(epochs=2, clips=3))
    assert list(table.columns) == COLUMNS
    totals = table[table["part"] == "total"].set_index("protocol")
    assert list(totals.index) == ["authors", "ours-online", "ours-cached"]
    assert totals.loc["ours-online", "forwards"] == 239
    assert totals.loc["ours-cached", "forwards"] == 218
    flop = encoder_flops()
    assert totals.loc["authors", "flop"] == pytest.approx(totals.loc["authors", "forwards"] * flop)
    assert summary["protocols"]["ours-online"]["fewer_forwards_than_authors"] == round(
        summary["protocols"]["authors"]["forwards"] / 239, 2
    )
    assert summary["datasets"]["A"]["dropped_not_ok"] == 1
    assert summary["datasets"]["A"]["videos_one_eval_clip"] == 2
    assert summary["assumptions"]["tokens"] == 4608
    json.dumps(summary)  # plain Python types only


def test_bad_inputs_name_the_problem():
    m, lg = A
    with pytest.raises(ValueError, match="A: manifest lacks columns \\['fold'\\]"):
        authors_protocol({"A": (m.drop(columns="fold"), lg)})
    with pytest.raises(ValueError, match="A: lengths table lacks 1"):
        authors_protocol({"A": (m, lg[lg["video"] != "a1"])})
    with pytest.raises(ValueError, match="prepared for"):
        authors_protocol({"A": prepare("A", *A, clips=3)})
    with pytest.raises(ValueError, match="no datasets"):
        authors_protocol({})


def write_inputs(tmp_path):
    paths = []
    for name, (m, lg) in {"A": A, "B": B}.items():
        m.to_csv(tmp_path / f"{name}_manifest.csv", index=False)
        lg.to_csv(tmp_path / f"{name}_lengths.csv", index=False)
        paths.append((tmp_path / f"{name}_manifest.csv", tmp_path / f"{name}_lengths.csv"))
    return paths


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return run(parser.parse_args(argv))


def test_cli_writes_table_summary_and_measured_rows(tmp_path):
    (ma, la), (mb, lb) = write_inputs(tmp_path)
    (tmp_path / "eval0.json").write_text(
        json.dumps({"clip_forwards": 100, "encoder_seconds": 2.0, "kind": "eval"})
    )
    (tmp_path / "train0.json").write_text(json.dumps({"clip_forwards": 21, "kind": "train"}))
    out, js = tmp_path / "out" / "forwards.csv", tmp_path / "out" / "forwards.json"
    argv = ["--manifest", str(ma), str(mb), "--lengths", str(la), str(lb), "--out", str(out)]
    argv += ["--json", str(js), "--epochs", "2", "--clips", "3"]
    assert (
        cli([*argv, "--measured", str(tmp_path / "eval0.json"), str(tmp_path / "train0.json")]) == 0
    )
    table = pd.read_csv(out)
    summary = json.loads(js.read_text())
    assert list(table.columns) == COLUMNS
    measured = table[table["protocol"] == "measured"].set_index("part")
    assert measured.loc["evaluation", "forwards"] == 100
    assert measured.loc["training", "forwards"] == 21
    assert measured.loc["total", "forwards"] == 121
    assert measured.loc["total", "predicted_forwards"] == 218  # ours-cached
    assert summary["measured"]["measured_over_predicted"] == round(121 / 218, 4)
    assert summary["measured"]["encoder_seconds"] is None  # one file has no timing
    assert set(summary["datasets"]) == {"A", "B"}
    assert summary["protocols"]["ours-online"]["forwards"] == 239

    (tmp_path / "bad.json").write_text(json.dumps({"forwards": 3}))
    with pytest.raises(ValueError, match="bad.json: no non-negative integer 'clip_forwards'"):
        cli([*argv, "--measured", str(tmp_path / "bad.json")])
    with pytest.raises(ValueError, match="one --lengths file per --manifest"):
        cli(
            [
                "--manifest",
                str(ma),
                str(mb),
                "--lengths",
                str(la),
                "--out",
                str(out),
                "--json",
                str(js),
            ]
        )


def test_cli_full_size_without_data(tmp_path):
    out, js = tmp_path / "f.csv", tmp_path / "f.json"
    argv = ["--full-size", "ravdess=111", "crema-d=78", "--out", str(out), "--json", str(js)]
    assert cli([*argv, "--measured-protocol", "ours-online"]) == 0
    summary = json.loads(js.read_text())
    assert summary["protocols"]["authors"]["forwards"] == 12_997_928
    assert summary["assumptions"]["frame_counts"] == "assumed: ravdess=111 crema-d=78"
    with pytest.raises(ValueError, match="DATASET=FRAMES"):
        cli(["--full-size", "ravdess", "--out", str(out), "--json", str(js)])


def test_measured_timing_gives_achieved_rate(tmp_path):
    table, summary = forwards_table({"A": A, "B": B}, Settings(epochs=2, clips=3))
    for k, secs in enumerate((1.5, 0.5)):
        (tmp_path / f"c{k}.json").write_text(
            json.dumps({"clip_forwards": 50, "encoder_seconds": secs})
        )
    out, s = add_measured(
        table, summary, [tmp_path / "c0.json", tmp_path / "c1.json"], protocol="ours-online"
    )
    m = s["measured"]
    assert m["clip_forwards"] == 100 and m["predicted_forwards"] == 239
    assert m["encoder_seconds"] == 2.0 and m["clips_per_second"] == 50.0
    assert m["achieved_tflops"] == round(100 * encoder_flops() / 2.0 / 1e12, 1)
    total = out[(out["protocol"] == "measured") & (out["part"] == "total")].iloc[0]
    assert total["encoder_hours"] == pytest.approx(2.0 / 3600)
    assert len(out) == len(table) + 3
    with pytest.raises(ValueError, match="no prediction for protocol 'theirs'"):
        add_measured(table, summary, [tmp_path / "c0.json"], protocol="theirs")


def test_cli_takes_encoder_dimensions_from_the_registry(tmp_path):
    # The demo's forwards.json described a ViT-H (1280 x 32) at 64 px because only three
    # settings reached the command; --encoder gives the real dimensions and FLOPs.
    (ma, la), (mb, lb) = write_inputs(tmp_path)
    js = tmp_path / "f.json"
    argv = ["--manifest", str(ma), str(mb), "--lengths", str(la), str(lb)]
    argv += ["--out", str(tmp_path / "f.csv"), "--json", str(js), "--img-size", "64"]
    assert cli([*argv, "--encoder", "tiny"]) == 0
    a = json.loads(js.read_text())["assumptions"]
    assert (a["embed_dim"], a["depth"], a["patch"], a["tubelet"]) == (64, 2, 16, 2)
    assert a["encoder"] == "tiny"
    assert a["flop_per_clip"] == encoder_flops(64, 2, 64, 16, 16, 2)
    assert cli([*argv, "--encoder", "vit_large"]) == 0
    assert json.loads(js.read_text())["assumptions"]["embed_dim"] == 1024
    assert cli([*argv, "--encoder", "tiny", "--depth", "5"]) == 0  # an explicit flag wins
    assert json.loads(js.read_text())["assumptions"]["depth"] == 5
    with pytest.raises(ValueError, match="unknown encoder 'vit_hgue'"):
        cli([*argv, "--encoder", "vit_hgue"])


def test_our_evaluation_views_multiply_evaluation_forwards():
    one, _ = forwards_table({"A": A, "B": B}, Settings(epochs=2, clips=3))
    three, _ = forwards_table({"A": A, "B": B}, Settings(epochs=2, clips=3, eval_views=3))

    def ours_eval(t):  # noqa: ANN001, ANN202
        rows = t[(t["protocol"] == "ours-online") & (t["part"] == "evaluation")]
        return int(rows["forwards"].sum())

    assert ours_eval(three) == 3 * ours_eval(one)
    auth = lambda t: int(t[t["protocol"] == "authors"]["forwards"].sum())  # noqa: E731
    assert auth(three) == auth(one)  # the authors' full-video evaluation has one view

"""Each dataset's own command-line options live in its module (``Dataset.add_arguments`` and
``Dataset.own_options``); the shared parsers of ``vjepa-fer index``, ``synth`` and ``download``
only call ``add_dataset_arguments``. The flags, defaults and help texts are those the Snakefile
rules pass (workflow/rules/common.smk and the modules' ``*_options`` methods)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from vjepa_fer.cli import build_parser, main
from vjepa_fer.datasets import IndexOptions, add_dataset_arguments, get_dataset, index, synth
from vjepa_fer.datasets import download as dl

# command -> group title in --help -> the flags of that dataset (or datasets)
OWN = {
    "index": {
        "RAVDESS (--dataset ravdess)": ["--modalities"],
        "CREMA-D (--dataset crema-d)": ["--demographics"],
    },
    "synth": {
        "RAVDESS (--dataset ravdess)": [
            "--statements",
            "--repetitions",
            "--intensities",
            "--modalities",
        ],
        "CREMA-D (--dataset crema-d)": ["--sentences"],
        "DFEW, FERV39k, MAFW (--dataset dfew, ferv39k, mafw)": ["--variant", "--clips-per-class"],
    },
    "download": {
        "RAVDESS (--dataset ravdess)": ["--base-url", "--record-api", "--keep-archives"],
        "CREMA-D (--dataset crema-d)": ["--mirror", "--jobs", "--names-file", "--verify-only"],
    },
}
# The options every dataset shares (the command's own parser).
SHARED = {
    "index": ["--dataset", "--root", "--out", "--expect-full", "--folds", "--variant", "--seed"],
    "synth": ["--dataset", "--out", "--actors", "--actor-ids", "--size", "--jobs", "--replace"],
    "download": ["--dataset", "--root", "--dest", "--actors", "--checksums", "--retries"],
}


def _help(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return capsys.readouterr().out


def _sections(text: str) -> dict[str, str]:
    """--help text split at its group titles (lines ending with ':' and not indented)."""
    out, title = {}, ""
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            title = line[:-1]
        out[title] = out.get(title, "") + line + "\n"
    return out


@pytest.mark.parametrize("command", sorted(OWN))
def test_help_lists_every_flag_under_its_dataset(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sections = _sections(_help(command, capsys))
    for title, flags in OWN[command].items():
        assert title in sections, f"vjepa-fer {command} --help has no group {title!r}"
        for flag in flags:
            assert f"  {flag} " in sections[title], f"{command}: {flag} not under {title}"
    for flag in SHARED[command]:
        assert f"  {flag}" in sections["options"], f"{command}: {flag} not a shared option"


@pytest.mark.parametrize("command", sorted(OWN))
def test_the_shared_parser_declares_no_datasets_option(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The datasets' flags come from their hooks alone: the command's parser without the hooks
    has none of them, the hooks alone add exactly them."""
    module = {"index": index, "synth": synth, "download": dl}[command]
    hooks = argparse.ArgumentParser(add_help=False)
    add_dataset_arguments(command, hooks)
    own = {s for a in hooks._actions for s in a.option_strings}
    assert own == {f for flags in OWN[command].values() for f in flags}
    monkeypatch.setattr(module, "add_dataset_arguments", lambda command, parser: None)
    bare = argparse.ArgumentParser()
    module.add_arguments(bare)
    assert not own & {s for a in bare._actions for s in a.option_strings}


def test_only_the_three_data_commands_take_dataset_options() -> None:
    with pytest.raises(ValueError, match="not 'extract'"):
        add_dataset_arguments("extract", argparse.ArgumentParser())


def test_the_defaults_are_the_ones_the_workflow_relies_on() -> None:
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices
    args = sub["index"].parse_args(["--dataset", "ravdess", "--root", "r", "--out", "o"])
    assert args.modalities == [1, 2] and args.demographics is None
    args = sub["synth"].parse_args(["--dataset", "ravdess", "--out", "o"])
    assert (args.statements, args.repetitions, args.intensities) == ([1], [1], [1, 2])
    assert (args.modalities, args.sentences, args.variant, args.clips_per_class) == (
        [1, 2],
        None,
        None,
        5,
    )
    args = sub["synth"].parse_args(["--dataset", "ravdess", "--out", "o", "--statements", "1,2"])
    assert args.statements == [1, 2]
    with pytest.raises(SystemExit):
        sub["synth"].parse_args(["--dataset", "ravdess", "--out", "o", "--statements", "x"])
    args = sub["download"].parse_args(["--dataset", "crema-d", "--mirror", "a", "--mirror", "b"])
    assert args.mirrors == ["a", "b"] and not args.verify_only and not args.keep_archives


def test_own_options_pick_each_datasets_values() -> None:
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices
    args = sub["index"].parse_args(
        ["--dataset", "x", "--root", "r", "--out", "o", "--modalities", "2", "--demographics", "d"]
    )
    assert get_dataset("ravdess").own_options("index", args) == {"modalities": (2,)}
    assert get_dataset("crema-d").own_options("index", args) == {"demographics": "d"}
    assert get_dataset("dfew").own_options("index", args) == {}  # the default: none
    args = sub["synth"].parse_args(["--dataset", "x", "--out", "o", "--variant", "original"])
    assert get_dataset("mafw").own_options("synth", args) == {
        "variant": "original",
        "clips_per_class": 5,
    }
    args = sub["download"].parse_args(["--dataset", "x", "--record-api", ""])
    assert get_dataset("ravdess").own_options("download", args) == {
        "base_url": None,
        "record_api": "",
        "keep_archives": False,
    }


def test_ravdess_modalities_reach_its_index_through_extra() -> None:
    ravdess = get_dataset("ravdess")
    assert len(ravdess.expected_names(IndexOptions())) == 2880  # both modalities by default
    assert len(ravdess.expected_names(IndexOptions(extra={"modalities": (1,)}))) == 1440
    assert len(index.expected_names("ravdess", IndexOptions(extra={"modalities": (2,)}))) == 1440


def test_cremad_demographics_flag_reaches_its_index(tmp_path: Path, capsys) -> None:
    (tmp_path / "VideoFlash").mkdir()
    (tmp_path / "VideoFlash" / "1001_DFA_ANG_XX.flv").touch()
    bad = tmp_path / "demo.csv"
    bad.write_text("ActorID,Age\n1001,51\n")
    args = ["index", "--dataset", "crema-d", "--root", str(tmp_path), "--out", str(tmp_path / "m")]
    assert main([*args, "--demographics", str(bad)]) == 1
    assert f"{bad}: demographics table lacks columns ['Sex']" in capsys.readouterr().err


def test_ravdess_refuses_cremads_verify_only(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    dl.add_arguments(parser)
    args = parser.parse_args(["--dataset", "ravdess", "--root", str(tmp_path), "--verify-only"])
    with pytest.raises(ValueError, match="--verify-only applies to --dataset crema-d only"):
        dl.run(args)

import subprocess
import sys

import pytest

from vjepa_fer.cli import COMMANDS, build_parser, main


def test_a_light_stage_imports_nothing_heavy():
    """`vjepa-fer index` must run in the data env (no torch, matplotlib, transformers)."""
    code = (
        "import sys; from vjepa_fer.cli import build_parser, _command; "
        "build_parser(_command(['index', '--dataset', 'ravdess'])); "
        "print(sorted(m for m in ('torch', 'matplotlib', 'transformers', 'decord') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


TORCH_FREE = [
    "vjepa_fer.features.plan",
    "vjepa_fer.evaluate.forwards",
    "vjepa_fer.evaluate.results",
    "vjepa_fer.evaluate.metrics",
    "vjepa_fer.report.tables",
    "vjepa_fer.report.figures",
    "vjepa_fer.report.runinfo",
    "vjepa_fer.datasets.index",
    "vjepa_fer.datasets.summary",
]


def test_analysis_modules_import_no_torch():
    """Planning clips and every analysis stage are pandas work: they run in the analysis env."""
    code = (
        f"import importlib, sys; [importlib.import_module(m) for m in {TORCH_FREE!r}]; "
        "print(sorted(m for m in ('torch', 'decord', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_command_has_its_arguments():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS)
    for name, p in sub.choices.items():
        assert len(p._actions) > 1, f"{name} declares no arguments"


def test_unknown_command_and_module_entry_point(capsys):
    with pytest.raises(SystemExit):
        main(["no-such-stage"])
    out = subprocess.run(
        [sys.executable, "-m", "vjepa_fer.cli", "metrics", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "usage: vjepa-fer metrics" in out.stdout


def test_every_option_has_one_line_of_help_and_shows_its_default(capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        for action in p._actions:
            flag = action.option_strings[0] if action.option_strings else action.dest
            assert action.help, f"vjepa-fer {name} {flag} has no help"
            assert "\n" not in action.help, f"vjepa-fer {name} {flag}: help is one line"
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "(default: 20)" in out and "``" not in out  # defaults shown, no reST markup
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "``" not in capsys.readouterr().out


def test_errors_are_printed_once(tmp_path, capsys):
    assert main(["metrics", str(tmp_path / "missing.csv")]) == 1
    err = capsys.readouterr().err
    assert err.count("missing.csv") == 1, err
    assert err.startswith("vjepa-fer metrics: error:")

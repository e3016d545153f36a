"""Every shell command the README, docs/ and the config headers show parses as written.

Commands are taken from fenced ``bash``/``sh``/``console`` blocks (with ``\\`` continuations) and
from inline code spans that start with ``snakemake``, ``vjepa-fer`` or ``make``, and from the
comment lines of the shipped configs and profiles. Each must split as a shell line; a
``snakemake`` line must parse with Snakemake's own parser and follow the target-first rule
(``--configfile`` takes every following word as a config file, so ``... --configfile X all``
reads a file named ``all``); a ``vjepa-fer`` line must parse with the CLI's parser; a ``make``
line must name Makefile targets.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import REPO

PROGRAMS = ("snakemake", "vjepa-fer", "make")
FENCE = re.compile(r"```(?:bash|sh|console|shell)\n(.*?)```", re.S)
INLINE = re.compile(r"`((?:snakemake|vjepa-fer|make) [^`]+)`")
# Placeholders a reader replaces: such lines are shown as patterns, not run as written.
PLACEHOLDER = re.compile(r"<[^>]+>|\.\.\.|…|\{[a-z_]+\}|\b[A-Z][A-Z0-9_]{2,}\b(?!=)")


def documents() -> list[Path]:
    docs = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    return docs + [REPO / "benchmarks" / "README.md"]


def config_headers() -> list[Path]:
    return sorted(REPO.glob("config*.yaml")) + sorted(REPO.glob("profiles/*/config.yaml"))


def _commands_of_block(block: str) -> list[str]:
    out, current = [], ""
    for raw in block.splitlines():
        line = raw.split(" # ", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        line = line.lstrip("$ ").strip() if line.lstrip().startswith("$ ") else line.strip()
        if current:
            current += " " + line.rstrip("\\").strip()
        elif line.split(" ", 1)[0] in PROGRAMS:
            current = line.rstrip("\\").strip()
        if current and not line.endswith("\\"):
            out.append(current)
            current = ""
    return out


def commands(path: Path) -> list[str]:
    """The shell commands a file shows (see the module docstring)."""
    text = path.read_text(encoding="utf-8")
    found: list[str] = []
    if path.suffix == ".md":
        for block in FENCE.findall(text):
            for cmd in _commands_of_block(block):
                found += [part.strip() for part in re.split(r"&&|;|\|\|", cmd)]
        text_without_blocks = FENCE.sub("", text)
        # An inline span with no option only names a command (`vjepa-fer index`); one with
        # options is a command line to run.
        found += [
            m.group(1)
            for m in INLINE.finditer(text_without_blocks)
            if not m.group(1).startswith("vjepa-fer") or " -" in m.group(1)
        ]
    else:
        for line in text.splitlines():
            if not line.startswith("#"):
                continue
            # A header shows commands between prose: "Run:  snakemake ...   then   snakemake ...".
            for chunk in re.split(r"\s{2,}|`|\(|\)|\bthen\b|:\s", line.lstrip("# ")):
                chunk = chunk.strip().rstrip(".,;:")
                if chunk.split(" ", 1)[0] in PROGRAMS and " " in chunk:
                    found.append(chunk)
    return [c for c in found if c.split(" ", 1)[0] in PROGRAMS]


def target_first_violation(argv: list[str]) -> str | None:
    """The words after ``--configfile`` that are not config files, if any."""
    for i, word in enumerate(argv):
        if word in ("--configfile", "--configfiles"):
            for follow in argv[i + 1 :]:
                if follow.startswith("-"):
                    break
                if not re.search(r"\.(ya?ml|json)$", follow) and "$" not in follow:
                    return follow
    return None


def makefile_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([\w.-]+):", text, re.M))


def check(cmd: str) -> str | None:
    """Why ``cmd`` fails, or None when it parses."""
    try:
        argv = shlex.split(cmd)
    except ValueError as exc:
        return f"does not split as a shell line: {exc}"
    program, args = argv[0], argv[1:]
    if program == "make":
        names = [a for a in args if not a.startswith("-") and "=" not in a]
        unknown = sorted(set(names) - makefile_targets())
        return f"unknown make target(s) {unknown}" if unknown else None
    if program == "snakemake":
        bad = target_first_violation(argv)
        if bad is not None:
            return f"{bad!r} after --configfile would be read as a config file (target first)"
        from snakemake.cli import get_argument_parser

        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            try:
                get_argument_parser().parse_args(args)
            except SystemExit:
                return "rejected by Snakemake's parser: " + err.getvalue().strip()[-300:]
        return None
    from vjepa_fer.cli import build_parser

    if not args:
        return None
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            build_parser(args[0]).parse_args(args)
        except SystemExit as exc:
            if exc.code:
                return "rejected by the vjepa-fer parser: " + err.getvalue().strip()[-300:]
    return None


def all_commands() -> list[tuple[str, str]]:
    out = []
    for path in [*documents(), *config_headers()]:
        for cmd in commands(path):
            if not PLACEHOLDER.search(cmd):
                out.append((str(path.relative_to(REPO)), cmd))
    return out


def test_commands_are_found() -> None:
    cmds = all_commands()
    assert ("README.md", "make demo") in cmds and ("README.md", "make test") in cmds
    assert any(f == "config.demo.yaml" and c.startswith("snakemake all") for f, c in cmds)
    assert any(c.startswith("vjepa-fer ") for _, c in cmds)


@pytest.mark.parametrize(
    "cmd",
    [
        "snakemake --cores 2 --configfile config.demo.yaml all",  # the old config.demo.yaml header
        "vjepa-fer tables --out x",  # --metrics and --run-name are required
        "make no-such-target",
        "snakemake 'unbalanced",
    ],
)
def test_the_check_catches(cmd: str) -> None:
    assert check(cmd) is not None


def test_every_documented_command_parses() -> None:
    bad = [f"{name}: {cmd}\n    {why}" for name, cmd in all_commands() if (why := check(cmd))]
    assert not bad, "commands that do not parse as written:\n" + "\n".join(bad)


def test_readme_first_screen() -> None:
    """README.md is one screen (at most 60 lines): the two quick-start commands in its first code
    block, where to look, and links into docs/ for the rest."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 60
    first = _commands_of_block(FENCE.findall(text)[0])
    assert first[:2] == ["make demo", "make test"]
    assert "results/demo/report.html" in text
    linked = set(re.findall(r"\]\((docs/[\w.-]+\.md)", text))
    assert {"docs/demo.md", "docs/reproducing.md", "docs/protocol.md"} <= linked
    assert all((REPO / p).is_file() for p in linked)
    # Its numbers come with the command that measured them.
    assert "89 s" not in text and "/usr/bin/time -v snakemake all" in text

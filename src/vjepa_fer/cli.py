"""The ``vjepa-fer`` command line: one subcommand per pipeline stage.

Each subcommand lives in the module that implements its stage; that module defines
``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported only when their command
runs, so ``vjepa-fer index`` never pays for importing torch. Snakemake rules call these commands,
and tests call :func:`main` with an argument list.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from vjepa_fer import __version__

# command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "download": ("vjepa_fer.datasets.download", "download and verify a dataset or a checkpoint"),
    "index": ("vjepa_fer.datasets.index", "build a video manifest with folds from file names"),
    "summary": ("vjepa_fer.datasets.summary", "per-fold counts of videos, actors, classes, sex"),
    "synth": ("vjepa_fer.datasets.synth", "write the synthetic face-video demo dataset"),
    "lengths": ("vjepa_fer.video.lengths", "frame count, fps and size of every video"),
    "extract": ("vjepa_fer.features.extract", "encode clips once into the feature store"),
    "merge-features": ("vjepa_fer.features.merge", "join extraction shards into one index"),
    "train": ("vjepa_fer.probe.train", "train attentive probes together from one encoder pass"),
    "forwards": (
        "vjepa_fer.evaluate.forwards",
        "clip forwards: authors' protocol vs this pipeline",
    ),
    "evaluate": ("vjepa_fer.evaluate.results", "Tables II and IV numbers from saved posteriors"),
    "tables": ("vjepa_fer.report.tables", "Tables II-IV as CSV, Markdown and LaTeX"),
    "figures": ("vjepa_fer.report.figures", "Figures 3-6 and training curves (PNG, PDF)"),
    "run-info": ("vjepa_fer.report.runinfo", "config, software versions and an output index"),
    "metrics": ("vjepa_fer.evaluate.metrics", "UAR/WAR/paper-UAR of a confusion-matrix CSV"),
    "infer": ("vjepa_fer.probe.infer", "full-video inference: per-clip posteriors of every probe"),
    "validate-config": ("vjepa_fer.config", "validate a config file against the schema"),
    "compare-encoders": (
        "vjepa_fer.evaluate.compare",
        "encoders (runs) side by side: UAR/WAR with 95 %% CIs and paired tests",
    ),
    "predict": ("vjepa_fer.probe.predict", "apply trained fold probes to your own videos"),
}


DESCRIPTION = "Facial-expression recognition with frozen V-JEPA encoders: one command per stage."


class HelpFormatter(argparse.HelpFormatter):
    """Each option's help line ends with its default, when it has a meaningful one."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        silent = (
            action.required
            or default in (None, argparse.SUPPRESS, [])
            or isinstance(action, argparse._StoreConstAction)  # store_true/false: a switch
            or "default" in text  # the text already says it
        )
        return text if silent else f"{text} (default: %(default)s)"


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit status 1."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The CLI parser; only ``command``'s module is imported (all of them when None).

    Importing just the requested stage keeps a light rule (``vjepa-fer index``) free of the
    dependencies of other stages, so each rule group's conda env only needs its own packages.
    """
    parser = argparse.ArgumentParser(
        prog="vjepa-fer", description=DESCRIPTION, formatter_class=HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"vjepa-fer {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(
            name, help=help_text, description=help_text, formatter_class=HelpFormatter
        )
        p.set_defaults(_module=module)
        if command is None or name == command:
            importlib.import_module(module).add_arguments(p)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is a known command), if any."""
    return next((a for a in argv if a in COMMANDS), None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command(argv))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args) or 0)
    except Exception as exc:
        if not isinstance(exc, _user_errors()):
            raise
        # One line, once: the message names the file and the problem; no traceback.
        print(f"vjepa-fer {args.command}: error: {exc}", file=sys.stderr)
        return 1


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions reported as one line. A DownloadError can only come from a stage that imported
    the download module, so it is looked up rather than imported (the analysis env has no
    ``requests``)."""
    fetch = sys.modules.get("vjepa_fer.data.fetch")
    extra = (fetch.DownloadError,) if fetch is not None else ()
    return (CliError, FileNotFoundError, ValueError, *extra)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

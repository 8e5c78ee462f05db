"""The ``depthlab`` command: one sub-command per module of this package.

Every user error ends as one line on stderr, ``depthlab: error: ...``, and exit code 2;
Ctrl-C, SIGTERM and SIGHUP stop in one line with 130, 143 and 129 (:mod:`depthlab.signals`).
Building the parser imports no torch (the registries it lists are torch-free), so help,
``--version`` and argument errors answer at once; each sub-command imports what it needs
when it runs.
"""

from __future__ import annotations

import argparse
import sys

from depthlab import __version__
from depthlab.cli import doctor, inspect, reproduce, show_data, sweep, theory, train
from depthlab.cli.common import OneLineParser
from depthlab.errors import DepthlabError
from depthlab.signals import interrupts, stopped_exit_code

DESCRIPTION = ("Why is a deep network hard to train, and what fixes it? Train deep networks as Glorot & Bengio "
               "(2010) did, look inside them layer by layer, compare with mean-field theory, and reproduce the "
               "studies. Each command has its own --help.")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="depthlab", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"depthlab {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True,
                                parser_class=OneLineParser)
    for module in (train, sweep, reproduce, inspect, doctor, show_data, theory):
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with interrupts():  # SIGTERM and SIGHUP as Ctrl-C (depthlab.signals)
            return args.run(args) or 0
    except DepthlabError as e:
        print(f"depthlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:  # a run interrupted before its first checkpoint is removed (see Trainer.fit)
        print("depthlab: interrupted", file=sys.stderr)
        return stopped_exit_code(stop)
    except OSError as e:  # an unwritable --out, a full disk: the system's own words, in one line
        print(f"depthlab: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2

"""What the sub-commands share: the parser that reports a bad argument in one line, a
registry's names for a flag's help, and a renamed flag's refusal."""

from __future__ import annotations

import argparse


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument is reported in one line (no usage block)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def choices(registry) -> str:
    """A registry's valid names for a flag's help, e.g. "sigmoid | tanh | …"."""
    return " | ".join(registry.choices())


class Renamed(argparse.Action):
    """A flag that was renamed, left out of the help: giving it is one line naming the new
    spelling (``now``, e.g. "--stacking: auto, always or never") and exit code 2."""

    def __init__(self, option_strings, dest, now: str, **kwargs):
        super().__init__(option_strings, dest, nargs="?", help=argparse.SUPPRESS, **kwargs)
        self.now = now

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} is now {self.now}")

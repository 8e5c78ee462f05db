"""The command's front: help, --version and argument errors answer without importing
torch (which takes seconds), and their help lists the registries' names."""

import subprocess
import sys

import pytest

from depthlab import __version__
from depthlab.cli import build_parser
from depthlab.nets.activations import ACTIVATIONS
from depthlab.nets.init import INITS

HEAVY = ("torch", "matplotlib", "scipy")

PROBE = """
import sys
from depthlab.cli import main
try:
    code = main({argv!r})
except SystemExit as stop:
    code = stop.code
print("heavy:", ",".join(m for m in {heavy!r} if m in sys.modules), "code:", code)
"""


def imports_after(argv):
    done = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv, heavy=HEAVY)], capture_output=True,
                          text=True, timeout=60)
    return done.stdout.strip().splitlines()[-1], done.stderr


@pytest.mark.parametrize("argv, code", [
    (["--help"], 0),
    (["--version"], 0),
    (["train", "--help"], 0),
    (["reproduce", "--help"], 0),
    (["theory", "--help"], 0),
    (["trian"], 2),
    (["train", "--lr", "abc"], 2),
    (["train", "--activation", "tahn"], 2),
    (["theory", "--init", "xavier"], 2),
    (["reproduce", "glorot2011"], 2),
    (["reproduce", "glorot2010", "--budget", "huge"], 2),
    (["reproduce", "glorot2010", "--engine", "stacked"], 2),
    (["sweep", "grid.toml", "--engine", "auto"], 2),
    (["show-data", "shapeset", "--out", "grid.gif"], 2),
])
def test_help_version_and_argument_errors_leave_torch_unimported(argv, code):
    line, _ = imports_after(argv)
    assert line == f"heavy:  code: {code}"


def test_a_command_that_runs_does_import_torch():
    line, err = imports_after(["theory", "--depth", "2", "--json"])
    assert line.startswith("heavy: ") and "scipy" in line and line.endswith("code: 0"), err


def test_help_lists_the_registries(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert " | ".join(ACTIVATIONS.choices()) in text and " | ".join(INITS.choices()) in text
    assert "gaussian:STD" in text and "arrays:PATH" in text


def test_version(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--version"])
    assert capsys.readouterr().out == f"depthlab {__version__}\n"

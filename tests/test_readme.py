"""The README's code blocks run as pasted, in order, in a fresh folder.

A new user's folder is the clone after the set-up block: the repository's files, no runs,
no results. The test makes one such folder for the whole module (the sample files of
``examples/``, which the blocks read, copied in; everything else the blocks make
themselves), then runs every fenced ``bash`` block with bash (``-e``: a failing line fails
the block) and every ``python`` block with this interpreter, one after the other in the
README's order, so that a block may use what an earlier one made (``depthlab inspect
runs/tanh-N`` reads the run the training block wrote). ``depthlab`` on the blocks' PATH
is this interpreter's package, the one under test.

What is not run is named here, with the reason (:data:`NOT_RUN`): the set-up blocks and the
block that runs the test suite itself. ``toml`` blocks are files, not commands: each must
be one of the shipped examples, verbatim.

Long runs get a short budget through one table, :data:`SHORTER`: the exact text of the
README (or of an example file) and what the test puts in its place, the same command or
file with fewer updates, a narrower net or a smaller budget (``--quick`` → ``--smoke``).
Nothing else is changed, and every entry must still match (a README edit that drops one
fails :func:`test_every_shortening_still_matches` instead of silently running the long
command).

The blocks that reproduce whole studies (the six at ``--smoke``, then the published
results' command) took 98 s of CPU, 4 min 39 s on a 2-core machine under a load of 7 to
11: they are marked ``studies``, which the default run leaves out (``python -m pytest -q
-m studies tests/test_readme.py`` runs them; every study's smoke reproduction is run by
``tests/studies`` by default, on fake data). The others took 76 s of CPU together, 3 min 3 s
under a load of 6.5 to 8; those over 10 s (a sweep, Lightning's and transformers' imports)
are marked ``slow``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import depthlab

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
EXAMPLES = ROOT / "examples"

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)

NOT_RUN = {  # a text that names the block: why the test does not run it
    "apt-get update && apt-get install": "the set-up block: system packages, the install and the main job "
                                         "(which the studies' block below runs at --smoke)",
    "--index-url https://download.pytorch.org/whl/cpu": "set-up: the CPU-only torch wheel",
    "python -m pytest -q                       # the test suite": "the test suite itself and the benchmarks, "
                                                                 "run from the clone (this test is in the suite)",
}

SHORTER = [  # (README or example text, what the test runs instead)
    ("--width 1000 --activation tanh", "--width 50 --activation tanh"),
    ("--updates 20000 --out runs/tanh-N", "--updates 200 --out runs/tanh-N"),
    ("--resume runs/tanh-N --updates 40000", "--resume runs/tanh-N --updates 400"),
    ("depth=5, width=1000,", "depth=5, width=50,"),
    ("updates=20_000", "updates=200"),
    ("updates=40_000", "updates=400"),
    ("updates = 5000", "updates = 200"),  # examples/my-run.toml and examples/grid.toml
    ("num = 5}", "num = 2}"),  # examples/grid.toml: 2 rates × 1 seed
    ("seed = [0, 1, 2]", "seed = [0]"),
    (" --quick ", " --smoke "),
    # the published results' command, on the smoke study the block above wrote (its default --out)
    ("glorot2010 --long --out results/glorot2010-long", "glorot2010 --smoke --out results/glorot2010"),
]

SLOW = ("depthlab sweep", "import lightning", "import transformers")  # 10 to 30 s each, most of it imports
STUDIES = "depthlab reproduce"  # whole studies: minutes even at --smoke


@dataclass(frozen=True)
class Block:
    language: str
    line: int  # of the opening fence, 1-based
    text: str

    @property
    def name(self) -> str:
        return f"README.md:{self.line} {self.language}"


def readme_blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    return [Block(m.group(1), text.count("\n", 0, m.start()) + 1, m.group(2)) for m in FENCE.finditer(text)]


def why_not_run(block: Block) -> str | None:
    reasons = [why for key, why in NOT_RUN.items() if key in block.text]
    return reasons[0] if reasons else None


def shortened(text: str) -> str:
    for long, short in SHORTER:
        text = text.replace(long, short)
    return text


BLOCKS = readme_blocks()
RUN = [b for b in BLOCKS if b.language in ("bash", "python") and why_not_run(b) is None]


def test_the_readme_has_the_blocks_this_test_expects():
    """Every block is a bash, python or toml block, and every NOT_RUN entry names exactly
    one block (so a renamed set-up block is not silently run, nor a new one skipped)."""
    assert {b.language for b in BLOCKS} == {"bash", "python", "toml"}, [b.name for b in BLOCKS]
    for key in NOT_RUN:
        assert len([b for b in BLOCKS if key in b.text]) == 1, key
    assert len(RUN) == len([b for b in BLOCKS if b.language != "toml"]) - len(NOT_RUN)


def test_each_toml_block_is_a_shipped_example():
    shipped = {path.read_text(encoding="utf-8"): path.name for path in EXAMPLES.glob("*.toml")}
    tomls = [b for b in BLOCKS if b.language == "toml"]
    assert tomls
    for block in tomls:
        assert block.text in shipped, f"{block.name} is none of {sorted(shipped.values())} verbatim"
    assert sorted(shipped[b.text] for b in tomls) == sorted(shipped.values())  # and each example is shown


def test_every_shortening_still_matches():
    texts = [b.text for b in RUN] + [p.read_text(encoding="utf-8") for p in EXAMPLES.iterdir()]
    for long, _ in SHORTER:
        assert any(long in text for text in texts), f"{long!r} is in no block or example any more"


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The fresh folder (the examples copied in, shortened) and the blocks' environment:
    ``depthlab`` on PATH runs this interpreter's depthlab, from the tree under test."""
    folder = tmp_path_factory.mktemp("user")
    (folder / "examples").mkdir()
    for path in EXAMPLES.iterdir():
        (folder / "examples" / path.name).write_text(shortened(path.read_text(encoding="utf-8")), encoding="utf-8")
    bin_dir = tmp_path_factory.mktemp("bin")
    command = bin_dir / "depthlab"
    command.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m depthlab "$@"\n')
    command.chmod(0o755)
    source = str(Path(depthlab.__file__).resolve().parents[1])
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")])))
    return folder, env


def marks(block: Block) -> list[pytest.MarkDecorator]:
    if STUDIES in block.text:
        return [pytest.mark.studies, pytest.mark.slow]
    return [pytest.mark.slow] if any(key in block.text for key in SLOW) else []


@pytest.mark.parametrize("block", [pytest.param(b, id=b.name, marks=marks(b)) for b in RUN])
def test_the_block_runs_as_pasted(block, user_folder):
    folder, env = user_folder
    command = ["bash", "-e", "-c"] if block.language == "bash" else [sys.executable, "-c"]
    done = subprocess.run([*command, shortened(block.text)], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, (f"{block.name} exited with {done.returncode}:\n{block.text}\n"
                                  f"--- stderr ---\n{done.stderr[-4000:]}\n--- stdout ---\n{done.stdout[-2000:]}")


"""One smoke reproduction per study for the whole session, on a small learnable fake
MNIST, with the machine's own data directories hidden: the studies' tests share it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from depthlab.cli import main
from depthlab.data import download


@dataclass(frozen=True)
class Smoke:
    out: Path
    report: Path
    argv: list[str]


def hide_machine_data(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Only --data-dir is searched: no $DEPTHLAB_DATA, an empty cache and system root."""
    monkeypatch.delenv("DEPTHLAB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(root / "cache"))
    monkeypatch.setattr(download, "SYSTEM_DATA_ROOT", root / "system")


@pytest.fixture(scope="session")
def study_data(tmp_path_factory, write_mnist) -> Path:
    """A fake MNIST of 1000 training, 10,000 validation and 500 test images."""
    root = tmp_path_factory.mktemp("study-data")
    write_mnist(root / "mnist", n_train=11_000, n_test=500, learnable=True)
    return root


@pytest.fixture(scope="session")
def smoke_reproduction(tmp_path_factory, study_data):
    """``smoke_reproduction(name)``: ``depthlab reproduce NAME --smoke`` run once per
    session on :func:`study_data`; a :class:`Smoke`."""
    done: dict[str, Smoke] = {}

    def reproduce(name: str) -> Smoke:
        if name not in done:
            root = tmp_path_factory.mktemp(name)
            argv = ["reproduce", name, "--smoke", "--out", str(root / "out"), "--data-dir", str(study_data),
                    "--workers", "1", "--quiet"]
            with pytest.MonkeyPatch.context() as monkeypatch:
                hide_machine_data(monkeypatch, root)
                assert main(argv) == 0
            done[name] = Smoke(root / "out", root / "out" / "report.html", argv)
        return done[name]

    return reproduce

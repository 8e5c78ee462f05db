import io

import numpy as np

from depthlab.config import TrainConfig
from depthlab.grid import RunSpec
from depthlab.grid.progress import GridProgress, planned_updates
from depthlab.grid.runner import run_specs
from depthlab.store import RunDir
from depthlab.store.run import Status

BASE = dict(dataset="shapeset", depth=2, width=16, eval_every=20, eval_size=100, probe=False)


def arrays(tmp_path, n_train=95, dim=6):
    """An arrays: data set of n_train training examples (and a validation split of its own)."""
    rng = np.random.default_rng(0)
    path = tmp_path / "toy.npz"
    np.savez(path, x_train=rng.normal(size=(n_train, dim)).astype("float32"), y_train=rng.integers(0, 3, n_train),
             x_valid=rng.normal(size=(20, dim)).astype("float32"), y_valid=rng.integers(0, 3, 20),
             x_test=rng.normal(size=(20, dim)).astype("float32"), y_test=rng.integers(0, 3, 20))
    return f"arrays:{path}"


def test_the_total_is_every_update_of_the_grid_in_updates_or_epochs(tmp_path):
    epochs = RunSpec("c", TrainConfig(**{**BASE, "dataset": arrays(tmp_path), "updates": None, "epochs": 3,
                                         "batch_size": 10}))
    specs = [RunSpec("a", TrainConfig(**BASE, updates=40)), RunSpec("b", TrainConfig(**BASE, updates=70)), epochs]
    assert planned_updates(specs) == {"a": 40, "b": 70, "c": 3 * (95 // 10)}
    bars = GridProgress([[s] for s in specs], {s.name: tmp_path / s.name for s in specs}, planned_updates(specs),
                        file=io.StringIO())
    assert bars.bar.total == 40 + 70 + 27 and bars.bar.n == 0
    bars.close()


def test_the_bars_follow_each_runs_status(tmp_path):
    """Read from status.json: a finished run counts whole from the start, a running one
    at its update, a diverged one whole (its rest is never trained), one not made as none;
    a worker's line shows the group that moved."""
    names = ["done", "going", "diverging", "later"]
    paths = {name: tmp_path / name for name in names}
    for name, status, update in (("done", Status.COMPLETED, 50), ("going", Status.RUNNING, 0),
                                 ("diverging", Status.RUNNING, 0)):
        paths[name].mkdir()
        RunDir(paths[name]).set_status(status, update=update)
    groups = [[RunSpec(name, TrainConfig(**BASE, updates=50))] for name in names]
    out = io.StringIO()
    bars = GridProgress(groups, paths, {name: 50 for name in names}, workers=2, file=out)
    assert (bars.bar.total, bars.bar.n) == (200, 50)
    RunDir(paths["going"]).set_status(Status.RUNNING, update=17)
    RunDir(paths["diverging"]).set_status(Status.DIVERGED, update=3, diverged_at=3)
    bars.poll()
    assert bars.bar.n == 50 + 17 + 50
    assert [line.desc for line, slot in zip(bars.lines, bars.slots) if slot is not None] == ["going"]
    assert bars.lines[0].n == 17 and bars.slots == [1, None]
    bars.finished(["going"])
    assert bars.bar.n == 150 and bars.slots == [None, None]
    bars.close()
    assert "runs 3/4" in out.getvalue()


def test_a_grid_bar_ends_at_the_sum_of_its_runs_updates(tmp_path, capsys):
    specs = [RunSpec("a", TrainConfig(**BASE, updates=40)), RunSpec("b", TrainConfig(**BASE, updates=60, lr=1e4,
                                                                                      activation="linear"))]
    runs = run_specs(specs, tmp_path, progress=True)
    assert runs["b"].status["status"] == "diverged"  # counted whole all the same
    assert "100/100" in capsys.readouterr().err

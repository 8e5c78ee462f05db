"""`depthlab sweep` end to end on a grid of linear models (seconds each): the store, the
summary, the report, re-runs, errors, and the same numbers on Ray as on local processes."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys

import pytest

from depthlab.cli import main
from depthlab.errors import DepthlabError
from depthlab.store.run import RunDir
from depthlab.sweeps.sweep import sweep

GRID = """dataset = "polynomial:features=4"
depth = 0
cost = "squared-error"
init = "standard"
batch-size = 10
updates = 200
eval-every = 100
log-every = 50
probe = false
[axes]
lr = [0.01, 0.1, 1.0]
seed = [0, 1]
"""


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    (root / "grid.toml").write_text(GRID)
    report = sweep(root / "grid.toml", root / "out", progress=False)
    return root, report


def test_every_point_is_a_run_and_a_diverging_one_is_recorded(swept, read_csv):
    root, _ = swept
    rows = read_csv(root / "out" / "summary.csv")
    assert list(rows[0])[:3] == ["lr", "seed", "status"]
    assert [(float(r["lr"]), int(r["seed"]), r["status"]) for r in rows] == [
        (0.01, 0, "completed"), (0.01, 1, "completed"), (0.1, 0, "completed"), (0.1, 1, "completed"),
        (1.0, 0, "diverged"), (1.0, 1, "diverged")]
    for row in rows:
        run = RunDir(root / "out" / "runs" / f"lr{float(row['lr']):g}-seed{row['seed']}")
        assert int(row["updates"]) == run.final["update"]
        if row["status"] == "completed":
            assert float(row["test_cost"]) == run.final["test_cost"]
            assert float(row["train_cost"]) == run.series("train_cost")[1][-1]
            assert row["validation_error"] == ""  # a regression has no error rate
        else:
            assert row["test_cost"] == "" and int(row["updates"]) < 200


def test_the_report_holds_the_curves_the_heat_map_and_every_run(swept, read_report, assert_figures):
    root, report = swept
    assert report == root / "out" / "report.html"
    assert_figures(root / "out", ("curves", "metric"))
    page = read_report(report)
    assert len(page.images) == 2 and len(page.table("Every run")) == 6
    assert "6 runs over lr, seed: 6 finished, 2 of them diverged." in report.read_text()


def test_a_second_run_keeps_every_finished_run_and_needs_no_data(swept, monkeypatch):
    from depthlab.training import trainer

    root, _ = swept
    final = root / "out" / "runs" / "lr0.1-seed0" / "final.json"
    before = final.stat().st_mtime_ns

    def unavailable(config):
        raise AssertionError("a finished sweep's data were loaded")

    monkeypatch.setattr(trainer, "load_data", unavailable)
    sweep(root / "grid.toml", root / "out", progress=False)
    assert final.stat().st_mtime_ns == before


def test_report_redraws_from_the_store(swept, capsys):
    root, _ = swept
    summary = (root / "out" / "summary.csv").read_text()
    (root / "out" / "summary.csv").unlink()
    (root / "out" / "report.html").unlink()
    assert main(["sweep", "--report", str(root / "out"), "--metric", "test_cost"]) == 0
    assert (root / "out" / "summary.csv").read_text() == summary and (root / "out" / "report.html").is_file()
    assert "test_cost over lr and seed" in (root / "out" / "report.html").read_text()


@pytest.mark.parametrize("grid, argv, message", [
    (GRID.replace("lr = [", "lrate = ["), [], "unknown key in grid file"),
    (GRID, ["--backend", "spark"], "unknown backend 'spark'; valid choices: local, ray"),
    (GRID, ["--address", "ray://head:10001"], "--address names a Ray cluster: give it with --backend ray"),
    (GRID, ["--metric", "accuracy"], "unknown metric 'accuracy'"),
    (GRID, ["--stacking", "vmap"], "unknown stacking 'vmap'; valid choices: always, auto, never"),
    (GRID.replace("updates = 200", "updates = -5"), [], "grid point lr0.01-seed0: updates -5"),
    # every point checked against its data before the first run starts
    (GRID.replace("seed = [0, 1]", "batch-size = [10, 100000]"), [],
     "grid point lr0.01-batch-size100000: batch size 100000 exceeds the "),
    (GRID.replace("seed = [0, 1]", 'dataset = ["polynomial:features=4", "arrays:no-such.npz"]'), [],
     "grid point lr0.01-datasetarrays-no-such.npz: no-such.npz: file not found"),
    (GRID.replace("seed = [0, 1]", 'cost = ["squared-error", "nll"]'), [],
     "grid point lr0.01-costnll: polynomial"),
    (GRID.replace("lr = [0.01, 0.1, 1.0]", "lr = {lin = [0.01, inf], num = 3}"), [], "lin takes two finite numbers"),
    (GRID.replace("[axes]", 'data-dir = "da\\u0000ta"\n[axes]'), [], "data-dir 'da\\x00ta' holds a NUL byte"),
])
def test_a_bad_grid_or_flag_is_one_line_and_starts_nothing(tmp_path, capsys, grid, argv, message):
    (tmp_path / "grid.toml").write_text(grid)
    assert main(["sweep", str(tmp_path / "grid.toml"), "--out", str(tmp_path / "out"), "--quiet", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_report_of_a_folder_without_a_sweep_is_one_line(tmp_path, capsys):
    assert main(["sweep", "--report", str(tmp_path)]) == 2
    assert "holds no sweep (no grid.json)" in capsys.readouterr().err


def test_ray_missing_is_one_line(tmp_path, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    (tmp_path / "grid.toml").write_text(GRID)
    assert main(["sweep", str(tmp_path / "grid.toml"), "--out", str(tmp_path / "out"), "--backend", "ray"]) == 2
    assert capsys.readouterr().err == ("depthlab: error: --backend ray needs Ray, which is not installed: "
                                       "pip install 'depthlab[ray]'\n")
    assert not (tmp_path / "out").exists()


def test_an_unreachable_ray_address_is_one_line_and_takes_no_lock(tmp_path):
    """#27 item 6: Ray alone retries such an address for many minutes, the sweep's lock held."""
    pytest.importorskip("ray")
    from fakes import closed_port

    (tmp_path / "grid.toml").write_text(GRID)
    address = f"127.0.0.1:{closed_port()}"
    done = subprocess.run([sys.executable, "-m", "depthlab", "sweep", str(tmp_path / "grid.toml"), "--out",
                           str(tmp_path / "out"), "--backend", "ray", "--address", address, "--quiet"],
                          capture_output=True, text=True, timeout=60)  # hanging fails the test
    assert done.returncode == 2
    assert done.stderr == (f"depthlab: error: cannot reach the Ray cluster at {address}: Connection refused (is ray "
                           "start --head running there, and is the port right?)\n")
    assert not (tmp_path / "out").exists()  # refused before the sweep's folder (and its lock) was made


def test_ray_gives_the_same_numbers_as_local_processes(swept, tmp_path, read_csv):
    pytest.importorskip("ray")
    root, _ = swept
    sweep(root / "grid.toml", tmp_path / "ray", workers=2, progress=False, backend="ray")
    local, ray = read_csv(root / "out" / "summary.csv"), read_csv(tmp_path / "ray" / "summary.csv")
    assert local == ray
    env = json.loads((tmp_path / "ray" / "runs" / "lr0.1-seed0" / "env.json").read_text())
    assert env["torch_threads"] == 1


class FakeRay:
    """Just enough of Ray for the runner's error paths: every task's result raises
    ``error`` (a lost worker, or a run's own exception)."""

    def __init__(self, error):
        from types import SimpleNamespace

        self.error, self.cancelled, self.shut = error, [], False
        self.exceptions = SimpleNamespace(RayError=FakeRayError, RayTaskError=FakeRayTaskError)

    def is_initialized(self):
        return False

    def init(self, **kwargs):
        pass

    def remote(self, function):
        class Task:  # a task's reference is its group's first run's name
            def options(self, **kwargs):
                return self

            def remote(self, group, paths, threads, stacking):
                return group[0].name

        return Task()

    def wait(self, refs, num_returns):
        return refs[:1], refs[1:]

    def get(self, ref):
        raise self.error

    def cancel(self, ref):
        self.cancelled.append(ref)

    def shutdown(self):
        self.shut = True


class FakeRayError(Exception):
    pass


class FakeRayTaskError(FakeRayError):
    def __init__(self, cause):
        super().__init__(str(cause))
        self.cause = cause


@pytest.mark.parametrize("error, message", [
    (FakeRayError("the node died"), "the Ray cluster lost run lr0.01-seed0 (FakeRayError): run the same command "
                                    "again to resume it"),
    (FakeRayTaskError(ValueError("boom\nlast line")), "run lr0.01-seed0 failed on Ray: last line"),
])
def test_a_lost_ray_worker_or_a_failed_task_is_one_line(tmp_path, monkeypatch, error, message):
    import sys

    from depthlab.errors import DepthlabError

    fake = FakeRay(error)
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.setitem(sys.modules, "ray.exceptions", fake.exceptions)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    (tmp_path / "grid.toml").write_text(GRID)
    with pytest.raises(DepthlabError) as raised:
        sweep(tmp_path / "grid.toml", tmp_path / "out", progress=False, backend="ray")
    assert str(raised.value) == message and fake.shut  # the instance started for the sweep is shut down
    assert not any((tmp_path / "out").glob("runs/*"))


def test_an_out_folder_with_a_nul_byte_is_one_line_and_makes_nothing(tmp_path):
    (tmp_path / "grid.toml").write_text(GRID)
    with pytest.raises(DepthlabError, match=r"^--out '.*/o\\x00ut' holds a NUL byte, which no file path can hold$"):
        sweep(tmp_path / "grid.toml", tmp_path / "o\0ut", progress=False)
    assert [path.name for path in tmp_path.iterdir()] == ["grid.toml"]


def test_a_report_cut_short_by_a_file_size_limit_leaves_every_file_whole(swept, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(swept[0] / "out", out)
    before = {path.name: path.read_bytes() for path in out.iterdir() if path.is_file()}
    limited = "import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000)); " \
              "from depthlab.cli import main; sys.exit(main(['sweep', '--report', sys.argv[1]]))"
    done = subprocess.run([sys.executable, "-c", limited, str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr == f"depthlab: error: could not write {out / 'curves.png'}: File too large\n"
    assert {path.name: path.read_bytes() for path in out.iterdir() if path.is_file()} == before


def _joined(message: str, cause: Exception) -> ConnectionError:
    try:
        raise cause
    except Exception as error:  # noqa: BLE001 - raised to be chained, as Ray chains it
        try:
            raise ConnectionError(message) from error
        except ConnectionError as chained:
            return chained


@pytest.mark.parametrize("error, reason", [
    (_joined("Failed to connect to Ray cluster at 10.0.0.1:6379", RuntimeError(
        "Failed to connect to GCS. Last connection error: Traceback (most recent call last):\n"
        "ray.exceptions.AuthenticationError: RPC error: InvalidAuthToken: Authentication token is missing")),
     "it asks for an authentication token this process does not give: set RAY_AUTH_MODE and the token "
     "(RAY_AUTH_TOKEN or ~/.ray/auth_token) as on the cluster"),
    (_joined("Failed to connect to Ray cluster at 10.0.0.1:6379\nmore", RuntimeError("GCS gone")),
     "Failed to connect to Ray cluster at 10.0.0.1:6379"),
])
def test_a_cluster_ray_cannot_join_is_one_line_saying_why(tmp_path, monkeypatch, error, reason):
    import sys

    from depthlab.errors import DepthlabError
    from depthlab.grid import spec

    fake = FakeRay(None)

    def init(**kwargs):
        raise error

    fake.init = init
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    monkeypatch.setattr(spec, "check_address", lambda address: None)  # the port answers; Ray does not let in
    (tmp_path / "grid.toml").write_text(GRID)
    with pytest.raises(DepthlabError) as raised:
        sweep(tmp_path / "grid.toml", tmp_path / "out", progress=False, backend="ray", address="10.0.0.1:6379")
    assert str(raised.value) == f"cannot reach the Ray cluster at 10.0.0.1:6379: {reason}"
    assert not any((tmp_path / "out").glob("runs/*"))


def test_a_dry_run_prints_the_points_runs_and_updates_and_writes_nothing(tmp_path, monkeypatch, capsys):
    from depthlab.sweeps.grid_file import load_grid

    (tmp_path / "grid.toml").write_text(GRID)
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "grid.toml", "--dry-run"]) == 0
    out = capsys.readouterr().out
    specs = load_grid(tmp_path / "grid.toml").specs()
    updates = sum(spec.config.updates for spec in specs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.toml"]
    assert f"{len(specs)} runs, {updates:,} updates in all; {len(specs)} runs and {updates:,} updates left to train " \
           "in sweeps/grid" in out
    assert sum(line.split()[1:3] == [str(spec.config.seed), f"{spec.config.updates:,}"] for spec in specs
               for line in out.splitlines() if line.startswith(f"  {spec.name} ")) == len(specs)

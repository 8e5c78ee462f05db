"""Runs trained in a stack against the same runs trained alone: every metric, probe
statistic, final number and parameter within 1e-5 after 200 updates; a diverging run
recorded as diverged while the others stay their solo selves; Ctrl-C and resume per
stack, or alone; stacks split by memory."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from fakes import interrupt_at

from depthlab.config import TrainConfig
from depthlab.data.base import Dataset, FixedDataset
from depthlab.data.registry import DATASETS
from depthlab.errors import DepthlabError
from depthlab.nets.activations import ACTIVATIONS
from depthlab.store import RunDir
from depthlab.training import stacked_runs
from depthlab.training.stacked_runs import largest_stack, member_bytes, train_stacked
from depthlab.training.trainer import resume, train

UPDATES = 200
BASE = dict(depth=2, width=24, updates=UPDATES, eval_every=50, log_every=20, probe_every=100, probe_size=64,
            batch_size=10)
MEMBERS = [  # each its own rule, rate, init, seed and cost
    dict(optimizer="sgd", lr=0.1, init="standard", seed=0, cost="nll"),
    dict(optimizer="momentum", lr=0.02, momentum=0.9, weight_decay=1e-3, init="normalized", seed=1, cost="quadratic"),
    dict(optimizer="nesterov", lr=0.03, momentum=0.5, init="he-normal", seed=2, cost="binary-cross-entropy"),
    dict(optimizer="sgd", lr=0.05, weight_decay=0.01, init="orthogonal", seed=3, cost="nll"),
]
FUSED_ACTIVATIONS = [a.name for a in ACTIVATIONS if a.derivative is not None]


@pytest.fixture(autouse=True)
def float64():
    """Stacked and alone compared in float64, where both round far below 1e-5 after 200
    updates; in float32 the two summation orders' rounding (1e-7) grows with training."""
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def classes(n_train: int = 600, inputs: int = 20, k: int = 4, seed: int = 0) -> FixedDataset:
    """Four Gaussian classes in 20 dimensions, 100 validation and test examples."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(k, inputs, generator=g)

    def draw(n):
        y = torch.randint(0, k, (n,), generator=g)
        return centres[y] + torch.randn(n, inputs, generator=g), y

    return FixedDataset("classes", (inputs,), k, draw(n_train), draw(100), draw(100))


def configs(activation: str, members=MEMBERS, **extra) -> list[TrainConfig]:
    return [TrainConfig(dataset="classes", activation=activation, **{**BASE, **member, **extra})
            for member in members]


TIMES = ("seconds", "probe_seconds", "updates_per_second")


def numbers_agree(mine, theirs, where: str) -> None:
    """Two records alike: every number within 1e-5 relative, or 1e-6 absolute (a mean of
    signed values near 0, such as a preactivation mean, keeps float32's absolute rounding
    of its terms), every other value identical, through nested lists and dicts (the wall
    times aside)."""
    if isinstance(theirs, dict):
        assert mine.keys() == theirs.keys(), where
        for key in theirs:
            if key not in TIMES:
                numbers_agree(mine[key], theirs[key], f"{where}.{key}")
    elif isinstance(theirs, list):
        assert len(mine) == len(theirs), where
        for i, (a, b) in enumerate(zip(mine, theirs)):
            numbers_agree(a, b, f"{where}[{i}]")
    elif isinstance(theirs, float):
        assert mine == pytest.approx(theirs, rel=1e-5, abs=1e-6, nan_ok=True), where
    else:
        assert mine == theirs, where


def assert_same_run(stacked: RunDir, alone: RunDir) -> None:
    """Metrics, probes, status, final numbers and checkpointed parameters alike."""
    mine, theirs = stacked.metrics(), alone.metrics()
    assert len(mine) == len(theirs) > 0
    for i, (a, b) in enumerate(zip(mine, theirs)):
        numbers_agree(a, b, f"{stacked.path.name} metrics row {i}")
    mine, theirs = [json.loads(line) for line in (stacked.path / "probes.jsonl").read_text().splitlines()], \
        [json.loads(line) for line in (alone.path / "probes.jsonl").read_text().splitlines()]
    assert len(mine) == len(theirs) > 0
    for i, (a, b) in enumerate(zip(mine, theirs)):
        numbers_agree(a, b, f"{stacked.path.name} probe row {i}")
    assert stacked.status == alone.status
    numbers_agree({**stacked.final, "step": "fused"}, alone.final, f"{stacked.path.name} final")
    if alone.status["status"] != "diverged":
        p, q = stacked.load_checkpoint()["model"], alone.load_checkpoint()["model"]
        for key in q:
            assert ((p[key] - q[key]).norm() / q[key].norm()).item() < 1e-5, key


def train_both(tmp_path, cfgs, data):
    stacked = train_stacked([(c, tmp_path / f"stacked{k}") for k, c in enumerate(cfgs)], data=data, progress=False)
    alone = [train(c, out=tmp_path / f"alone{k}", data=data, progress=False) for k, c in enumerate(cfgs)]
    return stacked, alone


@pytest.mark.parametrize("activation", FUSED_ACTIVATIONS)
def test_four_runs_in_a_stack_are_the_four_runs_alone(tmp_path, activation):
    stacked, alone = train_both(tmp_path, configs(activation), classes())
    for mine, theirs in zip(stacked, alone):
        assert theirs.status == "completed" and theirs.run.env["step"] == "fused"  # on torch ops in float64
        assert_same_run(mine.run, theirs.run)
        env = mine.run.env
        assert env["step"] == "fused" and env["kernel"].startswith("torch batched")
        assert env["stack"] == {"size": 4, "runs": ["stacked0", "stacked1", "stacked2", "stacked3"]}
        assert mine.final["seconds"] == pytest.approx(UPDATES / mine.final["updates_per_second"] / 4, rel=0.05)
        assert theirs.run.env["stack"] is None


def test_a_stack_of_regressions_is_each_regression_alone(tmp_path):
    data = DATASETS.get("linear:inputs=20,train=200").load(None, False, None)
    data = dataclasses.replace(data, **{split: tuple(t.double() if t.is_floating_point() else t
                                                     for t in getattr(data, split))
                                        for split in ("train", "validation", "test")})
    cfgs = [TrainConfig(dataset="linear:inputs=20,train=200", cost="squared-error", activation="tanh",
                        **{**BASE, **{k: v for k, v in m.items() if k != "cost"}, "lr": m["lr"] / 10})
            for m in MEMBERS]
    stacked, alone = train_both(tmp_path, cfgs, data)
    for mine, theirs in zip(stacked, alone):
        assert theirs.status == "completed"
        assert_same_run(mine.run, theirs.run)


class Stream(Dataset):
    """An unlimited stream of minibatches drawn from (seed, update), as Shapeset's."""

    name, input_shape, num_classes = "stream", (20,), 4

    def __init__(self):
        self.validation, self.test = classes().validation, classes(seed=1).test

    def train_batches(self, batch_size, seed, start=0):
        update = start
        while True:
            g = torch.Generator().manual_seed(seed * 7919 + update)
            yield torch.randn(batch_size, 20, generator=g), torch.randint(0, 4, (batch_size,), generator=g)
            update += 1


def test_a_stream_of_minibatches_stacks_too(tmp_path):
    """A data set without a finite training set: each run's own stream, stacked."""
    stacked, alone = train_both(tmp_path, configs("softsign", MEMBERS[:2], updates=60), Stream())
    for mine, theirs in zip(stacked, alone):
        assert_same_run(mine.run, theirs.run)


def test_a_diverging_run_is_recorded_and_the_others_are_their_solo_runs(tmp_path):
    members = [dict(m) for m in MEMBERS]
    members[1].update(lr=1e5)  # blows up within a few updates
    stacked, alone = train_both(tmp_path, configs("relu", members), classes())
    assert [r.status for r in stacked] == ["completed", "diverged", "completed", "completed"]
    assert stacked[1].run.status == alone[1].run.status and math.isfinite(stacked[0].final["validation_error"])
    for mine, theirs in zip(stacked, alone):
        assert_same_run(mine.run, theirs.run)


def test_a_run_diverging_between_two_reads_is_its_solo_run_and_the_others_theirs(tmp_path):
    members = [dict(m) for m in MEMBERS]
    members[2].update(lr=100.0)  # diverges at update 15; the loop reads the costs at update 20 (a log row)
    stacked, alone = train_both(tmp_path, configs("relu", members), classes())
    assert [r.status for r in stacked] == ["completed", "completed", "diverged", "completed"]
    assert stacked[2].final["diverged_at"] == alone[2].final["diverged_at"] == 15
    for mine, theirs in zip(stacked, alone):
        assert_same_run(mine.run, theirs.run)


def test_ctrl_c_checkpoints_the_stack_and_it_resumes_as_a_stack_or_alone(tmp_path, monkeypatch):
    data, cfgs = classes(), configs("tanh")
    interrupt_at(monkeypatch, stacked_runs.StackedSGD, 123)
    jobs = [(c, tmp_path / f"stacked{k}") for k, c in enumerate(cfgs)]
    first = train_stacked(jobs, data=data, progress=False)
    assert [r.status for r in first] == ["interrupted"] * 4 and {r.final["update"] for r in first} == {123}
    monkeypatch.undo()
    again = train_stacked(jobs[:3], data=data, progress=False)  # three resume as a stack,
    last = resume(tmp_path / "stacked3", progress=False, data=data)  # the fourth alone
    assert [r.status for r in again] == ["completed"] * 3 and last.status == "completed"
    assert last.run.env["step"] == "fused" and last.run.env["stack"] is None
    assert again[0].run.env["stack"]["size"] == 3
    for k, c in enumerate(cfgs):
        assert_same_run(RunDir(tmp_path / f"stacked{k}"), train(c, out=tmp_path / f"alone{k}", data=data,
                                                                 progress=False).run)


def test_a_stack_larger_than_memory_allows_is_trained_in_smaller_stacks(tmp_path, monkeypatch):
    data, cfgs = classes(), configs("sigmoid")
    per_run = member_bytes(cfgs[0], data)
    monkeypatch.setattr(stacked_runs, "machine_memory", lambda: int(2.5 * per_run / stacked_runs.STACK_MEMORY_FRACTION))
    assert largest_stack(cfgs[0], data) == 2
    results = train_stacked([(c, tmp_path / f"r{k}") for k, c in enumerate(cfgs)], data=data, progress=False)
    assert [r.run.env["stack"] for r in results] == [{"size": 2, "runs": ["r0", "r1"]}] * 2 + \
        [{"size": 2, "runs": ["r2", "r3"]}] * 2


def test_runs_that_cannot_share_a_stack_are_refused_in_one_line(tmp_path):
    data = classes()
    with pytest.raises(DepthlabError, match="share their data set, hidden widths, activation"):
        train_stacked([(c, tmp_path / f"r{k}") for k, c in enumerate([*configs("tanh")[:1], *configs("relu")[:1]])],
                      data=data)
    with pytest.raises(DepthlabError, match="seed 0 cannot train in a stack: optimizer adam"):
        train_stacked([(c, tmp_path / "r") for c in configs("tanh", MEMBERS[:1], optimizer="adam")], data=data)
    assert not any(tmp_path.iterdir())  # nothing written


def test_a_bad_run_while_setting_up_leaves_no_half_made_stack(tmp_path):
    data, cfgs = classes(), configs("tanh")
    (tmp_path / "r2").mkdir()
    (tmp_path / "r2" / "stray.txt").write_text("not a run")
    with pytest.raises(DepthlabError, match="already exists and is not empty"):
        train_stacked([(c, tmp_path / f"r{k}") for k, c in enumerate(cfgs)], data=data, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r2"]  # r0 and r1 were removed again

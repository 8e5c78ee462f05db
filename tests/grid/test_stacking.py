"""Which runs of a grid share a stack, when stacking pays, and a grid trained in stacks
giving each run's own numbers."""

from __future__ import annotations

import pytest

from depthlab.config import TrainConfig
from depthlab.errors import DepthlabError
from depthlab.grid import RunSpec, stacking
from depthlab.grid.runner import run_specs
from depthlab.grid.stacking import AUTO_MAX_PARAMETERS, AUTO_MIN_STACK, plan_stacks, stacking_pays

BASE = dict(dataset="polynomial:features=4", depth=1, width=8, cost="squared-error", updates=60, eval_every=30,
            probe_every=30, probe_size=20)


def spec(name: str, **changes) -> RunSpec:
    return RunSpec(name, TrainConfig(**{**BASE, **changes}))


def names(groups):
    return [[s.name for s in group] for group in groups]


def test_runs_of_one_shape_share_a_stack_and_the_others_train_alone():
    specs = [spec("a", lr=0.1), spec("b", width=16), spec("c", lr=0.2), spec("clip", clip_norm=1.0),
             spec("d", seed=3, optimizer="momentum"), spec("e", width=16, seed=1), spec("adam", optimizer="adam")]
    assert names(plan_stacks(specs, "auto")) == [["a", "c", "d"], ["b", "e"], ["clip"], ["adam"]]
    assert names(plan_stacks(specs, "always")) == names(plan_stacks(specs, "auto"))
    assert names(plan_stacks(specs, "never")) == [[s.name] for s in specs]


def test_groups_are_split_to_keep_every_worker_busy_but_never_into_stacks_of_one():
    specs = [spec(f"r{k}", seed=k) for k in range(7)]
    assert names(plan_stacks(specs, "auto", workers=2)) == [["r0", "r1", "r2", "r3"], ["r4", "r5", "r6"]]
    assert [len(g) for g in plan_stacks(specs[:3], "auto", workers=4)] == [3]  # 3 runs: one stack, not 2 + 1
    assert [len(g) for g in plan_stacks(specs[:4], "auto", workers=4)] == [2, 2]
    wider = [spec(f"w{k}", seed=k, width=16) for k in range(4)]
    assert [len(g) for g in plan_stacks(specs + wider, "auto", workers=2)] == [7, 4]  # as many groups as workers


def test_auto_stacks_what_the_native_kernels_do_not_run_faster_alone(monkeypatch):
    native = [TrainConfig(**{**BASE, "cost": "nll", "dataset": "shapeset"})] * AUTO_MIN_STACK
    monkeypatch.setattr(stacking, "_alone_on_native_kernels", lambda config: config.batch_size <= 96)
    assert stacking_pays("auto", native, AUTO_MAX_PARAMETERS)
    assert not stacking_pays("auto", native, AUTO_MAX_PARAMETERS + 1)  # large networks: the native kernels
    assert not stacking_pays("auto", native[:-1], 100)  # too few to share the overhead
    assert stacking_pays("always", native[:2], 10 * AUTO_MAX_PARAMETERS)  # asked for
    assert not stacking_pays("never", native, 100)
    on_torch_ops = [c.replace(batch_size=128) for c in native[:2]]  # alone they would take torch ops
    assert stacking_pays("auto", on_torch_ops, 10 * AUTO_MAX_PARAMETERS)
    assert not stacking_pays("always", native[:1], 100)


def test_a_grid_in_stacks_gives_every_run_its_separate_numbers(tmp_path):
    specs = [spec("a", lr=0.1), spec("b", lr=0.02, seed=1, optimizer="nesterov", momentum=0.5),
             spec("c", lr=1e4, seed=2), spec("d", width=16)]
    stacked = run_specs(specs, tmp_path / "stacked", progress=False, stacking="always")
    separate = run_specs(specs, tmp_path / "separate", progress=False, stacking="never")
    assert [stacked[s.name].env["stack"] for s in specs] == [{"size": 3, "runs": ["a", "b", "c"]}] * 3 + [None]
    assert all(run.env["stack"] is None for run in separate.values())
    assert stacked["c"].status["status"] == separate["c"].status["status"] == "diverged"
    for name in ("a", "b", "d"):  # float32 rounding of two summation orders (1e-5 in float64: tests/training)
        assert stacked[name].final["test_cost"] == pytest.approx(separate[name].final["test_cost"], rel=1e-3)
    again = run_specs(specs, tmp_path / "stacked", progress=False, stacking="always")  # finished: kept
    assert again["a"].final == stacked["a"].final


def test_an_unknown_stacking_is_one_line_naming_the_choices(tmp_path):
    with pytest.raises(DepthlabError, match="unknown stacking 'vmap'; valid choices: always, auto, never"):
        run_specs([spec("a")], tmp_path, stacking="vmap")
    assert not (tmp_path / "runs").exists()

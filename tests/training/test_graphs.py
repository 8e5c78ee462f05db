"""Updates replayed from a captured graph are the updates taken as they are: on the CPU
the wrapper runs with a stand-in for CUDA graphs (EagerGraphs) and must give bit-identical
costs and weights to the plain stepper over hundreds of updates, through a freeze, a
learning-rate change, a Ctrl-C and a resume; no stepper reads a value back to the host
during an update. The ``cuda`` tests do the same with real CUDA graphs."""

from __future__ import annotations

import json

import pytest
import torch

from fakes import interrupt_at

from depthlab.config import TrainConfig
from depthlab.data.base import FixedDataset
from depthlab.nets.mlp import MLP
from depthlab.store import RunDir
from depthlab.training import fused
from depthlab.training.costs import COSTS
from depthlab.training.fused import FusedSGD
from depthlab.training.graphs import GRAPH_MAKERS, WARM_UP, CudaGraphs, EagerGraphs, GraphedStepper, graphed
from depthlab.training.stacked import StackedSGD
from depthlab.training.stacked_runs import StackStep, train_stacked
from depthlab.training.step import AutogradStep, StackOfOne
from depthlab.training.trainer import resume, train

UPDATES = 300


def classes(n_train: int = 600, inputs: int = 20, k: int = 4) -> FixedDataset:
    """Four Gaussian classes in 20 dimensions, 100 validation and test examples."""
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(k, inputs, generator=g)

    def draw(n):
        y = torch.randint(0, k, (n,), generator=g)
        return centres[y] + torch.randn(n, inputs, generator=g), y

    return FixedDataset("classes", (inputs,), k, draw(n_train), draw(100), draw(100))


def nets(k: int, device: str = "cpu", dropout: float = 0.0) -> list[MLP]:
    out = []
    for seed in range(k):
        torch.manual_seed(seed)
        model = MLP(20, [24, 24], 4, "tanh", dropout=[dropout, dropout] if dropout else None)
        model.initialize("normalized", "zero")
        out.append(model.to(device))
    return out


def stack(device: str = "cpu") -> StackedSGD:
    return StackedSGD(nets(3, device), [COSTS.get("nll"), COSTS.get("quadratic"), COSTS.get("nll")], [0.1, 0.05, 0.02],
                      momenta=[0.0, 0.9, 0.5], nesterov=[False, False, True], weight_decays=[0.0, 1e-3, 0.0])


def minibatches(k: int | None, device: str = "cpu"):
    g = torch.Generator().manual_seed(7)
    shape = (UPDATES, 10) if k is None else (UPDATES, k, 10)
    return torch.randn(*shape, 20, generator=g).to(device), torch.randint(0, 4, shape, generator=g).to(device)


def lockstep(plain, wrapped, x, y, between=lambda u: None) -> None:
    """Step both on the same minibatches; every cost bit-identical."""
    for u in range(len(x)):
        between(u)
        mine, theirs = wrapped.step(x[u], y[u]), plain.step(x[u], y[u])
        assert torch.equal(mine, theirs), u


def test_a_graphed_stack_is_the_stack_bit_for_bit_through_a_freeze():
    plain, inner = stack(), stack()
    wrapped = GraphedStepper(inner, EagerGraphs())
    frozen = {}

    def freeze_at_half(u):
        if u == UPDATES // 2:
            plain.freeze(1)
            wrapped.freeze(1)
            frozen.update({i: w[1].clone() for i, w in enumerate(inner.weights)})

    x, y = minibatches(3)
    lockstep(plain, wrapped, x, y, freeze_at_half)
    for mine, theirs in zip(inner.weights + inner.biases, plain.weights + plain.biases):
        assert torch.equal(mine, theirs)
    assert all(torch.equal(inner.weights[i][1], w) for i, w in frozen.items())  # member 1 stood still
    assert (wrapped.maker.warm_ups, wrapped.maker.captures) == (WARM_UP, 1)  # a freeze needs no new capture


def test_a_changed_learning_rate_is_captured_again():
    torch.manual_seed(0)
    plain_net, graphed_net = nets(1)[0], nets(1)[0]
    cost = COSTS.get("nll")
    plain = StackOfOne(FusedSGD(plain_net, cost, 0.1, momentum=0.9, kernel="torch"))
    wrapped = GraphedStepper(StackOfOne(FusedSGD(graphed_net, cost, 0.1, momentum=0.9, kernel="torch")), EagerGraphs())

    def decay(u):
        if u == 200:
            plain.stepper.lr = wrapped.stepper.stepper.lr = 0.01

    x, y = minibatches(None)
    lockstep(plain, wrapped, x, y, decay)
    assert all(torch.equal(a, b) for a, b in zip(plain_net.parameters(), graphed_net.parameters()))
    assert wrapped.maker.captures == 2


def test_the_autograd_step_with_sgd_replays_bit_for_bit():
    models = nets(2)
    cost = COSTS.get("nll")
    make = lambda m: AutogradStep(m, cost, torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9,  # noqa: E731
                                                           nesterov=True), clip_norm=1.0)
    torch.manual_seed(0)
    twin = nets(1)[0]
    plain, wrapped = StackOfOne(make(twin)), GraphedStepper(StackOfOne(make(models[0])), EagerGraphs())
    x, y = minibatches(None)
    lockstep(plain, wrapped, x, y)
    assert all(torch.equal(a, b) for a, b in zip(twin.parameters(), models[0].parameters()))


def test_each_stepper_says_whether_it_can_be_captured():
    model, cost = nets(1)[0], COSTS.get("nll")
    assert AutogradStep(model, cost, torch.optim.SGD(model.parameters(), lr=0.1)).graphable is None
    adam = AutogradStep(model, cost, torch.optim.Adam(model.parameters()))
    assert adam.graphable == "torch.optim.Adam counts its steps outside the device's work"
    dropped = nets(1, dropout=0.5)[0]
    assert AutogradStep(dropped, cost, torch.optim.SGD(dropped.parameters(), lr=0.1)).graphable == "dropout"
    assert FusedSGD(model, cost, 0.1, kernel="torch").graphable is None
    assert stack().graphable is None
    try:
        native = FusedSGD(model, cost, 0.1, kernel="native")
    except Exception:  # no C compiler here: the native kernels cannot be built
        return
    assert native.graphable == "the native kernels take the step (on the CPU)"


def test_the_loop_takes_graphs_where_the_device_has_them_and_the_run_allows():
    model, cost = nets(1)[0], COSTS.get("nll")
    one = StackOfOne(FusedSGD(model, cost, 0.1, kernel="torch"))
    assert graphed(one, torch.device("cpu"), None) == (one, "the device is cpu")
    assert graphed(one, torch.device("cpu"), False) == (one, "off (--no-graphs)")
    adam = StackOfOne(AutogradStep(model, cost, torch.optim.Adam(model.parameters())))
    assert graphed(adam, torch.device("cuda"), None)[1] == adam.graphable
    wrapped, why = graphed(one, torch.device("cuda"), None)
    assert why is None and isinstance(wrapped, GraphedStepper) and isinstance(wrapped.maker, CudaGraphs)


def test_a_stacks_rates_stay_the_same_tensors_through_a_freeze():
    """What a captured update reads: the rates are overwritten in place, not remade."""
    s = stack()
    names = ("rate", "shrink", "nesterov_rate", "nesterov_shrink", "velocity_rate")
    before = {n: getattr(s, n).data_ptr() for n in names}
    s.freeze(2)
    assert {n: getattr(s, n).data_ptr() for n in names} == before
    assert s.rate.flatten().tolist() == [-0.10000000149011612, -0.05000000074505806, 0.0]


# -- whole runs on the CPU, the wrapper standing in for CUDA graphs -----------------------------
@pytest.fixture
def eager_graphs(monkeypatch):
    """The CPU takes the CUDA path: its updates go through GraphedStepper, EagerGraphs
    standing in for the graphs."""
    monkeypatch.setitem(GRAPH_MAKERS, "cpu", EagerGraphs)


@pytest.fixture
def float64():
    """Fused steps on torch ops (the native kernels take float32 only), as on a GPU."""
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


BASE = dict(dataset="classes", depth=2, width=24, updates=UPDATES, eval_every=100, log_every=20, probe_every=100,
            probe_size=64, batch_size=10, activation="tanh", lr=0.05)


def same_runs(mine: RunDir, theirs: RunDir) -> None:
    """Metrics, probes and checkpointed parameters identical (the wall times aside)."""
    assert mine.metrics() == theirs.metrics()
    assert (mine.path / "probes.jsonl").read_text() == (theirs.path / "probes.jsonl").read_text()
    p, q = mine.load_checkpoint()["model"], theirs.load_checkpoint()["model"]
    assert p.keys() == q.keys() and all(torch.equal(p[key], q[key]) for key in q)
    assert mine.status == theirs.status


@pytest.mark.parametrize("rule", [dict(step="autograd", optimizer="momentum"),
                                  dict(step="fused", optimizer="nesterov", momentum=0.5)])
def test_a_run_in_graphs_is_the_run_without_them(tmp_path, eager_graphs, float64, rule):
    data, config = classes(), TrainConfig(**BASE, **rule)
    mine = train(config, out=tmp_path / "graphs", data=data, progress=False)
    theirs = train(config.replace(graphs=False), out=tmp_path / "plain", data=data, progress=False)
    same_runs(mine.run, theirs.run)
    assert mine.run.env["graphs"] is True and "graphs_off" not in mine.run.env
    assert (theirs.run.env["graphs"], theirs.run.env["graphs_off"]) == (False, "off (--no-graphs)")


def test_a_run_on_the_cpu_records_why_it_took_no_graphs(tmp_path):
    result = train(TrainConfig(**{**BASE, "updates": 20, "eval_every": 20}), out=tmp_path / "run", data=classes(),
                   progress=False)
    assert (result.run.env["graphs"], result.run.env["graphs_off"]) == (False, "the device is cpu")


def test_a_stack_in_graphs_through_a_run_that_ends_early_is_the_stack_without(tmp_path, eager_graphs, float64):
    data = classes()
    configs = [TrainConfig(**{**BASE, "seed": k, "lr": 0.02 * (k + 1), "updates": UPDATES // (2 - k % 2)})
               for k in range(3)]  # the first and third end at update 150: frozen while the second goes on
    mine = train_stacked([(c, tmp_path / f"g{k}") for k, c in enumerate(configs)], data=data, progress=False)
    theirs = train_stacked([(c.replace(graphs=False), tmp_path / f"p{k}") for k, c in enumerate(configs)],
                           data=data, progress=False)
    for a, b in zip(mine, theirs):
        same_runs(a.run, b.run)
        assert a.run.env["graphs"] is True and b.run.env["graphs"] is False


def test_ctrl_c_then_resume_in_graphs_is_the_run_uninterrupted(tmp_path, eager_graphs, float64, monkeypatch):
    data, config = classes(), TrainConfig(**BASE, step="fused", optimizer="momentum")
    real = FusedSGD.step
    interrupt_at(monkeypatch, fused.FusedSGD, 123)
    first = train(config, out=tmp_path / "graphs", data=data, progress=False)
    assert (first.status, first.final["update"]) == ("interrupted", 123)
    monkeypatch.setattr(fused.FusedSGD, "step", real)
    assert resume(tmp_path / "graphs", progress=False, data=data).status == "completed"
    theirs = train(config.replace(graphs=False), out=tmp_path / "plain", data=data, progress=False)
    same_runs(RunDir(tmp_path / "graphs"), theirs.run)
    assert json.loads((tmp_path / "graphs" / "env.json").read_text())["graphs"] is True


# -- no host read during an update ------------------------------------------------------------------
READS = ("item", "tolist", "__float__", "__int__", "__bool__", "__index__", "cpu", "numpy")


@pytest.fixture
def reads(monkeypatch):
    """Every read of a tensor's values into Python from here on."""
    calls: list[str] = []
    for name in READS:
        def counted(self, *args, _original=getattr(torch.Tensor, name), _name=name, **kwargs):
            calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    return calls


def steppers(float64) -> dict:
    models, cost = nets(3), COSTS.get("nll")
    sgd = torch.optim.SGD(models[0].parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    return {"stack": StackStep(stack(), None), "fused": StackOfOne(FusedSGD(models[1], cost, 0.1, momentum=0.9)),
            "autograd": StackOfOne(AutogradStep(models[2], cost, sgd, clip_norm=1.0)),
            "graphed stack": GraphedStepper(StackStep(stack(), None), EagerGraphs())}


@pytest.mark.parametrize("name", ["stack", "fused", "autograd", "graphed stack"])
def test_no_update_reads_a_value_back_to_the_host(float64, reads, name):
    stepper = steppers(float64)[name]
    x, y = minibatches(None if name in ("fused", "autograd") else 3)
    before = len(reads)
    costs = [stepper.step(x[u], y[u]) for u in range(20)]
    assert reads[before:] == [] and len(costs) == 20


# -- on a GPU ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["stack", "fused", "autograd"])
@pytest.mark.cuda
def test_cuda_graphs_replay_the_update_of_each_stepper(name):
    cost = COSTS.get("nll")

    def make():
        if name == "stack":
            return StackStep(stack("cuda"), None), None
        model = nets(1, "cuda")[0]
        inner = FusedSGD(model, cost, 0.1, momentum=0.9) if name == "fused" else \
            AutogradStep(model, cost, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), clip_norm=1.0)
        return StackOfOne(inner), model

    (plain, _), (inner, _) = make(), make()
    wrapped, why = graphed(inner, torch.device("cuda"), None)
    assert why is None
    x, y = minibatches(3 if name == "stack" else None, "cuda")
    mine = torch.stack([wrapped.step(x[u], y[u]) for u in range(UPDATES)])
    theirs = torch.stack([plain.step(x[u], y[u]) for u in range(UPDATES)])
    torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-6)
    assert wrapped.maker.captures == 1
    torch.cuda.set_sync_debug_mode("error")  # any host synchronisation in an update raises
    try:
        for u in range(20):
            wrapped.step(x[u], y[u])
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.cuda
def test_a_cuda_run_records_its_graphs_and_matches_one_without(tmp_path):
    data, config = classes(), TrainConfig(**BASE, device="cuda", step="fused", optimizer="momentum")
    mine = train(config, out=tmp_path / "graphs", data=data, progress=False)
    theirs = train(config.replace(graphs=False), out=tmp_path / "plain", data=data, progress=False)
    assert mine.run.env["graphs"] is True and theirs.run.env["graphs"] is False
    p, q = mine.run.load_checkpoint()["model"], theirs.run.load_checkpoint()["model"]
    for key in q:
        torch.testing.assert_close(p[key], q[key], rtol=1e-4, atol=1e-5)


def test_the_cuda_marker_is_declared():
    """``pytest -m cuda`` runs the GPU tests; without a GPU they are skipped, not failed."""
    import tomllib
    from pathlib import Path

    markers = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["tool"]["pytest"][
        "ini_options"]["markers"]
    assert "cuda: needs a CUDA device (skipped without one)" in markers

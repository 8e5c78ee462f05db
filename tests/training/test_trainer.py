import json
import os
import signal

import pytest
import torch

from depthlab.config import TrainConfig
from depthlab.data.base import FixedDataset
from depthlab.errors import DepthlabError
from depthlab.store.run import RunDir
from depthlab.training import trainer
from depthlab.training.costs import COSTS
from depthlab.training.trainer import resume, train

SMALL = dict(dataset="shapeset", depth=2, width=64, batch_size=10, eval_every=50, log_every=25,
             probe_every=100, jacobian_examples=2, probe_size=50)


def tiny_dataset(n=400, dim=12, classes=3, seed=0):
    """A linearly separable toy problem held in memory."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=g)
    y = (x[:, :classes]).argmax(1)
    cut = n // 2, 3 * n // 4
    return FixedDataset("toy", (dim,), classes, (x[:cut[0]], y[:cut[0]]), (x[cut[0]:cut[1]], y[cut[0]:cut[1]]),
                        (x[cut[1]:], y[cut[1]:]))


def test_depth2_tanh_learns_shapeset_well_below_chance(tmp_path):
    # Chance on the 9 Shapeset classes is 8/9 = 88.9% error; on 2,000 examples the
    # standard error of an error rate near 0.8 is 0.9%, so 0.83 is 7 of them below chance.
    result = train(dict(SMALL, width=300, optimizer="momentum", lr=0.01, batch_size=20, updates=2000,
                        eval_every=500, eval_size=2000, activation="tanh", seed=0, probe=False),
                   out=tmp_path / "run", progress=False)
    assert result.status == "completed"
    assert result.final["test_error"] < 0.83
    run = RunDir(result.path)
    updates, errors = run.series("validation_error")
    assert updates == [0, 500, 1000, 1500, 2000]
    assert errors[-1] < errors[0]


def test_run_directory_is_self_describing(tmp_path):
    result = train(dict(SMALL, updates=100, seed=3), out=tmp_path / "run", progress=False)
    run = RunDir(result.path)
    assert run.config.seed == 3 and run.config.widths is None
    assert run.network.widths == (1024, 64, 64, 9) and run.network.input_shape == (1, 32, 32)
    assert run.env["seed"] == 3 and run.env["torch"] == torch.__version__
    assert run.env["step"] in ("fused", "autograd") and run.env["total_updates"] == 100
    assert run.status == {"status": "completed", "update": 100}
    assert [r["update"] for r in run.metrics() if "train_cost" in r] == [25, 50, 75, 100]
    assert (run.path / "probes.jsonl").is_file() and (run.path / "checkpoint.pt").is_file()


def test_huge_learning_rate_is_recorded_as_diverged(tmp_path):
    result = train(dict(SMALL, lr=1e4, updates=300, activation="relu", init="he-normal"),
                   out=tmp_path / "run", progress=False)
    assert result.status == "diverged"
    status = RunDir(result.path).status
    assert status["status"] == "diverged" and 1 <= status["diverged_at"] <= 300


def test_costs_are_read_from_the_device_only_at_boundaries(tmp_path, monkeypatch):
    reads = []
    real = trainer.read_costs
    monkeypatch.setattr(trainer, "read_costs", lambda pending: reads.append(len(pending)) or real(pending))
    train(dict(updates=100, depth=2, width=8, log_every=25, eval_every=50, probe=False), out=tmp_path / "run",
          data=tiny_dataset(), progress=False)
    assert reads == [25, 25, 25, 25]


def test_a_running_run_keeps_its_status_at_the_update_it_reached(tmp_path, monkeypatch):
    """status.json follows the updates taken, those whose costs are not read yet
    included (read here at each boundary: 25 updates taken since the last one)."""
    seen = []
    real = trainer.read_costs

    def read_costs(pending):
        seen.append((json.loads((tmp_path / "run" / "status.json").read_text()), len(pending)))
        return real(pending)

    monkeypatch.setattr(trainer, "STATUS_SECONDS", 0.0)  # written after every update
    monkeypatch.setattr(trainer, "read_costs", read_costs)
    train(dict(updates=100, depth=2, width=8, log_every=25, eval_every=50, probe=False), out=tmp_path / "run",
          data=tiny_dataset(), progress=False)
    assert seen == [({"status": "running", "update": update}, 25) for update in (25, 50, 75, 100)]
    assert json.loads((tmp_path / "run" / "status.json").read_text()) == {"status": "completed", "update": 100}


@pytest.mark.parametrize("step", ["fused", "autograd"])
def test_a_divergence_read_late_is_recorded_as_one_read_at_once(tmp_path, step):
    """Read every update (a callback watches) or only at the boundaries, a diverging run
    leaves the same status, metrics, probes and final numbers."""
    config = dict(lr=100.0, optimizer="momentum", updates=200, depth=2, width=16, log_every=40, eval_every=80,
                  probe_every=80,
                  probe_size=20, jacobian_examples=0, activation="relu", init="he-normal", step=step)  # diverges at 6
    data = tiny_dataset()
    late = train(config, out=tmp_path / "late", data=data, progress=False)
    at_once = train(config, out=tmp_path / "now", data=data, progress=False, callbacks=[lambda trainer, update: None])
    assert late.status == "diverged" and 1 < late.final["diverged_at"] < 200
    assert late.run.status == at_once.run.status
    assert late.run.metrics() == at_once.run.metrics()
    assert late.run.probes == at_once.run.probes
    times = ("seconds", "probe_seconds", "updates_per_second")
    assert {k: v for k, v in late.final.items() if k not in times} == \
        {k: v for k, v in at_once.final.items() if k not in times}


def test_a_run_stored_before_the_step_was_named_resumes(tmp_path):
    """config.json, env.json and checkpoint.pt of an older run say "engine"."""
    config = dict(updates=40, eval_every=10, log_every=5, depth=2, width=8, probe=False, optimizer="momentum")
    data = tiny_dataset()
    whole = train(config, out=tmp_path / "whole", data=data, progress=False)
    old = train(dict(config, updates=20), out=tmp_path / "old", data=data, progress=False)
    for name, key in (("config.json", "step"), ("env.json", "step")):
        stored = json.loads((old.path / name).read_text())
        stored["engine"] = stored.pop(key)
        (old.path / name).write_text(json.dumps(stored))
    state = torch.load(old.run.checkpoint_path)
    state["engine"] = state.pop("step")
    torch.save(state, old.run.checkpoint_path)
    done = resume(old.path, data=data, progress=False, updates=40)
    assert done.final["test_error"] == whole.final["test_error"] and done.run.metrics() == whole.run.metrics()
    assert "engine" not in done.run.env and done.run.env["step"] == "fused"


@pytest.mark.parametrize("extra", [dict(), dict(optimizer="adam", lr=1e-3, dropout=0.2)])
def test_interrupted_run_resumes_to_the_same_numbers(tmp_path, extra):
    config = dict(dict(updates=120, eval_every=40, log_every=10, depth=2, width=32, probe_every=20,
                       jacobian_examples=2, probe_size=20, seed=5, lr=0.05), **extra)
    data = tiny_dataset()
    whole = train(config, out=tmp_path / "whole", data=data, progress=False)

    def interrupt_at_55(trainer, update):
        if update == 55:
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, handled between updates

    part = train(config, out=tmp_path / "part", data=data, progress=False, callbacks=[interrupt_at_55])
    assert part.status == "interrupted" and part.final["update"] == 55
    done = resume(tmp_path / "part", data=data, progress=False)
    assert done.status == "completed"
    for key in ("validation_error", "test_error", "validation_cost", "test_cost"):
        assert done.final[key] == whole.final[key]
    assert RunDir(done.path).metrics() == RunDir(whole.path).metrics()
    assert RunDir(done.path).probes == RunDir(whole.path).probes
    a = torch.load(whole.path / "checkpoint.pt")["model"]
    b = torch.load(done.path / "checkpoint.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("changes, message", [
    (dict(activation="swish"), "unknown activation 'swish'"),
    (dict(width=-1), "width -1"),
    (dict(dataset="imagenet"), "unknown dataset 'imagenet'"),
    (dict(epochs=2.0, updates=None), "unlimited stream"),
    (dict(step="fused", optimizer="adam"), "--step fused cannot run"),
])
def test_bad_input_leaves_no_run_directory(tmp_path, changes, message):
    with pytest.raises(DepthlabError, match=message):
        train(dict(SMALL, **{"updates": 10, **changes}), out=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_existing_run_directory_is_not_overwritten(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "keep.txt").write_text("mine")
    with pytest.raises(DepthlabError, match="already exists"):
        train(dict(SMALL, updates=10), out=tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "keep.txt").read_text() == "mine"


def test_step_choice_is_recorded(tmp_path):
    data = tiny_dataset()
    fused = train(dict(updates=5, depth=2, width=8, probe=False), out=tmp_path / "a", data=data, progress=False)
    plain = train(dict(updates=5, depth=2, width=8, probe=False, batchnorm=True), out=tmp_path / "b",
                  data=data, progress=False)
    fused_env, plain_env = (json.loads((run.path / "env.json").read_text()) for run in (fused, plain))
    assert fused_env["step"] == "fused" and fused_env["kernel"].startswith(("native (", "torch ops ("))
    assert plain.final["step"] == "autograd" and plain_env["kernel"] == "torch autograd"


def test_a_resumed_run_logs_nothing_twice(tmp_path):
    config = dict(updates=60, eval_every=20, log_every=10, depth=2, width=16, probe_every=10, jacobian_examples=0,
                  probe_size=20, lr=0.05)
    data = tiny_dataset()
    whole = train(config, out=tmp_path / "whole", data=data, progress=False)
    crashed = train(dict(config, updates=40), out=tmp_path / "crashed", data=data, progress=False)
    done = resume(crashed.path, data=data, progress=False, updates=60)
    assert RunDir(done.path).probes == RunDir(whole.path).probes
    assert RunDir(done.path).metrics() == RunDir(whole.path).metrics()


def test_resume_refuses_what_cannot_go_on(tmp_path):
    data = tiny_dataset()
    done = train(dict(updates=20, depth=2, width=8, probe=False), out=tmp_path / "done", data=data, progress=False)
    with pytest.raises(DepthlabError, match="is completed at update 20: give --updates above it"):
        resume(done.path, data=data, progress=False)
    with pytest.raises(DepthlabError, match="can only change .*--updates.*, not --lr"):
        resume(done.path, data=data, progress=False, lr=0.1)
    extended = resume(done.path, data=data, progress=False, updates=30)
    assert extended.status == "completed" and extended.final["update"] == 30 and "test_error" in extended.final


def test_resume_in_epochs_replaces_a_length_in_updates(tmp_path):
    data = tiny_dataset()
    done = train(dict(updates=5, depth=2, width=8, probe=False), out=tmp_path / "done", data=data, progress=False)
    per_epoch = data.updates_per_epoch(10)
    extended = resume(done.path, data=data, progress=False, epochs=3)
    assert extended.final["update"] == 3 * per_epoch and done.run.config.updates is None
    shapeset = train(dict(updates=5, depth=1, width=8, probe=False, eval_size=50), out=tmp_path / "s", progress=False)
    with pytest.raises(DepthlabError, match="^--epochs needs a finite training set; shapeset is an unlimited stream"):
        resume(shapeset.path, progress=False, epochs=2)


REGRESSION = dict(dataset="polynomial:features=4", depth=0, cost="squared-error", init="standard", lr=0.01,
                  batch_size=10, eval_every=100, log_every=10)


def test_a_linear_model_fits_the_cubic_to_its_true_weights_and_noise_floor(tmp_path):
    result = train(dict(REGRESSION, epochs=400), out=tmp_path / "run", progress=False)
    assert result.status == "completed" and "validation_error" not in result.final
    assert result.final["test_cost"] == pytest.approx(0.01, rel=0.3)  # the noise variance 0.1²
    assert result.final["best_validation_cost"] <= result.final["validation_cost"]
    state = torch.load(result.path / "checkpoint.pt", weights_only=True)["model"]
    weights = [state["1.bias"].item(), *state["1.weight"][0].tolist()]
    assert weights == pytest.approx([5.0, 1.2, -3.4, 5.6], abs=0.1)
    rows = RunDir(result.path).metrics()
    assert not any("validation_error" in r for r in rows) and any("test_cost" in r for r in rows)


@pytest.mark.parametrize("step", ["fused", "autograd"])
def test_both_steps_train_a_regression_alike(tmp_path, step):
    result = train(dict(REGRESSION, updates=300, step=step), out=tmp_path / step, progress=False)
    reference = train(dict(REGRESSION, updates=300, step="autograd"), out=tmp_path / f"{step}-ref",
                      progress=False)
    assert result.final["step"] == step
    assert result.final["test_cost"] == pytest.approx(reference.final["test_cost"], rel=1e-4)


def test_a_hidden_layer_and_the_probes_handle_real_valued_targets(tmp_path):
    result = train(dict(REGRESSION, depth=2, width=16, activation="tanh", init="normalized", updates=200,
                        probe_every=100), out=tmp_path / "run", progress=False)
    assert result.status == "completed"
    probes = RunDir(result.path).probes
    assert probes.updates[0] == 0 and probes.updates[-1] == 200 and probes.hidden_layers() == ["layer 1", "layer 2"]
    assert probes.has("backprop_grad_std") and probes.has("weight_grad_norm")


@pytest.mark.parametrize("changes, message", [
    (dict(cost="nll"), "polynomial:features=4 has real-valued targets, not class labels: use --cost squared-error"),
    (dict(dataset="shapeset"), "cost squared-error fits real-valued targets, and shapeset has class labels: use "
                               "--cost nll, quadratic, binary-cross-entropy"),
])
def test_a_cost_that_does_not_fit_the_targets_is_one_line_and_no_run(tmp_path, changes, message):
    with pytest.raises(DepthlabError) as error:
        train(dict(REGRESSION, updates=10, **changes), out=tmp_path / "run", progress=False)
    assert message in str(error.value)
    assert not (tmp_path / "run").exists()


def test_dropout_per_layer_and_the_training_set_evaluated_without_it(tmp_path):
    from depthlab.training.trainer import build_model

    data = tiny_dataset()
    config = dict(dataset="toy", widths=[32, 16], dropout=[0.2, 0.5], updates=40, eval_every=20, eval_train=True,
                  probe=False, eval_size=50)
    result = train(config, out=tmp_path / "run", data=data, progress=False)
    rates = [m.p for m in build_model(RunDir(result.path).config, data) if isinstance(m, torch.nn.Dropout)]
    assert rates == [0.2, 0.5]
    rows = [r for r in RunDir(result.path).metrics() if "train_error" in r]
    assert [r["update"] for r in rows] == [0, 20, 40]
    model = build_model(RunDir(result.path).config, data)
    model.load_state_dict(torch.load(result.path / "checkpoint.pt", weights_only=True)["model"])
    model.eval()
    x, y = data.train[0][:50], data.train[1][:50]
    with torch.no_grad():
        logits = model(x)
    assert rows[-1]["train_error"] == pytest.approx((logits.argmax(1) != y).float().mean().item())
    assert rows[-1]["train_set_cost"] == pytest.approx(torch.nn.functional.cross_entropy(logits, y).item(), rel=1e-5)


@pytest.mark.parametrize("changes, message", [
    (dict(dropout=[0.2]), "dropout lists 1 rates for 2 hidden layers"),
    (dict(dropout=[0.2, 1.0]), "dropout 1.0 must be in [0, 1)"),
    (dict(dropout="high"), "'dropout' must be a number or a list of numbers, not 'high'"),
    (dict(dataset="shapeset", eval_train=True), "--eval-train needs a finite training set; shapeset"),
])
def test_bad_dropout_and_eval_train_are_one_line(tmp_path, changes, message):
    with pytest.raises(DepthlabError) as error:
        train(dict(dict(widths=[8, 8], updates=5, probe=False), **changes), out=tmp_path / "run",
              data=None if "dataset" in changes else tiny_dataset(), progress=False)
    assert message in str(error.value)
    assert not (tmp_path / "run").exists()


HOST_READS = ("item", "tolist", "__float__", "__int__", "__bool__", "__index__", "cpu", "numpy")


@pytest.mark.parametrize("cost", ["nll", "squared-error"])
def test_evaluation_sums_on_the_device_reads_once_and_gives_the_per_batch_numbers(monkeypatch, cost):
    # the former evaluation read each batch's cost and errors into Python floats: the sums
    # now stay on the device, in float64, and give exactly those numbers
    g = torch.Generator().manual_seed(4)
    x = torch.randn(2500, 12, generator=g)  # three evaluation batches, the last one partial
    y = torch.randint(0, 3, (2500,), generator=g) if cost == "nll" else torch.randn(2500, 3, generator=g)
    model = torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    loss = COSTS.get(cost)
    errors, total = 0, 0.0
    with torch.no_grad():
        for i in range(0, 2500, trainer.EVAL_BATCH):
            z = model(x[i:i + trainer.EVAL_BATCH])
            errors += (z.argmax(1) != y[i:i + trainer.EVAL_BATCH]).sum().item() if cost == "nll" else 0
            total += loss.loss(z, y[i:i + trainer.EVAL_BATCH]).item() * len(z)
    reads = []
    for name in HOST_READS:
        def counted(self, *args, _original=getattr(torch.Tensor, name), _name=name, **kwargs):
            reads.append(_name)
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(torch.Tensor, name, counted)
    found = trainer.evaluate(model, loss, x, y, torch.device("cpu"))
    monkeypatch.undo()
    assert reads == ["tolist"]
    assert found == ({"error": errors / 2500, "cost": total / 2500} if cost == "nll" else {"cost": total / 2500})


def test_a_runs_data_is_held_on_its_device(tmp_path, monkeypatch):
    moved = []
    real = FixedDataset.to
    monkeypatch.setattr(FixedDataset, "to", lambda self, device: moved.append(device) or real(self, device))
    data = trainer.load_data(TrainConfig(dataset="polynomial:features=4", cost="squared-error", device="cpu"))
    assert moved == ["cpu"] and data.device.type == "cpu"


@pytest.mark.cuda
def test_a_run_on_cuda_trains_and_evaluates_on_data_held_there(tmp_path):
    result = train(dict(SMALL, updates=100, device="cuda", seed=3), out=tmp_path / "run", progress=False)
    assert result.status == "completed" and 0 <= result.final["test_error"] <= 1
    data = trainer.load_data(TrainConfig(dataset="shapeset", eval_size=100, device="cuda"))
    assert data.test[0].device.type == "cuda" and data.generator == "torch"

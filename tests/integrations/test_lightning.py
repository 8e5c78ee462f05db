"""The Lightning callback with the real library (an optional test dependency)."""

import contextlib
import copy
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import depthlab
from depthlab.errors import DepthlabError
from depthlab.store.run import RunDir
from depthlab.training.schedule import ProbeSchedule

pl = pytest.importorskip("lightning.pytorch")
from lightning.pytorch.plugins.precision import MixedPrecision  # noqa: E402

from depthlab.integrations.lightning import ProbeCallback  # noqa: E402


class Classifier(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 16), nn.Sigmoid(), nn.Linear(16, 16), nn.Sigmoid(), nn.Linear(16, 3))
        nn.init.normal_(self.net[0].weight, std=2.0)  # large weights: the first sigmoid layer saturates

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


def fit(callbacks, steps=30, **options):
    torch.manual_seed(0)
    module = Classifier()
    initial = copy.deepcopy(module.net)
    data = TensorDataset(torch.randn(96, 6), torch.randint(0, 3, (96,)))
    trainer = pl.Trainer(max_steps=steps, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=callbacks, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice on dataloader workers
        trainer.fit(module, DataLoader(data, batch_size=8, shuffle=True))
    return module, initial, data, trainer


def test_the_callback_measures_on_the_schedule_and_leaves_training_as_it_was(tmp_path):
    callback = ProbeCallback(tmp_path / "run", every=10, probe_size=40, budget=None)
    probed, initial, data, _ = fit([callback])
    plain, _, _, _ = fit([])
    for a, b in zip(probed.parameters(), plain.parameters(), strict=True):
        assert torch.equal(a, b)  # the probe changed neither the weights nor the shuffling
    run = RunDir.open(tmp_path / "run")
    assert sorted({r["update"] for r in run.probes.rows}) == list(ProbeSchedule(30, 10))
    assert run.status == {"status": "completed", "update": 30}
    assert run.probe_facts["lr"] == 0.05 and run.probe_facts["probe_size"] == 40
    assert [row["update"] for row in run.metrics()] == [1, 2, 5, 10, 20, 30]  # mean train cost between measures
    # update 0 against a hand-written hook on the initial net, on the probe set (40 training examples)
    x = callback.probe.inputs
    assert any(torch.equal(x[0], e) for e in data.tensors[0])
    with torch.no_grad():
        first = torch.sigmoid(initial[0](x))
    stats = {r["stat"]: r["value"] for r in run.probes.rows if r["update"] == 0 and r["layer"] == "net.0"}
    assert stats["activation_std"] == pytest.approx(first.std().item(), rel=1e-5)
    saturated = ((first <= 0.05) | (first >= 0.95)).float().mean().item()
    assert saturated > 0.1 and stats["saturated_fraction"] == pytest.approx(saturated)
    saturation = {f.name: f for f in depthlab.diagnose(tmp_path / "run")}["saturation"]
    assert "model.net[0] (linear)" in saturation.evidence and "torch.nn.init.xavier_uniform_" in saturation.advice


def test_a_module_without_forward_is_named(tmp_path):
    class NoForward(Classifier):
        forward = pl.LightningModule.forward

    torch.manual_seed(0)
    trainer = pl.Trainer(max_steps=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[ProbeCallback(tmp_path / "run")])
    data = TensorDataset(torch.randn(16, 6), torch.randint(0, 3, (16,)))
    with pytest.raises(DepthlabError, match="NoForward defines no forward"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(NoForward(), DataLoader(data, batch_size=8))


def test_the_callback_passes_layers_and_stats_to_its_probe():
    callback = ProbeCallback(every=10, probe_size=16, layers="net.[02]", stats=["saturated_fraction"], budget=None)
    fit([callback], steps=3)
    assert {(r["layer"], r["stat"]) for r in callback.probe.log.rows} == {("net.0", "saturated_fraction"),
                                                                           ("net.2", "saturated_fraction")}


# -- precision: the probe measures the module as the Trainer's precision plugin runs it ----
MIXED = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}
TRUE = {"32-true": torch.float32, "64-true": torch.float64, "bf16-true": torch.bfloat16, "16-true": torch.float16}
MEASURED = ("preactivation_std", "activation_std", "backprop_grad_std", "weight_grad_std")


def precision_options(precision):
    """The Trainer's options for ``precision`` on a CPU. Trainer(precision="16-mixed") there
    falls back to bf16-mixed with a warning; Lightning's own plugin, given explicitly, runs
    float16 autocast with a GradScaler on the CPU as on a GPU."""
    if precision == "16-mixed":
        return {"plugins": [MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu"))]}
    return {"precision": precision}


def as_trained(initial, precision, x, y):
    """(layer, statistic) → value at initialization, computed as training_step runs the
    module under ``precision``, without Lightning: a copy in the mode's dtype (or under
    torch.autocast in its dtype), hooks retaining each Linear's and Sigmoid's output,
    torch.autograd.grad of the unscaled cost on them and on the weights, reduced in float64."""
    net = copy.deepcopy(initial).to(TRUE.get(precision, torch.float32)).eval()
    kept = {}
    for name, module in net.named_children():
        module.register_forward_hook(lambda m, args, out, name=name: kept.__setitem__(name, out))
    context = torch.autocast("cpu", dtype=MIXED[precision]) if precision in MIXED else contextlib.nullcontext()
    with context:
        loss = F.cross_entropy(net(x), y)
    linear = [name for name, module in net.named_children() if isinstance(module, nn.Linear)]
    grads = torch.autograd.grad(loss, [kept[name] for name in linear] + [net[int(name)].weight for name in linear])
    values = {}
    for k, name in enumerate(linear):
        layer = f"net.{name}"
        values[layer, "preactivation_std"] = kept[name].double().std().item()
        values[layer, "backprop_grad_std"] = grads[k].double().std().item()
        values[layer, "weight_grad_std"] = grads[len(linear) + k].double().std().item()
        if str(int(name) + 1) in kept:
            values[layer, "activation_std"] = kept[str(int(name) + 1)].double().std().item()
    return values


@pytest.mark.parametrize("precision", ["32-true", "64-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true"])
def test_the_callback_measures_as_the_precision_plugin_trains_and_leaves_training_as_it_was(precision):
    """Each precision mode Lightning runs on a CPU. At initialization, the callback's
    statistics equal those of the module run as training_step runs it (:func:`as_trained`)
    within 1e-4 relative (1e-5 in float64): both pass through the same narrow dtype, the
    probe reduces in float32 and the reference in float64. The same statistics computed in
    float32 differ from these by more than twice that in the narrow modes (checked;
    measured: 2.3e-4 in float16, 1.2e-3 to 2.3e-3 in bfloat16), so a probe measuring
    outside the plugin's context would fail; and the float64 and half-precision modules
    could not take float32 probe inputs at all. With the callback on and off, training
    ends with identical parameters (and, under 16-mixed, GradScaler state)."""
    callback = ProbeCallback(every=10, probe_size=32, budget=None)
    probed, initial, _, trainer = fit([callback], steps=3, **precision_options(precision))
    plain, _, _, plain_trainer = fit([], steps=3, **precision_options(precision))
    for a, b in zip(probed.parameters(), plain.parameters(), strict=True):
        assert a.dtype == TRUE.get(precision, torch.float32) and torch.equal(a, b)
    if precision == "16-mixed":
        assert trainer.precision_plugin.scaler.state_dict() == plain_trainer.precision_plugin.scaler.state_dict()
    x, y = callback.probe.inputs, callback.probe.targets
    assert x.dtype == TRUE.get(precision, torch.float32)  # converted as the plugin converts each batch
    expected = as_trained(initial, precision, x, y)
    values = {(r["layer"], r["stat"]): r["value"] for r in callback.probe.log.rows if r["update"] == 0}
    tolerance = 1e-5 if precision == "64-true" else 1e-4
    for key, value in expected.items():
        assert values[key] == pytest.approx(value, rel=tolerance), key
    if precision not in ("32-true", "64-true"):
        in_float32 = as_trained(initial, "32-true", x.float(), y)
        assert max(abs(in_float32[key] / value - 1) for key, value in expected.items()) > 2 * tolerance


class Tokens(pl.LightningModule):
    """Token ids → embedding → Linear → tanh per position → mean over positions → Linear."""

    def __init__(self):
        super().__init__()
        self.embed, self.hidden, self.out = nn.Embedding(10, 8), nn.Linear(8, 8), nn.Linear(8, 3)

    def forward(self, ids):
        return self.out(torch.tanh(self.hidden(self.embed(ids))).mean(1))

    def training_step(self, batch, batch_idx):
        ids, y = batch
        return F.cross_entropy(self(ids), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


def test_a_sequence_model_in_bf16_true_gets_its_layer_jacobian_on_the_first_examples_positions():
    """Under bf16-true the probe runs with bfloat16 as the default dtype. The positions
    φ'(s) is taken at (evenly spaced over the 2 × 300 positions of the probe set) are not
    computed in it: in bfloat16 the last, 599, reads 600, beyond the probe set. The layer
    Jacobian's mean singular value equals one computed by hand in the module's bfloat16
    (φ'(s) by autograd on a copy, the singular values in float32) within 1e-4 relative."""
    torch.manual_seed(0)
    module = Tokens()
    initial = copy.deepcopy(module).to(torch.bfloat16).eval()
    callback = ProbeCallback(every=10, probe_size=2, jacobian_examples=2, budget=None)
    trainer = pl.Trainer(max_steps=1, accelerator="cpu", precision="bf16-true", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[callback])
    data = TensorDataset(torch.randint(0, 10, (4, 300)), torch.randint(0, 3, (4,)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, DataLoader(data, batch_size=2))
    ids = callback.probe.inputs
    s = initial.hidden(initial.embed(ids))
    (slope,) = torch.autograd.grad(torch.tanh(s), s, torch.ones_like(s))
    rows = torch.tensor([round(k * 599 / 7) for k in range(8)])  # 8 positions, evenly spaced over 0..599
    jacobians = slope.reshape(600, 8)[rows].float().unsqueeze(2) * initial.hidden.weight.detach().float()
    expected = torch.linalg.svdvals(jacobians).mean().item()
    values = {(r["layer"], r["stat"]): r["value"] for r in callback.probe.log.rows if r["update"] == 0}
    assert values["hidden", "jacobian_sv_mean"] == pytest.approx(expected, rel=1e-4)

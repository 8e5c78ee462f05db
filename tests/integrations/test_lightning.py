"""The Lightning callback with the real library (an optional test dependency)."""

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


def fit(callbacks, steps=30):
    torch.manual_seed(0)
    module = Classifier()
    initial = copy.deepcopy(module.net)
    data = TensorDataset(torch.randn(96, 6), torch.randint(0, 3, (96,)))
    trainer = pl.Trainer(max_steps=steps, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=callbacks)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice on dataloader workers
        trainer.fit(module, DataLoader(data, batch_size=8, shuffle=True))
    return module, initial, data


def test_the_callback_measures_on_the_schedule_and_leaves_training_as_it_was(tmp_path):
    callback = ProbeCallback(tmp_path / "run", every=10, probe_size=40, budget=None)
    probed, initial, data = fit([callback])
    plain, _, _ = fit([])
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
    assert "net.0" in saturation.evidence and "torch.nn.init.xavier_uniform_" in saturation.advice


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

"""The transformers callback with the real library (an optional test dependency): a tiny
BERT classifier built from its config, trained by transformers.Trainer."""

import copy

import pytest
import torch

from depthlab.store.run import RunDir
from depthlab.training.schedule import ProbeSchedule

transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")  # transformers.Trainer needs it
from depthlab.integrations.transformers import ProbeCallback  # noqa: E402


class Sentences(torch.utils.data.Dataset):
    def __init__(self, n=48, length=10):
        generator = torch.Generator().manual_seed(1)
        self.ids = torch.randint(0, 50, (n, length), generator=generator)
        self.labels = self.ids[:, 0] % 3

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "attention_mask": torch.ones_like(self.ids[i]), "labels": self.labels[i]}


def fit(tmp_path, callbacks, steps=12):
    torch.manual_seed(0)
    config = transformers.BertConfig(num_hidden_layers=2, hidden_size=16, num_attention_heads=2, intermediate_size=32,
                                     vocab_size=50, max_position_embeddings=12, num_labels=3)
    model = transformers.BertForSequenceClassification(config)
    initial = copy.deepcopy(model)
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "hf"), max_steps=steps,
                                          per_device_train_batch_size=8, learning_rate=1e-3, logging_steps=4,
                                          save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True, seed=0)
    transformers.Trainer(model=model, args=args, train_dataset=Sentences(), callbacks=callbacks).train()
    return model, initial


def test_the_callback_measures_on_the_schedule_and_leaves_training_as_it_was(tmp_path):
    callback = ProbeCallback(tmp_path / "run", every=5, probe_size=20, budget=None)
    probed, initial = fit(tmp_path, [callback])
    plain, _ = fit(tmp_path, [])
    for a, b in zip(probed.parameters(), plain.parameters(), strict=True):
        assert torch.equal(a, b)
    run = RunDir.open(tmp_path / "run")
    assert sorted({r["update"] for r in run.probes.rows}) == list(ProbeSchedule(12, 5)) == [0, 1, 2, 5, 10, 12]
    assert run.status == {"status": "completed", "update": 12}
    assert run.probe_facts["lr"] == pytest.approx(1e-3) and run.probe_facts["probe_size"] == 20  # of 3 batches of 8
    assert [row["update"] for row in run.metrics() if "train_cost" in row] == [4, 8, 12]
    # update 0 against hand-written hooks on the initial model, on the probe set, through its own loss
    inputs = callback.probe.inputs
    assert set(inputs) == {"input_ids", "attention_mask", "labels"}
    seen = {}
    layer = initial.bert.encoder.layer[1].intermediate

    def keep_grad(module, args, out):
        out.register_hook(lambda grad: seen.setdefault("grad", grad))

    def keep_activation(module, args, out):
        seen.setdefault("a", out.detach().clone())

    layer.dense.register_forward_hook(keep_grad)
    layer.intermediate_act_fn.register_forward_hook(keep_activation)
    initial.eval()
    initial(**inputs).loss.backward()
    stats = {r["stat"]: r["value"] for r in run.probes.rows
             if r["update"] == 0 and r["layer"] == "bert.encoder.layer.1.intermediate.dense"}
    assert stats["activation_std"] == pytest.approx(seen["a"].std().item(), rel=1e-5)
    assert stats["backprop_grad_std"] == pytest.approx(seen["grad"].std().item(), rel=1e-5)


def test_the_callback_passes_layers_and_stats_to_its_probe(tmp_path):
    callback = ProbeCallback(every=5, probe_size=8, layers="bert.encoder.layer.*.intermediate.dense",
                             stats="activation_std")
    fit(tmp_path, [callback], steps=2)
    assert {(r["layer"], r["stat"]) for r in callback.probe.log.rows} == {
        (f"bert.encoder.layer.{k}.intermediate.dense", "activation_std") for k in (0, 1)}

"""The transformers callback with the real library (an optional test dependency): a tiny
BERT classifier built from its config, trained by transformers.Trainer."""

import contextlib
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


def fit(tmp_path, callbacks, steps=12, dtype=torch.float32, **options):
    torch.manual_seed(0)
    config = transformers.BertConfig(num_hidden_layers=2, hidden_size=16, num_attention_heads=2, intermediate_size=32,
                                     vocab_size=50, max_position_embeddings=12, num_labels=3)
    model = transformers.BertForSequenceClassification(config).to(dtype)
    initial = copy.deepcopy(model)
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "hf"), max_steps=steps,
                                          per_device_train_batch_size=8, learning_rate=1e-3, logging_steps=4,
                                          save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True, seed=0,
                                          **options)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=Sentences(), callbacks=callbacks)
    trainer.train()
    return model, initial, trainer


def test_the_callback_measures_on_the_schedule_and_leaves_training_as_it_was(tmp_path):
    callback = ProbeCallback(tmp_path / "run", every=5, probe_size=20, budget=None)
    probed, initial, _ = fit(tmp_path, [callback])
    plain, _, _ = fit(tmp_path, [])
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


# -- precision: the probe measures the model as the Trainer runs it ------------------------
PRECISIONS = {  # name → (the model's dtype, TrainingArguments options, the autocast dtype training runs in)
    "float32": (torch.float32, {}, None),
    "bf16=True": (torch.float32, {"bf16": True}, torch.bfloat16),
    "fp16=True": (torch.float32, {"fp16": True}, None),  # accelerate has no float16 autocast on a CPU: float32
    "bfloat16 model": (torch.bfloat16, {}, None),
    "float16 model": (torch.float16, {}, None),
}
MEASURED = ("preactivation_std", "backprop_grad_std", "weight_grad_std")


def as_trained(model, inputs, autocast):
    """(layer, statistic) → value at initialization of every Linear of ``model``, computed
    without transformers' Trainer or accelerate: forward hooks on a copy in eval mode
    retaining each Linear's output, under torch.autocast in ``autocast`` where given,
    torch.autograd.grad of the model's own loss on them and on the weights, reduced in
    float64."""
    model = copy.deepcopy(model).eval()
    linear = {name: module for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}
    kept = {}
    for name, module in linear.items():
        module.register_forward_hook(lambda m, args, out, name=name: kept.__setitem__(name, out))
    with torch.autocast("cpu", dtype=autocast) if autocast is not None else contextlib.nullcontext():
        loss = model(**inputs).loss
    grads = torch.autograd.grad(loss, [kept[name] for name in linear] + [m.weight for m in linear.values()])
    values = {}
    for k, name in enumerate(linear):
        values[name, "preactivation_std"] = kept[name].double().std().item()
        values[name, "backprop_grad_std"] = grads[k].double().std().item()
        values[name, "weight_grad_std"] = grads[len(linear) + k].double().std().item()
    return values


@pytest.mark.parametrize("precision", list(PRECISIONS))
def test_the_callback_measures_as_the_trainer_runs_the_model_and_leaves_training_as_it_was(tmp_path, precision):
    """The Trainer's mixed precision on a CPU (bf16=True: accelerate's bfloat16 autocast
    around the model's forward; fp16=True: accelerate runs no float16 autocast on a CPU, so
    training and the probe run in float32) and a model loaded in bfloat16 or float16. At
    initialization, the callback's statistics of every Linear equal those of the model run
    as the Trainer runs it (:func:`as_trained`) within 1e-4 relative: both pass through the
    same dtype, the probe reduces in float32 and the reference in float64.

    The float16 model is compared with a float64 copy of its weights instead, within 5e-3
    (ten float16 unit roundoffs; measured: 1.1e-3): its attention weights' gradients (std
    ~3e-8) lie among float16's subnormals even scaled, so a float16 reference is no closer
    to the truth than the probe; without the probe's loss scaling, the first query's ∂C/∂s
    (std ~3e-9) read 28% low. Under bf16=True the same statistics in float32 differ from
    these by more than twice the tolerance (checked; measured: 2.9e-3), so a probe
    measuring outside accelerate's autocast would fail. With the callback on and off,
    training ends with identical parameters."""
    dtype, options, autocast = PRECISIONS[precision]
    callback = ProbeCallback(every=5, probe_size=16, budget=None, stats=list(MEASURED))
    probed, initial, _ = fit(tmp_path, [callback], steps=3, dtype=dtype, **options)
    plain, _, _ = fit(tmp_path, [], steps=3, dtype=dtype, **options)
    for a, b in zip(probed.parameters(), plain.parameters(), strict=True):
        assert a.dtype == dtype and torch.equal(a, b)
    half = dtype == torch.float16
    expected = as_trained(initial.double() if half else initial, callback.probe.inputs, autocast)
    values = {(r["layer"], r["stat"]): r["value"] for r in callback.probe.log.rows if r["update"] == 0}
    assert len(expected) == 3 * 14  # 14 Linear layers, each measured
    for key, value in expected.items():
        assert values[key] == pytest.approx(value, rel=5e-3 if half else 1e-4), key
    if autocast is not None:
        in_float32 = as_trained(initial, callback.probe.inputs, None)
        assert max(abs(in_float32[key] / value - 1) for key, value in expected.items()) > 2e-4

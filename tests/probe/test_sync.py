"""On a device (a GPU) a measure reads its values back to the host once, and at most twice
more for the Jacobians' checks, whatever the number of layers: counted on the CPU, taking
the device path, by counting every call that reads a tensor's values into Python, and
telling the probe's own from those of the model's forward (a transformers model checks
its attention mask in Python, as it does in training)."""

import sys
from pathlib import Path

import pytest
import torch

import depthlab
from depthlab.nets.mlp import MLP
from depthlab.probe import Probe, stats

READS = ("item", "tolist", "__float__", "__int__", "__bool__", "__index__", "cpu", "numpy")
"""The Tensor methods that bring values to the host."""
DEPTHLAB = str(Path(depthlab.__file__).parent)


def reader() -> str:
    """Who asked for a read: "probe" or "model", after the nearest frame out of torch and
    the torch-function modes that pass the model's operations on."""
    frame = sys._getframe(2)
    while frame is not None and ("/torch/" in frame.f_code.co_filename
                                 or frame.f_code.co_name == "__torch_function__"):
        frame = frame.f_back
    return "probe" if frame is not None and frame.f_code.co_filename.startswith(DEPTHLAB) else "model"


@pytest.fixture
def reads(monkeypatch):
    """The host reads so far, (method, "probe" or "model") each, on the device path."""
    monkeypatch.setattr(stats, "HOST_REDUCED", set())
    calls: list[tuple[str, str]] = []
    for name in READS:
        def counted(self, *args, _original=getattr(torch.Tensor, name), _name=name, **kwargs):
            calls.append((_name, reader()))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)

    def equal(*args, _original=torch.equal, **kwargs):
        calls.append(("equal", reader()))
        return _original(*args, **kwargs)

    monkeypatch.setattr(torch, "equal", equal)
    return calls


def probe_reads(reads, probe, update, **options):
    """The probe's own host reads during one measure (checked to give floats and ints)."""
    before = len(reads)
    measure = probe.measure(update, **options)
    assert measure.rows and all(type(row["value"]) is float for row in measure.rows)
    assert all(type(c) is int for h in measure.histograms for c in h["counts"])
    return [name for name, who in reads[before:] if who == "probe"]


def test_a_five_layer_mlp_reads_once_per_measure_and_at_most_thrice_with_jacobians(reads):
    torch.manual_seed(0)
    model = MLP(20, [16] * 5, 4, "tanh")
    probe = Probe(model, torch.randn(50, 20), torch.randint(0, 4, (50,)))
    assert len(probe_reads(reads, probe, 1)) <= 3
    assert probe_reads(reads, probe, 2, with_jacobians=False) == ["tolist"]
    assert all(who == "probe" for _, who in reads)  # an MLP's forward reads nothing


def test_a_four_layer_bert_reads_once_per_measure_and_at_most_thrice_with_jacobians(reads):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.BertConfig(hidden_size=32, num_hidden_layers=4, num_attention_heads=4,
                                     intermediate_size=64, vocab_size=100, num_labels=3)
    model = transformers.BertForSequenceClassification(config)
    ids = torch.randint(0, 100, (8, 12))
    probe = Probe(model, {"input_ids": ids, "attention_mask": torch.ones_like(ids)}, ids[:, 0] % 3)
    assert len(probe_reads(reads, probe, 1)) <= 3
    assert probe_reads(reads, probe, 2, with_jacobians=False) == ["tolist"]


def test_the_host_path_reads_as_it_always_has(monkeypatch):
    """On the CPU the values are read at once, as floats (the counter's contrast)."""
    torch.manual_seed(0)
    probe = Probe(MLP(20, [16] * 5, 4, "tanh"), torch.randn(50, 20), torch.randint(0, 4, (50,)))
    items = []
    original = torch.Tensor.item

    def item(self):
        items.append(1)
        return original(self)

    monkeypatch.setattr(torch.Tensor, "item", item)
    probe.measure(1, with_jacobians=False)
    assert len(items) > 10

import numpy as np
import pytest
import torch
from torch import nn

from depthlab.probe import Probe, stats
from depthlab.probe.stats import histogram, settle

pytestmark = pytest.mark.usefixtures("reduced_on")  # each test on the host path and the device path


def binned(values, value_range=None, bins=100):
    """Edges and counts of :func:`histogram`, read as the probe reads them at a measure's end."""
    edges, counts = histogram(values, value_range, bins)
    found = {"edges": edges, "counts": counts}
    settle([], [found])
    return found["edges"], found["counts"]


def test_histogram_over_a_fixed_range_counts_outliers_in_the_end_bins():
    edges, counts = binned(torch.tensor([-1.0, -0.5, 0.2, 0.99, 3.0]), (-1.0, 1.0), bins=4)
    assert edges == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert counts == [1, 1, 1, 2]


def test_histogram_without_range_is_symmetric_and_ignores_non_finite_values():
    edges, counts = binned(torch.tensor([-0.5, 2.0, float("nan"), float("inf")]), bins=4)
    assert edges == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert counts == [0, 1, 0, 1]


@pytest.mark.parametrize("value_range", [None, (-1.0, 1.0), (0.0, 0.3)])
def test_histogram_is_numpys_on_float32_edges(value_range):
    values = torch.randn(10_000, generator=torch.Generator().manual_seed(1)) ** 3
    edges, counts = binned(values, value_range, bins=37)
    low, high = value_range or (-values.abs().max().item(), values.abs().max().item())
    expected, expected_edges = np.histogram(values.clamp(low, high).numpy(), bins=37, range=(low, high))
    assert edges == expected_edges.tolist() and expected_edges.dtype == np.float32
    assert counts == expected.tolist()


def test_values_binned_a_chunk_at_a_time_give_the_same_histogram(monkeypatch):
    monkeypatch.setattr(stats, "CHUNK", 7)  # the device path's temporaries bounded; the host's ignores it
    values = torch.tensor([0.3, -2.0, float("nan"), 1.1, 0.0, -0.7, 5.0, float("-inf"), 2.5, -4.9, 0.01, 3.3])
    edges, counts = binned(values, bins=8)
    finite = values[torch.isfinite(values)]
    expected, expected_edges = np.histogram(finite.numpy(), bins=8, range=(-5.0, 5.0))
    assert (edges, counts) == (expected_edges.tolist(), expected.tolist())


def test_histogram_values_on_the_edges_fall_in_the_bin_above_and_the_top_edge_in_the_last():
    edges, counts = binned(torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0, 0.25]), (-1.0, 1.0), bins=4)
    assert counts == [1, 1, 2, 2]


def test_a_denormal_range_is_binned_in_float64():
    """A deep saturated sigmoid net's gradients (issue #27 item 7): float32 cannot tell 100
    edges apart within ±1.4e-44 (ten denormal steps), so numpy refused; float64 can."""
    values = torch.tensor([1.4e-44, -7e-45, 0.0, 2.8e-45])
    bound = values.abs().max().item()
    with pytest.raises(ValueError, match="Too many bins"):
        np.histogram(values.numpy(), bins=100, range=(-bound, bound))
    edges, counts = binned(values)
    expected, expected_edges = np.histogram(values.double().numpy(), bins=100, range=(-bound, bound))
    assert edges == expected_edges.tolist() and len(set(edges)) == 101
    assert counts == expected.tolist() and sum(counts) == 4


@pytest.mark.parametrize("case, values, value_range, low, high, total", [
    ("all equal", [0.5, 0.5, 0.5], None, -0.5, 0.5, 3),
    ("all zero", [0.0, 0.0], None, -1.0, 1.0, 2),
    ("empty", [], None, -1.0, 1.0, 0),
    ("all non-finite", [float("nan"), float("inf"), float("-inf")], None, -1.0, 1.0, 0),
    ("an empty fixed range", [0.0, 0.0], (0.0, 0.0), -0.5, 0.5, 2),
])
def test_degenerate_sets_give_honest_histograms(case, values, value_range, low, high, total):
    edges, counts = binned(torch.tensor(values), value_range, bins=10)
    assert (edges[0], edges[-1], len(edges)) == (low, high, 11)
    finite = [v for v in values if np.isfinite(v)]
    assert counts == np.histogram(np.array(finite, dtype=np.float32), bins=10, range=(low, high))[0].tolist()
    assert sum(counts) == total


def test_settle_reads_every_device_value_in_place():
    rows = [{"value": torch.tensor(0.25)}, {"value": 3.0}, {"value": torch.tensor(1.5, dtype=torch.float64)}]
    found = [{"edges": torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64), "counts": torch.tensor([2, 7])}]
    settle(rows, found)
    assert [row["value"] for row in rows] == [0.25, 3.0, 1.5]
    assert found == [{"edges": [0.0, 0.5, 1.0], "counts": [2, 7]}]
    assert all(type(c) is int for c in found[0]["counts"])


def test_a_layer_without_input_features_is_measured():
    """An ``arrays:`` data set with zero features (issue #27 item 7) gives a first layer
    with an empty weight: its statistics are what an empty set has, not a crash."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(0, 4), nn.Tanh(), nn.Linear(4, 3))
    probe = Probe(model, torch.zeros(6, 0), torch.tensor([0, 1, 2, 0, 1, 2]), layer_names="positions")
    measure = probe.measure(1)
    value = {(row["layer"], row["stat"]): row["value"] for row in measure.rows}
    bias = model[0].bias.detach()
    assert value[("layer 1", "activation_mean")] == pytest.approx(torch.tanh(bias).mean().item(), rel=1e-6)
    assert value[("layer 1", "weight_norm")] == 0.0
    weight_grad = next(h for h in measure.histograms if h["layer"] == "layer 1" and h["quantity"] == "weight_grad")
    assert sum(weight_grad["counts"]) == 0 and (weight_grad["edges"][0], weight_grad["edges"][-1]) == (-1.0, 1.0)


def models():
    torch.manual_seed(3)
    mlp = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 3))
    conv = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 4))
    diverging = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))
    with torch.no_grad():
        diverging[2].weight.mul_(1e38)  # some outputs overflow to ±inf: NaNs and infs from there on
    built = {"mlp": (mlp, torch.randn(20, 6), torch.randint(0, 3, (20,))),
             "conv": (conv, torch.randn(20, 1, 8, 8), torch.randint(0, 4, (20,))),
             "diverging": (diverging, torch.randn(20, 6) * 1e3, torch.randint(0, 3, (20,)))}
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                                     vocab_size=50, num_labels=3)
    ids = torch.randint(0, 50, (6, 10))
    built["bert"] = (transformers.BertForSequenceClassification(config),
                     {"input_ids": ids, "attention_mask": torch.ones_like(ids)}, ids[:, 0] % 3)
    return built


@pytest.mark.parametrize("name", ["mlp", "conv", "diverging", "bert"])
def test_the_device_path_gives_the_host_paths_rows_and_histograms(name, monkeypatch, reduced_on):
    """Exactly, but for the percentiles (float order: 1e-6 relative)."""
    if reduced_on == "device":
        pytest.skip("compares the two paths itself")
    model, inputs, targets = models()[name]
    host = Probe(model, inputs, targets).measure(1)
    monkeypatch.setattr(stats, "HOST_REDUCED", set())
    device = Probe(model, inputs, targets).measure(1)
    assert [(r["layer"], r["stat"]) for r in device.rows] == [(r["layer"], r["stat"]) for r in host.rows]
    for mine, theirs in zip(device.rows, host.rows, strict=True):
        assert type(mine["value"]) is float
        if mine["stat"] in ("activation_p2", "activation_p98"):
            assert mine["value"] == pytest.approx(theirs["value"], rel=1e-6), mine
        else:
            assert mine["value"] == theirs["value"] or np.isnan(mine["value"]) and np.isnan(theirs["value"]), mine
    assert device.histograms == host.histograms

"""The activation statistics of Glorot & Bengio (2010), Figures 2–4: the saturated fraction
per activation rule, the percentiles (numpy's, exactly) and the moments."""

import numpy as np
import pytest
import torch

from depthlab.nets.activations import ACTIVATIONS
from depthlab.probe.quantities.activation import SAMPLE_SIZE, activation_stats, percentiles
from depthlab.probe.stats import settle

pytestmark = pytest.mark.usefixtures("reduced_on")  # each test on the host path and the device path


def settled(values):
    """``values`` (a dict or tuple of statistics), read as the probe reads them at a measure's end."""
    named = values if isinstance(values, dict) else dict(enumerate(values))
    rows = [{"value": value} for value in named.values()]
    settle(rows, [])
    numbers = dict(zip(named, (row["value"] for row in rows), strict=True))
    return numbers if isinstance(values, dict) else tuple(numbers.values())


@pytest.mark.parametrize("name, values, fraction", [
    ("sigmoid", [0.01, 0.05, 0.5, 0.9, 0.96], 3 / 5),
    ("tanh", [-0.99, -0.5, 0.0, 0.94, 0.96], 2 / 5),
    ("softsign", [-0.95, -0.9, 0.1, 0.7, 0.97], 2 / 5),
    ("relu", [0.0, 0.0, 0.0, 0.3, 4.0], 3 / 5),
    ("leaky-relu", [-0.01, -0.002, 0.1, 1.0, 3.0], 2 / 5),
    ("linear", [-9.0, 0.0, 9.0, 1.0, 2.0], 0.0),
])
def test_saturated_fraction_follows_each_activation_rule(name, values, fraction):
    a = torch.tensor(values)
    stats = settled(activation_stats(a, a, ACTIVATIONS.get(name)))  # these rules read a only
    assert stats["saturated_fraction"] == pytest.approx(fraction)


def test_activation_percentiles_mean_and_std():
    a = torch.arange(101.0) / 100
    stats = settled(activation_stats(a, a, ACTIVATIONS.get("sigmoid")))
    assert (stats["activation_p2"], stats["activation_p98"]) == pytest.approx((0.02, 0.98))
    assert stats["activation_mean"] == pytest.approx(0.5)
    assert stats["activation_std"] == pytest.approx(a.std().item())


def misleading(n=300_000):
    """Values whose strided sample holds only the largest: the upper bound misses."""
    values = torch.zeros(n)
    values[::n // SAMPLE_SIZE] = 1.0
    return values + torch.linspace(0, 1e-3, n)


@pytest.mark.parametrize("case", ["tanh", "sorted", "ties", "shifted units", "misleading sample", "small"])
def test_percentiles_are_numpys_exactly(case):
    generator = torch.Generator().manual_seed(0)
    values = {
        "tanh": torch.tanh(3 * torch.randn(300, 1000, generator=generator)),
        "sorted": torch.sort(torch.randn(300_000, generator=generator)).values,  # a strided sample sees a trend
        "ties": torch.randint(0, 3, (300, 1000), generator=generator).float(),  # most values equal the bound
        "shifted units": torch.sigmoid(torch.randn(300, 1000, generator=generator) + torch.linspace(-6, 6, 1000)),
        "misleading sample": misleading(),
        "small": torch.rand(SAMPLE_SIZE, generator=generator),
    }[case].flatten()
    qs = (0.5, 2, 50, 98, 99.9)
    found = settled(percentiles(values, qs))
    assert found == pytest.approx(tuple(np.percentile(values.numpy(), qs)), abs=0, rel=1e-6)


@pytest.mark.parametrize("case", ["nan and inf", "all nan", "empty", "one value"])
def test_percentiles_ignore_non_finite_values(case):
    values = {
        "nan and inf": torch.tensor([float("nan"), 3.0, float("-inf"), 1.0, 2.0, float("inf"), 4.0]),
        "all nan": torch.full((5,), float("nan")),
        "empty": torch.zeros(0),
        "one value": torch.tensor([float("inf"), 7.0]),
    }[case]
    finite = values[torch.isfinite(values)].numpy()
    expected = tuple(np.percentile(finite, (2, 98))) if finite.size else (np.nan, np.nan)
    assert settled(percentiles(values, (2, 98))) == pytest.approx(expected, rel=1e-6, nan_ok=True)

"""Mean-field theory beside a measured run: what it covers, and its numbers against
predict_layers on the run's own widths."""

import pytest
from fakes import write_run

from depthlab.config import TrainConfig
from depthlab.store import Network
from depthlab.theory import init_sigma_w2, predict_layers
from depthlab.theory.comparison import compare_with_theory, theory_skip_reason

NETWORK = Network((1, 32, 32), (1024, 8, 8, 9))


@pytest.mark.parametrize("change, reason", [
    (dict(init="lsuv"), "LSUV rescales"),
    (dict(init="constant:0.1"), "Var[W] = 0"),
    (dict(batchnorm=True), "batch normalization"),
    (dict(init="he-normal", activation="relu"), None),
])
def test_theory_skips_what_it_does_not_cover(change, reason):
    found = theory_skip_reason(TrainConfig(**change), NETWORK)
    assert found is None if reason is None else reason in found


def test_a_run_without_its_network_shape_is_not_compared():
    assert "did not record its network's shape" in theory_skip_reason(TrainConfig(), None)


def test_the_comparison_uses_the_recorded_widths_and_the_bias_variance(tmp_path):
    stds = {"layer 1": 0.9, "layer 2": 0.7}
    grads = {"layer 1": 0.5, "layer 2": 1.0}
    rows = [{"update": 0, "layer": layer, "stat": stat, "value": value}
            for stat, values in (("preactivation_std", stds), ("backprop_grad_std", grads))
            for layer, value in values.items()]
    run = write_run(tmp_path / "run", rows, widths=[8, 8], bias_init="normal", init="lecun-normal")
    comparison = compare_with_theory(run.config, run.network, run.probes)
    q0 = (0.9**2 - 1.0) / init_sigma_w2("lecun-normal", 1024, 8)  # negative: clipped to 0
    expected = predict_layers([1024, 8, 8], "tanh", "lecun-normal", sigma_b2=1.0, q0=max(q0, 0.0))
    assert comparison.q0 == 0.0 and comparison.sigma_b2 == 1.0
    assert [row["q predicted"] for row in comparison.rows] == list(expected.q)
    assert comparison.rows[0]["Var[∂C/∂s] / top measured"] == pytest.approx(0.25)
    assert comparison.scales.trainable_depth == pytest.approx(6 * comparison.scales.xi_c)

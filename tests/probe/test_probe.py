"""The Probe on models of depthlab and of users: its numbers against the paper's analysis
and against what a hand-written computation gives."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthlab.errors import DepthlabError
from depthlab.nets.init import INITS
from depthlab.nets.mlp import MLP
from depthlab.probe import Probe

pytestmark = pytest.mark.usefixtures("reduced_on")  # each test on the host path and the device path


def _tanh_mlp_at_init(init):
    torch.manual_seed(0)
    model = MLP(1000, [1000] * 5, 10, "tanh")
    model.initialize(init)
    x, y = torch.randn(300, 1000), torch.randint(0, 10, (300,))
    probe = Probe(model, x, y, F.cross_entropy, jacobian_examples=0, layer_names="positions")
    probe.measure(0)
    return probe, x


def test_backpropagated_gradients_vanish_with_standard_init_not_with_normalized():
    """Glorot & Bengio (2010), Figure 7. With standard init n·Var[W] = 1/3, so Var[∂C/∂s]
    shrinks by at least 3 per layer going down: a factor ≥ 9 in std over 4 layers. With
    normalized init n·Var[W] = 1 and only φ'(s) < 1 shrinks it; on unit-variance inputs
    layer 1 has Var[s] = 1, where E[φ'(s)²] ≈ 0.46, so the ratio is ≈ 2.4, not 1."""
    ratio = {}
    for init in ("standard", "normalized"):
        probe, _ = _tanh_mlp_at_init(init)
        top, bottom = (probe.series("backprop_grad_std", f"layer {k}")[1][0] for k in (5, 1))
        ratio[init] = top / bottom
    assert ratio["standard"] > 8
    assert 1 < ratio["normalized"] < 3
    assert ratio["standard"] > 4 * ratio["normalized"]


@pytest.mark.parametrize("init", ["standard", "normalized"])
def test_first_layer_pre_activation_variance_is_n_var_w_times_input_power(init):
    probe, x = _tanh_mlp_at_init(init)
    expected = 1000 * INITS.get(init).variance(1000, 1000) * x.pow(2).mean().item()
    assert probe.series("preactivation_std", "layer 1")[1][0] ** 2 == pytest.approx(expected, rel=0.05)


def test_probe_on_a_user_conv_model_measures_both_layers(conv_net):
    torch.manual_seed(0)
    model = conv_net(nn.Tanh())
    probe = Probe(model, torch.randn(20, 1, 8, 8), torch.randint(0, 4, (20,)), F.cross_entropy,
                  jacobian_examples=2, layer_names="positions")
    probe.measure(0)
    with torch.no_grad():
        model.fc.weight.mul_(2)
    rows = probe.measure(1)
    common = {"preactivation_mean", "preactivation_std", "backprop_grad_std", "backprop_grad_norm",
              "weight_grad_std", "weight_grad_norm", "bias_grad_norm", "weight_norm", "update_ratio"}
    hidden = common | {"activation_mean", "activation_std", "activation_p2", "activation_p98",
                       "saturated_fraction", "input_jacobian_sv_mean", "input_jacobian_sv_max"}
    assert {r["stat"] for r in rows if r["layer"] == "layer 1"} == hidden
    assert {r["stat"] for r in rows if r["layer"] == "output"} == common
    assert {(h["layer"], h["quantity"]) for h in probe.histograms_at(1)} == {
        ("layer 1", q) for q in ("activation", "preactivation", "backprop_grad", "weight_grad", "input_jacobian_sv")
    } | {("output", q) for q in ("preactivation", "backprop_grad", "weight_grad")}
    assert all(sum(h["counts"]) > 0 for h in probe.log.histograms)
    assert probe.series("update_ratio", "output")[1] == pytest.approx([1.0])
    assert probe.series("update_ratio", "layer 1")[1] == pytest.approx([0.0])
    assert probe.module_names == {"layer 1": "conv1", "output": "fc"}


def test_update_ratio_and_learning_speed_by_hand():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.Sigmoid(), nn.Linear(5, 3))
    x, y = torch.randn(30, 4), torch.randint(0, 3, (30,))
    probe = Probe(model, x, y, F.cross_entropy, jacobian_examples=0, layer_names="positions")
    probe.measure(10)
    before = model[0].weight.detach().clone()
    delta = torch.full_like(before, 0.1)
    with torch.no_grad():
        model[0].weight.add_(delta)
    probe.measure(14)
    steps, ratios = probe.series("update_ratio", "layer 1")
    assert steps.tolist() == [14]
    assert ratios[0] == pytest.approx((delta.norm() / before.norm()).item() / 4, rel=1e-5)
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    assert probe.series("bias_grad_norm", "layer 1")[1][1] == pytest.approx(model[0].bias.grad.norm().item(),
                                                                           rel=1e-5)
    with pytest.raises(DepthlabError, match="^probe update 14 is not after the previous measure at update 14$"):
        probe.measure(14)


def test_an_unknown_layer_naming_is_one_line():
    with pytest.raises(DepthlabError, match=r"^unknown layer naming 'position' \(did you mean 'positions'\?\); "
                                            r"valid choices: modules, positions$"):
        Probe(nn.Linear(3, 2), torch.randn(4, 3), layer_names="position")


def test_a_network_with_infinite_weights_is_measured_without_spectra():
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 6), nn.Tanh(), nn.Linear(6, 3))
    with torch.no_grad():
        model[2].weight[0, 0] = float("inf")
    probe = Probe(model, torch.randn(20, 4), torch.randint(0, 3, (20,)), F.cross_entropy,
                  jacobian_examples=2, layer_names="positions")
    stats = {(r["layer"], r["stat"]) for r in probe.measure(0)}
    assert ("layer 1", "jacobian_sv_mean") in stats and ("layer 2", "jacobian_sv_mean") not in stats
    assert not any(stat.startswith("input_jacobian") for _, stat in stats)


class AddOneInPlace(nn.Module):
    def forward(self, x):
        return x.add_(1.0)


def test_identity_is_not_an_activation_and_in_place_ops_cannot_change_what_was_captured():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Identity(), nn.SiLU(inplace=True), AddOneInPlace(), nn.Linear(6, 3))
    x, y = torch.randn(40, 4), torch.randint(0, 3, (40,))
    probe = Probe(model, x, y, F.cross_entropy, jacobian_examples=0, layer_names="positions")
    assert probe.summary()[0]["then"] == "silu"
    stats = {r["stat"]: r["value"] for r in probe.measure(0) if r["layer"] == "layer 1"}
    with torch.no_grad():
        s = model[0](x)
        true = F.silu(s)
    assert stats["activation_std"] == pytest.approx(true.std().item(), rel=1e-6)
    assert stats["preactivation_std"] == pytest.approx(s.std().item(), rel=1e-6)
    assert stats["saturated_fraction"] == pytest.approx((s <= -5).float().mean().item())


def _small_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


@pytest.mark.parametrize("update", ["3", float("nan"), -1, 2.5, True])
def test_a_measure_at_an_update_that_is_not_a_whole_count_is_refused_before_measuring(tmp_path, update):
    probe = Probe(_small_net(), torch.randn(16, 4), torch.randint(0, 3, (16,))).log_to(tmp_path / "run")
    with pytest.raises(DepthlabError, match=r"^probe update .* is not a training update: give a whole number ≥ 0"):
        probe.measure(update)
    assert not probe.log and not (tmp_path / "run" / "probes.jsonl").exists()
    assert [row["update"] for row in probe.measure(0)][:1] == [0]


def test_an_empty_probe_set_is_one_line_not_rows_of_nan():
    with pytest.raises(DepthlabError, match=r"^the probe set is empty \(0 examples\): give it at least one example"):
        Probe(_small_net(), torch.randn(0, 4), torch.randint(0, 3, (0,)))


def test_a_model_on_the_meta_device_is_one_line_naming_its_first_tensor():
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    with pytest.raises(DepthlabError, match=r"^the model's 0\.weight is on the meta device \(it holds no values to "
                                            r"measure\): materialize the model first"):
        Probe(model, torch.randn(16, 4), torch.randint(0, 3, (16,)))


def _logging_probe():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    return Probe(model, torch.randn(8, 4), torch.randint(0, 2, (8,)), F.cross_entropy, jacobian_examples=0), model


def test_a_loop_started_again_continues_its_run_and_nothing_follows_finish(tmp_path):
    from depthlab.store.run import RunDir

    probe, _ = _logging_probe()
    probe.log_to(tmp_path / "run")
    probe.measure(0)
    probe.log_metrics(5, train_cost=1.0)
    probe.writer.run.release()  # the loop crashed here
    again, _ = _logging_probe()
    again.log_to(tmp_path / "run")
    with pytest.raises(DepthlabError, match=r"^a measure at update 0 is not after update 5"):
        again.measure(0)
    assert again.log.updates == []  # refused before measuring
    again.measure(10)
    again.finish()
    with pytest.raises(DepthlabError, match=r"^a measure at update 11 after finish\(\)"):
        again.measure(11)
    with pytest.raises(DepthlabError, match=r"^log_metrics at update 11 after finish\(\)"):
        again.log_metrics(11, train_cost=0.5)
    run = RunDir.open(tmp_path / "run")
    assert run.status == {"status": "completed", "update": 10}
    assert run.probes.updates == [0, 10] and run.metrics() == [{"update": 5, "train_cost": 1.0}]


def test_under_a_surrounding_autocast_the_model_runs_in_it_and_the_reductions_do_not():
    """A Lightning precision plugin (or a user) measures inside torch.autocast: the forward
    runs as in training (bfloat16 products), the quantities' products and spectra in float32."""
    from depthlab.probe.quantities import QUANTITIES, Need, Quantity, Reading

    seen = []

    class ProductDtype(Quantity):
        name, needs, stats, histograms = "product_dtype", frozenset({Need.ACTIVATION}), ("product_is_float32",), ()

        def measure(self, entry):
            widened = entry.call.s.float()  # as stats.wide widens a bfloat16 tensor
            seen.append((entry.call.s.dtype, (widened @ widened.T).dtype))
            return Reading({"product_is_float32": 1.0})

    QUANTITIES.register(ProductDtype())
    try:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))
        probe = Probe(model, torch.randn(16, 4), torch.randint(0, 3, (16,)), quantities=["product_dtype"])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            probe.measure(0)
            assert torch.is_autocast_enabled("cpu")  # given back as it was
    finally:
        QUANTITIES.unregister("product_dtype")
    assert len(seen) == 3 and {s for s, _ in seen} == {torch.bfloat16}  # the forward: autocast's products
    assert {product for _, product in seen} == {torch.float32}  # the measure's: float32 (bfloat16 before)

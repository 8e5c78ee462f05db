"""The diagnosis rules on synthetic statistics: each finding fires past its threshold and
not before it."""

import math
from dataclasses import replace

import pytest

from depthlab.config import TrainConfig
from depthlab.nets.activations import ACTIVATIONS
from depthlab.report.diagnosis import (
    DEAD_LIMIT,
    SATURATION_LIMIT,
    Facts,
    Finding,
    diagnose,
)
from depthlab.store.probes import ProbeLog

STEPS = (0, 10, 20)
HIDDEN = ("layer 1", "layer 2", "layer 3")
CONFIG = TrainConfig(activation="tanh", init="standard", lr=0.01, clip_norm=None)
COMPLETED = {"status": "completed", "update": 20}
LEARNING = [{"update": 0, "validation_error": 0.9}, {"update": 20, "validation_error": 0.5}]


def healthy_stats():
    """stat → layer → one value per step of STEPS, for a net with nothing wrong."""
    layers = (*HIDDEN, "output")
    return {
        "backprop_grad_std": {layer: [1e-3] * 3 for layer in layers},
        "saturated_fraction": {layer: [0.1] * 3 for layer in HIDDEN},
        "activation_mean": {layer: [0.0] * 3 for layer in HIDDEN},
        "update_ratio": {layer: [math.nan, 1e-3, 1e-3] for layer in layers},
    }


def rows_of(stats):
    return ProbeLog([{"update": step, "layer": layer, "stat": stat, "value": value}
                     for stat, by_layer in stats.items() for layer, values in by_layer.items()
                     for step, value in zip(STEPS, values)])


def findings(config=None, status=COMPLETED, metrics=LEARNING, **changed):
    """The findings for the healthy statistics with ``changed`` stats replaced per layer."""
    stats = healthy_stats()
    for stat, by_layer in changed.items():
        stats[stat].update(by_layer)
    probes = rows_of(stats)
    return {f.name: f for f in diagnose(Facts.of_run(CONFIG.replace(**(config or {})), probes), status, metrics,
                                        probes)}


def test_a_healthy_run_has_one_ok_finding():
    assert list(findings().values()) == [Finding(
        "no problem found", "ok",
        "Nothing looks wrong. Checked: vanishing or exploding gradients, drops of the gradient between adjacent "
        "layers, saturated or dead units, update sizes and slow learning.")]


def test_without_probes_only_status_and_errors_are_checked():
    (only,) = diagnose(Facts.of_run(CONFIG, ProbeLog()), COMPLETED, LEARNING, ProbeLog())
    assert only.severity == "ok" and "no probe statistics" in only.evidence


@pytest.mark.parametrize("bottom, fires", [(5e-5, True), (1.1e-4, False)])
def test_vanishing_gradients_below_a_tenth(bottom, fires):
    found = findings(backprop_grad_std={"layer 1": [bottom, 1e-3, 1e-3]})
    assert ("vanishing gradients" in found) == fires
    if fires:
        finding = found["vanishing gradients"]
        assert finding.severity == "problem"
        assert "At update 0" in finding.evidence and "0.05×" in finding.evidence
        assert "layer 1" in finding.evidence and "layer 3" in finding.evidence
        assert finding.advice == "--init normalized."


def test_vanishing_later_in_training_names_the_start_too():
    finding = findings(backprop_grad_std={"layer 1": [1e-3, 1e-3, 2e-5]})["vanishing gradients"]
    assert "At update 20" in finding.evidence and "0.02×" in finding.evidence
    assert "(at update 0: 1×)" in finding.evidence


@pytest.mark.parametrize("activation, init, advice", [
    ("sigmoid", "standard", "--init normalized, or --activation tanh or softsign."),
    ("relu", "standard", "--init he-normal."),
    ("tanh", "normalized", "--batchnorm."),
])
def test_vanishing_advice_fits_the_network(activation, init, advice):
    found = findings(dict(activation=activation, init=init), backprop_grad_std={"layer 1": [1e-5] * 3})
    assert found["vanishing gradients"].advice == advice


@pytest.mark.parametrize("bottom, fires", [(2e-2, True), (9e-3, False)])
def test_exploding_gradients_above_ten(bottom, fires):
    found = findings(backprop_grad_std={"layer 1": [1e-3, bottom, 1e-3]})
    assert ("exploding gradients" in found) == fires
    if fires:
        assert "20×" in found["exploding gradients"].evidence
        assert "--clip-norm 1" in found["exploding gradients"].advice


def test_non_finite_gradients_are_ignored():
    assert list(findings(backprop_grad_std={"layer 1": [1e-3, math.nan, math.inf]})) == ["no problem found"]


def test_saturation_says_which_layer_and_when():
    found = findings(saturated_fraction={"layer 2": [0.1, 0.6, 0.3]})
    finding = found["saturation"]
    assert finding.severity == "warning"  # it recovered by the last probe
    assert "layer 2 from update 10 (60%; 30% at the last probe, update 20)" in finding.evidence
    assert "|a| >= 0.95" in finding.evidence
    lasting = findings(saturated_fraction={"layer 1": [0.2, 0.7, 0.9]})["saturation"]
    assert lasting.severity == "problem"


def test_saturation_threshold_is_strict():
    assert "saturation" not in findings(saturated_fraction={"layer 1": [SATURATION_LIMIT] * 3})


def test_sigmoid_top_layer_saturating_at_zero_cites_the_paper():
    found = findings(dict(activation="sigmoid"), saturated_fraction={"layer 3": [0.8, 0.9, 0.7]},
                     activation_mean={"layer 3": [0.02, 0.01, 0.05]})
    finding = found["saturation"]
    assert "near 0" in finding.evidence and "Figure 2" in finding.evidence
    assert finding.advice.startswith("--activation softsign")


def test_dead_relus_above_their_limit_only():
    assert "dead ReLUs" not in findings(dict(activation="relu"), saturated_fraction={"layer 1": [0.5, 0.55, 0.5]})
    found = findings(dict(activation="relu"), saturated_fraction={"layer 1": [0.5, 0.7, DEAD_LIMIT + 0.1]})
    assert found["dead ReLUs"].severity == "problem" and "exactly 0" in found["dead ReLUs"].evidence
    assert "saturation" not in found


def test_unbounded_activations_have_no_saturation_rule():
    assert list(findings(dict(activation="linear"), saturated_fraction={"layer 1": [0.9] * 3})) == ["no problem found"]


def test_divergence_suggests_a_lower_rate_and_clipping():
    status = {"status": "diverged", "update": 3, "diverged_at": 3, "cost": "nan"}
    finding = findings(dict(lr=1e4), status=status, metrics=LEARNING[:1])["divergence"]
    assert finding.severity == "problem" and "nan at update 3" in finding.evidence
    assert finding.advice == "lower --lr (now 10000; e.g. --lr 1000) or add --clip-norm 1."
    clipped = findings(dict(lr=1e4, clip_norm=1.0), status=status)["divergence"]
    assert "--clip-norm" not in clipped.advice


def test_a_diverged_run_is_not_also_called_slow():
    status = {"status": "diverged", "update": 3, "diverged_at": 3, "cost": "inf"}
    flat = [{"update": 0, "validation_error": 0.9}, {"update": 3, "validation_error": 0.9}]
    assert "slow learning" not in findings(status=status, metrics=flat)


@pytest.mark.parametrize("end, fires", [(0.85, True), (0.8, False)])
def test_slow_learning_below_ninety_percent_of_the_start(end, fires):
    metrics = [{"update": 0, "validation_error": 0.9}, {"update": 10, "train_cost": 2.0},
               {"update": 20, "validation_error": end}]
    found = findings(metrics=metrics)
    assert ("slow learning" in found) == fires
    if fires:
        assert "90.0% at update 0 to 85.0% at update 20" in found["slow learning"].evidence


@pytest.mark.parametrize("ratio, name", [(1e-6, "tiny updates"), (0.5, "huge updates"), (1e-4, None)])
def test_update_ratio_far_from_a_thousandth(ratio, name):
    found = findings(update_ratio={"layer 2": [math.nan, ratio, ratio]})
    if name is None:
        assert list(found) == ["no problem found"]
        return
    assert list(found) == [name]
    assert f"{ratio:.2g}" in found[name].evidence and "layer 2" in found[name].evidence
    assert ("raise --lr" if name == "tiny updates" else "lower --lr") in found[name].advice


def test_unfinished_runs_are_flagged():
    found = findings(status={"status": "interrupted", "update": 10})
    assert found["unfinished run"].severity == "warning" and "update 10" in found["unfinished run"].evidence


def test_an_unfinished_run_is_advised_how_it_can_go_on():
    resumable = findings(status={"status": "running", "update": 10, "checkpointed": True})["unfinished run"]
    assert resumable.advice == "finish it with depthlab train --resume on this run directory."
    unstarted = findings(status={"status": "running", "update": 0, "checkpointed": False})["unfinished run"]
    assert unstarted.advice.startswith("it stopped before its first checkpoint, so there is nothing to resume")
    loop = diagnose(Facts.of_logged_run({"layers": [], "lr": 0.1}), {"status": "running", "update": 7}, [],
                    ProbeLog())
    assert {f.name: f.advice for f in loop}["unfinished run"] == (
        "start the loop again from the update after 7, with probe.log_to on this run directory: it continues "
        "the run.")


def test_problems_come_before_warnings():
    flat = [{"update": 0, "validation_error": 0.9}, {"update": 20, "validation_error": 0.9}]
    vanishing = {**healthy_stats(), "backprop_grad_std": {"layer 1": [1e-6] * 3, "layer 3": [1e-3] * 3}}
    found = diagnose(Facts.of_run(CONFIG, rows_of(vanishing)), COMPLETED, flat, rows_of(vanishing))
    assert [f.name for f in found] == ["vanishing gradients", "slow learning"]


def test_a_finding_reads_as_one_line():
    line = Finding("divergence", "problem", "The cost became nan.", "lower --lr.").line()
    assert line == "PROBLEM  divergence: The cost became nan. Try: lower --lr."


# -- a user's model ------------------------------------------------------------------------
def test_a_users_saturated_sigmoid_net_is_diagnosed_from_its_probes_in_pytorch_terms():
    import torch
    import torch.nn.functional as F
    from torch import nn

    import depthlab

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 30), nn.Sigmoid(), nn.Linear(30, 30), nn.Sigmoid(), nn.Linear(30, 4))
    with torch.no_grad():
        for layer in (model[0], model[2]):
            layer.weight.mul_(25)  # far too large: the sigmoids sit at 0 and 1
    x, y = torch.randn(64, 20), torch.randint(0, 4, (64,))
    found = {f.name: f for f in depthlab.diagnose(model, x, y, F.cross_entropy)}
    saturation = found["saturation"]
    with torch.no_grad():
        a = torch.sigmoid(model[0](x))
    fraction = ((a <= 0.05) | (a >= 0.95)).float().mean().item()
    assert f"in model[0] (linear) from update 0 ({fraction:.0%}" in saturation.evidence
    assert "; model[2] (linear) from update 0" in saturation.evidence
    assert "torch.nn.init.xavier_uniform_(layer.weight)" in saturation.advice and "--" not in saturation.advice
    assert "the learning rate (give lr=)" in found["not checked"].evidence
    with_lr = {f.name: f for f in depthlab.diagnose(model, x, y, F.cross_entropy, lr=0.5)}
    assert "now 0.5" in with_lr["saturation"].advice and "learning rate" not in with_lr["not checked"].evidence


def test_diagnosing_a_model_without_inputs_is_one_line():
    import pytest
    from torch import nn

    import depthlab
    from depthlab.errors import DepthlabError

    with pytest.raises(DepthlabError, match="^diagnosing a model needs its probe inputs"):
        depthlab.diagnose(nn.Linear(2, 2))


def test_no_advice_contradicts_another():
    """lr 1e4 on tanh: every unit saturated after the first updates, weights that barely
    move, no learning. The saturation finding lowers the learning rate, so no other finding
    may raise it."""
    everywhere = {layer: [0.1, 1.0, 1.0] for layer in HIDDEN}
    result = findings(dict(lr=1e4), metrics=[{"update": 0, "validation_error": 0.8},
                                             {"update": 20, "validation_error": 0.87}],
                      saturated_fraction=everywhere,
                      update_ratio={layer: [math.nan, 0.0, 0.0] for layer in (*HIDDEN, "output")})
    assert {"saturation", "slow learning", "tiny updates"} <= set(result)
    assert "lower --lr" in result["saturation"].advice
    for name in ("slow learning", "tiny updates"):
        assert "raise" not in result[name].advice and "higher learning rate: see saturation" in result[name].advice
    quiet = findings(update_ratio={layer: [math.nan, 0.0, 0.0] for layer in (*HIDDEN, "output")})
    assert quiet["tiny updates"].advice.startswith("raise --lr")  # with nothing to contradict it


# -- chains of like layers (a user's model, its entries' kinds known) ----------------------
def model_findings(grad_std, activations, kinds):
    """The findings for one probe of a model whose entries have these ∂C/∂s stds."""
    probes = ProbeLog([{"update": 0, "layer": layer, "stat": "backprop_grad_std", "value": value}
                       for layer, value in grad_std.items()])
    facts = Facts({layer: ACTIVATIONS.get(name) for layer, name in activations.items()}, voice="torch",
                  kinds=kinds)
    return {f.name: f for f in diagnose(facts, {}, [], probes)}


ENCODER = ("enc.0.fc", "enc.0.out", "enc.1.fc", "enc.1.out", "enc.2.fc", "enc.2.out", "pooler")


def test_a_head_is_not_compared_with_the_body():
    """The pooler's ∂C/∂s is 100× the encoder's (it reads one position, through small
    weights), but along the encoder's own layers it keeps its size: nothing vanishes."""
    grads = dict(zip(ENCODER, [1e-5, 2e-4, 1e-5, 2e-4, 1e-5, 2e-4, 1e-3]))
    found = model_findings(grads, {"enc.0.fc": "gelu", "enc.1.fc": "gelu", "enc.2.fc": "gelu", "pooler": "tanh"},
                           dict.fromkeys(ENCODER, "linear"))
    assert list(found) == ["no problem found"]


@pytest.mark.parametrize("chain, fires", [("out", True), ("fc", True), (None, False)])
def test_a_gradient_vanishing_along_a_chain_is_found_and_named(chain, fires):
    grads = dict(zip(ENCODER, [1e-5, 2e-4, 1e-5, 2e-4, 1e-5, 2e-4, 1e-3]))
    if chain:
        grads[f"enc.0.{chain}"] /= 20
    found = model_findings(grads, {"enc.0.fc": "gelu", "enc.1.fc": "gelu", "enc.2.fc": "gelu", "pooler": "tanh"},
                           dict.fromkeys(ENCODER, "linear"))
    assert ("vanishing gradients" in found) == fires
    if fires:
        assert (f"∂C/∂s of model.enc[0].{chain} (linear) has 0.05× the standard deviation of model.enc[2].{chain} "
                f"(linear), the bottom and top of the 3 layers named model.enc[#].{chain}:"
                ) in found["vanishing gradients"].evidence


def test_a_modules_calls_are_steps_in_time_not_a_chain():
    """A cell called over time decays its gradient toward the first step (time, not depth);
    a stack of cells called at each step is a chain at each step."""
    grads = {"cell": 1e-5, "cell#2": 1e-4, "cell#3": 1e-3, "head": 1.0}
    found = model_findings(grads, dict.fromkeys(("cell", "cell#2", "cell#3"), "tanh"), dict.fromkeys(grads, "linear"))
    assert list(found) == ["no problem found"]
    stacked = {"cells.0": 1e-3, "cells.1": 1e-3, "cells.0#2": 1e-5, "cells.1#2": 1e-3, "head": 1.0}
    found = model_findings(stacked, dict.fromkeys(("cells.0", "cells.1", "cells.0#2", "cells.1#2"), "tanh"),
                           dict.fromkeys(stacked, "linear"))
    assert ("∂C/∂s of model.cells[0] (linear, call 2) has 0.01× the standard deviation of model.cells[1] (linear, "
            "call 2), the bottom and top of the 2 layers named model.cells[#] (call 2):"
            ) in found["vanishing gradients"].evidence


def test_unlike_layers_are_not_compared():
    grads = {"first": 1e-5, "middle": 1e-4, "last": 1e-3, "head": 1.0}
    found = model_findings(grads, {"first": "relu", "middle": "relu", "last": "relu"},
                           dict.fromkeys(grads, "linear"))
    assert "vanishing gradients" not in found  # first against last: 0.01×, but they are not like layers
    # adjacent layers of a plain stack are compared: head into last drops 1000×
    assert found["gradient drop"].evidence.startswith("At update 0 the back-propagated gradient ∂C/∂s of model.last "
                                                      "(linear) has 0.001× the standard deviation of model.head "
                                                      "(linear), the layer above it: it drops 100× or more")


def test_a_model_without_like_layers_says_its_gradients_were_not_checked():
    import torch
    import torch.nn.functional as F
    from torch import nn

    import depthlab

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.first, self.last, self.head = nn.Linear(4, 8), nn.Linear(8, 8), nn.Linear(8, 2)

        def forward(self, x):
            return self.head(torch.tanh(self.last(torch.tanh(self.first(x)))))

    x, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
    found = {f.name: f for f in depthlab.diagnose(Net(), x, y, F.cross_entropy)}
    assert found["not checked"].evidence.startswith("Not checked from one measure: vanishing or exploding gradients")
    numbered = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 2))
    found = {f.name: f for f in depthlab.diagnose(numbered, x, y, F.cross_entropy)}
    assert "gradients" not in found["not checked"].evidence


def test_a_logged_run_s_family_activations_are_known_to_the_diagnosis():
    layers = [{"layer": "fc1", "kind": "linear", "activation": "elu:0.5"},
              {"layer": "fc2", "kind": "linear", "activation": "threshold:0.5,0"},
              {"layer": "fc3", "kind": "linear", "activation": "prelu"},
              {"layer": "fc4", "kind": "linear", "activation": "leaky-relu:-3"},
              {"layer": "fc5", "kind": "linear", "activation": "tanh"},
              {"layer": "out", "kind": "linear", "activation": None}]
    facts = Facts.of_logged_run({"layers": layers, "lr": 0.1})
    assert {layer: a.name for layer, a in facts.activations.items()} == {
        "fc1": "elu:0.5", "fc2": "threshold:0.5,0", "fc5": "tanh"}


def test_a_model_s_ok_findings_never_say_one_check_was_both_made_and_not_made():
    import torch
    from torch import nn

    from depthlab.report.diagnosis import diagnose_model

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3))
    found = {f.name: f.evidence for f in diagnose_model(model, torch.randn(64, 8), torch.randint(0, 3, (64,)))}
    checked = found["no problem found"].removeprefix("Nothing looks wrong. Checked: ")
    assert checked == ("vanishing or exploding gradients, drops of the gradient between adjacent layers and "
                       "saturated or dead units.")
    assert "the size of the updates" in found["not checked"] and "slow learning" in found["not checked"]


# -- saturation: the init's doing at update 0, training's later (#28 item 6) ----------------
def test_saturation_at_update_0_is_advised_the_init_not_the_learning_rate():
    found = findings(saturated_fraction={"layer 2": [0.8, 0.9, 0.9]})["saturation"]
    assert found.advice == "--init normalized, or --activation softsign."
    relu = findings(dict(activation="relu"), saturated_fraction={"layer 1": [0.7, 0.7, 0.7]})["dead ReLUs"]
    assert relu.advice == "--init he-normal, or --activation leaky-relu."


def test_saturation_that_appears_later_is_advised_a_lower_learning_rate():
    found = findings(saturated_fraction={"layer 2": [0.1, 0.8, 0.9]})["saturation"]
    assert found.advice == "lower --lr (now 0.01; e.g. --lr 0.001), or --activation softsign."
    relu = findings(dict(activation="relu"), saturated_fraction={"layer 1": [0.4, 0.7, 0.7]})["dead ReLUs"]
    assert relu.advice == "lower --lr (now 0.01; e.g. --lr 0.001), or --activation leaky-relu."


def test_saturation_at_update_0_and_later_is_advised_both_each_for_its_layers():
    found = findings(saturated_fraction={"layer 1": [0.8, 0.9, 0.9], "layer 3": [0.1, 0.2, 0.9]})["saturation"]
    assert found.advice == ("--init normalized, or lower --lr (now 0.01; e.g. --lr 0.001) for layer 3, which "
                            "saturated only later, or --activation softsign.")


def test_a_models_saturation_is_advised_by_when_it_began_in_pytorch_terms():
    """A run a user's loop logged: update 0 is before training. A model diagnosed as given
    may be trained, so its one measure at "update 0" gets both cures."""
    fractions = {"0": [0.9, 0.9], "2": [0.1, 0.1]}  # at updates 0 and 10
    probes = ProbeLog([{"update": step, "layer": layer, "stat": "saturated_fraction", "value": value}
                       for layer, values in fractions.items() for step, value in zip((0, 10), values)])
    facts = Facts({"0": ACTIVATIONS.get("tanh"), "2": ACTIVATIONS.get("tanh")}, lr=0.1, voice="torch",
                  kinds={"0": "linear", "2": "linear", "4": "linear"})
    (logged,) = [f for f in diagnose(facts, {}, [], probes) if f.name == "saturation"]
    assert logged.advice.startswith("initialize the weights with torch.nn.init.xavier_uniform_(layer.weight)")
    assert "learning rate" not in logged.advice
    as_given = replace(facts, init_at_0=False)
    (given,) = [f for f in diagnose(as_given, {}, [], probes) if f.name == "saturation"]
    assert given.advice.endswith(", or a lower learning rate (now 0.1; e.g. 0.01) if training brought it there.")


# -- a model's layers named as the user reaches them (#28 item 6) ---------------------------
def test_a_models_layers_are_named_by_their_path_from_the_model_and_stored_as_probed():
    import torch
    import torch.nn.functional as F
    from torch import nn

    import depthlab
    from depthlab.probe.probe import Probe

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(20, 30), nn.Sigmoid(), nn.Linear(30, 30), nn.Sigmoid())
            self.head = nn.Linear(30, 4)

        def forward(self, x):
            return self.head(self.body(x))

    torch.manual_seed(0)
    model = Net()
    with torch.no_grad():
        model.body[0].weight.mul_(25)  # the first sigmoid layer sits at 0 and 1
    x, y = torch.randn(64, 20), torch.randint(0, 4, (64,))
    saturation = {f.name: f for f in depthlab.diagnose(model, x, y, F.cross_entropy)}["saturation"]
    assert saturation.evidence.startswith("More than 50% of the activations are saturated (a <= 0.05 or a >= 0.95) "
                                          "in model.body[0] (linear) from update 0 (")
    probe = Probe(model, x, y, F.cross_entropy)
    probe.measure(0)
    assert probe.log.layers == ["body.0", "body.2", "head"]  # the stored names stay the probe's


# -- a large drop between adjacent layers, output into the top hidden layer included -------
@pytest.mark.parametrize("output, fires", [(0.05, False), (0.2, True)])
def test_a_drop_from_the_output_into_the_top_hidden_layer_is_reported(output, fires):
    found = findings(backprop_grad_std={"output": [output] * 3})
    assert ("gradient drop" in found) == fires
    assert "vanishing gradients" not in found  # the hidden layers keep their gradient
    if fires:
        drop = found["gradient drop"]
        assert drop.severity == "problem"  # it lasts to the last probe
        assert drop.evidence.startswith(f"At update 0 the back-propagated gradient ∂C/∂s of layer 3 has "
                                        f"{1e-3 / output:.2g}× the standard deviation of output, the layer above it: "
                                        "it drops 100× or more in one layer")
        assert drop.advice == "--init normalized."


def test_a_drop_between_hidden_layers_names_when_and_where_it_began():
    found = findings(backprop_grad_std={"layer 2": [1e-3, 1e-3, 5e-6]})["gradient drop"]
    assert found.evidence.startswith("At update 20 the back-propagated gradient ∂C/∂s of layer 2 has 0.005× the "
                                     "standard deviation of layer 3, the layer above it (at update 0: 1×)")
    recovered = findings(backprop_grad_std={"output": [0.2, 1e-3, 1e-3]})["gradient drop"]
    assert recovered.severity == "warning"


def test_a_saturated_top_sigmoid_layer_drops_the_models_gradient_from_its_output():
    """The top sigmoid layer pushed to 0 (φ' = a(1 − a) near 0): the output's ∂C/∂s reaches
    it 1000× smaller or more; the ratio is the one hooks measure on the model."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    import depthlab

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 50), nn.Tanh(), nn.Linear(50, 50), nn.Sigmoid(), nn.Linear(50, 4))
    with torch.no_grad():
        model[2].bias.fill_(-12.0)
    x, y = torch.randn(128, 20), torch.randint(0, 4, (128,))
    kept = []
    hooks = [layer.register_forward_hook(lambda m, args, out: (out.retain_grad(), kept.append(out))[1])
             for layer in (model[2], model[4])]
    F.cross_entropy(model(x), y).backward()
    for hook in hooks:
        hook.remove()
    model.zero_grad()
    ratio = (kept[0].grad.std() / kept[1].grad.std()).item()
    assert ratio < 1e-3
    drop = {f.name: f for f in depthlab.diagnose(model, x, y, F.cross_entropy)}["gradient drop"]
    assert drop.evidence.startswith(f"At update 0 the back-propagated gradient ∂C/∂s of model[2] (linear) has "
                                    f"{ratio:.2g}× the standard deviation of model[4] (linear), the layer above it:")


def test_a_net_that_is_not_a_plain_stack_is_not_read_pair_by_pair():
    """A convolution under a linear head: the head's ∂C/∂s spreads over 26 × 26 positions
    below it (0.018× at PyTorch's init, nothing wrong). Its entries are not compared, and
    the diagnosis says so."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    import depthlab

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 26 * 26, 10))
    found = {f.name: f for f in depthlab.diagnose(model, torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,)),
                                                  F.cross_entropy)}
    assert "gradient drop" not in found
    assert "drops of the gradient between adjacent layers (the entries are not a plain stack of linear layers" \
        in found["not checked"].evidence

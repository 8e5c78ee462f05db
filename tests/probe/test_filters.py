"""The probe's filters: ``layers`` by module name or glob pattern, ``stats`` by statistic
name, and a pass that computes only what the chosen statistics need."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthlab.errors import DepthlabError
from depthlab.probe import Probe
from depthlab.probe.quantities import (
    ACTIVATION_HIST,
    ACTIVATION_MEAN,
    BACKPROP_GRAD_STD,
    JACOBIAN_SV_MEAN,
    QUANTITIES,
    WEIGHT_GRAD_HIST,
    WEIGHT_NORM,
)

pytestmark = pytest.mark.usefixtures("reduced_on")  # each test on the host path and the device path


class Encoded(nn.Module):
    """encoder.layer.{0,1}.{attention,ffn} (Linear 4→4, tanh after each) and a classifier."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(nn.ModuleDict({"attention": nn.Linear(4, 4), "ffn": nn.Linear(4, 4)})
                                           for _ in range(2))
        self.classifier = nn.Linear(4, 3)

    def forward(self, x):
        for block in self.encoder.layer:
            x = torch.tanh(block["ffn"](torch.tanh(block["attention"](x))))
        return self.classifier(x)


def _probe(**options):
    torch.manual_seed(0)
    return Probe(Encoded(), torch.randn(6, 4), torch.randint(0, 3, (6,)), F.cross_entropy, **options)


def _layers(probe):
    probe.measure(0)
    return [row["layer"] for row in probe.summary()]


def test_a_glob_pattern_chooses_the_modules_it_matches():
    assert _layers(_probe(layers="encoder.*")) == ["encoder.layer.0.attention", "encoder.layer.0.ffn",
                                                  "encoder.layer.1.attention", "encoder.layer.1.ffn"]
    assert _layers(_probe(layers=["encoder.layer.*.attention", "classifier"])) == [
        "encoder.layer.0.attention", "encoder.layer.1.attention", "classifier"]
    assert _layers(_probe(layers=["encoder.layer.1.ffn"])) == ["encoder.layer.1.ffn"]
    assert _layers(_probe(layers="encoder.layer.[0].*")) == ["encoder.layer.0.attention", "encoder.layer.0.ffn"]


def test_a_filtered_probe_measures_what_the_whole_one_does():
    whole, some = _probe().measure(0), _probe(layers="*.ffn").measure(0)
    kept = {(row["layer"], row["stat"]): row["value"] for row in whole.rows if row["layer"].endswith(".ffn")}
    assert {(row["layer"], row["stat"]): row["value"] for row in some.rows} == pytest.approx(kept, rel=1e-6)
    assert {row["layer"] for row in some.rows} == {"encoder.layer.0.ffn", "encoder.layer.1.ffn"}


def test_a_pattern_matching_no_weighted_module_is_named_with_a_few_valid_names():
    with pytest.raises(DepthlabError, match=r"^layer pattern 'decoder\.\*' matches no module with weights; modules "
                                            r"with weights: encoder\.layer\.0\.attention, encoder\.layer\.0\.ffn, "
                                            r"encoder\.layer\.1\.attention, encoder\.layer\.1\.ffn, classifier$"):
        _probe(layers=["classifier", "decoder.*"])
    many = nn.Sequential(*(nn.Linear(2, 2) for _ in range(8)))
    with pytest.raises(DepthlabError, match=r"^layer pattern 'x\*' matches no module with weights; modules with "
                                            r"weights: 0, 1, 2, 3, 4, 5, … \(8 in all\)$"):
        Probe(many, torch.randn(3, 2), None, layers="x*")
    with pytest.raises(DepthlabError, match=r"^unknown layer 'classifer' \(did you mean 'classifier'\?\); valid "
                                            r"choices: classifier, encoder\.layer\.0\.attention, "):
        _probe(layers="classifer")
    with pytest.raises(DepthlabError, match=r"^layer 'encoder' is a Module, which has no weights to probe$"):
        _probe(layers="encoder")


def test_stats_keep_only_the_asked_statistics_and_their_quantities_histograms():
    measure = _probe(stats=[ACTIVATION_MEAN, WEIGHT_NORM]).measure(0)
    assert {row["stat"] for row in measure.rows} == {ACTIVATION_MEAN, WEIGHT_NORM}
    assert {h["quantity"] for h in measure.histograms} == {ACTIVATION_HIST, WEIGHT_GRAD_HIST}
    whole = {(row["layer"], row["stat"]): row["value"] for row in _probe().measure(0).rows}
    assert {(row["layer"], row["stat"]): row["value"] for row in measure.rows} == pytest.approx(
        {key: value for key, value in whole.items() if key[1] in (ACTIVATION_MEAN, WEIGHT_NORM)}, rel=1e-6)
    assert {row["stat"] for row in _probe(stats=BACKPROP_GRAD_STD).measure(0).rows} == {BACKPROP_GRAD_STD}


def test_stats_run_only_the_quantities_that_emit_them(monkeypatch):
    probe = _probe(stats=[ACTIVATION_MEAN])
    assert [quantity.name for quantity in probe.quantities] == ["activation"]

    def refused(*args, **kwargs):
        raise AssertionError("the pass differentiated, for a statistic of the forward pass alone")

    monkeypatch.setattr(torch.autograd, "grad", refused)  # no ∂C/∂s, no ∂C/∂W, no φ'(s): no Jacobian
    assert {row["stat"] for row in probe.measure(0).rows} == {ACTIVATION_MEAN}
    assert [q.name for q in _probe(stats=[JACOBIAN_SV_MEAN, WEIGHT_NORM]).quantities] == ["weight_grad",
                                                                                         "layer_jacobian"]


def test_an_unknown_statistic_is_named_with_the_valid_ones():
    valid = sorted(stat for quantity in QUANTITIES for stat in quantity.stats)
    with pytest.raises(DepthlabError) as refused:
        _probe(stats=["activation_mean", "activaton_std"])
    assert str(refused.value) == (f"unknown probe statistic 'activaton_std' (did you mean 'activation_std'?); "
                                  f"valid choices: {', '.join(valid)}")
    with pytest.raises(DepthlabError, match=r"^unknown probe statistic 'activation_mean'; valid choices: "
                                            r"bias_grad_norm, weight_grad_norm, weight_grad_std, weight_norm$"):
        _probe(quantities=["weight_grad"], stats=["activation_mean"])  # the statistics of the chosen quantities
    with pytest.raises(DepthlabError, match="^stats names no statistic: name at least one, or leave it out for all$"):
        _probe(stats=[])

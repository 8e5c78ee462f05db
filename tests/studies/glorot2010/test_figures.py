"""Every figure drawn from real tiny Shapeset runs, trained once for the module."""

import shutil

import numpy as np
import pytest

from depthlab.report.document import Outcome
from depthlab.store.run import RunDir
from depthlab.studies.glorot2010.claims import glorot2010_verdicts
from depthlab.studies.glorot2010.cost_surface import cost_surface
from depthlab.studies.glorot2010.figures import (
    figure_3,
    figure_7,
    figure_9,
    figure_12,
    glorot2010_figures,
)
from depthlab.training.trainer import train

CONFIGS = {"Sigmoid": ("sigmoid", "standard"), "Tanh": ("tanh", "standard"), "Tanh N": ("tanh", "normalized"),
           "Softsign": ("softsign", "standard"), "Softsign N": ("softsign", "normalized")}
TINY = dict(dataset="shapeset", depth=3, width=32, updates=60, eval_every=20, probe_every=20, eval_size=200,
            probe_size=50, jacobian_examples=2, lr=0.05)
LAYERS = ["layer 1", "layer 2", "layer 3"]
PROBE_STEPS = [0, 1, 2, 5, 10, 20, 40, 60]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {label: train(dict(TINY, activation=activation, init=init), out=root / label, progress=False).run
            for label, (activation, init) in CONFIGS.items()}


@pytest.fixture(scope="module")
def surface():
    return cost_surface(examples=40, hidden=6, resolution=11)


@pytest.fixture(scope="module")
def figures(runs, surface, tmp_path_factory):
    """Every figure, drawn once; Figure 12 from the Shapeset runs standing in for CIFAR-10's
    and, with one label only, Fashion-MNIST's (it reads nothing but their error curves)."""
    runs_by_dataset = {"shapeset": runs, "cifar10": runs, "fashion-mnist": {"Tanh": runs["Tanh"]}}
    return glorot2010_figures(runs_by_dataset, tmp_path_factory.mktemp("figures"), surface)


def written(figure):
    svg = figure.path.with_suffix(".svg")
    return figure.path.suffix == ".png" and figure.path.stat().st_size > 0 and svg.stat().st_size > 0


def keys(figure, label):
    return sorted(key for key in figure.series if key.startswith(label + "/"))


def test_every_figure_is_written_as_png_and_svg(figures):
    assert list(figures) == [f"figure{n:02d}" for n in range(2, 13)] + ["figure_theory"]
    for stem, figure in figures.items():
        assert figure.path.name == f"{stem}.png" and written(figure)


def test_figure_2_mean_and_std_of_each_sigmoid_layer(figures):
    figure = figures["figure02"]
    assert keys(figure, "Sigmoid") == [f"Sigmoid/{layer}/activation_{s}" for layer in LAYERS for s in ("mean", "std")]
    steps, mean = figure.series["Sigmoid/layer 3/activation_mean"]
    assert list(steps) == PROBE_STEPS and np.all((mean > 0) & (mean < 1))
    assert "60 updates" in figure.caption and "50 probe examples" in figure.caption


def test_figure_3_percentiles_and_std_for_tanh_and_softsign(figures):
    figure = figures["figure03"]
    for label in ("Tanh", "Softsign"):
        assert keys(figure, label) == [f"{label}/{layer}/activation_{s}" for layer in LAYERS
                                       for s in ("p2", "p98", "std")]
    _, p2 = figure.series["Tanh/layer 1/activation_p2"]
    _, p98 = figure.series["Tanh/layer 1/activation_p98"]
    assert np.all(p2 < 0) and np.all(p98 > 0) and np.all(p98 <= 1)


def test_figure_3_leaves_out_a_missing_label_and_says_so(runs, tmp_path):
    figure = figure_3({"Tanh": runs["Tanh"]}, tmp_path)
    assert written(figure)
    assert not keys(figure, "Softsign") and len(keys(figure, "Tanh")) == 9
    assert "Left out: Softsign (missing)." in figure.caption


def test_figure_10_tanh_normalized(figures):
    figure = figures["figure10"]
    assert len(keys(figure, "Tanh N")) == 9 and len(figure.series) == 9


def test_figure_4_histograms_at_the_last_probe_step(figures):
    figure = figures["figure04"]
    assert keys(figure, "Tanh") == [f"Tanh/{layer}/activation" for layer in LAYERS]
    centres, density = figure.series["Softsign/layer 2/activation"]
    assert len(centres) == 100 and (density * np.diff(centres)[0]).sum() == pytest.approx(1.0)
    assert -1 < centres.min() < centres.max() < 1
    assert "Tanh at update 60, Softsign at update 60" in figure.caption


@pytest.mark.parametrize("stem, quantity", [("figure06", "activation"), ("figure07", "backprop_grad"),
                                            ("figure08", "weight_grad")])
def test_histograms_at_initialization_standard_vs_normalized(figures, stem, quantity):
    figure = figures[stem]
    for label in ("Tanh", "Tanh N"):
        assert keys(figure, label) == [f"{label}/{layer}/{quantity}" for layer in LAYERS]
    assert "Tanh at update 0, Tanh N at update 0" in figure.caption


def test_init_histograms_keep_a_run_that_diverged_later(runs, tmp_path):
    diverged = RunDir(shutil.copytree(runs["Tanh"].path, tmp_path / "diverged"))
    diverged.set_status("diverged", update=30, diverged_at=30)
    at_init = figure_7({"Tanh": diverged, "Tanh N": runs["Tanh N"]}, tmp_path)
    trained = figure_9({"Tanh": diverged, "Tanh N": runs["Tanh N"]}, tmp_path)
    assert len(keys(at_init, "Tanh")) == 3
    assert not keys(trained, "Tanh") and "Left out: Tanh (diverged at update 30)." in trained.caption


def test_figure_9_weight_gradient_std_over_training(figures):
    figure = figures["figure09"]
    steps, std = figure.series["Tanh N/layer 1/weight_grad_std"]
    assert list(steps) == PROBE_STEPS and np.all(std > 0)
    assert len(figure.series) == 6


def test_figure_11_test_error_of_every_configuration(figures, runs):
    figure = figures["figure11"]
    assert sorted(figure.series) == sorted(f"shapeset/{label}/test_error" for label in CONFIGS)
    updates, errors = figure.series["shapeset/Tanh/test_error"]
    expected_updates, expected_errors = runs["Tanh"].series("test_error")
    assert list(updates) == expected_updates == [0, 20, 40, 60]
    assert errors == pytest.approx([100 * e for e in expected_errors])


def test_figure_12_one_panel_per_file_data_set(figures):
    figure = figures["figure12"]
    assert sorted({key.split("/")[0] for key in figure.series}) == ["cifar10", "fashion-mnist"]
    assert len([key for key in figure.series if key.startswith("cifar10/")]) == 5
    assert "on Fashion-MNIST, CIFAR-10" in figure.caption
    assert "Fashion-MNIST stands in for MNIST" in figure.caption
    assert "Fashion-MNIST Tanh N (missing)" in figure.caption


def test_figure_12_without_file_data_sets_says_so(runs, tmp_path):
    figure = figure_12({"shapeset": runs}, tmp_path)
    assert written(figure) and not figure.series
    assert "none (no file data set in the study)" in figure.caption


def test_theory_figure_beside_mean_field_predictions(figures):
    figure = figures["figure_theory"]
    for label in ("Tanh", "Tanh N"):
        depth, measured = figure.series[f"{label}/preactivation_var/measured"]
        _, predicted = figure.series[f"{label}/preactivation_var/predicted"]
        assert list(depth) == [1, 2, 3]
        assert predicted[0] == pytest.approx(measured[0])  # the prediction starts from the measured layer 1
        assert predicted[1:] == pytest.approx(measured[1:], rel=0.5)
        _, ratio = figure.series[f"{label}/backprop_grad_var_ratio/measured"]
        assert ratio[-1] == 1.0
    # Standard init: n Var[W] = 1/3 shrinks the pre-activation variance layer after layer.
    _, predicted = figure.series["Tanh/preactivation_var/predicted"]
    assert np.all(np.diff(predicted) < 0)


def test_figure_5_is_the_cost_surface(figures, surface):
    quadratic = 100 * surface.numbers()["quadratic_plateau_fraction"]
    assert f"{quadratic:.1f}% for the quadratic cost" in figures["figure05"].caption


def test_verdicts_from_the_real_runs(runs, surface, figures):
    verdicts = glorot2010_verdicts({"shapeset": runs}, surface.numbers(), figures)
    assert len(verdicts) == 9
    assert all(v.verdict in Outcome and v.evidence for v in verdicts)
    assert verdicts[0].figure is figures["figure02"]


def test_a_figure_without_any_usable_run_is_still_drawn(tmp_path):
    figure = figure_9({}, tmp_path)
    assert written(figure) and not figure.series
    assert "Left out: Tanh (missing); Tanh N (missing)." in figure.caption

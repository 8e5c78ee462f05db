import numpy as np
import pytest
import torch
import torch.nn.functional as F

from depthlab.errors import DepthlabError
from depthlab.studies.glorot2010.cost_surface import (
    cost_surface,
    draw_cost_surface,
    surface_network,
)

SETUP = dict(seed=3, examples=60, hidden=8, resolution=21)


@pytest.fixture(scope="module")
def surface():
    return cost_surface(**SETUP)


def test_quadratic_cost_has_more_plateau_than_nll_where_outputs_saturate(surface):
    numbers = surface.numbers()
    assert numbers["quadratic_plateau_fraction"] > numbers["nll_plateau_fraction"] + 0.1
    assert numbers["nll_plateau_fraction"] < 0.02


def test_grid_is_centred_on_the_initial_weights(surface):
    x, y, w1, w2 = surface_network(SETUP["seed"], SETUP["examples"], SETUP["hidden"])
    i, j, k = surface.units
    middle = SETUP["resolution"] // 2
    assert surface.centre == (pytest.approx(w1[i, j].item()), pytest.approx(w2[k, i].item()))
    assert surface.w1[middle] == pytest.approx(w1[i, j].item(), abs=1e-12)
    assert surface.w2[middle] == pytest.approx(w2[k, i].item(), abs=1e-12)
    assert surface.w1[-1] - surface.w1[0] == pytest.approx(2 * 12.0)


def test_nll_gradient_at_the_centre_matches_the_analytic_formula(surface):
    # C = -mean log p_y, z = W2 tanh(W1 x): ∂C/∂W2[k,i] = mean (p_k - t_k) h_i,
    # ∂C/∂W1[i,j] = mean Σ_c (p_c - t_c) W2[c,i] (1 - h_i²) x_j.
    x, y, w1, w2 = surface_network(SETUP["seed"], SETUP["examples"], SETUP["hidden"])
    i, j, k = surface.units
    h = torch.tanh(x @ w1.T)
    z = h @ w2.T
    residual = z.softmax(1) - F.one_hot(y, 9).double()
    d_w2 = (residual[:, k] * h[:, i]).mean()
    d_w1 = ((residual @ w2[:, i]) * (1 - h[:, i] ** 2) * x[:, j]).mean()
    middle = SETUP["resolution"] // 2
    assert surface.costs["nll"][middle, middle] == pytest.approx(F.cross_entropy(z, y).item(), rel=1e-10)
    assert surface.gradients["nll"][middle, middle] == pytest.approx([d_w1.item(), d_w2.item()], rel=1e-8)


def test_an_off_centre_point_equals_the_network_with_both_weights_moved(surface):
    x, y, w1, w2 = surface_network(SETUP["seed"], SETUP["examples"], SETUP["hidden"])
    i, j, k = surface.units
    a, b = 3, 17
    w1, w2 = w1.clone(), w2.clone()
    w1[i, j], w2[k, i] = surface.w1[a], surface.w2[b]
    z = torch.tanh(x @ w1.T) @ w2.T
    quadratic = (z.softmax(1) - F.one_hot(y, 9).double()).pow(2).sum(1).mean()
    assert surface.costs["quadratic"][a, b] == pytest.approx(quadratic.item(), rel=1e-10)
    assert surface.costs["nll"][a, b] == pytest.approx(F.cross_entropy(z, y).item(), rel=1e-10)


def test_same_seed_same_surface_and_global_rng_untouched(surface):
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    again = cost_surface(**SETUP)
    assert torch.rand(1) == expected
    np.testing.assert_array_equal(again.costs["quadratic"], surface.costs["quadratic"])
    other = cost_surface(**{**SETUP, "seed": 4})
    assert not np.array_equal(other.costs["nll"], surface.costs["nll"])


@pytest.mark.parametrize("arguments, message", [
    (dict(resolution=2), "resolution 2 must be an integer >= 3"),
    (dict(span=0.0), "span 0.0 must be positive"),
    (dict(hidden=0), "hidden 0 must be a positive integer"),
    (dict(init="xavier"), "unknown init 'xavier'"),
])
def test_bad_arguments_name_the_value(arguments, message):
    with pytest.raises(DepthlabError, match=message):
        cost_surface(**{**SETUP, **arguments})


def test_drawing_writes_png_and_svg_with_the_plateau_numbers(surface, tmp_path):
    figure = draw_cost_surface(surface, tmp_path, "figure05")
    assert figure.path == tmp_path / "figure05.png"
    assert figure.path.stat().st_size > 0 and (tmp_path / "figure05.svg").stat().st_size > 0
    quadratic = 100 * surface.numbers()["quadratic_plateau_fraction"]
    assert f"{quadratic:.1f}% for the quadratic cost" in figure.caption

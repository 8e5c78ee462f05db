import math

import pytest
import torch

from depthlab.errors import DepthlabError
from depthlab.training.costs import COSTS


@pytest.mark.parametrize("name", [c.name for c in COSTS])
def test_closed_form_gradient_matches_autograd(name):
    torch.manual_seed(0)
    z = torch.randn(7, 9, dtype=torch.float64, requires_grad=True)
    cost = COSTS.get(name)
    y = torch.randn(7, 9, dtype=torch.float64) if cost.regression else torch.randint(0, 9, (7,))
    (g,) = torch.autograd.grad(cost.loss(z, y), z)
    assert torch.allclose(cost.grad_logits(z.detach(), y), g, atol=1e-12)


def test_values_at_uniform_logits():
    z, y = torch.zeros(4, 10), torch.tensor([0, 1, 2, 3])
    assert COSTS.get("nll").loss(z, y).item() == pytest.approx(math.log(10))
    # p = 1/10 everywhere: ||p - t||^2 = 0.9^2 + 9 * 0.01 = 0.9
    assert COSTS.get("quadratic").loss(z, y).item() == pytest.approx(0.9)


def test_squared_error_is_the_mean_over_examples_of_the_summed_squares():
    z, y = torch.tensor([[1.0, 2.0], [0.0, 0.0]]), torch.tensor([[0.0, 0.0], [3.0, 1.0]])
    assert COSTS.get("squared-error").loss(z, y).item() == pytest.approx((1 + 4 + 9 + 1) / 2)
    one = torch.tensor([[2.0], [-1.0], [0.5]])
    assert COSTS.get("squared-error").loss(one, torch.zeros(3, 1)).item() == \
        pytest.approx(torch.nn.functional.mse_loss(one, torch.zeros(3, 1)).item())


def test_unknown_cost():
    with pytest.raises(DepthlabError, match="unknown cost 'mse'.*nll, quadratic"):
        COSTS.get("mse")

import pytest
import torch

from depthlab.errors import DepthlabError
from depthlab.nets.activations import ACTIVATIONS, activation_of


@pytest.mark.parametrize("name", [a.name for a in ACTIVATIONS])
def test_derivative_from_output_matches_autograd(name):
    act = ACTIVATIONS.get(name)
    s = torch.linspace(-4, 4, 101, dtype=torch.float64).requires_grad_()
    a = act.module()(s)
    (grad,) = torch.autograd.grad(a.sum(), s)
    assert torch.allclose(act.derivative(a.detach()), grad, atol=1e-12)


def test_softsign_formula():
    s = torch.tensor([-3.0, 0.0, 1.0])
    assert torch.allclose(ACTIVATIONS.get("softsign")(s), torch.tensor([-0.75, 0.0, 0.5]))


def test_unknown_activation_names_the_choices():
    with pytest.raises(DepthlabError) as err:
        ACTIVATIONS.get("tahn")
    assert str(err.value) == ("unknown activation 'tahn' (did you mean 'tanh'?); valid choices: "
                              "leaky-relu, linear, relu, sigmoid, softsign, tanh")


def test_modules_of_any_model_map_back_to_the_registry():
    assert activation_of(torch.nn.Tanh()).name == "tanh"
    assert activation_of(torch.nn.Softsign()).name == "softsign"
    assert activation_of(torch.nn.Linear(2, 2)) is None

import pytest
import torch
from torch import nn

from depthlab.errors import DepthlabError
from depthlab.nets.mlp import MLP


def test_structure_and_shapes():
    model = MLP(1024, [1000, 500, 250], 9, "softsign", batchnorm=True, dropout=0.5)
    assert [(l.in_features, l.out_features) for l in model.linears] == [(1024, 1000), (1000, 500), (500, 250), (250, 9)]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in model) == 3
    assert sum(isinstance(m, nn.Dropout) for m in model) == 3
    assert model(torch.randn(4, 1, 32, 32)).shape == (4, 9)


def test_no_hidden_layer_is_a_linear_model():
    model = MLP(3, [], 1, "relu")
    assert [(layer.in_features, layer.out_features) for layer in model.linears] == [(3, 1)]
    x = torch.randn(5, 3)
    assert torch.allclose(model(x), x @ model.linears[0].weight.t() + model.linears[0].bias)


@pytest.mark.parametrize("kwargs, message", [
    # widths and dropout rates are a validated config's (tests/test_config.py)
    (dict(widths=[10], activation="swish"), "unknown activation 'swish'"),
])
def test_bad_networks_are_refused(kwargs, message):
    with pytest.raises(DepthlabError, match=message):
        MLP(10, num_classes=3, **kwargs)

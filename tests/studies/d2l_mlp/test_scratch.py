"""What the d2l chapter computes by hand: the from-scratch MLP is the nn one, its
parameters are the chapter's, and sigmoid's gradient is the closed form."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from depthlab.data.base import FixedDataset
from depthlab.store.run import RunDir
from depthlab.studies.d2l_mlp.plan import image_config
from depthlab.studies.d2l_mlp.scratch import mlp_from_scratch, relu, scratch_parameters, sigmoid_gradient
from depthlab.training.trainer import build_model, train


def test_the_mlp_from_scratch_is_the_nn_mlp_on_the_same_minibatches(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(812, 20, generator=g)
    y = x[:, :3].argmax(1)
    data = FixedDataset("toy", (20,), 3, (x[:512], y[:512]), (x[512:662], y[512:662]), (x[662:], y[662:]))
    config = image_config("toy", 512, epochs=3, probe=False)
    result = train(config, out=tmp_path / "nn", data=data, progress=False)
    model = build_model(config, data)  # the run's initial parameters: the seed draws them again
    w1, w2 = model.linears
    scratch = mlp_from_scratch(data, 3, params=[w1.weight.t(), w1.bias, w2.weight.t(), w2.bias])
    updates, costs = RunDir(result.path).series("train_cost")
    assert updates == [2, 4, 6]  # two minibatches of 256 an epoch
    assert [row["train_loss"] for row in scratch] == pytest.approx(costs, rel=1e-5)
    assert scratch[-1]["test_accuracy"] == pytest.approx(1 - result.final["test_error"])


def test_scratch_parameters_are_the_chapters_scale():
    w1, b1, w2, b2 = scratch_parameters(seed=0)
    assert (w1.shape, w2.shape) == ((784, 256), (256, 10))
    assert w1.std().item() == pytest.approx(0.01, rel=0.01) and not b1.any() and not b2.any()
    assert torch.equal(relu(torch.tensor([-1.0, 0.0, 2.0])), torch.tensor([0.0, 0.0, 2.0]))


def test_sigmoid_gradient_is_the_closed_form():
    x, y, grad = sigmoid_gradient()
    assert np.allclose(grad, y * (1 - y)) and x[len(x) // 2] == 0.0

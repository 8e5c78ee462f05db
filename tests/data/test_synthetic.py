"""The d2l chapter's regression data: the generating functions, the options and folds."""

from __future__ import annotations

import math

import pytest
import torch

from depthlab.data import synthetic
from depthlab.data.registry import DATASETS
from depthlab.errors import DepthlabError


def load(name: str, eval_size=None):
    return DATASETS.get(name).load(None, False, eval_size)


def test_polynomial_targets_are_the_cubic_plus_noise_of_the_stated_spread():
    data = load("polynomial:features=4")
    x, y = data.train
    assert (data.input_shape, data.num_classes, data.num_outputs, data.regression) == ((3,), None, 1, True)
    assert x.dtype == y.dtype == torch.float32 and y.shape == (100, 1)
    residual = y[:, 0] - (5 + 1.2 * x[:, 0] - 3.4 * x[:, 1] + 5.6 * x[:, 2])
    assert residual.std().item() == pytest.approx(0.1, rel=0.25)  # 100 draws: the std's std is 7%
    assert torch.allclose(x[:, 1], x[:, 0] ** 2 / 2, rtol=1e-5) and torch.allclose(x[:, 2], x[:, 0] ** 3 / 6, rtol=1e-4)


def test_feature_counts_share_one_draw_and_scale_by_the_factorial():
    few, all_ = load("polynomial:features=2"), load("polynomial")
    assert all_.input_shape == (19,) and few.input_shape == (1,)
    assert torch.equal(few.train[0][:, 0], all_.train[0][:, 0]) and torch.equal(few.test[1], all_.test[1])
    x = all_.train[0][:, 0].double()
    assert torch.allclose(all_.train[0][:, 18].double(), x ** 19 / math.factorial(19), rtol=1e-4, atol=1e-30)


def test_the_seed_draws_other_data_and_the_same_seed_the_same():
    assert torch.equal(load("linear").train[0], load("linear:seed=0").train[0])
    assert not torch.equal(load("linear").train[0], load("linear:seed=1").train[0])


def test_linear_has_few_examples_for_many_inputs_and_the_stated_function():
    data = load("linear")
    (x, y), (xv, _), (xt, _) = data.train, data.validation, data.test
    assert (x.shape, xv.shape, xt.shape) == ((20, 200), (100, 200), (100, 200))
    x, y = synthetic.linear_data(5, 4000, seed=3)
    residual = y[:, 0] - (0.05 + 0.01 * x.sum(1))
    assert residual.std().item() == pytest.approx(0.01, rel=0.05)
    assert load("linear:inputs=7,train=30").train[0].shape == (30, 7)


def test_a_fold_holds_out_its_share_and_the_folds_cover_the_training_set():
    whole = load("linear").train[0]
    held = []
    for i in range(1, 6):
        data = load(f"linear:fold={i}/5")
        assert len(data.train[0]) == 16 and len(data.validation[0]) == 4
        assert torch.equal(data.test[0], load("linear").test[0])
        held.append(data.validation[0])
        assert not set(map(tuple, data.validation[0].tolist())) & set(map(tuple, data.train[0].tolist()))
    assert torch.equal(torch.cat(held), whole)


@pytest.mark.parametrize("name, message", [
    ("polynomial:feature=3", "unknown option of polynomial 'feature' (did you mean 'features'?); valid choices: "
                             "features, fold, seed"),
    ("polynomial:features=21", "polynomial option features=21 must be between 2 and 20"),
    ("polynomial:features=x", "polynomial option features='x' must be a whole number"),
    ("linear:seed", "linear option 'seed' needs a value: seed=…"),
    ("linear:fold=0/5", "linear option fold='0/5' must be I/K with 2 <= K and 1 <= I <= K"),
    ("linear:fold=3/1", "must be I/K"),
    ("linear:train=3,fold=1/5", "linear:train=3,fold=1/5: 3 training examples cannot make 5 folds"),
])
def test_bad_options_are_one_line_naming_the_value(name, message):
    with pytest.raises(DepthlabError) as error:
        load(name)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_eval_size_truncates_validation_and_test():
    data = load("polynomial", eval_size=10)
    assert len(data.train[0]) == 100 and len(data.validation[0]) == len(data.test[0]) == 10

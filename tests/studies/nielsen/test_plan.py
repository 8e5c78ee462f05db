"""The plan of Nielsen's chapter-5 study: his network and training rule, and the data set
it chooses."""

from __future__ import annotations

import pytest

from depthlab.studies.nielsen import plan as study


def test_nielsen_config_is_his_setup():
    config = study.nielsen_config(3, "mnist", 50_000)
    assert config.hidden_widths == [30, 30, 30]
    assert (config.activation, config.init, config.bias_init, config.cost) == \
        ("sigmoid", "lecun-normal", "normal", "binary-cross-entropy")
    assert (config.optimizer, config.lr, config.batch_size) == ("sgd", 0.1, 10)
    assert config.weight_decay == pytest.approx(5.0 / 50_000)


def test_mnist_is_preferred_and_fashion_mnist_is_the_fallback(isolated_roots, write_mnist):
    write_mnist(isolated_roots / "fashion-mnist", n_train=2, n_test=1)
    assert study.choose_dataset(str(isolated_roots)) == "fashion-mnist"
    write_mnist(isolated_roots / "mnist", n_train=2, n_test=1)
    assert study.choose_dataset(str(isolated_roots)) == "mnist"

"""The studies' data: the first choice found on the machine, and the subsets short
budgets train on."""

from __future__ import annotations

import pytest
import torch

from depthlab.data.registry import DATASETS
from depthlab.errors import DepthlabError
from depthlab.studies.datasets import first_available, subset


def test_the_first_choice_found_wins_and_none_found_is_the_given_line(isolated_roots, write_mnist):
    choices = ("fashion-mnist", "mnist")
    with pytest.raises(DepthlabError, match="^found neither$"):
        first_available(choices, str(isolated_roots), "found neither")
    write_mnist(isolated_roots / "mnist", n_train=2, n_test=1)
    assert first_available(choices, str(isolated_roots), "found neither") == "mnist"
    write_mnist(isolated_roots / "fashion-mnist", n_train=2, n_test=1)
    assert first_available(choices, str(isolated_roots), "found neither") == "fashion-mnist"


def test_a_subset_keeps_the_first_images_of_each_split_and_is_made_once(isolated_roots, write_mnist):
    write_mnist(isolated_roots / "mnist", n_train=10_020, n_test=7)
    mnist = DATASETS.get("mnist").load(isolated_roots)
    name, n_train = subset(mnist, 12, 5, isolated_roots / "data")
    assert name.startswith("arrays:") and n_train == 12
    small = DATASETS.get(name).load()
    assert [len(split[0]) for split in (small.train, small.validation, small.test)] == [12, 5, 5]
    assert torch.equal(small.train[0], mnist.train[0][:12]) and torch.equal(small.test[1], mnist.test[1][:5])
    archive = isolated_roots / "data" / "mnist-12-5.npz"
    made = archive.stat().st_mtime_ns
    assert subset(mnist, 12, 5, isolated_roots / "data") == (name, 12) and archive.stat().st_mtime_ns == made
    assert subset(mnist, None, None, isolated_roots / "data") == ("mnist", 20)

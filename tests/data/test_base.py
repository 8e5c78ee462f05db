"""A data set held on a device cuts its minibatches there: the same minibatches as on the
CPU, with nothing copied from the host per minibatch. The meta device (shapes, no values)
stands in for a GPU: a minibatch that went through the host would not be on it."""

import itertools

import pytest
import torch

from depthlab.data.base import Dataset, FixedDataset, as_device
from depthlab.errors import DepthlabError


def toy(n=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(n, 3, generator=g), torch.randint(0, 4, (n,), generator=g)
    return FixedDataset("toy", (3,), 4, (x[:30], y[:30]), (x[30:40], y[30:40]), (x[40:], y[40:]), ("a", "b", "c", "d"))


def test_to_the_cpu_is_the_same_data_set_and_elsewhere_a_copy_of_every_split():
    data = toy()
    assert data.to("cpu") is data and data.to(None) is data and data.device == torch.device("cpu")
    moved = data.to("meta")
    assert moved.device.type == "meta" and moved.class_names == data.class_names and moved.name == "toy"
    for split in (moved.train, moved.validation, moved.test):
        assert all(t.device.type == "meta" for t in split)
    assert [len(s[0]) for s in (moved.train, moved.validation, moved.test)] == [30, 10, 10]
    assert data.train[0].device.type == "cpu"  # the original is left where it was


def test_minibatches_are_cut_on_the_device_without_a_host_copy_each(monkeypatch):
    data = toy().to("meta")
    copies = []
    real_to = torch.Tensor.to
    monkeypatch.setattr(torch.Tensor, "to",
                        lambda self, *a, **k: copies.append(self.device.type) or real_to(self, *a, **k))
    batches = data.train_batches(7, seed=3)  # 30 // 7 = 4 updates per epoch
    first_epoch = [next(batches) for _ in range(4)]
    assert copies == ["cpu"]  # the epoch's order, once
    next(batches)
    assert copies == ["cpu", "cpu"]  # the next epoch's
    assert all(x.device.type == y.device.type == "meta" and x.shape == (7, 3) for x, y in first_epoch)


def test_the_indices_on_a_device_are_the_cpus():
    data = toy()
    on_cpu = data.train_indices(7, seed=3, start=2)
    on_meta = data.to("meta").train_indices(7, seed=3, start=2)
    for _ in range(6):
        index, elsewhere = next(on_cpu), next(on_meta)
        assert elsewhere.device.type == "meta" and elsewhere.shape == index.shape
    order = torch.randperm(30, generator=torch.Generator().manual_seed(3 * 1_000_003 + 1))
    assert torch.equal(next(toy().train_indices(7, seed=3, start=4)), order[:7])  # epoch 1 begins at update 4


def test_a_data_set_that_cannot_move_stays_where_it_is():
    class Stream(Dataset):
        name = "stream"

    stream = Stream()
    assert stream.to("meta") is stream


def test_an_unknown_device_is_one_line():
    with pytest.raises(DepthlabError, match=r"^unknown device 'gpu0'; valid choices: cpu, cuda, cuda:N, mps$"):
        as_device("gpu0")
    with pytest.raises(DepthlabError, match="unknown device 'gpu0'"):
        toy().to("gpu0")


@pytest.mark.cuda
def test_a_data_set_on_cuda_gives_the_cpus_minibatches_there():
    data = toy()
    on_gpu = data.to("cuda").train_batches(7, seed=1)
    for x, y in itertools.islice(data.train_batches(7, seed=1), 10):  # two and a half epochs
        xg, yg = next(on_gpu)
        assert xg.device.type == "cuda" and torch.equal(xg.cpu(), x) and torch.equal(yg.cpu(), y)

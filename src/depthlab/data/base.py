"""What every data set looks like to the trainer and the probes.

A :class:`Dataset` holds fixed validation and test tensors and yields training
minibatches as a deterministic stream: the batch for update ``t`` depends only on
``(seed, t)``, so a resumed run sees exactly the batches an uninterrupted one would.
A data set held on a device (:meth:`Dataset.to`) cuts its minibatches there: nothing
crosses from the host per minibatch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from depthlab.errors import DepthlabError

Batch = tuple[torch.Tensor, torch.Tensor]


def as_device(device: str | torch.device | None) -> torch.device:
    """``device`` as a ``torch.device`` (None: the CPU); an unknown name is one line."""
    try:
        return torch.device("cpu" if device is None else device)
    except (RuntimeError, TypeError, ValueError):
        raise DepthlabError(f"unknown device {device!r}; valid choices: cpu, cuda, cuda:N, mps") from None


class Dataset:
    """Base class: ``name``, ``input_shape`` (without the batch axis), ``num_classes``,
    ``validation`` and ``test`` as ``(x, y)`` pairs (x float32 of shape (N, *input_shape)),
    ``class_names`` where known, and :meth:`train_batches`.

    A classification data set has class labels y, int64 of shape (N,). A regression data
    set has ``num_classes`` None and real-valued targets y, float32 of shape (N, outputs)."""

    name: str
    input_shape: tuple[int, ...]
    num_classes: int | None
    validation: Batch
    test: Batch
    class_names: tuple[str, ...] | None = None

    @property
    def regression(self) -> bool:
        """Whether the targets are real values (no classes)."""
        return self.num_classes is None

    @property
    def num_outputs(self) -> int:
        """Output units a network needs: one per class, or one per target value."""
        return self.test[1].shape[1] if self.regression else self.num_classes

    @property
    def input_dim(self) -> int:
        """Number of input features once flattened."""
        n = 1
        for s in self.input_shape:
            n *= s
        return n

    def train_batches(self, batch_size: int, seed: int, start: int = 0) -> Iterator[Batch]:
        """Yield the training minibatches for updates ``start, start + 1, ...`` forever."""
        raise NotImplementedError

    def to(self, device: str | torch.device | None) -> Dataset:
        """This data set held on ``device``. A data set that cannot move (this base
        class's) stays where it is, and the training loop moves each minibatch."""
        return self


@dataclass
class FixedDataset(Dataset):
    """A data set held in memory: a finite training set visited in epochs, each epoch in
    its own random order drawn from ``(seed, epoch)``; a last partial batch is dropped."""

    name: str
    input_shape: tuple[int, ...]
    num_classes: int | None
    train: Batch
    validation: Batch
    test: Batch
    class_names: tuple[str, ...] | None = None

    @property
    def device(self) -> torch.device:
        """Where the examples are held."""
        return self.train[0].device

    def to(self, device: str | torch.device | None) -> FixedDataset:
        """This data set with every split held on ``device`` (None: the CPU), each copied
        there once; itself when it is there already."""
        device = as_device(device)
        if all(t.device == device for split in (self.train, self.validation, self.test) for t in split):
            return self
        x, y = self.train
        (xv, yv), (xt, yt) = self.validation, self.test
        return dataclasses.replace(self, train=(x.to(device), y.to(device)), validation=(xv.to(device), yv.to(device)),
                                   test=(xt.to(device), yt.to(device)))

    def train_batches(self, batch_size: int, seed: int, start: int = 0) -> Iterator[Batch]:
        x, y = self.train
        for idx in self.train_indices(batch_size, seed, start):
            yield x[idx], y[idx]

    def train_indices(self, batch_size: int, seed: int, start: int = 0) -> Iterator[torch.Tensor]:
        """The training examples (their indices, on the data's device) of the minibatches
        for updates ``start, start + 1, ...``: epoch e visits them in the order
        torch.randperm draws on the CPU from the seed ``seed · 1000003 + e`` (the same
        order on every device), copied to the device once per epoch."""
        per_epoch = self.updates_per_epoch(batch_size)
        epoch, offset = divmod(start, per_epoch)
        while True:
            generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
            order = torch.randperm(len(self.train[0]), generator=generator).to(self.device)
            for i in range(offset, per_epoch):
                yield order[i * batch_size:(i + 1) * batch_size]
            epoch, offset = epoch + 1, 0

    def truncated(self, eval_size: int | None) -> FixedDataset:
        """This data set with at most ``eval_size`` validation and test examples (all of
        them for None)."""
        if eval_size is None:
            return self
        (xv, yv), (xt, yt) = self.validation, self.test
        return dataclasses.replace(self, validation=(xv[:eval_size], yv[:eval_size]),
                                   test=(xt[:eval_size], yt[:eval_size]))

    def updates_per_epoch(self, batch_size: int) -> int:
        """Full minibatches per pass over the training set (at least one)."""
        examples = len(self.train[0])
        if batch_size > examples:
            raise DepthlabError(f"batch size {batch_size} exceeds the {examples} training examples of {self.name}")
        return examples // batch_size

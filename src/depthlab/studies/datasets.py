"""The data sets of a study: the first of its choices found on this machine, and smaller
copies for short budgets, as ``arrays:`` archives its runs can name (and so resume
from): the first images of each split, kept as uint8 pixels."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from depthlab.data.base import FixedDataset
from depthlab.data.registry import available_datasets
from depthlab.errors import DepthlabError

FIND_IDX = ("on Debian, apt-get install dataset-fashion-mnist, or put the IDX files in --data-dir or "
            "$DEPTHLAB_DATA")


def first_available(names: tuple[str, ...], data_dir: str | None, missing: str) -> str:
    """The first of ``names`` whose files are found, else the one-line error ``missing``."""
    found = available_datasets(data_dir)
    for name in names:
        if name in found:
            return name
    raise DepthlabError(missing)


def fashion_mnist_or_mnist(data_dir: str | None, study: str) -> str:
    """Fashion-MNIST when its files are found, else MNIST, else one line naming ``study``."""
    return first_available(("fashion-mnist", "mnist"), data_dir,
                           f"the {study} study needs Fashion-MNIST (or MNIST) and found neither: {FIND_IDX}")


def subset(dataset: FixedDataset, train_size: int | None, eval_size: int | None, directory: Path) -> tuple[str, int]:
    """The data set name runs train on and its training-set size: the data set itself,
    or an ``arrays:`` archive in ``directory`` of its first ``train_size`` training and
    ``eval_size`` validation and test images (None: the whole split)."""
    if train_size is None and eval_size is None:
        return dataset.name, len(dataset.train[0])
    splits = {"train": dataset.train, "valid": dataset.validation, "test": dataset.test}
    sizes = {"train": train_size, "valid": eval_size, "test": eval_size}
    cut = {s: (x[:sizes[s]], y[:sizes[s]]) for s, (x, y) in splits.items()}
    path = directory / f"{dataset.name}-{len(cut['train'][0])}-{len(cut['valid'][0])}.npz"
    if not path.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {f"x_{s}": (x * 255).round().to(torch.uint8).numpy() for s, (x, _) in cut.items()}
        arrays |= {f"y_{s}": y.numpy() for s, (_, y) in cut.items()}
        partial = path.with_suffix(".partial.npz")
        np.savez(partial, **arrays)
        os.replace(partial, path)
    return f"arrays:{path.resolve()}", len(cut["train"][0])

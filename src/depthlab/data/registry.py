"""Every data set by name: the data sets of Glorot & Bengio (2010) and the d2l chapter.

- ``shapeset``: the paper's synthetic Shapeset-3×2, generated online (no files);
- ``mnist``, ``fashion-mnist``: IDX files, 50k / 10k / 10k (:mod:`depthlab.data.idx`);
- ``cifar10``: binary batches, 40k / 10k / 10k (:mod:`depthlab.data.cifar`);
- ``arrays:PATH``: an ``.npz`` archive, e.g. Small-ImageNet (:mod:`depthlab.data.arrays`).

File-backed data sets are looked for, and optionally downloaded, as
:mod:`depthlab.data.download` describes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from depthlab.data.arrays import load_arrays
from depthlab.data.base import Dataset, FixedDataset
from depthlab.data.cifar import CIFAR10_SOURCE, load_cifar10
from depthlab.data.download import Source, find_directory, locate
from depthlab.data.idx import FASHION_MNIST_SOURCE, MNIST_SOURCE, load_fashion_mnist, load_mnist
from depthlab.errors import unknown_choice

ARRAYS_PREFIX = "arrays:"
FILE_DATASETS: dict[str, tuple[Source, Callable[[Path], FixedDataset]]] = {
    "mnist": (MNIST_SOURCE, load_mnist),
    "fashion-mnist": (FASHION_MNIST_SOURCE, load_fashion_mnist),
    "cifar10": (CIFAR10_SOURCE, load_cifar10),
}
DATASETS = ("shapeset", *FILE_DATASETS)
CLASS_NAMES = {
    "mnist": tuple("0123456789"),
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
}


def load_dataset(name: str, data_dir: str | Path | None = None, download: bool = False, seed: int = 0) -> Dataset:
    """The data set called ``name`` (one of :data:`DATASETS` or ``arrays:PATH``).

    ``data_dir`` is searched first for files; ``download`` fetches missing published
    files; ``seed`` seeds the Shapeset generator (fixed data sets need none).
    """
    if name.startswith(ARRAYS_PREFIX):
        return load_arrays(name[len(ARRAYS_PREFIX):])
    if name == "shapeset":
        from depthlab.data.shapeset import ShapesetDataset

        return ShapesetDataset(seed=seed)
    if name in FILE_DATASETS:
        source, load = FILE_DATASETS[name]
        dataset = load(locate(source, data_dir, download))
        dataset.class_names = CLASS_NAMES[name]
        return dataset
    raise unknown_choice("dataset", name, [*DATASETS, f"{ARRAYS_PREFIX}PATH"])


def available_datasets(data_dir: str | Path | None = None) -> list[str]:
    """The names in :data:`DATASETS` usable without downloading: Shapeset always, the
    others when their files are found."""
    found = [name for name, (source, _) in FILE_DATASETS.items() if find_directory(source, data_dir)]
    return ["shapeset", *found]

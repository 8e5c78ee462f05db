"""Every data set by name, each declared once: the data sets of Glorot & Bengio (2010)
and the d2l chapter.

- ``shapeset``: the paper's synthetic Shapeset-3×2, generated online (no files), pixels
  in [0, 1] as in the paper; ``shapeset-centred`` the same images with pixels in [−1, 1];
- ``mnist``, ``fashion-mnist``: IDX files, 50k / 10k / 10k (:mod:`depthlab.data.idx`);
- ``cifar10``: binary batches, 40k / 10k / 10k (:mod:`depthlab.data.cifar`);
- ``arrays:PATH``: an ``.npz`` archive, e.g. Small-ImageNet (:mod:`depthlab.data.arrays`);
- ``polynomial:OPTIONS``, ``linear:OPTIONS``: the d2l chapter's regression data, drawn
  from a seed (:mod:`depthlab.data.synthetic`), e.g. ``polynomial:features=4``.

File-backed data sets are looked for, and optionally downloaded, as
:mod:`depthlab.data.download` describes. A loaded data set is on the CPU;
``.to(device)`` holds it on another (:meth:`depthlab.data.base.Dataset.to`), as a run
does with its ``--device``. Importing this module imports no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from depthlab.data.cifar import CIFAR10_SOURCE
from depthlab.data.download import Source, find_directory, locate
from depthlab.data.idx import FASHION_MNIST_SOURCE, MNIST_SOURCE
from depthlab.registry import Registry, deferred

if TYPE_CHECKING:
    from depthlab.data.base import Dataset, FixedDataset


@dataclass(frozen=True)
class DatasetSpec:
    """How to get one data set: ``load(data_dir, download, eval_size)`` returns it (with
    at most ``eval_size`` validation and test examples); ``files`` are the published
    files it is read from (None: generated); ``class_names`` label its classes;
    ``title`` is its name in figures and tables; a ``variant`` of another data set is run
    by studies only when asked for."""

    name: str
    summary: str
    load: Callable[[str | Path | None, bool, int | None], Dataset]
    files: Source | None = None
    class_names: tuple[str, ...] | None = None
    title: str = ""
    variant: bool = False

    def __post_init__(self):
        if not self.title:
            object.__setattr__(self, "title", self.name)

    def available(self, data_dir: str | Path | None = None) -> bool:
        """Whether it can be had without downloading: generated, or its files found."""
        return self.files is None or find_directory(self.files, data_dir) is not None

    def directory(self, data_dir: str | Path | None = None) -> Path | None:
        """Where its files were found (None for a generated data set or missing files)."""
        return None if self.files is None else find_directory(self.files, data_dir)


def _shapeset(pixel_range: tuple[float, float]) -> Callable[[str | Path | None, bool, int | None], Dataset]:
    def load(data_dir: str | Path | None = None, download: bool = False, eval_size: int | None = None) -> Dataset:
        from depthlab.data.shapeset import ShapesetDataset

        sizes = {} if eval_size is None else {"validation_size": eval_size, "test_size": eval_size}
        return ShapesetDataset(pixel_range=pixel_range, **sizes)

    return load


def _published(name: str, title: str, summary: str, files: Source, read: Callable[[Path], FixedDataset],
               class_names: tuple[str, ...]) -> DatasetSpec:
    """A data set read by ``read`` from the directory holding its published ``files``."""

    def load(data_dir: str | Path | None = None, download: bool = False,
             eval_size: int | None = None) -> FixedDataset:
        dataset = read(locate(files, data_dir, download)).truncated(eval_size)
        dataset.class_names = class_names
        return dataset

    return DatasetSpec(name, summary, load, files, class_names, title)


def _arrays(path: str) -> DatasetSpec:
    def load(data_dir: str | Path | None = None, download: bool = False,
             eval_size: int | None = None) -> FixedDataset:
        from depthlab.data.arrays import load_arrays

        return load_arrays(path).truncated(eval_size)

    return DatasetSpec(f"arrays:{path}", f"the arrays of {path}", load)


DATASETS: Registry[DatasetSpec] = Registry("dataset", [
    DatasetSpec("shapeset", "Shapeset-3×2, generated as its authors did (Glorot & Bengio 2010), pixels in [0, 1]",
                _shapeset((0.0, 1.0)), title="Shapeset-3×2"),
    DatasetSpec("shapeset-centred", "the same Shapeset-3×2 images with pixels in [-1, 1]", _shapeset((-1.0, 1.0)),
                title="Shapeset-3×2 in [−1, 1]", variant=True),
    _published("mnist", "MNIST", "MNIST digits (IDX files)", MNIST_SOURCE,
               deferred("depthlab.data.idx:load_mnist"), tuple("0123456789")),
    _published("fashion-mnist", "Fashion-MNIST", "Fashion-MNIST (IDX files)", FASHION_MNIST_SOURCE,
               deferred("depthlab.data.idx:load_fashion_mnist"),
               ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                "Ankle boot")),
    _published("cifar10", "CIFAR-10", "CIFAR-10 (binary batches)", CIFAR10_SOURCE,
               deferred("depthlab.data.cifar:load_cifar10"),
               ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")),
])
DATASETS.register_family("arrays", "PATH", _arrays)


def _synthetic(family: str, summary: str) -> Callable[[str], DatasetSpec]:
    def make(argument: str) -> DatasetSpec:
        from depthlab.data import synthetic

        load = getattr(synthetic, family)(argument)  # checks the options
        return DatasetSpec(f"{family}:{argument}" if argument else family, summary, load)

    return make


DATASETS.register_family("polynomial", "OPTIONS",
                         _synthetic("polynomial", "d2l's cubic y = 5 + 1.2x − 3.4x²/2! + 5.6x³/3! + noise, "
                                                  "features xⁱ/i!"))
DATASETS.register_family("linear", "OPTIONS",
                         _synthetic("linear", "d2l's y = 0.05 + Σ 0.01·xᵢ + noise, few examples for many inputs"))


def available_datasets(data_dir: str | Path | None = None, variants: bool = False) -> list[str]:
    """The registered data sets usable without downloading: Shapeset always, the others
    when their files are found; ``variants`` too when asked for."""
    return [dataset.name for dataset in DATASETS if dataset.available(data_dir) and (variants or not dataset.variant)]

"""MNIST and Fashion-MNIST from their IDX files, split as Glorot & Bengio (2010) did.

An IDX file (LeCun et al., http://yann.lecun.com/exdb/mnist/) is two zero bytes, a dtype
code (0x08 = unsigned byte, the only one these data sets use), the number of dimensions
d, then d big-endian int32 sizes, then prod(sizes) data bytes in row-major order. Each
data set is four such files, raw or gzip-compressed (``.gz``): training and test images
``(N, 28, 28)`` and labels ``(N,)`` in 0..9.

Splits: the paper trains on the first 50,000 official training images, validates on the
last 10,000 and tests on the official 10,000. Fashion-MNIST (Xiao et al., 2017) has the
same format and sizes, so it is split the same way: 50,000 / 10,000 / 10,000. Pixels
become float32 in [0, 1] (value / 255), shape ``(N, 1, 28, 28)``.
"""

from __future__ import annotations

import gzip
import zlib
from math import prod
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from depthlab.data.download import RemoteFile, Source
from depthlab.errors import DepthlabError
from depthlab.limits import FLOAT_BYTES, check_fits

if TYPE_CHECKING:
    import torch

    from depthlab.data.base import FixedDataset

IDX_UNSIGNED_BYTE = 0x08
MAX_IDX_DIMS = 32
"""The most dimensions a NumPy array holds (NumPy 1; NumPy 2 holds 64)."""
NUM_CLASSES = 10
VALIDATION_SIZE = 10_000
TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"
IDX_FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)


def read_idx(path: str | Path) -> np.ndarray:
    """Parse one IDX file of unsigned bytes (``.gz`` is decompressed) into a uint8 array.

    The header's declared size is checked against this machine's memory (as the bytes and
    their float32 pixels) before any data is read, and no more than the declared bytes
    (plus one, to tell a longer file) are ever decompressed."""
    path = Path(path)
    if not path.is_file():
        raise DepthlabError(f"{path}: file not found")
    try:
        with (gzip.open(path) if path.suffix == ".gz" else open(path, "rb")) as stream:
            magic = stream.read(4)
            if len(magic) < 4 or magic[:2] != b"\0\0":
                found = magic.hex(" ") or "an empty file"
                raise DepthlabError(f"{path}: not an IDX file (expected magic bytes 00 00 08 <ndim>, found {found})")
            if magic[2] != IDX_UNSIGNED_BYTE:
                raise DepthlabError(
                    f"{path}: unsupported IDX dtype code 0x{magic[2]:02x} (expected 0x08, unsigned byte)"
                )
            ndim = magic[3]
            if ndim > MAX_IDX_DIMS:
                raise DepthlabError(f"{path}: IDX header declares {ndim} dimensions, more than an array holds "
                                    f"({MAX_IDX_DIMS})")
            sizes = stream.read(4 * ndim)
            if len(sizes) < 4 * ndim:
                raise DepthlabError(f"{path}: truncated IDX header (expected {4 + 4 * ndim} bytes for {ndim} sizes, "
                                    f"found {4 + len(sizes)})")
            shape = tuple(int(size) for size in np.frombuffer(sizes, ">u4"))
            count = prod(shape)
            check_fits(f"{path}: IDX data of shape {shape} as float32 pixels", count * (1 + FLOAT_BYTES))
            data = stream.read(count + 1)
    except (OSError, EOFError, zlib.error) as error:
        if path.suffix == ".gz":
            raise DepthlabError(f"{path}: not a valid gzip file ({error})") from error
        raise DepthlabError(f"{path}: could not read ({error.strerror or error})") from None
    if len(data) != count:
        held = path.stat().st_size - 4 - 4 * ndim if path.suffix != ".gz" else \
            len(data) if len(data) < count else "more"
        raise DepthlabError(
            f"{path}: IDX header declares shape {shape}, i.e. {count} data bytes, but the file holds {held}"
        )
    return np.frombuffer(data, np.uint8).reshape(shape)


def read_idx_pair(images_path: str | Path, labels_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read matching image ``(N, rows, cols)`` and label ``(N,)`` IDX files; labels in 0..9."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3:
        raise DepthlabError(
            f"{images_path}: expected images of shape (count, rows, columns), found shape {images.shape}"
        )
    if labels.ndim != 1:
        raise DepthlabError(f"{labels_path}: expected labels of shape (count,), found shape {labels.shape}")
    if len(labels) != len(images):
        raise DepthlabError(
            f"{labels_path}: holds {len(labels)} labels but {images_path} holds {len(images)} images"
        )
    if len(labels) and labels.max() >= NUM_CLASSES:
        raise DepthlabError(
            f"{labels_path}: label {labels.max()} out of range (expected 0..{NUM_CLASSES - 1})"
        )
    return images, labels


def load_mnist(directory: str | Path, validation_size: int = VALIDATION_SIZE,
               device: str | torch.device | None = None) -> FixedDataset:
    """MNIST from the four IDX files in ``directory``: the official training set minus its
    last ``validation_size`` images (validation), and the official test set; held on
    ``device`` (None: the CPU)."""
    return load_idx_dataset("mnist", directory, validation_size, device)


def load_fashion_mnist(directory: str | Path, validation_size: int = VALIDATION_SIZE,
                       device: str | torch.device | None = None) -> FixedDataset:
    """Fashion-MNIST, split like MNIST (see :func:`load_mnist`)."""
    return load_idx_dataset("fashion-mnist", directory, validation_size, device)


def load_idx_dataset(
    name: str, directory: str | Path, validation_size: int = VALIDATION_SIZE, device: str | torch.device | None = None
) -> FixedDataset:
    """A :class:`FixedDataset` named ``name`` from the four MNIST-style IDX files in
    ``directory``; the last ``validation_size`` training images are held out; held on
    ``device`` (None: the CPU)."""
    from depthlab.data.arrays import dataset_from_arrays

    directory = Path(directory)
    missing = [stem for stem in IDX_FILES if idx_path(directory, stem) is None]
    if missing:
        raise DepthlabError(f"{directory}: missing {', '.join(missing)} (each as a raw IDX file or .gz)")
    x_train, y_train = read_idx_pair(idx_path(directory, TRAIN_IMAGES), idx_path(directory, TRAIN_LABELS))
    x_test, y_test = read_idx_pair(idx_path(directory, TEST_IMAGES), idx_path(directory, TEST_LABELS))
    if not 0 <= validation_size < len(x_train):
        raise DepthlabError(
            f"validation size {validation_size} out of range for {len(x_train)} training images "
            f"(expected 0..{len(x_train) - 1})"
        )
    n_train = len(x_train) - validation_size
    x_train, x_test = x_train[:, None], x_test[:, None]
    return dataset_from_arrays(
        name,
        (x_train[:n_train], y_train[:n_train]),
        (x_train[n_train:], y_train[n_train:]),
        (x_test, y_test),
        source=str(directory),
        num_classes=NUM_CLASSES,
        device=device,
    )


def idx_path(directory: Path, stem: str) -> Path | None:
    """``directory/stem`` or else ``directory/stem.gz``, whichever exists, or None."""
    for path in (directory / stem, directory / f"{stem}.gz"):
        if path.is_file():
            return path
    return None


def _has_idx_files(directory: Path) -> bool:
    return all(idx_path(directory, stem) is not None for stem in IDX_FILES)


def _idx_source(name: str, digests: dict[str, str], mirrors: tuple[str, ...], hint: str = "") -> Source:
    return Source(
        name=name,
        files=tuple(RemoteFile(f"{stem}.gz", digests[stem], mirrors) for stem in IDX_FILES),
        is_complete=_has_idx_files,
        expected=", ".join(f"{stem}[.gz]" for stem in IDX_FILES),
        hint=hint,
    )


# MD5 checksums published with the original .gz files.
MNIST_SOURCE = _idx_source(
    "mnist",
    {
        TRAIN_IMAGES: "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        TRAIN_LABELS: "d53e105ee54ea40749a09fcbcd1e9432",
        TEST_IMAGES: "9fb629c4189551a2d022fa330f9573f3",
        TEST_LABELS: "ec29112dd5afa0611ce80d1b7f02629c",
    },
    ("https://yann.lecun.com/exdb/mnist/", "https://ossci-datasets.s3.amazonaws.com/mnist/"),
)
FASHION_MNIST_SOURCE = _idx_source(
    "fashion-mnist",
    {
        TRAIN_IMAGES: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        TRAIN_LABELS: "25c81989df183df01b3e8a0aad5dffbe",
        TEST_IMAGES: "bef4ecab320f06d8554ea6380940ec79",
        TEST_LABELS: "bb300cfdad3c16e7a12a480ee83cd310",
    },
    (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    hint="on Debian: apt-get install dataset-fashion-mnist",
)

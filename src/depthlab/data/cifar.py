"""CIFAR-10 from its binary distribution (``cifar-10-batches-bin``), no pickle involved.

Each batch file is a sequence of 3073-byte records: one label byte (0..9), then the
32×32 red, green and blue planes, 1024 bytes each, rows in order (Krizhevsky, 2009,
https://www.cs.toronto.edu/~kriz/cifar.html). That is exactly the ``(3, 32, 32)``
channel-first layout, so a record reshapes without transposition.

Splits, following Glorot & Bengio (2010), who held 10,000 of the 50,000 training images
out for validation: ``data_batch_1..4`` train (40,000), ``data_batch_5`` validates
(10,000), ``test_batch`` tests (10,000). Pixels become float32 in [0, 1] (value / 255).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from depthlab.data.download import RemoteFile, Source
from depthlab.errors import DepthlabError
from depthlab.limits import FLOAT_BYTES, check_fits

if TYPE_CHECKING:
    from depthlab.data.base import FixedDataset

NUM_CLASSES = 10
IMAGE_SHAPE = (3, 32, 32)
RECORD_BYTES = 1 + 3 * 32 * 32
BATCHES_DIRECTORY = "cifar-10-batches-bin"
TRAIN_BATCHES = tuple(f"data_batch_{i}.bin" for i in range(1, 5))
VALIDATION_BATCH = "data_batch_5.bin"
TEST_BATCH = "test_batch.bin"
BATCH_FILES = (*TRAIN_BATCHES, VALIDATION_BATCH, TEST_BATCH)


def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One binary batch file as uint8 images ``(N, 3, 32, 32)`` and labels ``(N,)``."""
    path = Path(path)
    if not path.is_file():
        raise DepthlabError(f"{path}: file not found")
    size = path.stat().st_size
    check_fits(f"{path}: {size:,} bytes as float32 pixels", size * (1 + FLOAT_BYTES))
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0 or data.size % RECORD_BYTES:
        raise DepthlabError(
            f"{path}: {data.size} bytes is not a whole, non-zero number of "
            f"{RECORD_BYTES}-byte CIFAR-10 records"
        )
    records = data.reshape(-1, RECORD_BYTES)
    labels = records[:, 0]
    if labels.max() >= NUM_CLASSES:
        raise DepthlabError(f"{path}: label {labels.max()} out of range (expected 0..{NUM_CLASSES - 1})")
    return records[:, 1:].reshape(-1, *IMAGE_SHAPE), labels


def find_batches(directory: str | Path) -> Path | None:
    """The directory holding all six batch files: ``directory/cifar-10-batches-bin`` or
    ``directory`` itself; None if neither does."""
    directory = Path(directory)
    for candidate in (directory / BATCHES_DIRECTORY, directory):
        if all((candidate / name).is_file() for name in BATCH_FILES):
            return candidate
    return None


def load_cifar10(directory: str | Path) -> FixedDataset:
    """CIFAR-10 split 40k / 10k / 10k (see the module docstring) from ``directory``."""
    from depthlab.data.arrays import dataset_from_arrays

    batches = find_batches(directory)
    if batches is None:
        raise DepthlabError(
            f"{directory}: missing CIFAR-10 binary batches (expected {', '.join(BATCH_FILES)} "
            f"here or in {BATCHES_DIRECTORY}/)"
        )
    train = [read_cifar_batch(batches / name) for name in TRAIN_BATCHES]
    x_train, y_train = np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train])
    return dataset_from_arrays(
        "cifar10",
        (x_train, y_train),
        read_cifar_batch(batches / VALIDATION_BATCH),
        read_cifar_batch(batches / TEST_BATCH),
        source=str(batches),
        num_classes=NUM_CLASSES,
    )


# MD5 published on the CIFAR page for the binary version.
CIFAR10_SOURCE = Source(
    name="cifar10",
    files=(
        RemoteFile(
            "cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530", ("https://www.cs.toronto.edu/~kriz/",)
        ),
    ),
    is_complete=lambda directory: find_batches(directory) is not None,
    expected=f"{BATCHES_DIRECTORY}/ with {', '.join(BATCH_FILES)}",
    hint="extract cifar-10-binary.tar.gz into one of those directories",
)

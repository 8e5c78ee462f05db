"""Data sets from NumPy arrays: the common last step of every file loader, and the
``arrays:PATH.npz`` form for data with no standard distribution.

Glorot & Bengio (2010) also trained on Small-ImageNet (37×37 grey images, 90,000 /
10,000 / 10,000, 10 classes), which is not published in a standard form: save it as an
``.npz`` archive holding

- ``x_train``, ``y_train``: training images and integer labels,
- ``x_valid``, ``y_valid``: validation split (optional, see below),
- ``x_test``, ``y_test``: test split,

and load it as ``arrays:PATH.npz``. Images are ``(N, C, H, W)``, ``(N, H, W)`` (given a
channel axis, becoming ``(N, 1, H, W)``) or flat ``(N, D)``; ``uint8`` pixels are scaled
by 1/255 into [0, 1], floating pixels are kept as they are. Labels are integers
``0 .. K-1``, with ``K = 1 + the largest label`` over all splits. Without ``x_valid`` and
``y_valid``, the last ⌊N/10⌋ training examples (10%) become the validation split.
"""

from __future__ import annotations

import zipfile
from math import prod
from pathlib import Path

import numpy as np
import torch

from depthlab.data.base import FixedDataset, as_device
from depthlab.errors import DepthlabError
from depthlab.limits import FLOAT_BYTES, check_fits

ARRAY_KEYS = ("x_train", "y_train", "x_valid", "y_valid", "x_test", "y_test")
VALIDATION_KEYS = ("x_valid", "y_valid")
VALIDATION_FRACTION = 0.1
LABEL_BYTES = 8
"""An int64 label."""
NPY_MAGIC = b"\x93NUMPY"
"""The first bytes of an ``.npy`` file (NumPy's format, ``numpy.lib.format``)."""
MAX_CLASSES = 1_000_000
"""More classes than this are taken for a labelling mistake (labels are 0..K-1: one
output unit each)."""

FLOAT32_MAX = float(np.finfo(np.float32).max)
"""The largest float32: data beyond it would train as infinity (a run recorded as diverged)."""

Split = tuple[np.ndarray, np.ndarray]


def dataset_from_arrays(
    name: str, train: Split, valid: Split, test: Split, *, source: str, num_classes: int | None = None,
    device: str | torch.device | None = None,
) -> FixedDataset:
    """Check three ``(images, labels)`` splits and hold them as a :class:`FixedDataset` on
    ``device`` (None: the CPU).

    ``source`` (the file they came from) starts every error message. ``num_classes``
    defaults to one more than the largest label.
    """
    device = as_device(device)
    splits = {"train": train, "valid": valid, "test": test}
    for split, (x, _) in splits.items():
        if x.ndim < 2:
            raise DepthlabError(f"{source}: x_{split} has shape {x.shape} (expected one row of pixels or "
                                "features per example)")
        if len(x) == 0:
            raise DepthlabError(f"{source}: x_{split} holds no examples")
        if x[0].size == 0:  # nothing a network could read, and no range to normalize over
            raise DepthlabError(f"{source}: x_{split} has shape {x.shape}: its examples hold no features")
    input_shape = train[0].shape[1:]
    largest = -1
    for split, (x, y) in splits.items():
        if y.ndim != 1:
            raise DepthlabError(f"{source}: y_{split} has shape {y.shape} (expected one label per example)")
        if len(x) != len(y):
            raise DepthlabError(f"{source}: x_{split} has {len(x)} examples but y_{split} has {len(y)} labels")
        if x.shape[1:] != input_shape:
            raise DepthlabError(f"{source}: x_{split} examples have shape {x.shape[1:]}, x_train ones {input_shape}")
        if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
            raise DepthlabError(f"{source}: x_{split} has dtype {x.dtype} (expected uint8 or floating point)")
        if not np.issubdtype(y.dtype, np.integer):
            raise DepthlabError(f"{source}: y_{split} has dtype {y.dtype} (expected integer class labels)")
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            bad = int(np.flatnonzero(~np.isfinite(x.reshape(len(x), -1)).all(1))[0])
            raise DepthlabError(f"{source}: x_{split} holds a non-finite value (NaN or infinity) in example {bad}")
        if np.issubdtype(x.dtype, np.floating) and np.finfo(x.dtype).max > FLOAT32_MAX:
            largest_in = np.maximum(x.reshape(len(x), -1).max(1), -x.reshape(len(x), -1).min(1))
            if (largest_in > FLOAT32_MAX).any():
                bad = int(np.flatnonzero(largest_in > FLOAT32_MAX)[0])
                raise DepthlabError(f"{source}: x_{split} holds {largest_in[bad]:.3g} in example {bad}, beyond "
                                    f"float32's range (±{FLOAT32_MAX:.3g}) that the network trains in")
        if len(y) and y.min() < 0:
            raise DepthlabError(f"{source}: y_{split} holds label {y.min()} (expected labels >= 0)")
        largest = max(largest, int(y.max()) if len(y) else -1)
    num_classes = largest + 1 if num_classes is None else num_classes
    if largest >= num_classes:
        raise DepthlabError(f"{source}: label {largest} out of range (expected 0..{num_classes - 1})")
    if num_classes > MAX_CLASSES:
        raise DepthlabError(f"{source}: its largest label {largest} would make {num_classes:,} classes, more than "
                            f"{MAX_CLASSES:,} (labels are 0..K-1)")
    train_batch, valid_batch, test_batch = (_as_tensors(x, y) for x, y in splits.values())
    return FixedDataset(name, tuple(input_shape), num_classes, train_batch, valid_batch, test_batch).to(device)


def load_arrays(path: str | Path, device: str | torch.device | None = None) -> FixedDataset:
    """Load ``arrays:PATH``: an ``.npz`` archive with the keys listed in this module's
    docstring, checked for missing keys, matching lengths and label range; held on
    ``device`` (None: the CPU)."""
    path = Path(path).expanduser()
    arrays = _read_npz(path)
    has_valid = any(key in arrays for key in VALIDATION_KEYS)
    required = ARRAY_KEYS if has_valid else [key for key in ARRAY_KEYS if key not in VALIDATION_KEYS]
    missing = [key for key in required if key not in arrays]
    if missing:
        raise DepthlabError(
            f"{path}: missing array(s) {', '.join(missing)} "
            f"(expected {', '.join(ARRAY_KEYS)}; x_valid and y_valid may be left out together)"
        )

    def split(name: str) -> Split:
        x, y = arrays[f"x_{name}"], arrays[f"y_{name}"]
        if x.ndim == 0 or y.ndim == 0:
            raise DepthlabError(f"{path}: x_{name} and y_{name} must be arrays of examples, not single values")
        return (x[:, None] if x.ndim == 3 else x), y

    train, test = split("train"), split("test")
    if has_valid:
        valid = split("valid")
    else:
        n_train = len(train[0]) - int(len(train[0]) * VALIDATION_FRACTION)
        train, valid = (train[0][:n_train], train[1][:n_train]), (train[0][n_train:], train[1][n_train:])
    return dataset_from_arrays(path.stem, train, valid, test, source=str(path), device=device)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of :data:`ARRAY_KEYS` in the archive ``path`` (others are left unread),
    their declared sizes checked against this machine's memory before any is loaded."""
    if not path.is_file():
        raise DepthlabError(f"{path}: file not found (expected an .npz archive of arrays)")
    try:
        if not zipfile.is_zipfile(path):
            with open(path, "rb") as stream:
                single = stream.read(len(NPY_MAGIC)) == NPY_MAGIC
            raise ValueError("a single array, not an archive" if single else "not a zip file")
        headers = {key: header for key, header in npz_headers(path).items() if key in ARRAY_KEYS}
        check_fits(f"{path}: arrays " + ", ".join(f"{key} {shape} {dtype}" for key, (shape, dtype) in headers.items())
                   + " as tensors", sum(_loaded_bytes(key, shape, dtype) for key, (shape, dtype) in headers.items()))
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in headers}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, RuntimeError, NotImplementedError) as error:
        # RuntimeError: an encrypted member; NotImplementedError: a compression zipfile lacks
        raise DepthlabError(f"{path}: not a readable .npz archive ({str(error) or 'empty file'})") from None


def npz_headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """The shape and dtype each array of the ``.npz`` archive ``path`` declares, by name,
    read from the headers alone (what ``np.load`` would allocate before reading a member's
    data). Raises what reading a zip file or an ``.npy`` header raises."""
    with zipfile.ZipFile(path) as archive:
        return {info.filename[:-len(".npy")]: _npy_header(archive, info) for info in archive.infolist()
                if info.filename.endswith(".npy")}


def _npy_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[tuple[int, ...], np.dtype]:
    with archive.open(info) as stream:
        version = np.lib.format.read_magic(stream)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
            np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(stream)
    return shape, dtype


def _loaded_bytes(key: str, shape: tuple[int, ...], dtype: np.dtype) -> int:
    """The memory array ``key`` of ``shape`` and ``dtype`` takes when loaded: the array as
    stored, then its tensor (float32 images, int64 labels)."""
    count = prod(shape)
    return count * (dtype.itemsize + (FLOAT_BYTES if key.startswith("x_") else LABEL_BYTES))


def _as_tensors(x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    pixels = x.astype(np.float32) / np.float32(255) if x.dtype == np.uint8 else x.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(pixels)), torch.from_numpy(y.astype(np.int64))

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from depthlab.data.idx import load_fashion_mnist, load_mnist, read_idx
from depthlab.errors import DepthlabError

INSTALLED_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.parametrize("name", ["array-idx3-ubyte", "array-idx3-ubyte.gz"])
def test_read_idx_round_trips_raw_and_gzip(tmp_path, idx_bytes, write_bytes, name):
    array = np.arange(60, dtype=np.uint8).reshape(3, 4, 5)
    path = write_bytes(tmp_path / name, idx_bytes(array))
    parsed = read_idx(path)
    assert parsed.dtype == np.uint8
    np.testing.assert_array_equal(parsed, array)


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_splits_last_images_off_for_validation(tmp_path, write_mnist, gz):
    arrays = write_mnist(tmp_path, n_train=30, n_test=10, gz=gz)
    data = load_mnist(tmp_path, validation_size=8)
    images, labels = arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"]

    assert (data.name, data.input_shape, data.num_classes) == ("mnist", (1, 28, 28), 10)
    assert [len(split[0]) for split in (data.train, data.validation, data.test)] == [22, 8, 10]
    assert data.train[0].shape == (22, 1, 28, 28) and data.train[0].dtype == torch.float32
    assert data.train[1].dtype == torch.int64
    torch.testing.assert_close(data.validation[0][:, 0], torch.from_numpy(images[22:] / 255).float())
    assert data.validation[1].tolist() == labels[22:].tolist()
    assert data.train[1].tolist() == labels[:22].tolist()
    assert data.test[1].tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()
    assert data.test[0][3, 0, 5, 7].item() == pytest.approx(arrays["t10k-images-idx3-ubyte"][3, 5, 7] / 255)


def test_mnist_and_fashion_mnist_are_held_on_the_device_asked_for(tmp_path, write_mnist):
    write_mnist(tmp_path)
    for load in (load_mnist, load_fashion_mnist):
        data = load(tmp_path, validation_size=8, device="meta")
        assert [t.device.type for split in (data.train, data.validation, data.test) for t in split] == ["meta"] * 6
        assert data.train[0].shape == (22, 1, 28, 28) and data.test[1].shape == (10,)
    assert load_mnist(tmp_path, validation_size=8).device.type == "cpu"


def test_load_fashion_mnist_names_itself(tmp_path, write_mnist):
    write_mnist(tmp_path, gz=True)
    assert load_fashion_mnist(tmp_path, validation_size=5).name == "fashion-mnist"


def test_validation_size_outside_the_training_set_is_an_error(tmp_path, write_mnist):
    write_mnist(tmp_path, n_train=30)
    expected = r"^validation size 30 out of range for 30 training images \(expected 0..29\)$"
    with pytest.raises(DepthlabError, match=expected):
        load_mnist(tmp_path, validation_size=30)


def _header(shape, code=0x08):
    return bytes([0, 0, code, len(shape)]) + np.array(shape, ">i4").tobytes()


IMAGES, LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
CORRUPTIONS = {  # case: (file replaced, its new bytes, expected message)
    "bad magic": (
        IMAGES,
        b"\x01\x02\x08\x03" + bytes(100),
        r"not an IDX file \(expected magic bytes 00 00 08 <ndim>, found 01 02 08 03\)",
    ),
    "empty file": (IMAGES, b"", r"not an IDX file .*found an empty file"),
    "non-byte dtype": (LABELS, _header((30,), 0x0D) + bytes(120), r"unsupported IDX dtype code 0x0d"),
    "truncated header": (
        IMAGES,
        _header((30, 28, 28))[:10],
        r"truncated IDX header \(expected 16 bytes for 3 sizes, found 10\)",
    ),
    "truncated data": (
        IMAGES,
        _header((30, 28, 28)) + bytes(30 * 28 * 28 - 5),
        r"IDX header declares shape \(30, 28, 28\), i.e. 23520 data bytes, but the file holds 23515",
    ),
    "too many bytes": (
        TEST_LABELS,
        _header((10,)) + bytes(11),
        r"declares shape \(10,\), i.e. 10 data bytes, but the file holds 11",
    ),
    "count mismatch": (
        LABELS,
        _header((29,)) + bytes(29),
        r"holds 29 labels but .*train-images-idx3-ubyte holds 30 images",
    ),
    "label out of range": (
        TEST_LABELS,
        _header((10,)) + bytes(9) + b"\x0a",
        r"label 10 out of range \(expected 0..9\)",
    ),
    "labels not 1-d": (
        TEST_LABELS,
        _header((10, 1)) + bytes(10),
        r"expected labels of shape \(count,\), found shape \(10, 1\)",
    ),
    "images not 3-d": (
        "t10k-images-idx3-ubyte",
        _header((10, 784)) + bytes(7840),
        r"expected images of shape \(count, rows, columns\)",
    ),
}


@pytest.mark.parametrize("case", CORRUPTIONS)
def test_each_corruption_is_a_one_line_error_naming_the_file(tmp_path, write_mnist, case):
    stem, data, message = CORRUPTIONS[case]
    write_mnist(tmp_path)
    (tmp_path / stem).write_bytes(data)
    with pytest.raises(DepthlabError, match=message) as error:
        load_mnist(tmp_path, validation_size=5)
    assert str(error.value).startswith(str(tmp_path / stem) + ": ")
    assert "\n" not in str(error.value)


GZIP_DAMAGE = {
    "not gzip": lambda gz: b"not gzip at all",
    "cut short": lambda gz: gz[: len(gz) // 2],
    "bad checksum": lambda gz: gz[:-8] + bytes(8),
}


@pytest.mark.parametrize("damage", GZIP_DAMAGE.values(), ids=GZIP_DAMAGE.keys())
def test_bad_gzip_is_an_error_naming_the_file(tmp_path, write_mnist, damage):
    write_mnist(tmp_path, gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DepthlabError, match=r"not a valid gzip file \(") as error:
        load_mnist(tmp_path, validation_size=5)
    assert str(error.value).startswith(f"{path}: ") and "\n" not in str(error.value)


def test_missing_file_is_named(tmp_path, write_mnist):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    expected = rf"^{tmp_path}: missing t10k-labels-idx1-ubyte \(each as a raw IDX file or .gz\)$"
    with pytest.raises(DepthlabError, match=expected):
        load_mnist(tmp_path)
    with pytest.raises(DepthlabError, match=r"t10k-labels-idx1-ubyte: file not found$"):
        read_idx(tmp_path / "t10k-labels-idx1-ubyte")


@pytest.mark.skipif(not INSTALLED_FASHION_MNIST.is_dir(), reason="dataset-fashion-mnist is not installed")
def test_installed_fashion_mnist_loads_as_50k_10k_10k():
    data = load_fashion_mnist(INSTALLED_FASHION_MNIST)
    assert [tuple(split[0].shape) for split in (data.train, data.validation, data.test)] == [
        (50_000, 1, 28, 28), (10_000, 1, 28, 28), (10_000, 1, 28, 28)
    ]
    assert data.num_classes == 10
    # The published sets are balanced: 6,000 training and 1,000 test images per class.
    train_and_validation = torch.cat([data.train[1], data.validation[1]])
    assert torch.bincount(train_and_validation).tolist() == [6000] * 10
    assert torch.bincount(data.test[1]).tolist() == [1000] * 10
    for x, _ in (data.train, data.validation, data.test):
        assert x.min().item() == 0.0 and x.max().item() == 1.0
    # Over the 60,000 official training images, pixels have the often-quoted mean 0.2860
    # and standard deviation 0.3530.
    official_train = torch.cat([data.train[0], data.validation[0]])
    assert official_train.mean().item() == pytest.approx(0.2860, abs=5e-4)
    assert official_train.std().item() == pytest.approx(0.3530, abs=5e-4)


def test_a_header_declaring_more_than_memory_is_refused_before_decompressing(tmp_path, write_mnist):
    write_mnist(tmp_path, gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    shape = (60_000, 60_000, 60_000)  # a few bytes declaring 2.16e14 pixels
    path.write_bytes(gzip.compress(_header(shape) + bytes(1000)))
    gb = 216_000_000_000_000 * 5 / 2**30  # a byte and a float32 each
    with pytest.raises(DepthlabError) as error:
        load_mnist(tmp_path, validation_size=5)
    assert str(error.value).startswith(f"{path}: IDX data of shape (60000, 60000, 60000) as float32 pixels would "
                                       f"take {gb:,.0f} GB, more than this machine's ")
    assert "\n" not in str(error.value)


def test_a_lying_header_decompresses_no_more_than_it_declares(tmp_path, monkeypatch):
    path = tmp_path / "labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(_header((10,)) + bytes(10_000_000)))  # 10 declared, 10 MB inside
    asked = []
    read = gzip.GzipFile.read
    monkeypatch.setattr(gzip.GzipFile, "read", lambda self, size=-1: asked.append(size) or read(self, size))
    with pytest.raises(DepthlabError, match=rf"^{path}: IDX header declares shape \(10,\), i.e. 10 data bytes, "
                                            r"but the file holds more$"):
        read_idx(path)
    assert asked == [4, 4, 11]  # magic, one size, the declared data and one byte more


def test_more_dimensions_than_an_array_holds_is_one_line(tmp_path):
    path = tmp_path / "labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(_header((1,) * 255) + b"\x05"))
    with pytest.raises(DepthlabError, match=rf"^{path}: IDX header declares 255 dimensions, more than an array holds "
                                            r"\(32\)$"):
        read_idx(path)

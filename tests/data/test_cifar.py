import numpy as np
import pytest
import torch

from depthlab.data.cifar import find_batches, load_cifar10, read_cifar_batch
from depthlab.errors import DepthlabError
from depthlab.limits import machine_memory


def test_record_layout_is_label_then_red_green_blue_planes(tmp_path, write_bytes):
    record = np.arange(3073) % 256
    record[0] = 7
    path = write_bytes(tmp_path / "batch.bin", record.astype(np.uint8).tobytes())
    images, labels = read_cifar_batch(path)
    assert images.shape == (1, 3, 32, 32) and labels.tolist() == [7]
    assert images[0, 0, 0, 0] == 1  # first pixel byte: red, row 0, column 0
    assert images[0, 0, 0, 31] == 32  # red, row 0, last column
    assert images[0, 1, 0, 0] == (1 + 1024) % 256  # green plane starts after 1024 red bytes
    assert images[0, 2, 31, 31] == 3072 % 256  # last byte: blue, bottom-right


@pytest.mark.parametrize("inside", ["cifar-10-batches-bin", "."])
def test_load_cifar10_holds_batch_5_out_for_validation(tmp_path, write_cifar, inside):
    batches = write_cifar(tmp_path / inside, sizes=(3, 4, 5, 2, 6, 7))
    data = load_cifar10(tmp_path)

    assert (data.name, data.input_shape, data.num_classes) == ("cifar10", (3, 32, 32), 10)
    assert [len(split[0]) for split in (data.train, data.validation, data.test)] == [14, 6, 7]
    assert data.train[0].dtype == torch.float32 and data.train[1].dtype == torch.int64
    train_labels = np.concatenate([batches[f"data_batch_{i}.bin"][1] for i in range(1, 5)])
    assert data.train[1].tolist() == train_labels.tolist()
    images, labels = batches["data_batch_5.bin"]
    assert data.validation[1].tolist() == labels.tolist()
    torch.testing.assert_close(data.validation[0], torch.from_numpy(images / 255).float())
    assert data.test[1].tolist() == batches["test_batch.bin"][1].tolist()
    assert 0.0 <= data.test[0].min().item() and data.test[0].max().item() <= 1.0


def test_find_batches_prefers_the_distribution_folder(tmp_path, write_cifar):
    assert find_batches(tmp_path) is None
    write_cifar(tmp_path)
    write_cifar(tmp_path / "cifar-10-batches-bin")
    assert find_batches(tmp_path) == tmp_path / "cifar-10-batches-bin"


@pytest.mark.parametrize(
    "data, message",
    [
        (bytes(3073 * 2 + 5), r"6151 bytes is not a whole, non-zero number of 3073-byte CIFAR-10 records$"),
        (b"", r"0 bytes is not a whole, non-zero number of 3073-byte CIFAR-10 records$"),
        (bytes(3073) + b"\x0c" + bytes(3072), r"label 12 out of range \(expected 0..9\)$"),
    ],
)
def test_corrupt_batch_is_a_one_line_error_naming_the_file(tmp_path, write_cifar, data, message):
    write_cifar(tmp_path)
    path = tmp_path / "data_batch_3.bin"
    path.write_bytes(data)
    with pytest.raises(DepthlabError, match=message) as error:
        load_cifar10(tmp_path)
    assert str(error.value).startswith(f"{path}: ") and "\n" not in str(error.value)


def test_missing_batch_is_an_error_listing_the_expected_files(tmp_path, write_cifar):
    write_cifar(tmp_path)
    (tmp_path / "test_batch.bin").unlink()
    expected = (
        rf"^{tmp_path}: missing CIFAR-10 binary batches "
        r"\(expected data_batch_1.bin, .*test_batch.bin here or in cifar-10-batches-bin/\)$"
    )
    with pytest.raises(DepthlabError, match=expected):
        load_cifar10(tmp_path)


def test_a_batch_larger_than_memory_is_refused_unread(tmp_path):
    path = tmp_path / "data_batch_1.bin"
    size = machine_memory() // 3073 * 3073  # a sparse file: whole records of zeros, no disk used
    with open(path, "wb") as f:
        f.truncate(size)
    with pytest.raises(DepthlabError) as error:
        read_cifar_batch(path)
    assert str(error.value).startswith(f"{path}: {size:,} bytes as float32 pixels would take {size * 5 / 2**30:,.0f} "
                                       "GB, more than this machine's ")

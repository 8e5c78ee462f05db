import io
import zipfile

import numpy as np
import pytest
import torch

from depthlab.data.arrays import load_arrays
from depthlab.errors import DepthlabError


def small_arrays(n_train=30, n_valid=6, n_test=8, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("valid", n_valid), ("test", n_test)):
        arrays[f"x_{split}"] = rng.integers(0, 256, (n, 37, 37), dtype=np.uint8)
        arrays[f"y_{split}"] = np.arange(n) % classes
    return arrays


def save(tmp_path, arrays, name="small-imagenet.npz"):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_uint8_grey_images_get_a_channel_axis_and_are_scaled(tmp_path):
    arrays = small_arrays()
    data = load_arrays(save(tmp_path, arrays))
    assert (data.name, data.input_shape, data.num_classes) == ("small-imagenet", (1, 37, 37), 4)
    assert [len(split[0]) for split in (data.train, data.validation, data.test)] == [30, 6, 8]
    assert data.train[0].dtype == torch.float32 and data.train[1].dtype == torch.int64
    torch.testing.assert_close(data.validation[0][:, 0], torch.from_numpy(arrays["x_valid"] / 255).float())
    assert data.test[1].tolist() == arrays["y_test"].tolist()


def test_arrays_are_held_on_the_device_asked_for(tmp_path):
    path = save(tmp_path, small_arrays())
    on_cpu, elsewhere = load_arrays(path), load_arrays(path, device="meta")
    assert on_cpu.device.type == "cpu" and elsewhere.device.type == "meta"
    assert all(t.device.type == "meta" for split in (elsewhere.train, elsewhere.validation, elsewhere.test)
               for t in split)
    assert elsewhere.train[0].shape == on_cpu.train[0].shape == (30, 1, 37, 37)
    assert (elsewhere.name, elsewhere.num_classes) == (on_cpu.name, on_cpu.num_classes)


def test_floating_images_are_kept_as_given(tmp_path):
    arrays = small_arrays()
    for split in ("train", "valid", "test"):
        arrays[f"x_{split}"] = arrays[f"x_{split}"].reshape(-1, 37 * 37) / 255 - 0.5
    data = load_arrays(save(tmp_path, arrays))
    assert data.input_shape == (37 * 37,)
    torch.testing.assert_close(data.test[0], torch.from_numpy(arrays["x_test"]).float())
    assert data.train[0].min().item() < 0


def test_without_a_validation_split_the_last_tenth_of_train_validates(tmp_path):
    arrays = small_arrays(n_train=30)
    del arrays["x_valid"], arrays["y_valid"]
    data = load_arrays(save(tmp_path, arrays))
    assert [len(data.train[0]), len(data.validation[0])] == [27, 3]
    torch.testing.assert_close(data.validation[0][:, 0], torch.from_numpy(arrays["x_train"][27:] / 255).float())
    assert data.validation[1].tolist() == arrays["y_train"][27:].tolist()


@pytest.mark.parametrize(
    "drop, named",
    [(["x_test", "y_test"], "x_test, y_test"), (["y_valid"], "y_valid"), (["x_train"], "x_train")],
)
def test_missing_keys_are_named(tmp_path, drop, named):
    arrays = small_arrays()
    for key in drop:
        del arrays[key]
    path = save(tmp_path, arrays)
    expected = rf"^{path}: missing array\(s\) {named} \(expected x_train, y_train, x_valid, y_valid, x_test, y_test;"
    with pytest.raises(DepthlabError, match=expected):
        load_arrays(path)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.update(y_train=a["y_train"][:-1]), r"x_train has 30 examples but y_train has 29 labels"),
        (lambda a: a.update(y_test=a["y_test"] - 1), r"y_test holds label -1 \(expected labels >= 0\)"),
        (lambda a: a.update(y_valid=a["y_valid"] + 0.5), r"y_valid has dtype float64 \(expected integer class labels\)"),
        (lambda a: a.update(y_valid=a["y_valid"][:, None]), r"y_valid has shape \(6, 1\) \(expected one label per example\)"),
        (lambda a: a.update(x_test=a["x_test"].astype(np.int32)), r"x_test has dtype int32 \(expected uint8 or floating point\)"),
        (lambda a: a.update(x_valid=a["x_valid"][:, :36]), r"x_valid examples have shape \(1, 36, 37\), x_train ones \(1, 37, 37\)"),
        (lambda a: a.update(x_test=np.where(np.arange(a["x_test"].size).reshape(a["x_test"].shape) == 37 * 37 * 3 + 5,
                                            -1e300, a["x_test"].astype(np.float64))),
         r"x_test holds 1e\+300 in example 3, beyond float32's range \(±3.4e\+38\) that the network trains in"),
        (lambda a: a.update(x_train=a["x_train"][:, :, :0]), r"x_train has shape \(30, 1, 37, 0\): its examples hold no "
                                                            r"features"),
    ],
)
def test_inconsistent_arrays_are_a_one_line_error_naming_the_file(tmp_path, change, message):
    arrays = small_arrays()
    change(arrays)
    path = save(tmp_path, arrays)
    with pytest.raises(DepthlabError, match=message) as error:
        load_arrays(path)
    assert str(error.value).startswith(f"{path}: ") and "\n" not in str(error.value)


def test_unreadable_files_are_errors_naming_the_file(tmp_path):
    with pytest.raises(DepthlabError, match=r"missing.npz: file not found \(expected an .npz archive of arrays\)$"):
        load_arrays(tmp_path / "missing.npz")
    text = tmp_path / "text.npz"
    text.write_text("x_train,y_train\n")
    with pytest.raises(DepthlabError, match=r"text.npz: not a readable .npz archive \("):
        load_arrays(text)
    single = tmp_path / "single.npz"
    with open(single, "wb") as stream:
        np.save(stream, np.zeros(3))
    with pytest.raises(DepthlabError, match=r"single.npz: not a readable .npz archive \(a single array, not an archive\)$"):
        load_arrays(single)


def _npy_header(shape, descr="<f8"):
    """An .npy file's header alone: the array it declares, without its data."""
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(stream, {"descr": descr, "fortran_order": False, "shape": shape})
    return stream.getvalue()


def test_an_archive_declaring_more_than_memory_is_refused_before_loading(tmp_path):
    arrays = small_arrays()
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:  # x_test declares 10^12 float64, holds none
        for key, array in arrays.items():
            stream = io.BytesIO()
            np.save(stream, array)
            archive.writestr(f"{key}.npy", _npy_header((10**6, 10**6)) if key == "x_test" else stream.getvalue())
    stored = sum(a.nbytes + a.size * (4 if key.startswith("x_") else 8) for key, a in arrays.items()
                 if key != "x_test")
    gb = (stored + 10**12 * (8 + 4)) / 2**30  # float64 as stored, then float32
    with pytest.raises(DepthlabError) as error:
        load_arrays(path)
    message = str(error.value)
    assert message.startswith(f"{path}: arrays x_train (30, 37, 37) uint8, ") and "\n" not in message
    assert (f"x_test (1000000, 1000000) float64, y_test (8,) int64 as tensors would take {gb:,.0f} GB, more than "
            "this machine's") in message


def test_a_single_npy_declaring_a_huge_array_is_named_unread(tmp_path):
    path = tmp_path / "huge.npz"
    path.write_bytes(_npy_header((10**6, 10**6)))
    with pytest.raises(DepthlabError, match=r"huge.npz: not a readable .npz archive \(a single array, not an "
                                            r"archive\)$"):
        load_arrays(path)


def test_members_other_than_the_splits_are_left_unread(tmp_path):
    arrays = small_arrays()
    path = tmp_path / "extra.npz"
    np.savez(path, **arrays, notes=np.array([{"a": 1}], dtype=object))  # a pickle: never loaded
    data = load_arrays(path)
    assert data.train[1].tolist() == arrays["y_train"].tolist()

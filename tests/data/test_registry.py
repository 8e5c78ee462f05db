import dataclasses
import hashlib
import io
import tarfile

import numpy as np
import pytest
import torch

from depthlab.data import registry
from depthlab.data.cifar import CIFAR10_SOURCE, load_cifar10
from depthlab.data.download import (
    RemoteFile,
    extract_tarball,
    locate,
    search_directories,
    user_cache_dir,
)
from depthlab.data.idx import FASHION_MNIST_SOURCE, MNIST_SOURCE, load_mnist
from depthlab.data.registry import DATASETS, available_datasets
from depthlab.errors import DepthlabError

# ---- where files are looked for


def test_search_order_is_data_dir_env_cache_system_each_with_and_without_name(isolated_roots, monkeypatch):
    root = isolated_roots
    monkeypatch.setenv("DEPTHLAB_DATA", str(root / "env"))
    assert search_directories("mnist", root / "flag") == [
        root / "flag" / "mnist", root / "flag",
        root / "env" / "mnist", root / "env",
        root / "cache" / "depthlab" / "mnist", root / "cache" / "depthlab",
        root / "system" / "mnist", root / "system",
    ]


def test_user_cache_defaults_to_home(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert user_cache_dir() == tmp_path / ".cache" / "depthlab"


def test_first_complete_directory_wins(isolated_roots, monkeypatch, write_mnist):
    root = isolated_roots
    monkeypatch.setenv("DEPTHLAB_DATA", str(root / "env"))
    write_mnist(root / "system" / "mnist")
    assert locate(MNIST_SOURCE, root / "flag") == root / "system" / "mnist"
    write_mnist(root / "cache" / "depthlab", gz=True)
    assert locate(MNIST_SOURCE, root / "flag") == root / "cache" / "depthlab"
    write_mnist(root / "env")
    assert locate(MNIST_SOURCE, root / "flag") == root / "env"
    write_mnist(root / "env" / "mnist")
    assert locate(MNIST_SOURCE, root / "flag") == root / "env" / "mnist"
    write_mnist(root / "flag" / "mnist")
    (root / "flag" / "mnist" / "train-labels-idx1-ubyte").unlink()  # incomplete: skipped
    assert locate(MNIST_SOURCE, root / "flag") == root / "env" / "mnist"


def test_not_found_names_the_data_set_every_directory_and_the_remedy(isolated_roots):
    with pytest.raises(DepthlabError) as error:
        locate(FASHION_MNIST_SOURCE, isolated_roots / "flag")
    message = str(error.value)
    assert message.startswith("fashion-mnist data not found (looked for train-images-idx3-ubyte[.gz], ")
    assert all(str(directory) in message for directory in search_directories("fashion-mnist", isolated_roots / "flag"))
    assert "pass --download (download=True) to fetch it from http://fashion-mnist." in message
    assert message.endswith("; or on Debian: apt-get install dataset-fashion-mnist")
    assert "\n" not in message


# ---- downloading (file:// URLs stand in for the official servers)


def serve(folder, files):
    """Write ``{name: bytes}`` into ``folder``; return its file:// URL and the MD5s."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder.as_uri() + "/", {name: hashlib.md5(data).hexdigest() for name, data in files.items()}


def served_mnist(root, write_mnist):
    """MNIST-format files served from ``root/server``, and MNIST_SOURCE pointing at them."""
    arrays = write_mnist(root / "original", gz=True)
    url, md5 = serve(root / "server", {path.name: path.read_bytes() for path in (root / "original").iterdir()})
    files = tuple(dataclasses.replace(f, digest=md5[f.filename], mirrors=(url,)) for f in MNIST_SOURCE.files)
    return arrays, dataclasses.replace(MNIST_SOURCE, files=files)


def test_download_verifies_and_installs_the_files(isolated_roots, write_mnist, capsys):
    arrays, source = served_mnist(isolated_roots, write_mnist)
    directory = locate(source, isolated_roots / "flag", download=True)
    assert directory == isolated_roots / "flag" / "mnist"
    assert sorted(p.name for p in directory.iterdir()) == sorted(f.filename for f in source.files)  # no .part left
    assert load_mnist(directory, validation_size=5).test[1].tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()
    assert "train-images-idx3-ubyte.gz" in capsys.readouterr().err  # the progress bar
    assert locate(source, isolated_roots / "flag") == directory  # found now, without downloading


def test_download_goes_to_the_user_cache_without_data_dir(isolated_roots, write_mnist):
    _, source = served_mnist(isolated_roots, write_mnist)
    assert locate(source, download=True) == isolated_roots / "cache" / "depthlab" / "mnist"


def test_checksum_mismatch_deletes_the_download_and_names_url_and_digests(isolated_roots):
    url, md5 = serve(isolated_roots / "server", {"t10k-labels-idx1-ubyte.gz": b"tampered"})
    remote = RemoteFile("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", (url,))
    source = dataclasses.replace(MNIST_SOURCE, files=(remote,))
    with pytest.raises(DepthlabError) as error:
        locate(source, isolated_roots / "flag", download=True)
    assert str(error.value) == (
        f"checksum mismatch for {url}t10k-labels-idx1-ubyte.gz: expected md5 ec29112dd5afa0611ce80d1b7f02629c, "
        f"got {md5['t10k-labels-idx1-ubyte.gz']}"
    )
    assert list((isolated_roots / "flag" / "mnist").iterdir()) == []


def test_unreachable_mirror_falls_through_to_the_next(isolated_roots):
    data = b"\x00" * 10
    url, _ = serve(isolated_roots / "server", {"blob.bin": data})
    dead = (isolated_roots / "nowhere").as_uri() + "/"
    good = RemoteFile("blob.bin", hashlib.sha256(data).hexdigest(), (dead, url), algorithm="sha256")
    source = dataclasses.replace(MNIST_SOURCE, files=(good,))
    with pytest.raises(DepthlabError, match=r"^downloaded mnist into .*/flag/mnist but it lacks train-images-idx3-ubyte"):
        locate(source, isolated_roots / "flag", download=True)
    assert (isolated_roots / "flag" / "mnist" / "blob.bin").read_bytes() == data

    gone = dataclasses.replace(good, mirrors=(dead,))
    with pytest.raises(DepthlabError, match=rf"^cannot download blob.bin: {dead}blob.bin \(.*\)$"):
        locate(dataclasses.replace(source, files=(gone,)), isolated_roots / "flag2", download=True)


def tarball(members):
    """A .tar.gz holding ``{name: bytes}`` as regular files."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_cifar_tarball_is_downloaded_extracted_and_removed(isolated_roots, write_cifar, declare):
    batches = write_cifar(isolated_roots / "original")
    members = {f"cifar-10-batches-bin/{name}": (isolated_roots / "original" / name).read_bytes() for name in batches}
    url, md5 = serve(isolated_roots / "server", {"cifar-10-binary.tar.gz": tarball(members)})
    remote = dataclasses.replace(CIFAR10_SOURCE.files[0], digest=md5["cifar-10-binary.tar.gz"], mirrors=(url,))
    source = dataclasses.replace(CIFAR10_SOURCE, files=(remote,))
    cifar10 = DATASETS.get("cifar10")
    declare(DATASETS, registry._published("cifar10", cifar10.title, cifar10.summary, source, load_cifar10,
                                          cifar10.class_names))

    with pytest.raises(DepthlabError, match="^cifar10 data not found"):
        DATASETS.get("cifar10").load()
    data = DATASETS.get("cifar10").load(download=True)
    assert data.validation[1].tolist() == batches["data_batch_5.bin"][1].tolist()
    installed = isolated_roots / "cache" / "depthlab" / "cifar10"
    assert [p.name for p in installed.iterdir()] == ["cifar-10-batches-bin"]  # the archive is gone


@pytest.mark.parametrize(
    "name, kind", [("../evil.bin", tarfile.REGTYPE), ("/abs.bin", tarfile.REGTYPE), ("link", tarfile.SYMTYPE)]
)
def test_unsafe_tar_members_are_refused(tmp_path, name, kind):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.addfile(tarfile.TarInfo("good.bin"), io.BytesIO(b""))
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, "/etc/passwd"
        tar.addfile(info, io.BytesIO(b""))
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(buffer.getvalue())
    with pytest.raises(DepthlabError, match=rf"bad.tar.gz: refusing unsafe archive member '{name}'$"):
        extract_tarball(archive, tmp_path / "out")
    assert not (tmp_path / "evil.bin").exists() and not (tmp_path / "out").exists()  # nothing extracted


def test_corrupt_tarball_is_an_error_naming_it(tmp_path):
    archive = tmp_path / "cifar-10-binary.tar.gz"
    archive.write_bytes(b"not a tarball")
    with pytest.raises(DepthlabError, match=r"cifar-10-binary.tar.gz: cannot extract \("):
        extract_tarball(archive, tmp_path / "out")


# ---- the registry


def test_unknown_name_lists_the_choices():
    with pytest.raises(DepthlabError) as error:
        DATASETS.get("mnsit")
    assert str(error.value) == (
        "unknown dataset 'mnsit' (did you mean 'mnist'?); valid choices: arrays:PATH, cifar10, fashion-mnist, linear:OPTIONS, mnist, polynomial:OPTIONS, "
        "shapeset, shapeset-centred"
    )


def test_dataset_names():
    assert [d.name for d in DATASETS] == ["shapeset", "shapeset-centred", "mnist", "fashion-mnist", "cifar10"]
    assert DATASETS.choices()[-3:] == ["arrays:PATH", "polynomial:OPTIONS", "linear:OPTIONS"]


def test_mnist_by_name_gets_the_paper_split(isolated_roots, write_mnist):
    write_mnist(isolated_roots / "flag" / "mnist", n_train=10_005, n_test=4)
    data = DATASETS.get("mnist").load(isolated_roots / "flag")
    assert [len(split[0]) for split in (data.train, data.validation, data.test)] == [5, 10_000, 4]


def test_available_datasets_are_those_found_without_downloading(isolated_roots, monkeypatch, write_mnist, write_cifar):
    assert available_datasets(isolated_roots / "flag") == ["shapeset"]
    write_mnist(isolated_roots / "flag" / "mnist")
    monkeypatch.setenv("DEPTHLAB_DATA", str(isolated_roots / "env"))
    write_cifar(isolated_roots / "env" / "cifar-10-batches-bin")
    assert available_datasets(isolated_roots / "flag") == ["shapeset", "mnist", "cifar10"]
    write_mnist(isolated_roots / "system" / "fashion-mnist", gz=True)
    assert available_datasets() == ["shapeset", "fashion-mnist", "cifar10"]
    assert available_datasets(variants=True) == ["shapeset", "shapeset-centred", "fashion-mnist", "cifar10"]


def test_arrays_form_loads_the_named_file(tmp_path):
    path = tmp_path / "tiny.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.random((20, 5)), y_train=np.arange(20) % 3, x_test=rng.random((4, 5)), y_test=np.arange(4) % 3)
    data = DATASETS.get(f"arrays:{path}").load()
    assert (data.name, data.input_shape, data.num_classes, len(data.validation[0])) == ("tiny", (5,), 3, 2)


def test_shapeset_by_name_draws_the_asked_validation_and_test_sizes():
    data = DATASETS.get("shapeset").load(eval_size=7)
    assert (len(data.validation[0]), len(data.test[0])) == (7, 7)
    assert not torch.equal(data.validation[0], data.test[0])


def test_shapeset_centred_holds_the_same_images_in_minus_one_to_one():
    plain = DATASETS.get("shapeset").load(eval_size=5).validation[0]
    centred = DATASETS.get("shapeset-centred").load(eval_size=5).validation[0]
    assert plain.min() >= 0 and torch.allclose(centred, 2 * plain - 1, atol=1e-6)


def test_eval_size_cuts_file_data_sets(isolated_roots, write_mnist):
    write_mnist(isolated_roots / "flag" / "mnist", n_train=10_005, n_test=4)
    data = DATASETS.get("mnist").load(isolated_roots / "flag", eval_size=3)
    assert [len(split[0]) for split in (data.train, data.validation, data.test)] == [5, 3, 3]
    assert data.class_names == tuple("0123456789")

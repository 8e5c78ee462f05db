"""The kernel cache is not trusted: each fault a user or another program can leave in
``<cache>/kernels`` ends in a rebuilt, checked library, or in one line saying why the
kernels cannot be had. Each case runs in a child process, as a poisoned library could
crash the process that loads it."""

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from depthlab.training import kernels

pytestmark = pytest.mark.skipif(shutil.which(os.environ.get("CC") or "cc") is None, reason="no C compiler here")

LOAD = """
import sys
from depthlab.training.kernels import NativeUnavailable, native_kernels
try:
    print(native_kernels().path)
except NativeUnavailable as error:
    print("unavailable:", error)
"""

DO_NOTHING = """
int dl_forward(void) { return 0; }
int dl_backward(void) { return 0; }
"""


def load_in_child(cache, **env):
    """What a fresh process gets from native_kernels() with this cache: its path, or the reason."""
    done = subprocess.run([sys.executable, "-c", LOAD], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "XDG_CACHE_HOME": str(cache), **env})
    assert done.returncode == 0 and done.stderr == "", (done.returncode, done.stderr[-2000:])
    return done.stdout.strip()


def first_library(cache):
    """The library a first flag set builds, built once, and its recorded digest."""
    path = load_in_child(cache)
    assert path.endswith(".so"), path
    return Path(path), Path(path).with_suffix(".sha256")


def compile_c(source, target, tmp_path):
    (tmp_path / "other.c").write_text(source)
    subprocess.run([*shlex.split(os.environ.get("CC") or "cc"), "-shared", "-fPIC", str(tmp_path / "other.c"),
                    "-o", str(target)], check=True)


@pytest.fixture
def built(tmp_path):
    cache = tmp_path / "cache"
    library, record = first_library(cache)
    return cache, library, record, library.read_bytes()


@pytest.mark.parametrize("fault", ["truncated", "garbage", "unrecorded"])
def test_a_damaged_library_is_never_loaded_but_built_anew(built, fault):
    cache, library, record, good = built
    if fault == "truncated":
        library.write_bytes(good[: len(good) // 3])
    elif fault == "garbage":
        library.write_bytes(b"\x7fELF not really a library" * 100)
    else:
        record.unlink()
    assert load_in_child(cache) == str(library)
    assert kernels._verified(library)  # rebuilt, and recorded again


def test_a_library_without_the_kernels_functions_is_rebuilt_even_if_its_digest_was_recorded(built, tmp_path):
    cache, library, record, _ = built
    compile_c("int unrelated;", library, tmp_path)
    record.write_text(kernels._sha256(library))
    assert load_in_child(cache) == str(library)
    assert "dl_forward" in library.read_bytes().decode("latin-1")


def test_a_stale_library_that_computes_nothing_fails_its_self_check_and_is_rebuilt(built, tmp_path):
    cache, library, record, _ = built
    compile_c(DO_NOTHING, library, tmp_path)
    record.write_text(kernels._sha256(library))
    assert load_in_child(cache) == str(library)
    assert kernels._verified(library) and len(library.read_bytes()) > 10_000  # the real kernels again


def test_the_self_check_names_what_differs(monkeypatch, tmp_path):
    command = shlex.split(os.environ.get("CC") or "cc")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    library = kernels.library_path(command, kernels._compiler_identity(command), kernels.FLAG_SETS[-1])
    library.parent.mkdir(parents=True)
    compile_c(DO_NOTHING, library, tmp_path)
    problem = kernels._self_check(kernels.NativeKernels(library, ()))
    assert problem.startswith(f"{library.name} computes a tiny SGD step unlike torch (cost 0 against ")


def test_a_cc_that_is_not_a_command_line_is_one_line(tmp_path):
    assert load_in_child(tmp_path / "cache", CC='"') == (
        "unavailable: $CC '\"' is not a command line (No closing quotation)")


def test_a_compiler_whose_version_hangs_is_not_waited_for(tmp_path, monkeypatch):
    slow = tmp_path / "slowcc"
    slow.write_text("#!/bin/sh\nsleep 60\n")
    slow.chmod(0o755)
    monkeypatch.setenv("CC", str(slow))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(kernels, "VERSION_TIMEOUT", 0.5)
    kernels._load.cache_clear()
    try:
        with pytest.raises(kernels.NativeUnavailable, match=r"slowcc --version did not answer within 0.5 s$"):
            kernels.native_kernels()
    finally:
        kernels._load.cache_clear()

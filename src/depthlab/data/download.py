"""Where data files are found, and how they are fetched and verified when they are not.

A data set named ``name`` is looked for under these roots, in order:

1. ``data_dir`` (the ``--data-dir`` flag),
2. ``$DEPTHLAB_DATA``,
3. the user cache, ``$XDG_CACHE_HOME/depthlab`` or ``~/.cache/depthlab``,
4. ``/usr/share/datasets`` (where Debian's ``dataset-*`` packages install),

and inside each root first in ``<root>/<name>/`` then in ``<root>/`` itself. The first
directory that holds every file the data set needs wins.

When nothing is found and downloading is allowed, the published files are fetched into
``<data_dir or user cache>/<name>/``: each one streams to a temporary file, its digest is
compared with the published checksum, and only then is it renamed into place (a mismatch
deletes it). Tarballs are unpacked member by member, regular files only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from depthlab.errors import DepthlabError

SYSTEM_DATA_ROOT = Path("/usr/share/datasets")
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    """One published file: its name, its checksum and the base URLs that serve it,
    tried in order."""

    filename: str
    digest: str
    mirrors: tuple[str, ...]
    algorithm: str = "md5"

    @property
    def urls(self) -> list[str]:
        return [mirror.rstrip("/") + "/" + self.filename for mirror in self.mirrors]


@dataclass(frozen=True)
class Source:
    """A data set on disk: the directory name it lives under, the published files that
    make it, a test that a directory holds it, and words for the user on what it needs."""

    name: str
    files: tuple[RemoteFile, ...]
    is_complete: Callable[[Path], bool]
    expected: str
    hint: str = ""


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/depthlab``, or ``~/.cache/depthlab`` when that is unset."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "depthlab"


def search_directories(name: str, data_dir: str | Path | None = None) -> list[Path]:
    """Every directory searched for data set ``name``, in the order they are tried."""
    roots = [data_dir, os.environ.get("DEPTHLAB_DATA"), user_cache_dir(), SYSTEM_DATA_ROOT]
    directories = []
    for root in roots:
        if root:
            root = Path(root).expanduser()
            directories += [root / name, root]
    return directories


def find_directory(source: Source, data_dir: str | Path | None = None) -> Path | None:
    """The first searched directory that holds ``source`` completely, or None."""
    for directory in search_directories(source.name, data_dir):
        if directory.is_dir() and source.is_complete(directory):
            return directory
    return None


def locate(source: Source, data_dir: str | Path | None = None, download: bool = False) -> Path:
    """The directory holding ``source``, downloading it first if allowed and needed."""
    found = find_directory(source, data_dir)
    if found is not None:
        return found
    if not download:
        searched = ", ".join(str(d) for d in search_directories(source.name, data_dir))
        hint = f"; or {source.hint}" if source.hint else ""
        raise DepthlabError(
            f"{source.name} data not found (looked for {source.expected} in {searched}); "
            f"pass --download (download=True) to fetch it from {source.files[0].mirrors[0]}{hint}"
        )
    target = (Path(data_dir).expanduser() if data_dir else user_cache_dir()) / source.name
    for remote in source.files:
        path = fetch(remote, target)
        if path.name.endswith((".tar.gz", ".tgz")):
            extract_tarball(path, target)
            path.unlink()
    if not source.is_complete(target):
        raise DepthlabError(f"downloaded {source.name} into {target} but it lacks {source.expected}")
    return target


def fetch(remote: RemoteFile, directory: Path) -> Path:
    """Download ``remote`` into ``directory`` from the first mirror that answers, verify
    its checksum, and return its path. A checksum mismatch stops at once."""
    failures = []
    for url in remote.urls:
        try:
            return _download_verified(url, remote, directory)
        except (OSError, ValueError) as error:
            failures.append(f"{url} ({error})")
    raise DepthlabError(f"cannot download {remote.filename}: " + "; ".join(failures).replace("\n", " "))


def _download_verified(url: str, remote: RemoteFile, directory: Path) -> Path:
    from urllib.request import urlopen

    from tqdm import tqdm

    directory.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=directory, prefix=f".{remote.filename}.", suffix=".part")
    partial = Path(name)
    try:
        digest = hashlib.new(remote.algorithm)
        with os.fdopen(handle, "wb") as part, urlopen(url, timeout=60) as response:
            size = response.headers.get("Content-Length")
            with tqdm(total=int(size) if size else None, unit="B", unit_scale=True, desc=remote.filename) as bar:
                for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                    part.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        if digest.hexdigest() != remote.digest:
            raise DepthlabError(
                f"checksum mismatch for {url}: expected {remote.algorithm} {remote.digest}, got {digest.hexdigest()}"
            )
        return partial.replace(directory / remote.filename)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def extract_tarball(archive: Path, directory: Path) -> None:
    """Unpack the regular files of ``archive`` into ``directory``; refuse links, devices,
    absolute paths and ``..`` components rather than write outside ``directory``."""
    try:
        with tarfile.open(archive) as tar:
            files = [member for member in tar.getmembers() if not member.isdir()]
            for member in files:
                path = PurePosixPath(member.name)
                if not member.isfile() or path.is_absolute() or ".." in path.parts:
                    raise DepthlabError(f"{archive}: refusing unsafe archive member '{member.name}'")
            for member in files:
                destination = directory.joinpath(*PurePosixPath(member.name).parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as source, open(destination, "wb") as sink:
                    shutil.copyfileobj(source, sink)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DepthlabError(f"{archive}: cannot extract ({error})") from error

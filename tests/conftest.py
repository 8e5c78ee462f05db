"""Fixtures shared by every test: helpers that write small data files in the real formats (IDX, CIFAR-10
binary), and one that keeps the data search away from the machine's real directories."""

from __future__ import annotations

import csv
import gzip
import html
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
from depthlab.data import download
from depthlab.report.summary import SUMMARY_TITLE
from depthlab.training.kernels import NativeUnavailable, native_kernels


def _idx_bytes(array: np.ndarray, dtype_code: int = 0x08) -> bytes:
    """IDX encoding: 00 00 <dtype code> <ndim>, big-endian int32 sizes, the bytes."""
    header = bytes([0, 0, dtype_code, array.ndim]) + np.array(array.shape, ">i4").tobytes()
    return header + np.ascontiguousarray(array, np.uint8).tobytes()


def _write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path``, gzip-compressed when the name ends in .gz."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def _write_mnist(directory: Path, n_train: int = 30, n_test: int = 10, gz: bool = False, seed: int = 0,
                 learnable: bool = False) -> dict:
    """The four MNIST IDX files with random labels and random pixels, or (``learnable``)
    each image its class's random prototype plus noise; returns the arrays by stem."""
    rng = np.random.default_rng(seed)
    prototypes = rng.integers(0, 256, (10, 28, 28))
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        if learnable:
            images = np.clip(prototypes[labels] + rng.normal(0, 60, (n, 28, 28)), 0, 255).astype(np.uint8)
        else:
            images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"{prefix}-images-idx3-ubyte"] = images
        arrays[f"{prefix}-labels-idx1-ubyte"] = labels
    for stem, array in arrays.items():
        _write_bytes(directory / (stem + (".gz" if gz else "")), _idx_bytes(array))
    return arrays


def _cifar_records(images: np.ndarray, labels: np.ndarray) -> bytes:
    """CIFAR-10 binary records: per image one label byte then 3072 pixel bytes."""
    return np.concatenate([labels[:, None], images.reshape(len(images), -1)], axis=1).astype(np.uint8).tobytes()


def _write_cifar(directory: Path, sizes=(3, 4, 5, 2, 6, 7), seed: int = 0) -> dict:
    """The six CIFAR-10 batch files, of the given numbers of records; returns
    ``{file name: (images, labels)}``."""
    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    batches = {}
    for name, size in zip(names, sizes):
        images = rng.integers(0, 256, (size, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, size, dtype=np.uint8)
        _write_bytes(directory / name, _cifar_records(images, labels))
        batches[name] = images, labels
    return batches


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` need a CUDA GPU: skipped, with the reason, where torch sees none."""
    if torch.cuda.is_available():
        return
    no_gpu = pytest.mark.skip(reason="needs a CUDA GPU; torch sees none here")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(no_gpu)


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """The test networks are small: one thread runs them fastest, and a second OpenMP
    thread can stall badly on a busy 2-core machine. Subprocesses inherit the setting."""
    threads, env = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"
    yield
    torch.set_num_threads(threads)
    if env is None:
        del os.environ["OMP_NUM_THREADS"]
    else:
        os.environ["OMP_NUM_THREADS"] = env


@pytest.fixture(scope="session")
def idx_bytes():
    return _idx_bytes


@pytest.fixture(scope="session")
def write_bytes():
    return _write_bytes


@pytest.fixture(scope="session")
def write_mnist():
    return _write_mnist


@pytest.fixture(scope="session")
def cifar_records():
    return _cifar_records


@pytest.fixture(scope="session")
def write_cifar():
    return _write_cifar


@pytest.fixture
def native():
    """depthlab's native kernels; the test is skipped, with the reason, where they cannot be
    built (no C compiler). CI installs one, so there they always run."""
    try:
        return native_kernels()
    except NativeUnavailable as error:
        pytest.skip(f"native kernels unavailable here: {error}")


@pytest.fixture
def isolated_roots(tmp_path, monkeypatch) -> Path:
    """Point ``$DEPTHLAB_DATA``, the user cache and the system root at empty folders
    under ``tmp_path`` (returned), so only what a test writes is found."""
    monkeypatch.delenv("DEPTHLAB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(download, "SYSTEM_DATA_ROOT", tmp_path / "system")
    return tmp_path


class ReportPage(HTMLParser):
    """What a report.html shows: section headings, image sources, verdict tags
    (reproduced, problem, ...) and tables (caption, then rows of cells)."""

    def __init__(self, text: str):
        super().__init__()
        self.headings, self.images, self.verdicts, self.tables = [], [], [], []
        self._tag = None
        self._caption = ""  # the caption above the next table
        self._in_cell = False  # a cell's text, links in it included
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self._tag = "verdict" if tag == "span" and attrs.get("class") == "tag" else tag
        if tag == "p" and attrs.get("class") == "caption":
            self._tag = "caption"
        if tag == "img":
            self.images.append(attrs["src"])
        elif tag == "table":
            self.tables.append({"caption": self._caption, "rows": []})
            self._caption = ""
        elif tag == "tr":
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th"):
            self.tables[-1]["rows"][-1].append("")  # an empty cell keeps its place
            self._in_cell = True

    def handle_data(self, data):
        if self._tag == "h2":
            self.headings.append(data)
        elif self._tag == "verdict":
            self.verdicts.append(data)
        elif self._tag == "caption":
            self._caption += data
        elif self._in_cell:
            self.tables[-1]["rows"][-1][-1] += data

    def handle_endtag(self, tag):
        self._tag = None
        if tag in ("td", "th"):
            self._in_cell = False

    def table(self, caption_start: str) -> list[dict[str, str]]:
        """The rows of the one table whose caption starts with ``caption_start``."""
        (table,) = [t for t in self.tables if t["caption"].startswith(caption_start)]
        header, *rows = table["rows"]
        return [dict(zip(header, row)) for row in rows]


@pytest.fixture(scope="session")
def read_report():
    """``read_report(path)`` parses a report page into a :class:`ReportPage`."""
    return lambda path: ReportPage(Path(path).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def read_study_report(read_report):
    """``read_study_report(report, stems, sections)``: a study's report page, checked to
    embed one PNG per figure stem and to have exactly ``sections`` as its headings, after
    the summary of its verdicts that opens it; returns the page's text."""
    def read(report: Path, stems, sections) -> str:
        parser = read_report(report)
        assert len(parser.images) == len(stems)
        assert all(src.startswith("data:image/png;base64,") for src in parser.images)
        assert parser.headings == [SUMMARY_TITLE, *sections]
        return report.read_text()
    return read


BROWSER_CHECK = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  const page = document.documentElement;
  document.body.insertAdjacentHTML('beforeend', `<div id="check">images ${ok}/${imgs.length} errors ${window.__errors || 0} `
    + `width ${page.scrollWidth}/${page.clientWidth}</div>`);
});
window.addEventListener('error', () => { window.__errors = (window.__errors || 0) + 1; }, true);
</script>"""


BROWSER_WIDTHS = (1400, 390)
"""The widths a page is shown at: a desktop window's, and a phone's (390 CSS pixels)."""

FRAME = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="page" style="border:0;width:{width}px;height:900px" srcdoc="{page}"></iframe>
<script>
document.getElementById('page').addEventListener('load', (event) => {{
  const check = event.target.contentDocument.getElementById('check');
  document.body.insertAdjacentHTML('beforeend', check ? check.outerHTML : '<div id="check">no check</div>');
}});
</script></body></html>"""
"""A page shown in a frame ``width`` CSS pixels wide: headless Chromium's window is at
least 500 pixels wide, a frame as narrow as a phone."""


@pytest.fixture
def assert_loads_in_browser(tmp_path):
    """``assert_loads_in_browser(report, figures)``: the page opens in headless Chromium
    with no script error, shows at least ``figures`` images, every one loaded, and never
    scrolls sideways, 1400 or a phone's 390 pixels wide (a wide table scrolls in its own
    box). Skipped where Debian's chromium is not installed (CI installs it)."""
    def check(report: Path, figures: int) -> None:
        if shutil.which("chromium") is None:
            pytest.skip("Debian's chromium is not installed")
        page = report.read_text().replace("<head>", "<head>" + BROWSER_CHECK, 1)
        for width in BROWSER_WIDTHS:
            frame = tmp_path / f"frame{width}.html"
            frame.write_text(FRAME.format(width=width, page=html.escape(page)))
            dom = subprocess.run(
                ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={width + 100},1000",
                 "--virtual-time-budget=5000", "--dump-dom", frame.as_uri()],
                capture_output=True, text=True, timeout=120).stdout
            found = re.search(r"images (\d+)/(\d+) errors (\d+) width (\d+)/(\d+)", dom)
            assert found, dom[-500:]
            loaded, total, errors, content_width, window_width = map(int, found.groups())
            assert total >= figures and loaded == total and errors == 0
            assert window_width == width and content_width <= window_width, (width, content_width, window_width)
    return check


@pytest.fixture(scope="session")
def read_csv():
    """``read_csv(path)``: the rows of a CSV file a study wrote, as dicts."""
    def read(path: Path) -> list[dict[str, str]]:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    return read


@pytest.fixture(scope="session")
def assert_figures():
    """``assert_figures(folder, stems)``: each figure exists as a non-empty PNG and an SVG."""
    def check(folder: Path, stems) -> None:
        for stem in stems:
            assert (folder / f"{stem}.png").stat().st_size > 0, stem
            assert (folder / f"{stem}.svg").read_text().lstrip().startswith("<?xml"), stem
    return check


@pytest.fixture
def declare():
    """``declare(REGISTRY, entry)`` registers ``entry`` for one test, in the place of any
    entry of its name; the registries are as they were after the test."""
    undo = []

    def add(registry, entry):
        previous = next((e for e in registry if e.name == entry.name), None)
        registry.register(entry, replace=True)
        undo.append((registry, entry.name, previous))
        return entry

    yield add
    for registry, name, previous in reversed(undo):
        if previous is None:
            registry.unregister(name)
        else:
            registry.register(previous, replace=True)


"""Shapeset-3×2, the synthetic data set of Glorot & Bengio (2010), generated on the fly.

Each 32×32 grey image holds one or two convex objects drawn from three shapes (triangle,
parallelogram, ellipse); the label says which shapes are present, not where or how
many pixels they take: 3 single shapes + 6 unordered pairs = 9 classes (:data:`CLASS_NAMES`).
An object is drawn in four steps:

- **shape**: a counter-clockwise polygon inscribed in a circle of diameter 1 centred at
  the origin. Triangle: vertices on the circle at angles ``2πk/3 + U(−π/6, π/6)``,
  i.e. every triangle whose angles lie in [30°, 90°]. Parallelogram: sides 1 and
  ``r ~ U(0.5, 1)`` at an angle ``α ~ U(45°, 90°)``, the longer diagonal fitted to the
  circle. Ellipse: the 20-vertex polygon of the ellipse of axes 1 and ``r ~ U(0.3, 1)``.
- **scale**: the diameter becomes ``U(0.2, 0.8)`` of the image size.
- **rotation**: ``2πk/255`` with ``k`` uniform over 0..254.
- **position**: uniform over all translations that keep the rotated polygon wholly inside
  the image, so every object is fully visible (and, by the bounds above, covers at least
  one pixel centre).

Grey levels are drawn per object: each object from ``U(0.55, 1)``, the background from
``U(0, 0.45)``; with probability 1/2 the image is then inverted (``v → 1 − v``), which
swaps the two ranges. A second object is painted over the first and may cover at most
half of it, ``|M₁ ∩ M₂| ≤ |M₁|/2`` in pixels of the rasterised masks: a second object
breaking the rule is redrawn, and after 50 rejections the first object is redrawn too,
so the rule holds in every image. Pixel values ``v ∈ [0, 1]`` are finally mapped
affinely onto ``pixel_range`` (default [−1, 1]).

The fixed validation and test sets are kept on disk once drawn (``<user cache>/shapeset/``,
keyed by a digest of this file, the seed, the size and the pixel range), so later runs
read them in milliseconds; a cache file that is missing, unreadable or of the wrong shape
is drawn anew, and one that cannot be written is skipped.

Rasterisation is one vectorised point-in-convex-polygon test over a whole batch: a pixel
centre ``p`` lies inside a counter-clockwise polygon iff ``(v_{k+1} − v_k) × (p − v_k) ≥ 0``
for every edge ``k``.

Reference: Glorot, X. & Bengio, Y. (2010), *Understanding the difficulty of training deep
feedforward neural networks*, AISTATS, section 2.1 and figure 1.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from depthlab.data.base import Batch, Dataset
from depthlab.data.download import user_cache_dir
from depthlab.errors import DepthlabError

IMAGE_SIZE = 32
SHAPE_NAMES = ("triangle", "parallelogram", "ellipse")
CLASS_SHAPES = ((0,), (1,), (2,), (0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))
CLASS_NAMES = tuple("+".join(SHAPE_NAMES[s] for s in shapes) for shapes in CLASS_SHAPES)

ELLIPSE_VERTICES = 20
SCALE_RANGE = (0.2, 0.8)
ROTATION_STEPS = 255
FOREGROUND_RANGE = (0.55, 1.0)
BACKGROUND_RANGE = (0.0, 0.45)
MAX_COVERED_FRACTION = 0.5
MAX_REJECTIONS = 50
CHUNK_SIZE = 1000

# Stream ids of the keys (seed, stream, chunk). numpy pads seeds with zeros, so a plain
# generate(n, s) is stream 0 and never repeats the images of a data set.
_TRAIN, _VALIDATION, _TEST = 1, 2, 3
_NO_SHAPE = -1
_FIRST_SHAPE = np.array([shapes[0] for shapes in CLASS_SHAPES])
_SECOND_SHAPE = np.array([shapes[1] if len(shapes) == 2 else _NO_SHAPE for shapes in CLASS_SHAPES])


def _triangles(m: int, rng: np.random.Generator) -> np.ndarray:
    angles = 2 * np.pi * np.arange(3) / 3 + rng.uniform(-np.pi / 6, np.pi / 6, (m, 3))
    return 0.5 * np.stack([np.cos(angles), np.sin(angles)], axis=-1)


def _parallelograms(m: int, rng: np.random.Generator) -> np.ndarray:
    ratio = rng.uniform(0.5, 1.0, m)
    angle = rng.uniform(np.pi / 4, np.pi / 2, m)
    a = np.stack([np.ones(m), np.zeros(m)], axis=-1)
    b = ratio[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    corners = np.stack([-(a + b), a - b, a + b, b - a], axis=1) / 2
    return corners / (2 * np.linalg.norm(a + b, axis=-1))[:, None, None]


def _ellipses(m: int, rng: np.random.Generator) -> np.ndarray:
    ratio = rng.uniform(0.3, 1.0, m)
    phi = 2 * np.pi * np.arange(ELLIPSE_VERTICES) / ELLIPSE_VERTICES
    return 0.5 * np.stack([np.broadcast_to(np.cos(phi), (m, ELLIPSE_VERTICES)),
                           ratio[:, None] * np.sin(phi)], axis=-1)


_SHAPE_MAKERS = (_triangles, _parallelograms, _ellipses)


def _place(polygons: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scale, rotate and translate unit-diameter polygons (m, V, 2) into pixel coordinates,
    the translation uniform over those that keep the polygon inside the image."""
    m = len(polygons)
    scale = IMAGE_SIZE * rng.uniform(*SCALE_RANGE, m)
    theta = 2 * np.pi * rng.integers(0, ROTATION_STEPS, m) / ROTATION_STEPS
    cos, sin = scale * np.cos(theta), scale * np.sin(theta)
    rotation = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], axis=1)
    placed = np.einsum("mij,mvj->mvi", rotation, polygons)
    low, high = placed.min(axis=1), placed.max(axis=1)
    centre = -low + rng.random((m, 2)) * (IMAGE_SIZE - high + low)
    return placed + centre[:, None, :]


def rasterise(polygons: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """Masks (m, size, size) of the pixels whose centres lie in convex counter-clockwise
    polygons (m, V, 2) given as (x, y) = (column, row) pixel coordinates.

    Pixel (row i, column j) has centre p = (j + ½, i + ½) and is inside iff for every
    edge v_k → v_{k+1}: e_x (p_y − v_y) − e_y (p_x − v_x) ≥ 0, with e = v_{k+1} − v_k.
    The test separates into a row term plus a column term, so each edge costs one
    broadcast addition over the batch.
    """
    polygons = np.asarray(polygons, dtype=np.float32)
    edges = np.roll(polygons, -1, axis=1) - polygons
    centres = np.arange(size, dtype=np.float32) + 0.5
    column_terms = -edges[..., 1, None] * centres
    row_terms = edges[..., 0, None] * centres + (edges[..., 1] * polygons[..., 0]
                                                 - edges[..., 0] * polygons[..., 1])[..., None]
    inside = np.full((len(polygons), size, size), np.inf, dtype=np.float32)
    margin = np.empty_like(inside)
    for k in range(polygons.shape[1]):
        np.add(row_terms[:, k, :, None], column_terms[:, k, None, :], out=margin)
        np.minimum(inside, margin, out=inside)
    return inside >= 0


def _draw_objects(shapes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Masks (m, 32, 32) of freshly drawn objects, ``shapes[i]`` indexing SHAPE_NAMES."""
    masks = np.empty((len(shapes), IMAGE_SIZE, IMAGE_SIZE), dtype=bool)
    for shape, make in enumerate(_SHAPE_MAKERS):
        chosen = np.flatnonzero(shapes == shape)
        if chosen.size:
            masks[chosen] = rasterise(_place(make(chosen.size, rng), rng))
    return masks


def _draw_masks(first: np.ndarray, second: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Masks (n, 2, 32, 32) of each image's objects, the second empty where there is none,
    redrawn until the second covers at most MAX_COVERED_FRACTION of the first."""
    masks = np.zeros((len(first), 2, IMAGE_SIZE, IMAGE_SIZE), dtype=bool)
    masks[:, 0] = _draw_objects(first, rng)
    pending = np.flatnonzero(second != _NO_SHAPE)
    rejections = 0
    while pending.size:
        if rejections == MAX_REJECTIONS:
            masks[pending, 0] = _draw_objects(first[pending], rng)
            rejections = 0
        masks[pending, 1] = _draw_objects(second[pending], rng)
        covered = (masks[pending, 0] & masks[pending, 1]).sum(axis=(1, 2))
        allowed = MAX_COVERED_FRACTION * masks[pending, 0].sum(axis=(1, 2))
        pending = pending[covered > allowed]
        rejections += 1
    return masks


def _check_pixel_range(pixel_range: Sequence[float]) -> tuple[float, float]:
    if len(pixel_range) != 2 or not float(pixel_range[0]) < float(pixel_range[1]):
        raise DepthlabError(f"pixel_range {tuple(pixel_range)} must be (low, high) with low < high")
    return float(pixel_range[0]), float(pixel_range[1])


def generate(n: int, seed: int | Sequence[int], pixel_range: Sequence[float] = (-1.0, 1.0),
             return_masks: bool = False):
    """Draw ``n`` Shapeset-3×2 images and labels, a pure function of ``seed``.

    Args:
        n: number of images.
        seed: a non-negative int or a sequence of them, fed to ``numpy.random.default_rng``.
        pixel_range: ``(low, high)``; grey ``v ∈ [0, 1]`` becomes ``low + (high − low)·v``.
        return_masks: also return the objects' masks.

    Returns:
        ``(x, y)``: x float32 of shape (n, 1, 32, 32), y int64 of shape (n,) indexing
        :data:`CLASS_NAMES`, uniform over the 9 classes; with ``return_masks``,
        ``(x, y, masks)`` with masks bool of shape (n, 2, 32, 32): the first object, then
        the second (empty for one-object images), each before occlusion.
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise DepthlabError(f"number of images {n!r} must be a non-negative integer")
    low, high = _check_pixel_range(pixel_range)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(CLASS_NAMES), n)
    first, second = _FIRST_SHAPE[labels], _SECOND_SHAPE[labels]
    swap = (rng.random(n) < 0.5) & (second != _NO_SHAPE)
    first, second = np.where(swap, second, first), np.where(swap, first, second)
    masks = _draw_masks(first, second, rng)

    object_grey = rng.uniform(*FOREGROUND_RANGE, (n, 2, 1, 1))
    grey = np.broadcast_to(rng.uniform(*BACKGROUND_RANGE, (n, 1, 1)), masks[:, 0].shape)
    for k in range(2):
        grey = np.where(masks[:, k], object_grey[:, k], grey)
    inverted = rng.random(n) < 0.5
    grey[inverted] = 1.0 - grey[inverted]
    x = torch.from_numpy((low + (high - low) * grey).astype(np.float32)[:, None])
    y = torch.from_numpy(labels.astype(np.int64))
    return (x, y, torch.from_numpy(masks)) if return_masks else (x, y)


GENERATOR_DIGEST = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
"""Names this generator's cached sets: a change of the code draws them anew."""


def cached_set(path: Path, size: int, draw: Callable[[], Batch]) -> Batch:
    """The ``size`` images and labels ``draw()`` makes, read from the NumPy archive
    ``path`` (no pickles) when it holds them, else drawn and written there atomically."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            x, y = archive["x"], archive["y"]
        if x.shape == (size, 1, IMAGE_SIZE, IMAGE_SIZE) and x.dtype == np.float32 and y.shape == (size,) \
                and y.dtype == np.int64:
            return torch.from_numpy(x), torch.from_numpy(y)
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        pass
    x, y = draw()
    partial = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".partial.npz", delete=False) as file:
            partial = Path(file.name)
            np.savez(file, x=x.numpy(), y=y.numpy())
        os.replace(partial, path)
    except OSError:  # a read-only or full cache: the set is used without being kept
        if partial is not None:
            partial.unlink(missing_ok=True)
    return x, y


def _check_seed(seed: int) -> int:
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DepthlabError(f"seed {seed!r} must be a non-negative integer")
    return int(seed)


class ShapesetDataset(Dataset):
    """Shapeset-3×2 (Glorot & Bengio 2010): an unlimited training stream plus fixed
    validation and test sets.

    The three come from disjoint random streams: training chunk ``k`` of
    :data:`CHUNK_SIZE` images from ``(run seed, 1, k)``, validation from ``(seed, 2, 0)``,
    test from ``(seed, 3, 0)`` (both drawn on first access, then cached). Update ``t`` of a run with
    batch size ``B`` trains on stream images ``[t·B, (t+1)·B)``.
    """

    name = "shapeset"
    input_shape = (1, IMAGE_SIZE, IMAGE_SIZE)
    num_classes = len(CLASS_NAMES)
    class_names = CLASS_NAMES

    def __init__(self, seed: int = 0, validation_size: int = 10_000, test_size: int = 10_000,
                 pixel_range: Sequence[float] = (-1.0, 1.0)):
        for what, size in (("validation_size", validation_size), ("test_size", test_size)):
            if not isinstance(size, (int, np.integer)) or size < 0:
                raise DepthlabError(f"{what} {size!r} must be a non-negative integer")
        self.seed = _check_seed(seed)
        self.validation_size = validation_size
        self.test_size = test_size
        self.pixel_range = _check_pixel_range(pixel_range)

    @cached_property
    def validation(self) -> Batch:
        return self._fixed_set(_VALIDATION, self.validation_size)

    @cached_property
    def test(self) -> Batch:
        return self._fixed_set(_TEST, self.test_size)

    def _fixed_set(self, stream: int, size: int) -> Batch:
        low, high = self.pixel_range
        name = f"{GENERATOR_DIGEST}-seed{self.seed}-stream{stream}-n{size}-{low:g}_{high:g}.npz"
        return cached_set(user_cache_dir() / "shapeset" / name, size,
                          lambda: generate(size, (self.seed, stream, 0), self.pixel_range))

    def train_batches(self, batch_size: int, seed: int, start: int = 0) -> Iterator[Batch]:
        """Yield the minibatches for updates ``start, start + 1, ...`` forever; the batch
        for update ``t`` depends only on ``(seed, t, batch_size)``."""
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise DepthlabError(f"batch size {batch_size!r} must be a positive integer")
        if not isinstance(start, (int, np.integer)) or start < 0:
            raise DepthlabError(f"start update {start!r} must be a non-negative integer")
        chunk, offset = divmod(start * batch_size, CHUNK_SIZE)
        chunks = self._training_chunks(_check_seed(seed), chunk)
        x, y = next(chunks)
        while True:
            xs, ys = [], []
            missing = batch_size
            while missing:
                if offset == CHUNK_SIZE:
                    (x, y), offset = next(chunks), 0
                taken = min(missing, CHUNK_SIZE - offset)
                xs.append(x[offset:offset + taken])
                ys.append(y[offset:offset + taken])
                offset += taken
                missing -= taken
            yield torch.cat(xs), torch.cat(ys)

    def _training_chunks(self, seed: int, first: int) -> Iterator[Batch]:
        """Training chunks ``first, first + 1, ...``, each generated on a background
        thread while the one before it is being trained on, so that generation overlaps
        training wherever a core is free."""
        with ThreadPoolExecutor(max_workers=1) as pool:
            chunk = first
            pending = pool.submit(generate, CHUNK_SIZE, (seed, _TRAIN, chunk), self.pixel_range)
            while True:
                ready = pending.result()
                chunk += 1
                pending = pool.submit(generate, CHUNK_SIZE, (seed, _TRAIN, chunk), self.pixel_range)
                yield ready

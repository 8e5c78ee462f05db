"""Shapeset-3×2, the synthetic data set of Glorot & Bengio (2010), drawn as the authors'
own generator (Glorot's "Shapeset" package, with the parameters of the paper's
experiments) draws it, vectorised over a batch and without pygame.

Each 32×32 grey image holds one or two shapes of three types (triangle, parallelogram,
ellipse); the label says which shapes were drawn, not where or how large: 3 single shapes
+ 6 unordered pairs = 9 classes (:data:`CLASS_NAMES`, in the authors' order). One image:

1. **Grey ranges**: shapes light on a dark background, or (probability 1/2) dark on light:
   the shapes' range is [0.55, 1] and the background's [0, 0.45], or the reverse.
2. **Count** n uniform in {1, 2}, then each shape's **type** uniform over the three,
   independently. Before rejections each single-shape class has probability 1/6, each
   mixed pair 1/9, each same-type pair 1/18: always answering one single shape errs
   5/6 = 83.3% of the time (Table 1's sigmoid error, 82.61%, is that level).
3. **A shape** with v vertices (3, 4 or 20): the regular v-gon on the circle of radius ½,
   vertex t at angle 2π(t/v + 1/(2v) + 1/4) (one edge horizontal); rotated by a
   pre-rotation θ₁ = 2πk₁/255 within half a symmetry sector of 0; stretched per axis by
   s₀ ≥ s₁, each U(0.2, 0.8)·32; rotated back by θ₂ = −atan((s₁/s₀)·tan θ₁) (the base edge
   horizontal again), so the square becomes a parallelogram, the 20-gon an ellipse and
   the triangle a general triangle; rotated by θ₃ = 2πk₃/255, k₃ uniform on 0..253; and
   centred uniformly where every vertex lies at least 1 pixel inside the image. A point
   p maps to p·R(θ), R(θ) = [[cos θ, sin θ], [−sin θ, cos θ]].
4. **Overlap estimate** (second shape only): with d the distance between the centres and
   u the unit vector from the first to the second, P = max over the first shape's
   vertices of their projection on u plus max over the second's on −u (both relative to
   their centres). When P ≥ d the overlap factor is f = 1 − 2^(−(P − d)/d), and the second
   shape is rejected when its area estimate times f exceeds half the first's:
   s₀s₁·a_v·f / (s₀′s₁′·a_v′) > 0.5, where a_v = v·sin(2π/v)/(2π) is the v-gon's share of
   its circle. A rejection redraws the second shape's stretch and centre; after more than
   50 rejections it is dropped, and the image is labelled by the one shape it holds.
5. **Grey levels**: integers, the background's uniform on [⌊255·lo⌋, ⌊255·hi⌋] of its
   range, each shape's on its own; the shapes are filled over the background in order
   (the second over the first) without anti-aliasing, by the authors' rule, pygame 1.8's
   polygon fill (:func:`rasterise`: vertices truncated to integers, every row from the
   top vertex row to the bottom one, each row's span including both its crossings), so a
   shape covers about 13% more pixels than its true area and an image's foreground
   fraction averages about 0.19; pixels are level/255, in [0, 1] as in the authors'
   experiments, mapped affinely onto ``pixel_range``.

The fixed validation and test sets are kept on disk once drawn (``<user cache>/shapeset/``,
keyed by a digest of this file, the seed, the size and the pixel range), so later runs
read them in milliseconds; a cache file that is missing, unreadable or of the wrong shape
is drawn anew, and one that cannot be written is skipped.

Every step is vectorised over a batch (the rejections of step 4 in rounds over the images
still waiting). :func:`draw_torch` and :func:`generate_torch` draw the same distribution
with torch operations, on any device, and the training stream uses them off the CPU.

Reference: Glorot, X. & Bengio, Y. (2010), *Understanding the difficulty of training deep
feedforward neural networks*, AISTATS, section 2.1 and figure 1; the generator's steps
and parameters as restated in ``docs/shapeset.md`` of the project's shared documents.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
import itertools
from pathlib import Path

import numpy as np
import torch

from depthlab.data.base import Batch, Dataset, as_device
from depthlab.data.arrays import npz_headers
from depthlab.data.download import user_cache_dir
from depthlab.errors import DepthlabError
from depthlab.limits import FLOAT_BYTES, check_fits

IMAGE_SIZE = 32
SHAPE_NAMES = ("triangle", "parallelogram", "ellipse")
VERTEX_COUNTS = (3, 4, 20)
"""Each shape type's regular polygon: the parallelogram is a stretched square, the
ellipse a stretched 20-gon."""
CLASS_SHAPES = ((0,), (1,), (2,), (0, 1), (1, 2), (0, 2), (0, 0), (1, 1), (2, 2))
"""The shape types of each class, in the authors' class order."""
CLASS_NAMES = tuple("+".join(SHAPE_NAMES[s] for s in shapes) for shapes in CLASS_SHAPES)
MAJORITY_CLASS_ERROR = 5 / 6
"""The error of always answering one single-shape class (each has prior 1/6; a second
shape dropped after too many rejections raises it, by under 0.1% at the paper's settings)."""

SCALE_RANGE = (0.2, 0.8)
"""Each axis's stretch, as a fraction of the image side."""
ROTATION_STEPS = 255
BORDER = 1.0
"""Every vertex lies at least this many pixels inside the image."""
FOREGROUND_RANGE = (0.55, 1.0)
BACKGROUND_RANGE = (0.0, 0.45)
MAX_OVERLAP = 0.5
"""The largest estimated share of the first shape the second may cover."""
MAX_REJECTIONS = 50
LEVELS = 255
CHUNK_SIZE = 1000

# Stream ids of the keys (seed, stream, chunk). numpy pads seeds with zeros, so a plain
# generate(n, s) is stream 0 and never repeats the images of a data set.
_TRAIN, _VALIDATION, _TEST = 1, 2, 3
NO_SHAPE = -1
_MAX_VERTICES = max(VERTEX_COUNTS)


def _class_table() -> np.ndarray:
    """table[a, b]: the class of a shape of type a with one of type b (b = NO_SHAPE: a alone)."""
    table = np.empty((len(SHAPE_NAMES), len(SHAPE_NAMES) + 1), dtype=np.int64)
    for label, shapes in enumerate(CLASS_SHAPES):
        if len(shapes) == 1:
            table[shapes[0], NO_SHAPE] = label
        else:
            table[shapes[0], shapes[1]] = table[shapes[1], shapes[0]] = label
    return table


_CLASS_OF = _class_table()


def _unit_polygons() -> np.ndarray:
    """(3, 20, 2): each type's regular polygon on the circle of radius ½, one edge
    horizontal, padded to 20 vertices by repeating its last (a zero-length edge changes
    neither the rasterised mask nor any extreme)."""
    polygons = np.empty((len(VERTEX_COUNTS), _MAX_VERTICES, 2))
    for shape, v in enumerate(VERTEX_COUNTS):
        angles = 2 * np.pi * (np.minimum(np.arange(_MAX_VERTICES), v - 1) / v + 1 / (2 * v) + 1 / 4)
        polygons[shape] = 0.5 * np.stack([np.cos(angles), np.sin(angles)], -1)
    return polygons


_UNIT_POLYGONS = _unit_polygons()
_AREA_SHARE = np.array([v * np.sin(2 * np.pi / v) / (2 * np.pi) for v in VERTEX_COUNTS])
"""a_v = v·sin(2π/v)/(2π): the regular v-gon's share of the area of its circle."""


def _rotation(theta: np.ndarray) -> np.ndarray:
    """R(θ) = [[cos θ, sin θ], [−sin θ, cos θ]] for each θ, applied as p·R."""
    cos, sin = np.cos(theta), np.sin(theta)
    return np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], -2)


def _pre_rotation_steps(types: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """k₁ with θ₁ = 2πk₁/255 within half a symmetry sector of 0: uniform on
    0..⌊255/v⌋−1, the indices above ⌊254/(2v)⌋ folded to the negative side."""
    v = np.asarray(VERTEX_COUNTS)[types]
    k = np.floor(rng.random(types.shape) * (ROTATION_STEPS // v)).astype(np.int64)
    folded = np.minimum(ROTATION_STEPS - (ROTATION_STEPS - 1) // v + k, ROTATION_STEPS - 1)
    return np.where(k > (ROTATION_STEPS - 1) // (2 * v), folded, k)


@dataclass
class _Shapes:
    """m shapes' types and drawn rotations; their stretch (m, 2) and vertices relative to
    the centre (m, 20, 2), zero until :meth:`stretch` draws them."""

    types: np.ndarray
    pre_rotation: np.ndarray
    rotation: np.ndarray
    scale: np.ndarray
    offsets: np.ndarray

    @classmethod
    def draw(cls, types: np.ndarray, rng: np.random.Generator) -> _Shapes:
        m = len(types)
        return cls(types, 2 * np.pi * _pre_rotation_steps(types, rng) / ROTATION_STEPS,
                   2 * np.pi * rng.integers(0, ROTATION_STEPS - 1, m) / ROTATION_STEPS,
                   np.zeros((m, 2)), np.zeros((m, _MAX_VERTICES, 2)))

    def stretch(self, chosen: np.ndarray, rng: np.random.Generator) -> None:
        """Draw the stretch of the shapes ``chosen`` (indices) and place their vertices
        around their centre: pre-rotate, stretch (s₀ ≥ s₁), rotate back, rotate."""
        scale = -np.sort(-rng.uniform(*SCALE_RANGE, (len(chosen), 2)) * IMAGE_SIZE, axis=1)
        theta1 = self.pre_rotation[chosen]
        theta2 = -np.arctan(scale[:, 1] / scale[:, 0] * np.tan(theta1))
        turned = _UNIT_POLYGONS[self.types[chosen]] @ _rotation(theta1)
        self.offsets[chosen] = (turned * scale[:, None, :]) @ _rotation(theta2) @ _rotation(self.rotation[chosen])
        self.scale[chosen] = scale

    def centres(self, chosen: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Centres (len(chosen), 2) uniform where every vertex is BORDER pixels inside."""
        offsets = self.offsets[chosen]
        low = BORDER - offsets.min(1)
        high = IMAGE_SIZE - BORDER - offsets.max(1)
        return low + rng.random((len(chosen), 2)) * (high - low)

    def area(self, chosen: np.ndarray) -> np.ndarray:
        """s₀s₁·a_v: each shape's area up to the common factor π/4."""
        return self.scale[chosen].prod(1) * _AREA_SHARE[self.types[chosen]]


def overlap_factor(first: np.ndarray, second: np.ndarray, first_centre: np.ndarray,
                   second_centre: np.ndarray) -> np.ndarray:
    """The generator's overlap estimate f for shapes with vertices (m, V, 2) relative to
    their centres: P, the extents of the two along the line joining the centres (the first
    towards the second, the second back), against the distance d between the centres;
    f = 1 − 2^(−(P − d)/d) when P ≥ d, else 0 (and 1 for coinciding centres)."""
    between = second_centre - first_centre
    d = np.linalg.norm(between, axis=1)
    u = between / np.where(d > 0, d, 1)[:, None]
    reach = np.einsum("mvi,mi->mv", first, u).max(1) + np.einsum("mvi,mi->mv", second, -u).max(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(reach >= d, 1 - np.exp2(-(reach - d) / d), 0.0)
    return np.where(d > 0, f, 1.0)


def rasterise(polygons: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """Masks (m, size, size) of polygons (m, V, 2) given as (x, y) = (column, row) pixel
    coordinates, filled by the authors' rule, pygame 1.8's polygon fill:

    - every vertex is truncated to integers (toward zero);
    - every row y from the lowest truncated vertex row to the highest, both included, is
      scanned; an edge (x₁, y₁) → (x₂, y₂), its lower end first (y₁ < y₂; horizontal edges
      are skipped), crosses row y where y₁ ≤ y < y₂, and on the highest row where
      y₁ < y ≤ y₂, at x₁ + trunc((y − y₁)(x₂ − x₁)/(y₂ − y₁)), the division truncated
      toward zero;
    - the row's crossings, sorted, are taken in pairs, and the pixels from each pair's
      first to its second, both included, are filled (those off the image are clipped).

    With c₀ ≤ c₁ ≤ … a row's crossings and b(x) the number of them below x, pixel x lies in
    a pair's span iff b(x) is odd or some crossing equals x; the counts come from one
    histogram of the crossings per row and a cumulative sum, so the work grows with the
    edges, not with the edges times the pixels. The crossings are computed in float32 and
    are exact: the products are integers far below 2²⁴, and a quotient that is not an
    integer lies at least 1/(y₂ − y₁) from one.

    Reference: pygame 1.8 ``src/draw.c``, ``draw_fillpoly``, as restated in step 9 of the
    project's ``docs/shapeset.md``.
    """
    vertices = np.trunc(np.asarray(polygons, dtype=np.float64)).astype(np.float32)  # integers, exact
    m = vertices.shape[0]
    x1, x2, y1, y2, to_top = _edges(vertices[..., 0], vertices[..., 1], np)
    rows = np.arange(size, dtype=np.float32)
    # the rows an edge crosses: y₁ ≤ y < y₂, or y₁ ≤ y < y₂ + 1 for one that reaches the top
    crosses = (y1[..., None] <= rows) & (rows < (y2 + to_top)[..., None])
    rise = np.maximum(y2 - y1, 1)[..., None]  # horizontal edges cross no row
    crossing = x1[..., None] + np.trunc((rows - y1[..., None]) * (x2 - x1)[..., None] / rise)
    # a crossing c counts in b(x) for x > c: a histogram at c + 1, clipped to 0..size + 1
    # (a position past size counts nowhere, as a row without the edge)
    position = np.where(crosses, np.clip(crossing + 1, 0, size + 1), size + 1).astype(np.int32)
    position += ((np.arange(m, dtype=np.int32)[:, None, None] * size + np.arange(size, dtype=np.int32)) * (size + 2))
    below = np.bincount(position.ravel(), minlength=m * size * (size + 2)).reshape(m, size, size + 2).cumsum(2)
    return (below[..., :size] & 1).astype(bool) | (below[..., 1:size + 1] != below[..., :size])


def _edges(x, y, xp):
    """The edges of polygons of truncated vertices ``x``, ``y`` (m, V) in array module
    ``xp`` (numpy or torch), each with its lower end first: x₁, x₂, y₁ ≤ y₂ (m, V), and
    whether it rises to the top row (y₁ < y₂ = the highest vertex row)."""
    x_end, y_end = xp.roll(x, -1, 1), xp.roll(y, -1, 1)
    rising = y < y_end
    y1, y2 = xp.minimum(y, y_end), xp.maximum(y, y_end)
    top = y.max(1, keepdims=True) if xp is np else y.amax(1, keepdim=True)
    return xp.where(rising, x, x_end), xp.where(rising, x_end, x), y1, y2, (y2 == top) & (y1 < y2)


def _grey_levels(ranges: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An integer level uniform on [⌊255·lo⌋, ⌊255·hi⌋] for each (lo, hi) of ``ranges`` (..., 2)."""
    low, high = np.floor(LEVELS * ranges[..., 0]), np.floor(LEVELS * ranges[..., 1])
    return low + np.floor(rng.random(low.shape) * (high - low + 1))


@dataclass(frozen=True)
class Drawing:
    """What :func:`generate` drew, per image: ``requested_types`` (n, 2) of the shapes
    drawn at step 2 and ``types`` (n, 2) of those the image holds (NO_SHAPE where there is
    none: a second shape dropped after too many rejections), ``rejections`` (n,) of the
    second shape, ``vertices`` (n, 2, 20, 2) in pixel coordinates (NaN where
    there is no shape; a polygon of fewer vertices repeats its last), ``masks`` (n, 2, 32,
    32) of each shape before the second is painted over the first."""

    requested_types: np.ndarray
    types: np.ndarray
    rejections: np.ndarray
    vertices: np.ndarray
    masks: np.ndarray


def _check_pixel_range(pixel_range: Sequence[float]) -> tuple[float, float]:
    if len(pixel_range) != 2 or not float(pixel_range[0]) < float(pixel_range[1]):
        raise DepthlabError(f"pixel_range {tuple(pixel_range)} must be (low, high) with low < high")
    return float(pixel_range[0]), float(pixel_range[1])


def draw(n: int, seed: int | Sequence[int]) -> tuple[np.ndarray, np.ndarray, Drawing]:
    """Draw ``n`` images as the authors' generator does (see the module docstring): their
    grey levels (n, 32, 32) as integers 0..255, labels (n,) and the :class:`Drawing`."""
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise DepthlabError(f"number of images {n!r} must be a non-negative integer")
    rng = np.random.default_rng(seed)
    light_shapes = rng.random(n) < 0.5
    requested = rng.integers(1, 3, n)
    types = rng.integers(0, len(SHAPE_NAMES), (n, 2))
    types[requested == 1, 1] = NO_SHAPE
    requested_types = types.copy()
    first, second = _Shapes.draw(types[:, 0], rng), _Shapes.draw(np.maximum(types[:, 1], 0), rng)
    everyone = np.arange(n)
    first.stretch(everyone, rng)
    centres = np.zeros((n, 2, 2))
    centres[:, 0] = first.centres(everyone, rng)
    rejections = np.zeros(n, dtype=np.int64)
    pending = np.flatnonzero(requested == 2)
    while pending.size:
        second.stretch(pending, rng)
        centres[pending, 1] = second.centres(pending, rng)
        f = overlap_factor(first.offsets[pending], second.offsets[pending], centres[pending, 0], centres[pending, 1])
        rejected = second.area(pending) * f > MAX_OVERLAP * first.area(pending)
        rejections[pending[rejected]] += 1
        dropped = pending[rejected & (rejections[pending] > MAX_REJECTIONS)]
        types[dropped, 1] = NO_SHAPE
        pending = pending[rejected & (rejections[pending] <= MAX_REJECTIONS)]
    present = types != NO_SHAPE
    vertices = np.stack([first.offsets, second.offsets], 1) + centres[:, :, None, :]
    vertices[~present] = np.nan
    masks = np.zeros((n, 2, IMAGE_SIZE, IMAGE_SIZE), dtype=bool)
    for shape, v in enumerate(VERTEX_COUNTS):  # each type with its own vertices only
        image, k = np.nonzero(types == shape)
        masks[image, k] = rasterise(vertices[image, k, :v])

    shape_range = np.where(light_shapes[:, None], FOREGROUND_RANGE, BACKGROUND_RANGE)
    background_range = np.where(light_shapes[:, None], BACKGROUND_RANGE, FOREGROUND_RANGE)
    levels = np.broadcast_to(_grey_levels(background_range, rng)[:, None, None], (n, IMAGE_SIZE, IMAGE_SIZE))
    shape_levels = _grey_levels(np.repeat(shape_range[:, None], 2, 1), rng)
    for k in range(2):
        levels = np.where(masks[:, k], shape_levels[:, k, None, None], levels)
    labels = _CLASS_OF[types[:, 0], types[:, 1]]
    return levels.astype(np.uint8), labels, Drawing(requested_types, types, rejections, vertices, masks)


def generate(n: int, seed: int | Sequence[int], pixel_range: Sequence[float] = (0.0, 1.0)) -> Batch:
    """Draw ``n`` Shapeset-3×2 images and labels, a pure function of ``seed``.

    Args:
        n: number of images.
        seed: a non-negative int or a sequence of them, fed to ``numpy.random.default_rng``.
        pixel_range: ``(low, high)``; a grey level g ∈ 0..255 becomes low + (high − low)·g/255
            (default [0, 1], the authors' pixels).

    Returns:
        ``(x, y)``: x float32 of shape (n, 1, 32, 32), y int64 of shape (n,) indexing
        :data:`CLASS_NAMES` (see :func:`draw` for what each image holds).
    """
    low, high = _check_pixel_range(pixel_range)
    levels, labels, _ = draw(n, seed)
    x = (low + (high - low) / LEVELS * levels.astype(np.float32)).astype(np.float32)
    return torch.from_numpy(x[:, None]), torch.from_numpy(labels)


# -- the same generator in torch operations, on any device --------------------------------
TORCH_CHUNK_SIZE = 16_384
"""Images per chunk of the torch generator's training stream off the CPU: enough that a
GPU's kernel launches and reads are shared by many images."""
TORCH_CPU_CHUNK_SIZE = 4_096
"""The same on the CPU, where a smaller chunk's working set stays in cache (measured with
``benchmarks/bench_shapeset.py``: 1.3–1.9× the images/s of chunks of 16,384)."""
ATTEMPTS_PER_ROUND = 4
"""Second-shape candidates the torch generator tries at once for each image still
waiting; 99% of second shapes take at most 9 rejections (0.94 on average), so a chunk
takes a handful of rounds, each one read of the device (how many images still wait)."""


def torch_generator(seed: int | Sequence[int], device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded from ``seed`` (an int or a sequence of
    them, mixed as ``numpy.random.SeedSequence`` mixes them): its draws are a function of
    the seed on a given device (another device, another stream)."""
    state = np.random.SeedSequence(seed).generate_state(1, np.uint64)[0]
    return torch.Generator(device=device).manual_seed(int(state))


@dataclass(frozen=True)
class _Tables:
    """The generator's constant tables as tensors on one device."""

    polygons: torch.Tensor
    vertex_counts: torch.Tensor
    area_share: torch.Tensor
    class_of: torch.Tensor
    ranges: torch.Tensor
    """(2, 2): the foreground's (low, high) grey range, then the background's."""


_TABLES: dict[torch.device, _Tables] = {}


def _tables(device: torch.device) -> _Tables:
    if device not in _TABLES:
        _TABLES[device] = _Tables(torch.tensor(_UNIT_POLYGONS, dtype=torch.float32, device=device),
                                  torch.tensor(VERTEX_COUNTS, device=device),
                                  torch.tensor(_AREA_SHARE, dtype=torch.float32, device=device),
                                  torch.tensor(_CLASS_OF, device=device),
                                  torch.tensor([FOREGROUND_RANGE, BACKGROUND_RANGE], device=device))
    return _TABLES[device]


def _rotation_torch(theta: torch.Tensor) -> torch.Tensor:
    """:func:`_rotation` in torch: R(θ) (..., 2, 2) for θ (...)."""
    cos, sin = theta.cos(), theta.sin()
    return torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)


def _place_torch(tables: _Tables, types: torch.Tensor, theta1: torch.Tensor, theta3: torch.Tensor,
                 uniform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:meth:`_Shapes.stretch` in torch for shapes of any leading shape (...): their
    stretch (..., 2) from ``uniform`` (..., 2) draws, s₀ ≥ s₁, and their vertices around
    their centre (..., 20, 2)."""
    low, high = SCALE_RANGE
    scale = ((low + (high - low) * uniform) * IMAGE_SIZE).sort(-1, descending=True).values
    theta2 = -torch.atan(scale[..., 1] / scale[..., 0] * torch.tan(theta1))
    turned = tables.polygons[types] @ _rotation_torch(theta1)
    return scale, (turned * scale[..., None, :]) @ (_rotation_torch(theta2) @ _rotation_torch(theta3))


def _centres_torch(offsets: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """:meth:`_Shapes.centres` in torch: uniform where every vertex is BORDER pixels inside."""
    low = BORDER - offsets.amin(-2)
    high = IMAGE_SIZE - BORDER - offsets.amax(-2)
    return low + uniform * (high - low)


def overlap_factor_torch(first: torch.Tensor, second: torch.Tensor, first_centre: torch.Tensor,
                         second_centre: torch.Tensor) -> torch.Tensor:
    """:func:`overlap_factor` in torch, for shapes of any leading shape (...): vertices
    (..., V, 2) relative to their centres (..., 2)."""
    between = second_centre - first_centre
    d = between.norm(dim=-1)
    u = between / torch.where(d > 0, d, 1.0)[..., None]
    reach = (first @ u[..., None]).amax((-2, -1)) + (second @ -u[..., None]).amax((-2, -1))
    f = torch.where(reach >= d, 1 - torch.exp2(-(reach - d) / d), 0.0)
    return torch.where(d > 0, f, 1.0)


def rasterise_torch(polygons: torch.Tensor, size: int = IMAGE_SIZE) -> torch.Tensor:
    """:func:`rasterise` (the authors' fill rule) in torch, on the polygons' device: masks
    (m, size, size) of polygons (m, V, 2). The crossings' histogram is a scatter-add of
    integers, exact in any order."""
    m, device = polygons.shape[0], polygons.device
    vertices = polygons.trunc()
    x1, x2, y1, y2, to_top = _edges(vertices[..., 0], vertices[..., 1], torch)
    rows = torch.arange(size, dtype=vertices.dtype, device=device)
    crosses = (y1[..., None] <= rows) & (rows < (y2 + to_top)[..., None])
    crossing = x1[..., None] + torch.trunc((rows - y1[..., None]) * (x2 - x1)[..., None]
                                           / (y2 - y1).clamp(min=1)[..., None])
    position = torch.where(crosses, (crossing + 1).clamp(0, size + 1), size + 1).long()
    position += (torch.arange(m, device=device)[:, None, None] * size + rows.long()) * (size + 2)
    counts = torch.zeros(m * size * (size + 2), dtype=torch.int32, device=device)
    counts.scatter_add_(0, position.flatten(), torch.ones(position.numel(), dtype=torch.int32, device=device))
    below = counts.view(m, size, size + 2).cumsum(2, dtype=torch.int32)
    return (below[..., :size] & 1).bool() | (below[..., 1:size + 1] != below[..., :size])


def _grey_levels_torch(ranges: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """:func:`_grey_levels` in torch."""
    low, high = torch.floor(LEVELS * ranges[..., 0]), torch.floor(LEVELS * ranges[..., 1])
    uniform = torch.rand(low.shape, generator=generator, device=low.device, dtype=low.dtype)
    return low + torch.floor(uniform * (high - low + 1))


def draw_torch(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, Drawing]:
    """:func:`draw` written in torch operations on ``generator``'s device, vectorised over
    the ``n`` images (the second shapes' rejections in rounds of
    :data:`ATTEMPTS_PER_ROUND` candidates per waiting image): grey levels (n, 32, 32)
    uint8, labels (n,) and the :class:`Drawing` as tensors, all on that device. The same
    distribution as :func:`draw` (in float32, not float64), from torch's random streams."""
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise DepthlabError(f"number of images {n!r} must be a non-negative integer")
    device = generator.device
    tables = _tables(device)

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(shape, generator=generator, device=device)

    light_shapes = uniform(n) < 0.5
    requested = torch.randint(1, 3, (n,), generator=generator, device=device)
    types = torch.randint(0, len(SHAPE_NAMES), (n, 2), generator=generator, device=device)
    types[:, 1] = torch.where(requested == 1, NO_SHAPE, types[:, 1])
    requested_types = types.clone()
    kinds = types.clamp(min=0)  # a lone shape's absent second is drawn as a triangle, then dropped
    v = tables.vertex_counts[kinds]
    k = torch.floor(uniform(n, 2) * (ROTATION_STEPS // v)).long()
    folded = torch.clamp(ROTATION_STEPS - (ROTATION_STEPS - 1) // v + k, max=ROTATION_STEPS - 1)
    theta1 = 2 * torch.pi * torch.where(k > (ROTATION_STEPS - 1) // (2 * v), folded, k) / ROTATION_STEPS
    theta3 = 2 * torch.pi * torch.randint(0, ROTATION_STEPS - 1, (n, 2), generator=generator,
                                          device=device) / ROTATION_STEPS
    scale = torch.zeros(n, 2, 2, device=device)
    offsets = torch.zeros(n, 2, _MAX_VERTICES, 2, device=device)
    centres = torch.zeros(n, 2, 2, device=device)
    scale[:, 0], offsets[:, 0] = _place_torch(tables, kinds[:, 0], theta1[:, 0], theta3[:, 0], uniform(n, 2))
    centres[:, 0] = _centres_torch(offsets[:, 0], uniform(n, 2))
    first_area = scale[:, 0].prod(-1) * tables.area_share[kinds[:, 0]]
    rejections = torch.zeros(n, dtype=torch.int64, device=device)
    pending = torch.nonzero(requested == 2).flatten()
    tried = 0  # every image still waiting has had as many candidates rejected
    while pending.numel() and tried <= MAX_REJECTIONS:
        tries = min(ATTEMPTS_PER_ROUND, MAX_REJECTIONS + 1 - tried)
        shape = (len(pending), tries)
        kind = kinds[pending, 1, None].expand(shape)
        new_scale, new_offsets = _place_torch(tables, kind, theta1[pending, 1, None].expand(shape),
                                              theta3[pending, 1, None].expand(shape), uniform(*shape, 2))
        new_centres = _centres_torch(new_offsets, uniform(*shape, 2))
        f = overlap_factor_torch(offsets[pending, 0, None], new_offsets, centres[pending, 0, None], new_centres)
        accepted = new_scale.prod(-1) * tables.area_share[kind] * f <= MAX_OVERLAP * first_area[pending, None]
        found = accepted.any(1)
        first = accepted.int().argmax(1)  # the first candidate accepted (0 where none was)
        pick = torch.arange(len(pending), device=device), first
        rejections[pending] = tried + torch.where(found, first, tries)
        scale[pending, 1] = torch.where(found[:, None], new_scale[pick], scale[pending, 1])
        offsets[pending, 1] = torch.where(found[:, None, None], new_offsets[pick], offsets[pending, 1])
        centres[pending, 1] = torch.where(found[:, None], new_centres[pick], centres[pending, 1])
        pending = pending[~found]
        tried += tries
    types[:, 1] = torch.where(rejections > MAX_REJECTIONS, NO_SHAPE, types[:, 1])
    present = types != NO_SHAPE
    vertices = offsets + centres[:, :, None, :]
    masks = torch.zeros(n, 2, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.bool, device=device)
    for shape_type, count in enumerate(VERTEX_COUNTS):  # each type with its own vertices only
        image, k = torch.nonzero(types == shape_type, as_tuple=True)
        masks[image, k] = rasterise_torch(vertices[image, k, :count])
    vertices = torch.where(present[..., None, None], vertices, torch.nan)

    foreground, background = tables.ranges
    shape_range = torch.where(light_shapes[:, None], foreground, background)
    background_range = torch.where(light_shapes[:, None], background, foreground)
    levels = _grey_levels_torch(background_range, generator)[:, None, None].expand(n, IMAGE_SIZE, IMAGE_SIZE)
    shape_levels = _grey_levels_torch(shape_range[:, None].expand(n, 2, 2), generator)
    for k in range(2):
        levels = torch.where(masks[:, k], shape_levels[:, k, None, None], levels)
    labels = tables.class_of[types[:, 0], torch.where(present[:, 1], types[:, 1], len(SHAPE_NAMES))]
    return levels.to(torch.uint8), labels, Drawing(requested_types, types, rejections, vertices, masks)


def generate_torch(n: int, seed: int | Sequence[int], pixel_range: Sequence[float] = (0.0, 1.0),
                   device: str | torch.device = "cpu") -> Batch:
    """:func:`generate` by :func:`draw_torch` on ``device``: ``(x, y)`` there, a function
    of ``seed`` on that device (:func:`torch_generator`)."""
    low, high = _check_pixel_range(pixel_range)
    levels, labels, _ = draw_torch(n, torch_generator(seed, device))
    return (low + (high - low) / LEVELS * levels.to(torch.float32))[:, None], labels


GENERATOR_DIGEST = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
"""Names this generator's cached sets: a change of the code draws them anew."""


def cached_set(path: Path, size: int, draw: Callable[[], Batch]) -> Batch:
    """The ``size`` images and labels ``draw()`` makes, read from the NumPy archive
    ``path`` (no pickles) when it holds them, else drawn and written there atomically."""
    expected = {"x": ((size, 1, IMAGE_SIZE, IMAGE_SIZE), np.float32), "y": ((size,), np.int64)}
    try:  # the headers first: a damaged cache declaring a huge array is not allocated
        if npz_headers(path) == {name: (shape, np.dtype(dtype)) for name, (shape, dtype) in expected.items()}:
            with np.load(path, allow_pickle=False) as archive:
                return torch.from_numpy(archive["x"]), torch.from_numpy(archive["y"])
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


GENERATORS = ("numpy", "torch")
"""Who draws a Shapeset training stream: :func:`generate` (NumPy, on the host) or
:func:`generate_torch` (torch, on the data's device)."""


class ShapesetDataset(Dataset):
    """Shapeset-3×2 (Glorot & Bengio 2010): an unlimited training stream plus fixed
    validation and test sets, held on ``device`` (None: the CPU).

    The three come from disjoint random streams: training chunk ``k`` from the key
    ``(run seed, 1, k)``, validation from ``(seed, 2, 0)``, test from ``(seed, 3, 0)``
    (both drawn by :func:`generate` on first access, then cached, and copied to the
    device once). Update ``t`` of a run with batch size ``B`` trains on stream images
    ``[t·B, (t+1)·B)``. The training stream's ``generator``: ``"numpy"`` (chunks of
    :data:`CHUNK_SIZE` by :func:`generate`, drawn on a background thread while the chunk
    before is trained on, and copied to the device once per chunk) or ``"torch"`` (chunks
    of :attr:`chunk_size` by :func:`generate_torch` on the device itself, a function
    of the seed on that device); by default NumPy on the CPU, torch on any other device,
    where the NumPy generator could not keep up with a GPU.
    """

    name = "shapeset"
    input_shape = (1, IMAGE_SIZE, IMAGE_SIZE)
    num_classes = len(CLASS_NAMES)
    class_names = CLASS_NAMES

    def __init__(self, seed: int = 0, validation_size: int = 10_000, test_size: int = 10_000,
                 pixel_range: Sequence[float] = (0.0, 1.0), device: str | torch.device | None = None,
                 generator: str | None = None):
        for what, size in (("validation_size", validation_size), ("test_size", test_size)):
            if not isinstance(size, (int, np.integer)) or size < 0:
                raise DepthlabError(f"{what} {size!r} must be a non-negative integer")
        check_fits(f"Shapeset's validation and test sets of {validation_size:,} and {test_size:,} images",
                   (validation_size + test_size) * IMAGE_SIZE**2 * FLOAT_BYTES, "choose a smaller --eval-size")
        if generator is not None and generator not in GENERATORS:
            raise DepthlabError(f"unknown Shapeset generator {generator!r}; valid choices: {', '.join(GENERATORS)}")
        self.seed = _check_seed(seed)
        self.validation_size = validation_size
        self.test_size = test_size
        self.pixel_range = _check_pixel_range(pixel_range)
        self.device = as_device(device)
        self.chosen_generator = generator
        self.generator = generator or ("numpy" if self.device.type == "cpu" else "torch")

    def to(self, device: str | torch.device | None) -> ShapesetDataset:
        """This data set held on ``device`` (itself when it is there already); a generator
        chosen by default is chosen anew for the device."""
        if as_device(device) == self.device:
            return self
        return ShapesetDataset(self.seed, self.validation_size, self.test_size, self.pixel_range, device,
                               self.chosen_generator)

    @cached_property
    def validation(self) -> Batch:
        return self._fixed_set(_VALIDATION, self.validation_size)

    @cached_property
    def test(self) -> Batch:
        return self._fixed_set(_TEST, self.test_size)

    def _fixed_set(self, stream: int, size: int) -> Batch:
        low, high = self.pixel_range
        name = f"{GENERATOR_DIGEST}-seed{self.seed}-stream{stream}-n{size}-{low:g}_{high:g}.npz"
        x, y = cached_set(user_cache_dir() / "shapeset" / name, size,
                          lambda: generate(size, (self.seed, stream, 0), self.pixel_range))
        return x.to(self.device), y.to(self.device)

    @property
    def chunk_size(self) -> int:
        """Images per chunk of the training stream."""
        if self.generator == "numpy":
            return CHUNK_SIZE
        return TORCH_CPU_CHUNK_SIZE if self.device.type == "cpu" else TORCH_CHUNK_SIZE

    def train_batches(self, batch_size: int, seed: int, start: int = 0) -> Iterator[Batch]:
        """Yield the minibatches for updates ``start, start + 1, ...`` forever, on the
        data's device; the batch for update ``t`` depends only on ``(seed, t, batch_size)``
        (and, for the torch generator, the device)."""
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise DepthlabError(f"batch size {batch_size!r} must be a positive integer")
        if not isinstance(start, (int, np.integer)) or start < 0:
            raise DepthlabError(f"start update {start!r} must be a non-negative integer")
        size = self.chunk_size
        chunk, offset = divmod(start * batch_size, size)
        chunks = self._training_chunks(_check_seed(seed), chunk)
        x, y = next(chunks)
        while True:
            xs, ys = [], []
            missing = batch_size
            while missing:
                if offset == size:
                    (x, y), offset = next(chunks), 0
                taken = min(missing, size - offset)
                xs.append(x[offset:offset + taken])
                ys.append(y[offset:offset + taken])
                offset += taken
                missing -= taken
            yield torch.cat(xs), torch.cat(ys)

    def _training_chunks(self, seed: int, first: int) -> Iterator[Batch]:
        """Training chunks ``first, first + 1, ...`` on the data's device. The torch
        generator draws them there in turn (on a GPU its work queues behind the training's);
        the NumPy one on a background thread while the chunk before it is trained on, so
        that generation overlaps training wherever a core is free."""
        if self.generator == "torch":
            for chunk in itertools.count(first):
                yield generate_torch(self.chunk_size, (seed, _TRAIN, chunk), self.pixel_range, self.device)
        with ThreadPoolExecutor(max_workers=1) as pool:
            chunk = first
            pending = pool.submit(generate, CHUNK_SIZE, (seed, _TRAIN, chunk), self.pixel_range)
            while True:
                x, y = pending.result()
                chunk += 1
                pending = pool.submit(generate, CHUNK_SIZE, (seed, _TRAIN, chunk), self.pixel_range)
                yield x.to(self.device), y.to(self.device)

"""A labelled grid of example images, as in figure 1 of Glorot & Bengio (2010).

Works for any images, (N, H, W), (N, 1, H, W) grey or (N, 3, H, W) colour, and any
class names. Grey levels are shown on one scale shared by all the images (their global
minimum and maximum), so the contrast between images is kept. :func:`check_grid` needs
neither torch nor matplotlib, so the command checks its arguments at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from depthlab.errors import DepthlabError, unknown_choice
from depthlab.store.files import replace_durably

FORMATS = ("png", "svg")


def _as_images(x) -> np.ndarray:
    """(N, H, W) grey or (N, H, W, 3) colour array scaled to [0, 1]."""
    import torch

    images = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    images = images.astype(np.float64)
    if images.ndim == 4 and images.shape[1] in (1, 3):
        images = images[:, 0] if images.shape[1] == 1 else images.transpose(0, 2, 3, 1)
    elif images.ndim != 3:
        raise DepthlabError(f"images of shape {tuple(images.shape)} must be (N, H, W), (N, 1, H, W) or (N, 3, H, W)")
    low, high = (images.min(), images.max()) if images.size else (0.0, 1.0)
    return (images - low) / ((high - low) or 1.0)


def check_grid(path: str | Path, rows: int, cols: int) -> None:
    """Refuse a file type other than :data:`FORMATS` or an empty grid (one line each)."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise unknown_choice("figure format", suffix, FORMATS)
    if rows < 1 or cols < 1:
        raise DepthlabError(f"grid of {rows}×{cols} images must have at least one row and one column")


def draw_grid(x, y, class_names: Sequence[str], path: str | Path, rows: int = 4,
              cols: int = 6) -> Path:
    """Save the first ``rows × cols`` images of ``x``, each titled ``class_names[y[i]]``,
    as a PNG or SVG chosen by the suffix of ``path``; returns the path."""
    import torch
    from matplotlib.figure import Figure

    path = Path(path)
    check_grid(path, rows, cols)
    labels = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y, dtype=np.int64)
    images = _as_images(x)
    if len(labels) != len(images):
        raise DepthlabError(f"{len(labels)} labels given for {len(images)} images")
    bad = labels[(labels < 0) | (labels >= len(class_names))]
    if bad.size:
        raise DepthlabError(f"label {bad[0]} is outside the {len(class_names)} class names")

    figure = Figure(figsize=(1.6 * cols, 1.75 * rows))
    axes = figure.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < len(images):
            ax.imshow(images[i], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_title(class_names[labels[i]], fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_durably(path, lambda tmp: figure.savefig(tmp, format=path.suffix.lower().lstrip("."), dpi=120))
    return path

"""The order-to-chaos phase diagram of a deep random network.

χ₁ = σ_w² E_z[φ'(√q* z)²] over the plane (σ_w², σ_b²), drawn as an image on a log colour
scale centred on χ₁ = 1, with the critical line χ₁ = 1 between the ordered phase (χ₁ < 1,
vanishing gradients) and the chaotic one (χ₁ > 1, exploding gradients), as drawn by
Poole et al. (2016) and Schoenholz et al. (2017)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from depthlab.errors import DepthlabError
from depthlab.store.files import replace_durably
from depthlab.theory.meanfield import ActivationLike, chi1, critical_sigma_w2

PLOT_FORMATS = (".png", ".svg", ".pdf")
MAX_LOG_SPREAD = float(np.log(4.0))
"""The colours span χ₁ from 1/4 to 4 at most (a per-layer gradient gain of 4 is extreme)."""


def plot_phase_diagram(path: str | Path, activation: ActivationLike,
                       point: tuple[float, float] | None = None,
                       sigma_w2_max: float | None = None, sigma_b2_max: float | None = None,
                       resolution: int = 64) -> Path:
    """Draw χ₁ on a ``resolution`` × ``resolution`` grid of (σ_w², σ_b²), the critical line
    σ_w² = :func:`critical_sigma_w2` (σ_b²) and a star at ``point`` = (σ_w², σ_b²), and save
    the figure to ``path`` (.png, .svg or .pdf). By default σ_b² runs up to max(0.3,
    1.5 × the point's) and σ_w² up to max(4, 1.5 × the point's, 1.25 × the critical σ_w²
    at the top σ_b²)."""
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure
    from matplotlib.ticker import FormatStrFormatter

    path = Path(path)
    if path.suffix.lower() not in PLOT_FORMATS:
        raise DepthlabError(f"plot file {path}: the name must end in {', '.join(PLOT_FORMATS)}")
    point_w2, point_b2 = point if point is not None else (0.0, 0.0)
    if sigma_b2_max is None:
        sigma_b2_max = max(0.3, 1.5 * point_b2)
    sigma_b2_line = sigma_b2_max * np.linspace(0.0, 1.0, 25) ** 2  # the line bends most near 0
    critical_line = critical_sigma_w2(activation, sigma_b2_line)
    if sigma_w2_max is None:
        top = np.nan_to_num(critical_line[-1])
        sigma_w2_max = max(4.0, 1.5 * point_w2, 1.25 * top)

    sigma_w2 = (np.arange(resolution) + 0.5) * sigma_w2_max / resolution
    sigma_b2 = (np.arange(resolution) + 0.5) * sigma_b2_max / resolution
    chi = chi1(activation, sigma_w2[None, :], sigma_b2[:, None])
    positive = chi[np.isfinite(chi) & (chi > 0)]
    spread = min(np.abs(np.log(positive)).max(initial=0.1), MAX_LOG_SPREAD)

    figure = Figure(figsize=(6.4, 4.8), layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(chi, origin="lower", aspect="auto", cmap="RdBu_r",
                        extent=(0, sigma_w2_max, 0, sigma_b2_max),
                        norm=LogNorm(vmin=np.exp(-spread), vmax=np.exp(spread)))
    colorbar = figure.colorbar(image, ax=axes, extend="both", label="χ₁ = σ_w² E[φ'(√q* z)²]")
    colorbar.ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    colorbar.ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    axes.plot(critical_line, sigma_b2_line, color="black", label="critical line χ₁ = 1")
    if point is not None:
        axes.plot([point_w2], [point_b2], marker="*", markersize=14, color="gold",
                  markeredgecolor="black", linestyle="none", label=f"σ_w² = {point_w2:g}, σ_b² = {point_b2:g}")
    axes.set(xlim=(0, sigma_w2_max), ylim=(0, sigma_b2_max), xlabel="σ_w² = n_in Var[W]",
             ylabel="σ_b² = Var[b]", title=f"{getattr(activation, '__name__', activation)}: ordered (blue) "
                                            "and chaotic (red) phases")
    axes.legend(loc="upper left")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    replace_durably(path, lambda tmp: figure.savefig(tmp, format=path.suffix.lower().lstrip(".")))
    return path

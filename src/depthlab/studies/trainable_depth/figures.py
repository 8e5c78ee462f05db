"""The figure of the trainable-depth study: training accuracy over (σ_w², depth) with
mean-field theory's 6 ξ_c (Schoenholz et al. 2017) and the critical σ_w² drawn over it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from depthlab.report.plotting import heat_map, new_figure, save_figure
from depthlab.studies.trainable_depth.budgets import DepthBudget
from depthlab.theory import trainable_depth


def trainable_depth_figure(sigma_w2s: np.ndarray, depths: np.ndarray, accuracy: np.ndarray, blanks: np.ndarray,
                           budget: DepthBudget, critical: float, out: Path) -> Path:
    """The heat map of ``accuracy[i, j]`` (depth ``depths[i]``, σ_w² ``sigma_w2s[j]``),
    a blank cell saying ``blanks[i, j]`` (its run's status), with 6 ξ_c at the budget's
    σ_b² and the critical σ_w² over it; saved as ``trainable_depth.png`` (and SVG) in
    ``out``, whose PNG path it returns."""
    fig, axes = new_figure(1, 1, width=7.5, height=5.0)
    ax = axes[0][0]
    heat_map(ax, sigma_w2s, depths, accuracy, label="training accuracy", cmap="magma", vmin=0.0, vmax=1.0,
             blanks=blanks)
    fine = np.linspace(sigma_w2s.min(), sigma_w2s.max(), 60)
    line = np.array([trainable_depth("tanh", sw, budget.sigma_b2) for sw in fine])
    low, high = ax.get_ylim()
    ax.plot(fine, np.clip(line, low, high), color="cyan", linewidth=2, label="6 ξ_c (mean-field theory)")
    ax.axvline(critical, color="cyan", linestyle=":", label=f"critical σ_w² = {critical:.2f}")
    ax.set(xlabel="σ_w²", ylabel="depth (hidden layers)", ylim=(low, high),
           title=f"tanh, width {budget.width}, σ_b² = {budget.sigma_b2:g}, {budget.updates:,} updates")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    return save_figure(fig, out, "trainable_depth")

"""The lecture's demonstrations of why initialization matters (forward passes only).

1. Weight scale: 10 layers of 500 units, a^l = φ(a^{l−1} W_lᵀ) with no biases, fed 1000
   examples x ~ N(0, 1)^500. Each layer multiplies the activation variance by about
   n·Var[W]·E[φ'(s)²]: with tanh, 0.01·N(0, 1) (n·Var = 0.05) collapses it (lecture: std
   0.21, 0.048, 0.011, … → 0), N(0, 1) (n·Var = 500) saturates every layer at ±1, and
   Xavier N(0, 1/n_in) (Glorot & Bengio 2010) lets it decay slowly (≈ 0.63, 0.49, 0.41, …).
   ReLU halves the second moment, so Xavier collapses it and He N(0, 2/n_in) (He et al.
   2015) keeps it.
2. Exploding products: for W_i ~ N(0, σ²) of size n × n, E‖W_k⋯W_1‖²_F / n = (nσ²)^k, so
   with σ² = 1 the product of 100 factors explodes (n = 100: 10^100) while σ² = 1/n keeps
   it O(1).
3. Symmetry: with every weight equal (``constant:C``), every hidden unit of a layer gets
   the same gradient, so SGD keeps the units identical; dropout gives each unit its own
   mask and breaks the tie.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from depthlab.errors import unknown_choice
from depthlab.nets.activations import ACTIVATIONS
from depthlab.nets.init import INITS
from depthlab.nets.mlp import MLP
from depthlab.report.html import Figure, Section, Table, Verdict, write_report
from depthlab.report.plotting import layer_color, new_figure, save_figure
from depthlab.report.tables import write_table
from depthlab.train.costs import COSTS

DEPTH, WIDTH = 10, 500
SCHEMES = {"0.01·N(0,1)": "gaussian:0.01", "N(0,1)": "gaussian:1", "Xavier N(0,1/n)": "lecun-normal",
           "He N(0,2/n)": "he-normal"}
"""The weight scales of the demonstration: label → init spec (depthlab.nets.init)."""
STUDIED = {"tanh": tuple(SCHEMES), "relu": ("Xavier N(0,1/n)", "He N(0,2/n)")}
LECTURE_STD = {("tanh", "0.01·N(0,1)"): (0.21, 0.048, 0.011), ("tanh", "Xavier N(0,1/n)"): (0.63, 0.49, 0.41)}
"""The lecture's activation std of the first layers."""

HISTOGRAM_BINS = 50

PRODUCT_SIZE, PRODUCT_FACTORS = 100, 100
PRODUCT_VARIANCES = {"σ² = 1": 1.0, "σ² = 1/n": 1.0 / PRODUCT_SIZE}

SYMMETRY_INPUTS, SYMMETRY_WIDTH, SYMMETRY_CLASSES, SYMMETRY_EXAMPLES = 20, 16, 4, 256
SYMMETRY_CONSTANT, SYMMETRY_LR, SYMMETRY_BATCH = 0.1, 0.1, 32
SYMMETRY_DROPOUTS = (0.0, 0.5)

LECTURE_RTOL = 0.1
"""Our std reproduces a lecture number when within this relative difference."""
SATURATED_MAJORITY = 0.5
"""N(0, 1) saturates a layer when more than this fraction of its units has |a| ≥ 0.95."""
COLLAPSED_STD = 1e-3
"""0.01·N(0, 1) has collapsed when the top layer's std is below this."""
KEPT_FACTOR, LOST_FACTOR = 3.0, 10.0
"""ReLU: He keeps the std (largest/smallest layer std below 3); Xavier loses it (more than 10×)."""
EXPLODED, BOUNDED = 1e10, (1e-3, 1e3)
"""The σ² = 1 product explodes past 1e10; the scaled one stays within [1e-3, 1e3]."""


@dataclass(frozen=True)
class InitStatisticsBudget:
    """The sizes of one run: ``examples`` fed through the 10 × 500 stack (the lecture:
    1000) and ``symmetry_steps`` SGD steps of the symmetry demonstration."""

    examples: int
    symmetry_steps: int


BUDGETS = {
    "smoke": InitStatisticsBudget(examples=300, symmetry_steps=30),
    "quick": InitStatisticsBudget(examples=1000, symmetry_steps=60),
    "full": InitStatisticsBudget(examples=1000, symmetry_steps=60),
}


@torch.no_grad()
def layer_activations(activation: str, init: str, examples: int, seed: int = 0) -> list[Tensor]:
    """The activations a^1 … a^10 of the lecture's stack: a^0 ~ N(0, 1) of shape
    (examples, 500), a^l = φ(a^{l−1} W_lᵀ), every W_l (500 × 500) filled by ``init``."""
    torch.manual_seed(seed)
    fill, phi = INITS.get(init).fill, ACTIVATIONS.get(activation).module()
    a, weight = torch.randn(examples, WIDTH), torch.empty(WIDTH, WIDTH)
    layers = []
    for _ in range(DEPTH):
        fill(weight)
        a = phi(a @ weight.t())
        layers.append(a)
    return layers


@torch.no_grad()
def product_norms(variance: float, factors: int = PRODUCT_FACTORS, size: int = PRODUCT_SIZE,
                  seed: int = 0) -> np.ndarray:
    """‖W_k⋯W_1‖_F / √n for k = 1 … ``factors``, W_i ~ N(0, ``variance``) of size n × n, in
    float64; its expected square is (n·variance)^k."""
    generator = torch.Generator().manual_seed(seed)
    product = torch.eye(size, dtype=torch.float64)
    norms = []
    for _ in range(factors):
        factor = torch.randn(size, size, generator=generator, dtype=torch.float64) * variance ** 0.5
        product = factor @ product
        norms.append(product.norm().item() / size ** 0.5)
    return np.array(norms)


def train_constant_init(dropout: float, steps: int, seed: int = 0) -> MLP:
    """A tanh MLP 20 → 16 → 16 → 4 with every weight 0.1 and zero biases, trained by SGD
    (η = 0.1, minibatch 32, NLL) for ``steps`` steps on a random linear teacher's labels."""
    torch.manual_seed(seed)
    x = torch.randn(SYMMETRY_EXAMPLES, SYMMETRY_INPUTS)
    y = (x @ torch.randn(SYMMETRY_INPUTS, SYMMETRY_CLASSES)).argmax(1)
    model = MLP(SYMMETRY_INPUTS, [SYMMETRY_WIDTH] * 2, SYMMETRY_CLASSES, "tanh", dropout=dropout)
    model.initialize(f"constant:{SYMMETRY_CONSTANT}")
    optimizer = torch.optim.SGD(model.parameters(), lr=SYMMETRY_LR)
    loss_fn = COSTS.get("nll").loss
    for _ in range(steps):
        batch = torch.randint(SYMMETRY_EXAMPLES, (SYMMETRY_BATCH,))
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x[batch]), y[batch]).backward()
        optimizer.step()
    return model


def unit_parameters(model: MLP) -> list[Tensor]:
    """Per hidden layer, the matrix whose row i is unit i's incoming weights and bias."""
    return [torch.cat([layer.weight, layer.bias[:, None]], 1).detach() for layer in model.linears[:-1]]


# -- figures and tables -------------------------------------------------------------------

def _verdict(claim: str, holds: bool, evidence: str) -> Verdict:
    return Verdict(claim, "reproduced" if holds else "not reproduced", evidence)


def _close(ours: float, lecture: float) -> bool:
    return abs(ours - lecture) <= LECTURE_RTOL * lecture


def _activation_figures(activation: str, layers: dict[str, list[Tensor]], out: Path) -> Figure:
    """One panel per weight scale, holding one histogram per layer, stacked bottom to top
    and each scaled to its own peak; for ReLU, of the positive outputs (the rest are 0)."""
    value_range = ACTIVATIONS.get(activation).value_range
    fig, axes = new_figure(1, len(layers), width=3.0, height=4.2, sharey=True)
    for ax, (label, activations) in zip(axes[0], layers.items()):
        for layer, a in enumerate(activations, start=1):
            shown = a[a > 0] if activation == "relu" else a
            counts, edges = np.histogram(shown.clamp(*value_range).numpy(), bins=HISTOGRAM_BINS, range=value_range)
            ax.stairs(layer + 0.9 * counts / counts.max(), edges, baseline=layer, fill=True,
                      color=layer_color(layer, DEPTH))
        ax.set(title=label, xlabel=f"{activation}(s)", yticks=range(1, DEPTH + 1))
    axes[0][0].set_ylabel("layer")
    png = save_figure(fig, out, f"{activation}_histograms")
    return Figure(png, f"{activation}: histogram of each layer's activations (stacked bottom to top, each scaled to "
                       "its peak), one panel per weight scale; values beyond the range count in the end bins"
                       + ("; ReLU: the positive outputs only (about half are exactly 0)." if activation == "relu"
                          else "."))


def _std_figure(activation: str, rows: list[dict[str, Any]], out: Path) -> Figure:
    fig, axes = new_figure(1, 1, width=6.0, height=4.0)
    ax = axes[0][0]
    for k, label in enumerate(STUDIED[activation]):
        mine = [r for r in rows if r["init"] == label]
        ax.plot([r["layer"] for r in mine], [r["std"] for r in mine], "o-", color=f"C{k}", label=label)
        lecture = LECTURE_STD.get((activation, label), ())
        ax.plot(range(1, len(lecture) + 1), lecture, "kx", ms=9)
    ax.plot([], [], "kx", label="lecture")
    ax.set(yscale="log", xlabel="layer", ylabel="activation std", xticks=range(1, DEPTH + 1), title=activation)
    ax.legend(fontsize=8)
    png = save_figure(fig, out, f"{activation}_std")
    return Figure(png, f"{activation}: standard deviation of each layer's activations (log scale), ours and the "
                       "lecture's numbers.")


def _weight_scale_results(activation: str, examples: int, out: Path) -> tuple[list[dict[str, Any]], list]:
    phi = ACTIVATIONS.get(activation)
    layers = {label: layer_activations(activation, SCHEMES[label], examples) for label in STUDIED[activation]}
    rows = []
    for label, activations in layers.items():
        lecture = LECTURE_STD.get((activation, label), ())
        rows += [{"activation": activation, "init": label, "layer": k, "mean": a.mean().item(), "std": a.std().item(),
                  "saturated_fraction": phi.saturated(a).float().mean().item(),
                  "lecture_std": lecture[k - 1] if k <= len(lecture) else None}
                 for k, a in enumerate(activations, start=1)]
    blocks = [_activation_figures(activation, layers, out), _std_figure(activation, rows, out),
              Table(rows, f"{activation}: activation statistics per layer ({activation}_std.csv); saturated "
                          f"fraction: {phi.saturation_rule}")]
    return rows, blocks


def _tanh_verdicts(rows: list[dict[str, Any]]) -> list[Verdict]:
    by = {(r["init"], r["layer"]): r for r in rows}
    verdicts = []
    for label, claim in (("0.01·N(0,1)", "0.01·N(0,1): the std collapses, 0.21, 0.048, 0.011, … → 0."),
                         ("Xavier N(0,1/n)", "Xavier N(0,1/n): the std decays slowly, ≈ 0.63, 0.49, 0.41, …")):
        pairs = [(by[label, k]["std"], v) for k, v in enumerate(LECTURE_STD["tanh", label], start=1)]
        ours = ", ".join(f"{o:.3g}" for o, _ in pairs)
        top = by[label, DEPTH]["std"]
        holds = all(_close(o, v) for o, v in pairs)
        if label == "0.01·N(0,1)":
            holds = holds and top < COLLAPSED_STD
        verdicts.append(_verdict(claim, holds, f"Ours: {ours}; layer {DEPTH}: {top:.3g} (agreement within "
                                               f"{LECTURE_RTOL:.0%}; collapse means below {COLLAPSED_STD:g})."))
    saturated = [by["N(0,1)", k]["saturated_fraction"] for k in range(1, DEPTH + 1)]
    verdicts.append(_verdict("N(0,1): every layer saturates at ±1.", min(saturated) > SATURATED_MAJORITY,
                             f"Fraction of units with |a| ≥ 0.95: {min(saturated):.1%} to {max(saturated):.1%} "
                             f"across the layers."))
    return verdicts


def _relu_verdict(rows: list[dict[str, Any]]) -> Verdict:
    def spread(label: str) -> float:
        stds = [r["std"] for r in rows if r["init"] == label]
        return max(stds) / min(stds)

    xavier, he = spread("Xavier N(0,1/n)"), spread("He N(0,2/n)")
    return _verdict("ReLU: Xavier collapses the activations, He keeps them.", xavier > LOST_FACTOR and he < KEPT_FACTOR,
                    f"Largest/smallest layer std: Xavier {xavier:.3g} (collapse: above {LOST_FACTOR:g}), He {he:.3g} "
                    f"(kept: below {KEPT_FACTOR:g}).")


def _product_results(out: Path) -> list:
    norms = {label: product_norms(v) for label, v in PRODUCT_VARIANCES.items()}
    factors = np.arange(1, PRODUCT_FACTORS + 1)
    rows = [{"factors": int(k), **{label: float(n[k - 1]) for label, n in norms.items()},
             **{f"expected {label}": (PRODUCT_SIZE * v) ** (k / 2) for label, v in PRODUCT_VARIANCES.items()}}
            for k in factors]
    write_table(rows, out, "matrix_products")
    fig, axes = new_figure(1, 1, width=6.0, height=4.0)
    ax = axes[0][0]
    for k, (label, n) in enumerate(norms.items()):
        ax.plot(factors, n, color=f"C{k}", label=label)
        ax.plot(factors, (PRODUCT_SIZE * PRODUCT_VARIANCES[label]) ** (factors / 2), "--", color=f"C{k}",
                label=f"{label}: (nσ²)^(k/2)")
    ax.set(yscale="log", xlabel="factors k", ylabel="‖W_k⋯W_1‖_F / √n",
           title=f"products of {PRODUCT_SIZE}×{PRODUCT_SIZE} Gaussian matrices")
    ax.legend(fontsize=8)
    png = save_figure(fig, out, "matrix_products")
    unscaled, scaled = norms["σ² = 1"][-1], norms["σ² = 1/n"][-1]
    holds = unscaled > EXPLODED and BOUNDED[0] <= scaled <= BOUNDED[1]
    shown = [rows[k - 1] for k in (1, 10, 25, 50, 100) if k <= PRODUCT_FACTORS]
    return [Figure(png, "Norm of the partial product against the number of factors (log scale), both variances "
                        "scaling the same random draws; dashed: the expected value."),
            Table(shown, "Partial product norms at some k (every k in matrix_products.csv)"),
            _verdict(f"The product of {PRODUCT_FACTORS} Gaussian random matrices with σ² = 1 explodes; with "
                     "σ² = 1/n it stays O(1).", holds,
                     f"After {PRODUCT_FACTORS} factors: σ² = 1 gives {unscaled:.3g} (explodes: above {EXPLODED:g}), "
                     f"σ² = 1/n gives {scaled:.3g} (bounded: within {BOUNDED[0]:g}–{BOUNDED[1]:g}).")]


def _symmetry_results(steps: int, out: Path) -> list:
    models = {dropout: train_constant_init(dropout, steps) for dropout in SYMMETRY_DROPOUTS}
    initial = unit_parameters(train_constant_init(0.0, 0))
    rows = [{"dropout": dropout, "layer": k, "max_row_difference": (p - p[0]).abs().max().item(),
             "change_from_init": (p - p0).norm().item()}
            for dropout, model in models.items()
            for k, (p, p0) in enumerate(zip(unit_parameters(model), initial), start=1)]
    write_table(rows, out, "symmetry")
    fig, axes = new_figure(1, len(models), width=3.6, height=3.4)
    for ax, (dropout, model) in zip(axes[0], models.items()):
        ax.imshow(unit_parameters(model)[0].numpy(), cmap="coolwarm", aspect="auto")
        ax.set(title=f"dropout {dropout}", xlabel="input (last column: bias)", ylabel="hidden unit")
    png = save_figure(fig, out, "symmetry")
    tied = max(r["max_row_difference"] for r in rows if r["dropout"] == 0)
    broken = min(r["max_row_difference"] for r in rows if r["dropout"] > 0)
    return [f"A tanh MLP {SYMMETRY_INPUTS} → {SYMMETRY_WIDTH} → {SYMMETRY_WIDTH} → {SYMMETRY_CLASSES}, "
            f"every weight {SYMMETRY_CONSTANT}, biases 0, trained {steps} SGD steps (η = {SYMMETRY_LR}, "
            f"minibatch {SYMMETRY_BATCH}).",
            Figure(png, "Layer 1 after training: row i holds hidden unit i's weights and bias."),
            Table(rows, "Largest difference between two units of a layer (symmetry.csv)"),
            _verdict("Constant initialization keeps every hidden unit of a layer identical under SGD; dropout "
                     "breaks the symmetry.", tied == 0 and broken > 0,
                     f"Largest difference between units: {tied:g} without dropout, at least {broken:.3g} with "
                     f"dropout {SYMMETRY_DROPOUTS[-1]}.")]


def reproduce(out: Path, budget: str = "quick", workers: int = 1, data_dir: str | None = None,
              progress: bool = True) -> Path:
    """Run the lecture's initialization demonstrations at ``budget`` (``smoke``, ``quick``
    or ``full``, see :data:`BUDGETS`) and write figures (PNG, SVG), tables (CSV) and
    ``report.html`` into ``out``; return the report's path. ``workers``, ``data_dir`` and
    ``progress`` are accepted for a uniform interface: the study needs no data set and
    takes seconds."""
    if budget not in BUDGETS:
        raise unknown_choice("budget", budget, BUDGETS)
    sizes = BUDGETS[budget]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tanh_rows, tanh_blocks = _weight_scale_results("tanh", sizes.examples, out)
    relu_rows, relu_blocks = _weight_scale_results("relu", sizes.examples, out)
    write_table(tanh_rows, out, "tanh_std")
    write_table(relu_rows, out, "relu_std")
    stack = (f"{DEPTH} layers of {WIDTH} units without biases, fed {sizes.examples} examples x ~ N(0, 1)^{WIDTH}; "
             "weights N(0, σ²) as labelled (n = 500 inputs per unit).")
    sections = [
        Section("Setup", ["Data: none (Gaussian inputs and random matrices).",
                          Table([{"budget": budget, **dataclasses.asdict(sizes)}], "Budget")]),
        Section("Weight scale and tanh activations", [stack, *tanh_blocks, *_tanh_verdicts(tanh_rows)]),
        Section("ReLU: Xavier against He", [stack, *relu_blocks, _relu_verdict(relu_rows)]),
        Section("Products of random matrices", _product_results(out)),
        Section("Symmetry of constant initialization", _symmetry_results(sizes.symmetry_steps, out)),
    ]
    return write_report(out / "report.html", "The lecture's initialization statistics", sections,
                        intro=f"Budget '{budget}'. Forward passes and random matrices only; no data set.")

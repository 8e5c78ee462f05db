"""Figures 2–12 of Glorot & Bengio (2010), drawn from stored runs only.

Each ``figure_N`` takes the study's runs (configuration label → RunDir, the run chosen on
validation error; see :mod:`depthlab.studies.glorot2010.tables`), writes ``figureNN.png``
and ``.svg`` into ``out_dir`` and returns a :class:`DrawnFigure`: the report figure and
the series it drew. A label whose run is missing or diverged (or has no probes) is left
out and the caption says so; figures of the network at initialization (6, 7, 8) still use
a run that diverged later, since its update-0 statistics are valid.

Probe statistics are measured on the run's fixed probe set (the paper: 300 test
examples, section 2.3); x axes count updates (minibatches of 10), where the paper counts
epochs, on a symmetric-log scale because probes are dense early.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from depthlab.data.figure import draw_grid
from depthlab.data.registry import DATASETS
from depthlab.data.shapeset import CLASS_NAMES, generate
from depthlab.probe.quantities import (
    ACTIVATION_HIST,
    ACTIVATION_MEAN,
    ACTIVATION_P2,
    ACTIVATION_P98,
    ACTIVATION_STD,
    BACKPROP_GRAD_HIST,
    WEIGHT_GRAD_HIST,
    WEIGHT_GRAD_STD,
)
from depthlab.references import GLOROT_TABLE1
from depthlab.report.document import ReportFigure
from depthlab.report.plotting import layer_color, new_figure, save_figure, updates_axis
from depthlab.store import RunDir, usable_runs
from depthlab.studies.glorot2010.cost_surface import (
    CostSurface,
    cost_surface,
    draw_cost_surface,
)
from depthlab.studies.glorot2010.tables import LABELS, dataset_title, skipped_note
from depthlab.theory.comparison import compare_with_theory, theory_skip_reason

ACTIVATION_COLORS = {"Sigmoid": "tab:green", "Tanh": "tab:blue", "Softsign": "tab:orange", "ReLU": "tab:red"}
"""Figures 11–12 colour a label by its activation (its first word); others are grey."""

Series = dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass
class DrawnFigure(ReportFigure):
    """A report figure and the series drawn in it, by name ("Tanh/layer 1/activation_p98"
    → (x, y))."""

    series: Series = field(default_factory=dict)


def _label_style(label: str) -> dict:
    """One colour per activation; dashed for the normalized init ("… N")."""
    return {"color": ACTIVATION_COLORS.get(label.split()[0], "tab:gray"),
            "linestyle": "--" if label.endswith(" N") else "-"}


def _no_data(ax: Axes, title: str) -> None:
    ax.text(0.5, 0.5, "no usable run", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title)
    ax.set_axis_off()


def _sources(runs: Mapping[str, RunDir], heading: str = "Runs") -> str:
    """The caption's sentence naming the runs drawn (" Runs: label: what it is; …."), or ""."""
    return (f" {heading}: " + "; ".join(f"{label}: {run.describe()}" for label, run in runs.items()) + "."
            if runs else "")


def _dataset_of(runs: Mapping[str, RunDir]) -> str:
    return dataset_title(next(iter(runs.values())).config.dataset) if runs else "no data set"


def _probe_size(runs: Mapping[str, RunDir]) -> str:
    sizes = sorted({run.config.probe_size for run in runs.values()})
    return "/".join(map(str, sizes)) or "the"


def _save(fig, out_dir: str | Path, stem: str, caption: str, drawn: Series) -> DrawnFigure:
    return DrawnFigure(save_figure(fig, out_dir, stem), caption, drawn)


def figure_1(out_dir: Path) -> ReportFigure:
    """Figure 1: example Shapeset-3×2 images with their class."""
    x, y = generate(24, seed=2010)
    out_dir.mkdir(parents=True, exist_ok=True)
    for suffix in ("png", "svg"):
        draw_grid(x, y, CLASS_NAMES, out_dir / f"figure01.{suffix}", rows=4, cols=6)
    return ReportFigure(out_dir / "figure01.png", "Figure 1: Shapeset-3×2 examples (generated, seed 2010).")


# -- statistics over training ------------------------------------------------------------
def _layer_curves(ax: Axes, label: str, run: RunDir, drawn: Series, stats: Sequence[str]) -> None:
    """Per hidden layer of ``run`` (the legend names the layer on its first ``stats``):
    ``activation_p98`` as filled markers, ``activation_p2`` as hollow markers, anything
    else as a line with small markers."""
    probes = run.probes
    layers = probes.hidden_layers()
    for k, layer in enumerate(layers, start=1):
        color = layer_color(k, len(layers))
        for stat in stats:
            steps, values = probes.series(stat, layer)
            drawn[f"{label}/{layer}/{stat}"] = (steps, values)
            legend = layer if stat == stats[0] else None
            if stat == ACTIVATION_P98:
                ax.plot(steps, values, "o", color=color, ms=4, label=legend)
            elif stat == ACTIVATION_P2:
                ax.plot(steps, values, "o", mfc="none", color=color, ms=4, label=legend)
            else:
                ax.plot(steps, values, "-", marker=".", color=color, label=legend)
    ax.legend(fontsize=8)


def figure_2(runs: Mapping[str, RunDir], out_dir: str | Path) -> DrawnFigure:
    """Figure 2: mean and standard deviation of each hidden layer's sigmoid activations
    over training (the top hidden layer saturates at 0 early, then slowly desaturates)."""
    kept, skipped = usable_runs(runs, ["Sigmoid"], probes=True)
    fig, axes = new_figure(width=7)
    ax, drawn = axes[0, 0], {}
    if kept:
        probes = kept["Sigmoid"].probes
        layers = probes.hidden_layers()
        for k, layer in enumerate(layers, start=1):
            steps, mean = probes.series(ACTIVATION_MEAN, layer)
            _, std = probes.series(ACTIVATION_STD, layer)
            color = layer_color(k, len(layers))
            ax.plot(steps, mean, "-", marker=".", color=color, label=layer)
            ax.fill_between(steps, mean - std, mean + std, color=color, alpha=0.15)
            drawn[f"Sigmoid/{layer}/{ACTIVATION_MEAN}"] = (steps, mean)
            drawn[f"Sigmoid/{layer}/{ACTIVATION_STD}"] = (steps, std)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8)
        ax.set_title("Sigmoid: activation mean ± std per layer")
        updates_axis(ax, "activation")
    else:
        _no_data(ax, "Sigmoid")
    caption = (f"Figure 2 (Glorot & Bengio 2010), {_dataset_of(kept)}: mean (line) ± one standard deviation "
               f"(band) of each hidden layer's sigmoid activations on {_probe_size(kept)} probe examples over "
               f"training." + _sources(kept) + skipped_note(skipped))
    return _save(fig, out_dir, "figure02", caption, drawn)


def _percentile_figure(runs: Mapping[str, RunDir], labels: Sequence[str], out_dir: str | Path,
                       stem: str, title: str) -> DrawnFigure:
    kept, skipped = usable_runs(runs, labels, probes=True)
    fig, axes = new_figure(len(labels), 1, width=7, sharex=True)
    drawn: Series = {}
    for ax, label in zip(axes[:, 0], labels):
        if label not in kept:
            _no_data(ax, label)
            continue
        _layer_curves(ax, label, kept[label], drawn, (ACTIVATION_P98, ACTIVATION_P2, ACTIVATION_STD))
        ax.set_ylim(-1.05, 1.05)
        ax.set_title(label)
        updates_axis(ax, "activation")
    caption = (f"{title} (Glorot & Bengio 2010), {_dataset_of(kept)}: per hidden layer, the 98th percentile "
               f"(filled markers), the 2nd percentile (hollow markers; φ is odd, so saturation shows at both "
               f"ends) and the standard deviation (lines) of the activations on {_probe_size(kept)} probe "
               f"examples over training." + _sources(kept) + skipped_note(skipped))
    return _save(fig, out_dir, stem, caption, drawn)


def figure_3(runs: Mapping[str, RunDir], out_dir: str | Path) -> DrawnFigure:
    """Figure 3: 98th percentile and std of the activations per layer over training, tanh
    (top) and softsign (bottom); tanh saturates layer after layer from layer 1."""
    return _percentile_figure(runs, ["Tanh", "Softsign"], out_dir, "figure03", "Figure 3")


def figure_10(runs: Mapping[str, RunDir], out_dir: str | Path) -> DrawnFigure:
    """Figure 10: as Figure 3 for tanh with the normalized init (no sequential saturation)."""
    return _percentile_figure(runs, ["Tanh N"], out_dir, "figure10", "Figure 10")


def figure_9(runs: Mapping[str, RunDir], out_dir: str | Path) -> DrawnFigure:
    """Figure 9: standard deviation of ∂C/∂W per layer over training, tanh with standard
    vs normalized init."""
    labels = ["Tanh", "Tanh N"]
    kept, skipped = usable_runs(runs, labels, probes=True)
    fig, axes = new_figure(1, 2, width=5.5, sharey=True)
    drawn: Series = {}
    for ax, label in zip(axes[0], labels):
        if label not in kept:
            _no_data(ax, label)
            continue
        _layer_curves(ax, label, kept[label], drawn, (WEIGHT_GRAD_STD,))
        ax.set_yscale("log")
        ax.set_title(label)
        updates_axis(ax, "std of ∂C/∂W")
        ax.tick_params(labelleft=True)  # a shared axis keeps its tick labels on both panels
    caption = (f"Figure 9 (Glorot & Bengio 2010), {_dataset_of(kept)}: standard deviation of the weight "
               f"gradients ∂C/∂W of each layer (hidden layers; C on {_probe_size(kept)} probe examples) over "
               f"training, standard vs normalized init." + _sources(kept) + skipped_note(skipped))
    return _save(fig, out_dir, "figure09", caption, drawn)


# -- histograms ------------------------------------------------------------------------
def _histogram_figure(runs: Mapping[str, RunDir], labels: Sequence[str], quantity: str, at_init: bool,
                      out_dir: str | Path, stem: str, title: str, what: str) -> DrawnFigure:
    """One panel per label: the density (fraction per bin / bin width, comparable across
    the layers' different bins) of ``quantity`` per hidden layer at step 0 (``at_init``)
    or at the last probe step."""
    kept, skipped = usable_runs(runs, labels, trained=not at_init, probes=True)
    fig, axes = new_figure(1, len(labels), width=5.5, sharex=True)
    drawn: Series = {}
    steps_used = []
    for ax, label in zip(axes[0], labels):
        if label not in kept:
            _no_data(ax, label)
            continue
        probes = kept[label].probes
        layers = probes.hidden_layers()
        chosen = [h for h in probes.histograms if h["quantity"] == quantity and h["layer"] in layers]
        step = min(h["update"] for h in chosen) if at_init else max(h["update"] for h in chosen)
        steps_used.append(f"{label} at update {step}")
        for h in (h for h in chosen if h["update"] == step):
            edges, counts = np.asarray(h["edges"]), np.asarray(h["counts"], dtype=float)
            centres = (edges[:-1] + edges[1:]) / 2
            density = counts / max(counts.sum(), 1.0) / np.diff(edges)
            k = layers.index(h["layer"]) + 1
            ax.plot(centres, density, color=layer_color(k, len(layers)), label=h["layer"])
            drawn[f"{label}/{h['layer']}/{quantity}"] = (centres, density)
        ax.set_title(f"{label}, update {step}")
        ax.xaxis.set_major_locator(MaxNLocator(5))  # gradients' long tick labels would overlap
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
        ax.set_xlabel(what)
        ax.set_ylabel("density")
        ax.legend(fontsize=8)
    caption = (f"{title} (Glorot & Bengio 2010), {_dataset_of(kept)}: normalized histograms (density) of the "
               f"{what} of each hidden layer on {_probe_size(kept)} probe examples ({', '.join(steps_used) or 'none'})."
               + _sources(kept) + skipped_note(skipped))
    return _save(fig, out_dir, stem, caption, drawn)


def figure_4(runs: Mapping[str, RunDir], out_dir: str | Path) -> DrawnFigure:
    """Figure 4: activation histograms at the end of training, tanh vs softsign (tanh piles
    up at ±1 and 0; softsign's modes sit at its knees, ±0.6–0.8)."""
    return _histogram_figure(runs, ["Tanh", "Softsign"], ACTIVATION_HIST, False, out_dir, "figure04",
                             "Figure 4", "activations")


def figure_6(runs: Mapping[str, RunDir], out_dir: str | Path) -> DrawnFigure:
    """Figure 6: tanh activation histograms at initialization, standard vs normalized."""
    return _histogram_figure(runs, ["Tanh", "Tanh N"], ACTIVATION_HIST, True, out_dir, "figure06",
                             "Figure 6", "activations")


def figure_7(runs: Mapping[str, RunDir], out_dir: str | Path) -> DrawnFigure:
    """Figure 7: histograms of the back-propagated gradients ∂C/∂s at initialization,
    standard vs normalized (with standard init they shrink toward the lower layers)."""
    return _histogram_figure(runs, ["Tanh", "Tanh N"], BACKPROP_GRAD_HIST, True, out_dir, "figure07",
                             "Figure 7", "back-propagated gradients ∂C/∂s")


def figure_8(runs: Mapping[str, RunDir], out_dir: str | Path) -> DrawnFigure:
    """Figure 8: histograms of the weight gradients ∂C/∂W at initialization, standard vs
    normalized."""
    return _histogram_figure(runs, ["Tanh", "Tanh N"], WEIGHT_GRAD_HIST, True, out_dir, "figure08",
                             "Figure 8", "weight gradients ∂C/∂W")


# -- the cost surface --------------------------------------------------------------------
def figure_5(out_dir: str | Path, surface: CostSurface | None = None) -> ReportFigure:
    """Figure 5: NLL and quadratic cost over two weights of a one-hidden-layer tanh net
    (see :mod:`depthlab.studies.cost_surface`); computed with its defaults if not given."""
    return draw_cost_surface(surface or cost_surface(), out_dir, "figure05")


# -- test error --------------------------------------------------------------------------
def _error_panel(ax: Axes, runs: Mapping[str, RunDir], dataset: str,
                 drawn: Series) -> tuple[dict[str, RunDir], list[str]]:
    """Test error (%) over updates for Table 1's labels and any other label of ``runs``
    (e.g. "ReLU He"); returns the runs drawn and the labels left out."""
    labels = [*GLOROT_TABLE1, *(label for label in LABELS if label in runs and label not in GLOROT_TABLE1),
              *(label for label in runs if label not in LABELS)]
    kept, skipped = usable_runs(runs, labels)
    for label, run in kept.items():
        updates, errors = run.series("test_error")
        updates, errors = np.asarray(updates), 100 * np.asarray(errors, dtype=float)
        ax.plot(updates, errors, marker=".", label=label, **_label_style(label))
        drawn[f"{dataset}/{label}/test_error"] = (updates, errors)
    if not kept:
        _no_data(ax, dataset_title(dataset))
        return kept, skipped
    ax.set_title(dataset_title(dataset))
    ax.set_xlabel("updates")
    ax.set_ylabel("test error (%)")
    ax.legend(fontsize=8)
    return kept, skipped


def figure_11(runs: Mapping[str, RunDir], out_dir: str | Path) -> DrawnFigure:
    """Figure 11: Shapeset-3×2 test error during online training, every activation and init."""
    fig, axes = new_figure(width=7)
    drawn: Series = {}
    kept, skipped = _error_panel(axes[0, 0], runs, "shapeset", drawn)
    caption = ("Figure 11 (Glorot & Bengio 2010): Shapeset-3×2 test error (%) during online training for each "
               "configuration (colour: activation; dashed: normalized init, solid: standard init; ReLU He: "
               "modern reference)." + _sources(kept) + skipped_note(skipped))
    return _save(fig, out_dir, "figure11", caption, drawn)


def figure_12(runs_by_dataset: Mapping[str, Mapping[str, RunDir]], out_dir: str | Path) -> DrawnFigure:
    """Figure 12: test error curves on the file data sets of the study (the paper: MNIST and
    CIFAR-10), one panel per data set."""
    # the file data sets in the registry's order, then any other (an arrays: file)
    names = [d.name for d in DATASETS if d.name in runs_by_dataset] + list(runs_by_dataset)
    datasets = [d for d in dict.fromkeys(names) if d != "shapeset"]
    fig, axes = new_figure(1, max(1, len(datasets)), width=5.5)
    drawn: Series = {}
    sources, skipped = "", []
    for ax, dataset in zip(axes[0], datasets):
        kept, left_out = _error_panel(ax, runs_by_dataset[dataset], dataset, drawn)
        sources += _sources(kept, f"{dataset_title(dataset)} runs")
        skipped += [f"{dataset_title(dataset)} {label}" for label in left_out]
    if not datasets:
        _no_data(axes[0, 0], "no file data set")
    shown = ", ".join(map(dataset_title, datasets)) or "none (no file data set in the study)"
    stand_in = (" Fashion-MNIST stands in for MNIST, whose files were not found on the machine that ran the study "
                "(see --data-dir and --download)."
                if "fashion-mnist" in datasets and "mnist" not in datasets else "")
    caption = (f"Figure 12 (Glorot & Bengio 2010, MNIST and CIFAR-10): test error (%) over updates on {shown}."
               + stand_in + sources + skipped_note(skipped))
    return _save(fig, out_dir, "figure12", caption, drawn)


# -- measured vs mean-field theory -------------------------------------------------------
def theory_figure(runs: Mapping[str, RunDir], out_dir: str | Path) -> DrawnFigure:
    """Measured vs mean-field variances at initialization, tanh with standard and
    normalized init: the pre-activation variance Var[s^l] beside q^l, and the
    back-propagated gradient variance Var[∂C/∂s^l] / Var[∂C/∂s^L] (L the top hidden
    layer) beside Π σ_w² (n_{k+1}/n_k) E[φ'(√q^k z)²], as
    :func:`depthlab.theory.comparison.compare_with_theory` computes them (Glorot & Bengio
    2010, eqs. 6–14): the forward prediction starts from the measured Var[s^1]."""
    labels = ["Tanh", "Tanh N"]
    kept, skipped = usable_runs(runs, labels, trained=False, probes=True)
    for label, run in list(kept.items()):
        if reason := theory_skip_reason(run.config, run.network):
            skipped.append(f"{label} ({reason})")
            del kept[label]
    fig, axes = new_figure(1, 2, width=5.5)
    drawn: Series = {}
    for label, run in kept.items():
        comparison = compare_with_theory(run.config, run.network, run.probes)
        depth = np.arange(1, len(comparison.rows) + 1)
        column = lambda key: np.array([row[key] for row in comparison.rows])  # noqa: E731
        style = _label_style(label)
        for ax, ours, theirs, name in (
                (axes[0, 0], column("Var[s] measured"), column("q predicted"), "preactivation_var"),
                (axes[0, 1], column("Var[∂C/∂s] / top measured"), column("Var[∂C/∂s] / top predicted"),
                 "backprop_grad_var_ratio")):
            ax.plot(depth, ours, "o", color=style["color"], mfc="none" if label.endswith(" N") else None,
                    label=f"{label} measured")
            ax.plot(depth, theirs, **style, label=f"{label} mean field")
            drawn[f"{label}/{name}/measured"] = (depth, ours)
            drawn[f"{label}/{name}/predicted"] = (depth, theirs)
    for ax, ylabel in ((axes[0, 0], "Var[s] (pre-activation)"), (axes[0, 1], "Var[∂C/∂s] / top hidden layer")):
        if not kept:
            _no_data(ax, ylabel)
            continue
        ax.set_yscale("log")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("hidden layer")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
    caption = (f"Mean-field theory vs measurement at initialization, {_dataset_of(kept)}: per hidden layer, the "
               "pre-activation variance (left) and the back-propagated gradient variance relative to the top "
               "hidden layer (right); markers measured on the probe set at update 0, lines predicted "
               "(depthlab.theory.predict_layers, the forward pass started from the measured layer-1 variance)."
               + _sources(kept) + skipped_note(skipped))
    return _save(fig, out_dir, "figure_theory", caption, drawn)


def glorot2010_figures(runs_by_dataset: Mapping[str, Mapping[str, RunDir]], out_dir: str | Path,
                       surface: CostSurface | None = None) -> dict[str, ReportFigure]:
    """Every figure, by file stem ("figure02" … "figure12", "figure_theory"); Figures 2–11
    and the theory figure from the Shapeset runs."""
    shapeset = runs_by_dataset.get("shapeset", {})
    figures = {f"figure{n:02d}": draw(shapeset, out_dir) for n, draw in (
        (2, figure_2), (3, figure_3), (4, figure_4), (6, figure_6), (7, figure_7), (8, figure_8),
        (9, figure_9), (10, figure_10), (11, figure_11))}
    figures["figure05"] = figure_5(out_dir, surface)
    figures["figure12"] = figure_12(runs_by_dataset, out_dir)
    figures["figure_theory"] = theory_figure(shapeset, out_dir)
    return dict(sorted(figures.items()))

"""One run's report: what it was, how it trained, what its probes saw layer by layer,
what mean-field theory predicted at initialization (:mod:`depthlab.theory.comparison`),
and a plain-words diagnosis (:mod:`depthlab.report.diagnosis`).

:func:`write_run_report` reads only the run directory (see :mod:`depthlab.store`), so it
works for completed, diverged, interrupted and killed runs alike, and for runs without
probes (then the page holds the error curves and a note). Figures are written as PNG and
SVG beside ``report.html``, which embeds the PNGs and is self-contained.
"""

from __future__ import annotations

import math

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from depthlab.config import TrainConfig
from depthlab.errors import DepthlabError
from depthlab.probe.quantities import (
    ACTIVATION_HIST,
    ACTIVATION_MEAN,
    ACTIVATION_P2,
    ACTIVATION_P98,
    ACTIVATION_STD,
    BACKPROP_GRAD_HIST,
    BACKPROP_GRAD_NORM,
    BACKPROP_GRAD_STD,
    BIAS_GRAD_NORM,
    INPUT_JACOBIAN_SV_HIST,
    INPUT_JACOBIAN_SV_MAX,
    INPUT_JACOBIAN_SV_MEAN,
    JACOBIAN_SV_COUNT,
    JACOBIAN_SV_MAX,
    JACOBIAN_SV_MEAN,
    JACOBIAN_SV_MIN,
    PREACTIVATION_HIST,
    PREACTIVATION_MEAN,
    PREACTIVATION_STD,
    SATURATED_FRACTION,
    UPDATE_RATIO,
    WEIGHT_GRAD_HIST,
    WEIGHT_GRAD_NORM,
    WEIGHT_GRAD_STD,
    WEIGHT_NORM,
)
from depthlab.references import GLOROT_JACOBIAN
from depthlab.report.diagnosis import UPDATE_RATIO_HIGH, UPDATE_RATIO_LOW, Finding, diagnose_run
from depthlab.report.document import ReportFigure, Section, Table, Verdict, key_value_table
from depthlab.report.html import write_report
from depthlab.report.plotting import layer_color, new_figure, save_figure, updates_axis
from depthlab.store import ProbeLog, RunDir
from depthlab.theory.comparison import (
    TheoryComparison,
    compare_with_theory,
    theory_skip_reason,
)
from depthlab.training.optim import OPTIMIZERS

REPORT_NAME = "report.html"
GRADIENT_TREND = {"ordered": "shrink", "critical": "keep their size", "chaotic": "grow"}


@dataclass
class RunReport:
    """What :func:`write_run_report` wrote and found."""

    path: Path
    findings: list[Finding]
    theory: TheoryComparison | None


# -- theory ------------------------------------------------------------------------------
def _depth_sentence(xi_c: float, hidden_layers: int) -> str:
    """What the correlation depth scale ξ_c says about this depth, in plain words."""
    if math.isinf(xi_c):
        return (f"Here the network is at the edge of chaos (ξ_c is infinite): signals propagate through any depth, "
                f"so depth alone does not limit training; this one has {hidden_layers} hidden layers.")
    return (f"Correlation depth scale ξ_c = {xi_c:.4g}: random nets train up to about 6 ξ_c = {6 * xi_c:.4g} "
            f"layers; this one has {hidden_layers} hidden layers.")


def _theory_blocks(theory: TheoryComparison, config: TrainConfig, out: Path) -> list:
    summary = (f"χ₁ = σ_w² E[φ'(√q* z)²] = {theory.chi1:.4g} at σ_w² = {theory.sigma_w2:.4g} (top hidden "
               f"layer) and σ_b² = {theory.sigma_b2:g}: the {theory.phase} phase (Poole et al. 2016; Schoenholz et al. "
               f"2017), where back-propagated gradients {GRADIENT_TREND[theory.phase]} from layer to layer. "
               + _depth_sentence(theory.scales.xi_c, len(theory.rows)))
    blocks: list = [summary]
    if theory.jacobian_sv_mean is not None:
        paper = ", ".join(f"{v:g} for {k}" for k, v in GLOROT_JACOBIAN.items())
        blocks.append(f"Mean singular value of the layer Jacobian diag(φ'(s)) W at update {theory.update}, averaged "
                      f"over the hidden layers: {theory.jacobian_sv_mean:.3g} (Glorot & Bengio 2010, tanh: "
                      f"about {paper}, i.e. standard vs normalized init).")
    blocks.append(Table(theory.rows, f"Per hidden layer at update {theory.update}: measured on the probe set vs "
                                     f"predicted by depthlab.theory.predict_layers (q⁰ = {theory.q0:.4g}, chosen "
                                     "so that layer 1's predicted variance is the measured one)."))
    blocks.append(_theory_figure(theory, config, out))
    return blocks


def _theory_figure(theory: TheoryComparison, config: TrainConfig, out: Path) -> ReportFigure:
    fig, axes = new_figure(1, 2, width=5.0)
    depth = np.arange(1, len(theory.rows) + 1)
    for ax, name, ylabel in ((axes[0, 0], "Var[s]", "pre-activation variance"),
                             (axes[0, 1], "Var[∂C/∂s] / top", "Var[∂C/∂s] / top hidden layer")):
        measured = [row[f"{name} measured"] for row in theory.rows]
        predicted = [row["q predicted" if name == "Var[s]" else f"{name} predicted"] for row in theory.rows]
        ax.plot(depth, measured, "o", label="measured")
        ax.plot(depth, predicted, "-", color="black", label="mean field")
        ax.set_yscale("log")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set(xlabel="hidden layer", ylabel=ylabel)
        ax.legend(fontsize=8)
    path = save_figure(fig, out, "theory")
    return ReportFigure(path, f"{config.activation}, init {config.init}: measured (markers) vs mean-field (line) "
                              f"variances per hidden layer at update {theory.update}.")


# -- figures -----------------------------------------------------------------------------
def _over_updates(ax, ylabel: str, log: bool = False) -> None:
    """:func:`updates_axis`, then a log y axis where asked and the values allow it, and a legend."""
    updates_axis(ax, ylabel)
    values = np.concatenate([np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()] or [[]])
    if log and (np.isfinite(values) & (values > 0)).any():
        ax.set_yscale("log")
    if ax.get_legend_handles_labels()[0]:  # none where the run kept none of the panel's statistics (probe-stats)
        ax.legend(fontsize=7)


def _per_layer(ax, probes: ProbeLog, stat: str, layers: Sequence[str], hidden: int,
               style: str = ".-", legend: bool = True, **kwargs) -> None:
    """One curve of ``stat`` per layer over training: the hidden layers coloured bottom
    (dark) to top (light), the output layer in black; ``legend`` names the layers."""
    if not probes.has(stat):
        return
    for k, layer in enumerate(layers, start=1):
        steps, values = probes.series(stat, layer)
        if len(steps):
            color = layer_color(k, hidden) if k <= hidden else "black"
            ax.plot(steps, values, style, color=color, label=layer if legend else None, **kwargs)


def _curves_figure(run: RunDir, status: dict[str, Any], out: Path) -> ReportFigure:
    """The costs over updates, and beside them the error rates for a run with classes (a
    regression, which has none, gets its costs on a log scale alone)."""
    errors = {label: run.series(key) for key, label in (("validation_error", "validation"), ("test_error", "test"))}
    classes = any(updates for updates, _ in errors.values())
    fig, axes = new_figure(1, 2 if classes else 1, width=5.0)
    for key, label in (("train_cost", "training"), ("validation_cost", "validation"), ("test_cost", "test")):
        updates, values = run.series(key)
        if updates:
            axes[0, 0].plot(updates, values, ".-", label=label)
    panels = [(axes[0, 0], "cost")]
    if classes:
        for label, (updates, values) in errors.items():
            if updates:
                axes[0, 1].plot(updates, 100 * np.asarray(values, dtype=float), ".-", label=label)
        panels.append((axes[0, 1], "error (%)"))
    else:
        axes[0, 0].set_yscale("log")
    for ax, ylabel in panels:
        if status.get("status") == "diverged":
            ax.axvline(status.get("diverged_at", status.get("update")), color="red", linestyle=":", label="diverged")
        ax.set(xlabel="updates", ylabel=ylabel)
        if ax.get_lines():
            ax.legend(fontsize=8)
    path = save_figure(fig, out, "training")
    return ReportFigure(path, "Training cost (mean over the logging window), validation and test cost (left) and error "
                              "(right) over updates." if classes else
                        "Training cost (mean over the logging window), validation and test cost over updates "
                        "(a regression: no error rates).")


def _activation_figure(probes: ProbeLog, layers: Sequence[str], out: Path, probe_size: int) -> ReportFigure:
    fig, axes = new_figure(1, 3, width=4.2)
    both = probes.has(ACTIVATION_MEAN) and probes.has(ACTIVATION_STD)  # a probe told to keep fewer (stats=) has not
    for k, layer in enumerate(layers if both else [], start=1):
        steps, mean = probes.series(ACTIVATION_MEAN, layer)
        _, std = probes.series(ACTIVATION_STD, layer)
        color = layer_color(k, len(layers))
        axes[0, 0].plot(steps, mean, ".-", color=color, label=layer)
        axes[0, 0].fill_between(steps, mean - std, mean + std, color=color, alpha=0.15)
    _per_layer(axes[0, 1], probes, ACTIVATION_P98, layers, len(layers), "o", ms=4)
    _per_layer(axes[0, 1], probes, ACTIVATION_P2, layers, len(layers), "o", legend=False, ms=4, mfc="none")
    _per_layer(axes[0, 2], probes, SATURATED_FRACTION, layers, len(layers))
    for ax, ylabel in zip(axes[0], ("activation mean ± std", "98th (filled), 2nd (hollow) percentile",
                                    "saturated fraction")):
        _over_updates(ax, ylabel)
    path = save_figure(fig, out, "activations")
    return ReportFigure(path, f"Per hidden layer over training, on {probe_size} probe examples: activation mean ± one "
                              "standard deviation (left; Glorot & Bengio 2010, Figure 2), 98th and 2nd percentiles "
                              "(middle; Figure 3) and the fraction of saturated units (right).")


GRADIENT_PANELS = ((BACKPROP_GRAD_STD, "std of ∂C/∂s"), (WEIGHT_GRAD_STD, "std of ∂C/∂W"),
                   (BIAS_GRAD_NORM, "‖∂C/∂b‖ (learning speed)"), (UPDATE_RATIO, "‖ΔW‖/‖W‖ per update"))


def _gradient_figure(probes: ProbeLog, layers: Sequence[str], hidden: int, out: Path) -> ReportFigure:
    fig, axes = new_figure(2, 2, width=5.0, height=3.6)
    for ax, (stat, ylabel) in zip(axes.flat, GRADIENT_PANELS):
        _per_layer(ax, probes, stat, layers, hidden)
        if stat == UPDATE_RATIO:
            for limit in (UPDATE_RATIO_LOW, UPDATE_RATIO_HIGH):
                ax.axhline(limit, color="grey", linestyle=":", linewidth=1)
        _over_updates(ax, ylabel, log=True)
    path = save_figure(fig, out, "gradients")
    return ReportFigure(path, "Per layer over training: the back-propagated gradient ∂C/∂s and the weight gradient "
                              "∂C/∂W (standard deviations; Glorot & Bengio 2010, Figure 9), the bias-gradient norm "
                              "(Nielsen's learning speed) and the relative weight change per update with the diagnosis "
                              f"limits {UPDATE_RATIO_LOW:g} and {UPDATE_RATIO_HIGH:g} (dotted).")


HISTOGRAM_QUANTITIES = ((ACTIVATION_HIST, "activation"), (BACKPROP_GRAD_HIST, "∂C/∂s"),
                        (WEIGHT_GRAD_HIST, "∂C/∂W"))


def _histogram_figure(histograms: Sequence[dict[str, Any]], layers: Sequence[str], out: Path) -> ReportFigure:
    """Densities per hidden layer at the first and last probe, of Glorot & Bengio's three."""
    path, chosen = _densities(histograms, HISTOGRAM_QUANTITIES, layers, out, "histograms")
    return ReportFigure(path, f"Histograms (density) per hidden layer at the first and last probe (updates "
                              f"{' and '.join(map(str, chosen))}): activations (Glorot & Bengio 2010, Figures 4 "
                              "and 6), back-propagated gradients (Figure 7) and weight gradients (Figure 8).")


def _densities(histograms: Sequence[dict[str, Any]], quantities: Sequence[tuple[str, str]], layers: Sequence[str],
               out: Path, stem: str) -> tuple[Path, list[int]]:
    """One row per (quantity, label) of ``quantities``: the densities (fraction per bin /
    bin width) of each of ``layers`` at the first and last update of ``histograms``."""
    steps = sorted({h["update"] for h in histograms})
    chosen = sorted({steps[0], steps[-1]})
    fig, axes = new_figure(len(quantities), len(chosen), width=5.0, height=3.2)
    for row, (quantity, label) in enumerate(quantities):
        for col, step in enumerate(chosen):
            ax = axes[row, col]
            for h in histograms:
                if h["update"] == step and h["quantity"] == quantity and h["layer"] in layers:
                    edges, counts = np.asarray(h["edges"]), np.asarray(h["counts"], dtype=float)
                    density = counts / max(counts.sum(), 1.0) / np.diff(edges)
                    k = layers.index(h["layer"]) + 1
                    ax.plot((edges[:-1] + edges[1:]) / 2, density, color=layer_color(k, len(layers)),
                            label=h["layer"])
            ax.set(title=f"{label}, update {step}", xlabel=label, ylabel="density")
            ax.locator_params(axis="x", nbins=5)
            if ax.get_lines():
                ax.legend(fontsize=7)
    return save_figure(fig, out, stem), chosen


ACTIVATION_STATS = (ACTIVATION_MEAN, ACTIVATION_STD, ACTIVATION_P2, ACTIVATION_P98, SATURATED_FRACTION)
LEFT_OUT = (PREACTIVATION_MEAN, PREACTIVATION_STD, BACKPROP_GRAD_NORM, WEIGHT_GRAD_NORM, WEIGHT_NORM, JACOBIAN_SV_MEAN,
            JACOBIAN_SV_MIN, JACOBIAN_SV_MAX, JACOBIAN_SV_COUNT, INPUT_JACOBIAN_SV_MEAN, INPUT_JACOBIAN_SV_MAX)
LEFT_OUT_HISTOGRAMS = (PREACTIVATION_HIST, INPUT_JACOBIAN_SV_HIST)
"""Statistics and histograms the page leaves out on purpose: norms beside the standard
deviations drawn, and the pre-activations and spectra the theory section reads. Any other
a run stored (a quantity of the user's own) is drawn under "More statistics"."""


def more_statistics(probes: ProbeLog) -> tuple[list[str], list[str]]:
    """The statistics and the histogram quantities of ``probes`` that neither a figure
    draws nor :data:`LEFT_OUT` (:data:`LEFT_OUT_HISTOGRAMS`) names, in the order first measured."""
    shown = {*ACTIVATION_STATS, *(stat for stat, _ in GRADIENT_PANELS), *LEFT_OUT}
    drawn = {*(quantity for quantity, _ in HISTOGRAM_QUANTITIES), *LEFT_OUT_HISTOGRAMS}
    return ([stat for stat in dict.fromkeys(row["stat"] for row in probes.rows) if stat not in shown],
            [quantity for quantity in dict.fromkeys(h["quantity"] for h in probes.histograms) if quantity not in drawn])


def _more_blocks(probes: ProbeLog, layers: Sequence[str], hidden: int, out: Path) -> list[ReportFigure]:
    """The figures of :func:`more_statistics`: one panel per statistic, one row of
    densities per histogram quantity."""
    stats, quantities = more_statistics(probes)
    blocks = [_more_figure(probes, stats, layers, hidden, out)] if stats else []
    if quantities:
        histograms = [h for h in probes.histograms if h["quantity"] in quantities]
        path, chosen = _densities(histograms, [(q, q) for q in quantities], list(layers), out, "more_histograms")
        blocks.append(ReportFigure(path, f"Histograms (density) per layer at the first and last probe (updates "
                                         f"{' and '.join(map(str, chosen))}): {', '.join(quantities)}."))
    return blocks


def _more_figure(probes: ProbeLog, stats: Sequence[str], layers: Sequence[str], hidden: int,
                 out: Path) -> ReportFigure:
    cols = min(len(stats), 3)
    rows = -(-len(stats) // cols)
    fig, axes = new_figure(rows, cols, width=4.2, height=3.2)
    for ax, stat in zip(axes.flat, stats):
        _per_layer(ax, probes, stat, layers, hidden)
        _over_updates(ax, stat)
    for ax in axes.flat[len(stats):]:
        ax.set_visible(False)
    path = save_figure(fig, out, "more")
    return ReportFigure(path, f"Per layer over training: {', '.join(stats)}, the run's other probe statistics.")


# -- the page ----------------------------------------------------------------------------
def _status_sentence(status: dict[str, Any]) -> str:
    state, update = status.get("status", "unknown"), status.get("update", "?")
    if state == "diverged":
        return (f"Status: diverged at update {status.get('diverged_at', update)} "
                f"(training cost {status.get('cost', 'non-finite')}).")
    if state == "running":
        return f"Status: running at update {update}: still going, or killed before it could record its end."
    return f"Status: {state} at update {update}."


def own_settings(config: TrainConfig) -> dict[str, Any]:
    """The run's configuration, less the settings its optimizer does not take (μ for an
    optimizer without momentum: plain SGD, AdaGrad, RMSProp, Adam)."""
    settings = config.to_dict()
    if not OPTIMIZERS.get(config.optimizer).momentum:
        del settings["momentum"]
    return settings


def _finding_block(finding: Finding) -> Verdict:
    return Verdict(finding.name, finding.severity, finding.evidence + (f" Try: {finding.advice}" if finding.advice
                                                                       else ""))


def write_run_report(run: RunDir | str | Path, out_dir: str | Path | None = None) -> RunReport:
    """Write ``report.html`` and its figures for a stored run (a RunDir or its path) into
    ``out_dir`` (default the run's report folder) and return it with the diagnosis."""
    run = run if isinstance(run, RunDir) else RunDir.open(run)
    out = Path(out_dir) if out_dir is not None else run.report_dir
    if out.exists() and not out.is_dir():
        raise DepthlabError(f"--out {out} is a file, not a directory")
    status, probes = run.status, run.probes
    findings = diagnose_run(run)

    final = run.final
    summary = Section("Run", [run.describe(), _status_sentence(status)])
    if final:
        summary.blocks.append(key_value_table(final, "final", "The run's final numbers."))
    if run.made_by_probe:
        facts = run.probe_facts
        summary.blocks.append(key_value_table({k: v for k, v in facts.items() if k != "layers"}, "fact",
                                              "What the training loop told its probe."))
        summary.blocks.append(Table(facts["layers"], "The probed layers and the activation each one's output "
                                                     "went through."))
        hidden = [layer["layer"] for layer in facts["layers"] if layer.get("activation")]
        probe_size = facts.get("probe_size", "the")
    else:
        config = run.config
        summary.blocks.append(key_value_table(own_settings(config), "setting", "The run's configuration."))
        hidden, probe_size = probes.hidden_layers(), config.probe_size
    sections = [summary, Section("Diagnosis", [_finding_block(f) for f in findings]),
                Section("Training curves", [_curves_figure(run, status, out)])]

    theory = None
    if not probes:
        sections.append(Section("Layer statistics", ["This run stored no probe statistics (it was trained with "
                                                     "--no-probe, or stopped before its first probe), so only "
                                                     "the error curves are shown."]))
    else:
        probed = [*hidden, *(name for name in probes.layers if name not in hidden)]
        sections += [Section("Activations", [_activation_figure(probes, hidden, out, probe_size)]),
                     Section("Gradients", [_gradient_figure(probes, probed, len(hidden), out)]),
                     Section("Histograms", [_histogram_figure(probes.histograms, hidden, out) if probes.histograms
                                            else "No measure recorded histograms."])]
        if more := _more_blocks(probes, probed, len(hidden), out):
            sections.append(Section("More statistics", more))
        reason = ("the model is a user's own: depthlab does not know how its weights were drawn" if run.made_by_probe
                  else theory_skip_reason(config, run.network))
        if reason:
            blocks = [f"Mean-field theory does not cover this run: {reason}."]
        else:
            theory = compare_with_theory(config, run.network, probes)
            blocks = _theory_blocks(theory, config, out)
        sections.append(Section("Theory beside measurement", blocks))

    path = write_report(out / REPORT_NAME, f"Run report: {run.path.name}", sections,
                        intro="Everything below is read from the run directory "
                              f"{run.path} (its configuration, status, metrics and probe statistics).")
    return RunReport(path, findings, theory)

"""One run's report: what it was, how it trained, what its probes saw layer by layer,
what mean-field theory predicted at initialization, and a plain-words diagnosis.

:func:`write_run_report` reads only the run directory (see :mod:`depthlab.store.run`), so
it works for completed, diverged, interrupted and killed runs alike, and for runs without
probes (then the page holds the error curves and a note). Figures are written as PNG and
SVG beside ``report.html``, which embeds the PNGs and is self-contained.

Theory beside measurement, at the first probe (the network at initialization): per hidden
layer l the measured pre-activation variance Var[s^l] beside the mean-field q^l, and the
back-propagated gradient variance Var[∂C/∂s^l] / Var[∂C/∂s^L] (L the top hidden layer)
beside Π_{k≥l} σ_w²_{k+1} (n_{k+1}/n_k) E[φ'(√q^k z)²] (Glorot & Bengio 2010, section
4.2.1; see :func:`depthlab.theory.predict_layers`). The input's second moment is not
stored, so q⁰ = max(Var[s¹] − σ_b², 0) / σ_w²_1 makes the prediction start from the
measured layer-1 variance: the comparison is of how variances propagate upward and
gradients downward.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from depthlab.errors import DepthlabError
from depthlab.probe.stats import hidden_layers, read_rows, series, values_at
from depthlab.report.diagnosis import (
    UPDATE_RATIO_HIGH,
    UPDATE_RATIO_LOW,
    Finding,
    diagnose,
)
from depthlab.report.html import Figure, Section, Table, Verdict, write_report
from depthlab.report.plotting import layer_color, new_figure, save_figure, updates_axis
from depthlab.store.run import RunDir
from depthlab.studies.glorot2010_tables import PAPER_JACOBIAN, describe
from depthlab.theory import (
    TRAINABLE_DEPTH_FACTOR,
    chi1,
    classify_phase,
    depth_scales,
    init_sigma_w2,
    predict_layers,
)

REPORT_NAME = "report.html"
GRADIENT_TREND = {"ordered": "shrink", "critical": "keep their size", "chaotic": "grow"}
BIAS_VARIANCE = {"zero": 0.0, "normal": 1.0}
"""σ_b² of each ``--bias-init``: zeros, or N(0, 1) (Nielsen 2015)."""


@dataclass
class TheoryComparison:
    """Measured vs predicted variances per hidden layer at probe step ``step``, and the
    run's mean-field summary: χ₁ and the phase at σ_w² of the top hidden layer, ξ_c, and
    the mean layer-Jacobian singular value averaged over the hidden layers (None if not
    measured)."""

    step: int
    rows: list[dict[str, Any]]
    q0: float
    sigma_w2: float
    sigma_b2: float
    chi1: float
    phase: str
    xi_c: float
    jacobian_sv_mean: float | None


@dataclass
class RunReport:
    """What :func:`write_run_report` wrote and found."""

    path: Path
    findings: list[Finding]
    theory: TheoryComparison | None


# -- theory ------------------------------------------------------------------------------
def theory_skip_reason(config: dict[str, Any]) -> str | None:
    """Why mean-field theory does not describe this run's network at initialization, or
    None when it does."""
    if config["init"] == "lsuv":
        return "LSUV rescales each layer on a data batch, so σ_w² is not fixed by the init"
    if config["init"].startswith("constant"):
        return "a constant init has Var[W] = 0: every unit of a layer computes the same thing"
    if config.get("batchnorm"):
        return "batch normalization rescales the pre-activations, outside the mean-field recursion"
    return None


def input_width(histograms: Sequence[dict[str, Any]], step: int, first_width: int) -> int:
    """n_0, from the layer-1 weight-gradient histogram at ``step``, which counts each of
    the n_1·n_0 weights once (all are finite at initialization)."""
    counts = next(h["counts"] for h in histograms
                  if h["step"] == step and h["quantity"] == "weight_grad" and h["layer"] == "layer 1")
    return sum(counts) // first_width


def compare_with_theory(config: dict[str, Any], rows: Sequence[dict[str, Any]],
                        histograms: Sequence[dict[str, Any]]) -> TheoryComparison:
    """The measured variances at the first probe beside :func:`predict_layers` for the
    run's widths, activation, init and σ_b², with q⁰ as in the module docstring."""
    step = min(row["step"] for row in rows)
    layers = hidden_layers(rows)
    measured_q = np.array([values_at(rows, "preactivation_std", step)[layer] ** 2 for layer in layers])
    grad_var = np.array([values_at(rows, "backprop_grad_std", step)[layer] ** 2 for layer in layers])
    hidden = config.get("widths") or [config["width"]] * config["depth"]
    widths = [input_width(histograms, step, hidden[0]), *hidden]
    sigma_b2 = BIAS_VARIANCE[config.get("bias_init", "zero")]
    q0 = max(measured_q[0] - sigma_b2, 0.0) / init_sigma_w2(config["init"], widths[0], widths[1])
    predicted = predict_layers(widths, config["activation"], config["init"], sigma_b2=sigma_b2, q0=q0)
    jacobian = values_at(rows, "jacobian_sv_mean", step)
    table = [{"layer": layer, "σ_w²": float(predicted.sigma_w2[k]),
              "Var[s] measured": float(measured_q[k]), "q predicted": float(predicted.q[k]),
              "Var[∂C/∂s] / top measured": float(grad_var[k] / grad_var[-1]),
              "Var[∂C/∂s] / top predicted": float(predicted.grad_var_ratio[k]),
              **({"Jacobian mean sv": jacobian[layer]} if layer in jacobian else {})}
             for k, layer in enumerate(layers)]
    sigma_w2 = float(predicted.sigma_w2[-1])
    chi = float(chi1(config["activation"], sigma_w2, sigma_b2))
    measured_sv = [v for v in jacobian.values() if math.isfinite(v)]
    return TheoryComparison(step, table, q0, sigma_w2, sigma_b2, chi, classify_phase(chi),
                            depth_scales(config["activation"], sigma_w2, sigma_b2).xi_c,
                            float(np.mean(measured_sv)) if measured_sv else None)


def _theory_blocks(theory: TheoryComparison, config: dict[str, Any], out: Path) -> list:
    summary = (f"χ₁ = σ_w² E[φ'(√q* z)²] = {theory.chi1:.4g} at σ_w² = {theory.sigma_w2:.4g} (top hidden "
               f"layer) and σ_b² = {theory.sigma_b2:g}: the {theory.phase} phase (Poole et al. 2016; Schoenholz et al. "
               f"2017), where back-propagated gradients {GRADIENT_TREND[theory.phase]} from layer to layer. "
               f"Correlation depth scale ξ_c = {theory.xi_c:.4g}: random nets train up to about "
               f"{TRAINABLE_DEPTH_FACTOR:g} ξ_c = {TRAINABLE_DEPTH_FACTOR * theory.xi_c:.4g} layers; this one has "
               f"{len(theory.rows)} hidden layers.")
    blocks: list = [summary]
    if theory.jacobian_sv_mean is not None:
        paper = ", ".join(f"{v:g} for {k}" for k, v in PAPER_JACOBIAN.items())
        blocks.append(f"Mean singular value of the layer Jacobian diag(φ'(s)) W at update {theory.step}, averaged "
                      f"over the hidden layers: {theory.jacobian_sv_mean:.3g} (Glorot & Bengio 2010, tanh: "
                      f"about {paper}, i.e. standard vs normalized init).")
    blocks.append(Table(theory.rows, f"Per hidden layer at update {theory.step}: measured on the probe set vs "
                                     f"predicted by depthlab.theory.predict_layers (q⁰ = {theory.q0:.4g}, chosen "
                                     "so that layer 1's predicted variance is the measured one)."))
    blocks.append(_theory_figure(theory, config, out))
    return blocks


def _theory_figure(theory: TheoryComparison, config: dict[str, Any], out: Path) -> Figure:
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
    return Figure(path, f"{config['activation']}, init {config['init']}: measured (markers) vs mean-field (line) "
                        f"variances per hidden layer at update {theory.step}.")


# -- figures -----------------------------------------------------------------------------
def _over_updates(ax, ylabel: str, log: bool = False) -> None:
    """:func:`updates_axis`, then a log y axis where asked and the values allow it, and a legend."""
    updates_axis(ax, ylabel)
    values = np.concatenate([np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()] or [[]])
    if log and (np.isfinite(values) & (values > 0)).any():
        ax.set_yscale("log")
    if ax.get_lines():
        ax.legend(fontsize=7)


def _per_layer(ax, rows: Sequence[dict[str, Any]], stat: str, layers: Sequence[str], hidden: int,
               style: str = ".-", legend: bool = True, **kwargs) -> None:
    """One curve of ``stat`` per layer over training: the hidden layers coloured bottom
    (dark) to top (light), the output layer in black; ``legend`` names the layers."""
    if not any(row["stat"] == stat for row in rows):
        return
    for k, layer in enumerate(layers, start=1):
        steps, values = series(rows, stat, layer)
        if len(steps):
            color = layer_color(k, hidden) if k <= hidden else "black"
            ax.plot(steps, values, style, color=color, label=layer if legend else None, **kwargs)


def _curves_figure(run: RunDir, status: dict[str, Any], out: Path) -> Figure:
    fig, axes = new_figure(1, 2, width=5.0)
    for key, label in (("train_cost", "training"), ("validation_cost", "validation"), ("test_cost", "test")):
        updates, values = run.series(key)
        if updates:
            axes[0, 0].plot(updates, values, ".-", label=label)
    for key, label in (("validation_error", "validation"), ("test_error", "test")):
        updates, values = run.series(key)
        if updates:
            axes[0, 1].plot(updates, 100 * np.asarray(values, dtype=float), ".-", label=label)
    for ax, ylabel in ((axes[0, 0], "cost"), (axes[0, 1], "error (%)")):
        if status.get("status") == "diverged":
            ax.axvline(status.get("diverged_at", status.get("update")), color="red", linestyle=":", label="diverged")
        ax.set(xlabel="updates", ylabel=ylabel)
        if ax.get_lines():
            ax.legend(fontsize=8)
    path = save_figure(fig, out, "training")
    return Figure(path, "Training cost (mean over the logging window), validation and test cost (left) and error "
                        "(right) over updates.")


def _activation_figure(rows, layers: Sequence[str], out: Path, probe_size: int) -> Figure:
    fig, axes = new_figure(1, 3, width=4.2)
    for k, layer in enumerate(layers, start=1):
        steps, mean = series(rows, "activation_mean", layer)
        _, std = series(rows, "activation_std", layer)
        color = layer_color(k, len(layers))
        axes[0, 0].plot(steps, mean, ".-", color=color, label=layer)
        axes[0, 0].fill_between(steps, mean - std, mean + std, color=color, alpha=0.15)
    _per_layer(axes[0, 1], rows, "activation_p98", layers, len(layers), "o", ms=4)
    _per_layer(axes[0, 1], rows, "activation_p2", layers, len(layers), "o", legend=False, ms=4, mfc="none")
    _per_layer(axes[0, 2], rows, "saturated_fraction", layers, len(layers))
    for ax, ylabel in zip(axes[0], ("activation mean ± std", "98th (filled), 2nd (hollow) percentile",
                                    "saturated fraction")):
        _over_updates(ax, ylabel)
    path = save_figure(fig, out, "activations")
    return Figure(path, f"Per hidden layer over training, on {probe_size} probe examples: activation mean ± one "
                        "standard deviation (left; Glorot & Bengio 2010, Figure 2), 98th and 2nd percentiles "
                        "(middle; Figure 3) and the fraction of saturated units (right).")


def _gradient_figure(rows, layers: Sequence[str], hidden: int, out: Path) -> Figure:
    fig, axes = new_figure(2, 2, width=5.0, height=3.6)
    panels = (("backprop_grad_std", "std of ∂C/∂s"), ("weight_grad_std", "std of ∂C/∂W"),
              ("bias_grad_norm", "‖∂C/∂b‖ (learning speed)"), ("update_ratio", "‖ΔW‖/‖W‖ per update"))
    for ax, (stat, ylabel) in zip(axes.flat, panels):
        _per_layer(ax, rows, stat, layers, hidden)
        if stat == "update_ratio":
            for limit in (UPDATE_RATIO_LOW, UPDATE_RATIO_HIGH):
                ax.axhline(limit, color="grey", linestyle=":", linewidth=1)
        _over_updates(ax, ylabel, log=True)
    path = save_figure(fig, out, "gradients")
    return Figure(path, "Per layer over training: the back-propagated gradient ∂C/∂s and the weight gradient "
                        "∂C/∂W (standard deviations; Glorot & Bengio 2010, Figure 9), the bias-gradient norm "
                        "(Nielsen's learning speed) and the relative weight change per update with the diagnosis limits "
                        f"{UPDATE_RATIO_LOW:g} and {UPDATE_RATIO_HIGH:g} (dotted).")


HISTOGRAM_QUANTITIES = (("activation", "activation"), ("backprop_grad", "∂C/∂s"), ("weight_grad", "∂C/∂W"))


def _histogram_figure(histograms, layers: Sequence[str], out: Path) -> Figure:
    """Densities (fraction per bin / bin width) per hidden layer at the first and last
    probe."""
    steps = sorted({h["step"] for h in histograms})
    chosen = sorted({steps[0], steps[-1]})
    fig, axes = new_figure(len(HISTOGRAM_QUANTITIES), len(chosen), width=5.0, height=3.2)
    for row, (quantity, label) in enumerate(HISTOGRAM_QUANTITIES):
        for col, step in enumerate(chosen):
            ax = axes[row, col]
            for h in histograms:
                if h["step"] == step and h["quantity"] == quantity and h["layer"] in layers:
                    edges, counts = np.asarray(h["edges"]), np.asarray(h["counts"], dtype=float)
                    density = counts / max(counts.sum(), 1.0) / np.diff(edges)
                    k = layers.index(h["layer"]) + 1
                    ax.plot((edges[:-1] + edges[1:]) / 2, density, color=layer_color(k, len(layers)),
                            label=h["layer"])
            ax.set(title=f"{label}, update {step}", xlabel=label, ylabel="density")
            ax.locator_params(axis="x", nbins=5)
            if ax.get_lines():
                ax.legend(fontsize=7)
    path = save_figure(fig, out, "histograms")
    return Figure(path, f"Histograms (density) per hidden layer at the first and last probe (updates "
                        f"{' and '.join(map(str, chosen))}): activations (Glorot & Bengio 2010, Figures 4 and 6), "
                        "back-propagated gradients (Figure 7) and weight gradients (Figure 8).")


# -- the page ----------------------------------------------------------------------------
def _status_sentence(status: dict[str, Any]) -> str:
    state, update = status.get("status", "unknown"), status.get("update", "?")
    if state == "diverged":
        return (f"Status: diverged at update {status.get('diverged_at', update)} "
                f"(training cost {status.get('cost', 'non-finite')}).")
    if state == "running":
        return f"Status: running at update {update}: still going, or killed before it could record its end."
    return f"Status: {state} at update {update}."


def _key_value_table(mapping: dict[str, Any], key: str, caption: str) -> Table:
    return Table([{key: name, "value": value if isinstance(value, (int, float, str)) else str(value)}
                  for name, value in mapping.items() if value not in (None, {}, [])], caption)


def _finding_block(finding: Finding) -> Verdict:
    return Verdict(finding.name, finding.severity, finding.evidence + (f" Try: {finding.advice}" if finding.advice
                                                                       else ""))


def write_run_report(run_dir: str | Path, out_dir: str | Path | None = None) -> RunReport:
    """Write ``report.html`` and its figures into ``out_dir`` (default
    ``run_dir/report``) and return it with the diagnosis."""
    run = RunDir.open(run_dir)
    out = Path(out_dir) if out_dir is not None else run.path / "report"
    if out.exists() and not out.is_dir():
        raise DepthlabError(f"--out {out} is a file, not a directory")
    config = run.config
    if not (run.path / "status.json").is_file():
        raise DepthlabError(f"{run.path} has no status.json: not a run directory written by depthlab train")
    status = run.status
    has_probes = (run.path / "probes.jsonl").is_file()
    rows, histograms = read_rows(run.path / "probes.jsonl") if has_probes else ([], [])
    findings = diagnose(config, status, run.metrics(), rows)

    final = run.final
    summary = Section("Run", [describe(run), _status_sentence(status)])
    if final:
        summary.blocks.append(_key_value_table(final, "final", "Final numbers (final.json)."))
    summary.blocks.append(_key_value_table(config, "setting", "Configuration (config.json)."))
    sections = [summary, Section("Diagnosis", [_finding_block(f) for f in findings]),
                Section("Training curves", [_curves_figure(run, status, out)])]

    theory = None
    if not rows:
        sections.append(Section("Layer statistics", ["This run stored no probe statistics (it was trained with "
                                                     "--no-probe, or stopped before its first probe), so only "
                                                     "the error curves are shown."]))
    else:
        layers = hidden_layers(rows)
        probed = [*layers, *(name for name in dict.fromkeys(r["layer"] for r in rows) if name not in layers)]
        sections += [Section("Activations", [_activation_figure(rows, layers, out, config["probe_size"])]),
                     Section("Gradients", [_gradient_figure(rows, probed, len(layers), out)]),
                     Section("Histograms", [_histogram_figure(histograms, layers, out)])]
        reason = theory_skip_reason(config)
        if reason:
            blocks = [f"Mean-field theory does not cover this run: {reason}."]
        else:
            theory = compare_with_theory(config, rows, histograms)
            blocks = _theory_blocks(theory, config, out)
        sections.append(Section("Theory beside measurement", blocks))

    path = write_report(out / REPORT_NAME, f"Run report: {run.path.name}", sections,
                        intro="Everything below is read from the run directory "
                              f"{run.path} (config, status, metrics and probe statistics).")
    return RunReport(path, findings, theory)

"""The doctor's HTML page (and its Markdown twin), on the report machinery of
:mod:`depthlab.report`: the diagnosis, each remedy's verdict with its loss curve beside
the baseline's and its per-layer statistics before and after, the ranked recommendation
with the code to paste, mean-field theory and the depth check."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from depthlab.clinic.theory import MeanFieldCheck
from depthlab.clinic.trial import number_text
from depthlab.probe.quantities import BACKPROP_GRAD_STD, SATURATED_FRACTION, UPDATE_RATIO
from depthlab.report.document import ReportFigure, Section, Severity, Table, Verdict
from depthlab.report.html import write_report
from depthlab.report.plotting import new_figure, save_figure

if TYPE_CHECKING:
    from depthlab.clinic.doctor import DoctorResult, RemedyOutcome
    from depthlab.clinic.trial import Trial

PAGE = "doctor.html"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _loss_figure(result: DoctorResult, folder: Path) -> Path:
    fig, axes = new_figure(width=7, height=4)
    ax = axes[0][0]
    ax.plot(range(1, len(result.baseline.losses) + 1), result.baseline.losses, color="black", lw=2, label="baseline")
    for outcome in result.outcomes:
        losses = outcome.trial.losses
        ax.plot(range(1, len(losses) + 1), losses, lw=1, label=f"{outcome.remedy.name} ({outcome.verdict})")
    ax.set_xlabel("updates")
    ax.set_ylabel("training cost")
    finite = [v for t in (result.baseline, *(o.trial for o in result.outcomes)) for v in t.losses
              if math.isfinite(v) and v > 0]
    if finite and max(finite) > 20 * min(finite):  # a log scale only where the costs span decades
        ax.set_yscale("log")
    ax.legend(fontsize=7)
    return save_figure(fig, folder, "doctor-loss")


def _last(trial: Trial, stat: str) -> list[float | None]:
    """A statistic at the trial's last probe for each entry with an activation, bottom to top."""
    if not trial.log:
        return []
    values = trial.log.values_at(stat, trial.log.updates[-1])
    return [values.get(layer) for layer in trial.probe.activations]


def _per_layer(baseline: Trial, trial: Trial) -> Table:
    """Per hidden layer (by the baseline's module name, bottom to top), the statistics at
    the last probe."""
    columns = {"std ∂C/∂s": BACKPROP_GRAD_STD, "saturated/dead": SATURATED_FRACTION, "‖ΔW‖/‖W‖": UPDATE_RATIO}
    before = {name: _last(baseline, stat) for name, stat in columns.items()}
    after = {name: _last(trial, stat) for name, stat in columns.items()}
    modules = [baseline.probe.module_names.get(entry, entry) for entry in baseline.probe.activations]
    count = max(len(list(baseline.probe.activations)), len(list(trial.probe.activations)))
    rows = []
    for k in range(count):
        row: dict[str, Any] = {"module": modules[k] if k < len(modules) else f"#{k + 1}"}
        for name in columns:
            row[f"{name} before"] = _at(before[name], k)
            row[f"{name} after"] = _at(after[name], k)
        rows.append(row)
    return Table(rows, f"Per layer with an activation, bottom to top, at the last probe (update "
                       f"{baseline.log.updates[-1]} of the baseline, {trial.log.updates[-1]} of the remedy): the "
                       "standard deviation of ∂C/∂s, the fraction of saturated or dead units, and the relative "
                       "weight change per update.")


def _at(values: list[float | None], k: int) -> float | None:
    value = values[k] if k < len(values) else None
    return value if value is None or math.isfinite(value) else None


def code_file(outcome: RemedyOutcome) -> str:
    """The file beside the page holding a remedy's code."""
    return f"remedy-{_slug(outcome.remedy.name)}.py"


def _code(outcome: RemedyOutcome) -> Table:
    """The code as a one-column table, a line a row (indents kept as no-break spaces), its
    caption naming the file beside the page to copy it from."""
    rows = [{"PyTorch code": re.sub(r"^ +", lambda m: "\u00a0" * len(m.group()), line)}
            for line in outcome.code.splitlines()]
    return Table(rows, f"To paste: {code_file(outcome)}, beside this page.")


def _severity(outcome: RemedyOutcome) -> Severity:
    if outcome.fixes:
        return Severity.OK
    return Severity.WARNING if outcome.fixed or outcome.cheaper else Severity.PROBLEM


def _remedy_section(result: DoctorResult, outcome: RemedyOutcome, folder: Path) -> Section:
    blocks: list[Any] = [Verdict(f"{outcome.remedy.name}: {outcome.verdict}", _severity(outcome), outcome.evidence),
                         f"What it changes: {outcome.remedy.summary}.",
                         _per_layer(result.baseline, outcome.trial)]
    mf = outcome.trial.initial.get("mean field")
    if isinstance(mf, MeanFieldCheck) and mf != result.mean_field:  # a learning rate or clipping changes no init
        blocks.append(f"After it, at initialization: {mf.line()}")
    blocks.append(_code(outcome))
    (folder / code_file(outcome)).write_text(outcome.code + "\n", encoding="utf-8")
    return Section(f"Remedy: {outcome.remedy.name}", blocks)


def _mean_field_section(result: DoctorResult) -> Section:
    check = result.mean_field
    if not isinstance(check, MeanFieldCheck):
        return Section("Mean-field theory", [f"Not compared: {check or 'no probe at initialization'}."])
    blocks: list[Any] = [check.line(), Table(check.rows, "Pre-activation second moment q per hidden layer at "
                                                        "initialization: measured on the probe set and predicted "
                                                        "from the model's own σ_w², σ_b² and the input's q⁰.")]
    if result.recommended and isinstance(mf := result.recommended[0].trial.initial.get("mean field"), MeanFieldCheck):
        blocks.append(f"With {result.recommended[0].remedy.name}: {mf.line()}")
    return Section("Mean-field theory", blocks)


def _statistics(result: DoctorResult, trial: Trial) -> str:
    parts = [f"{column} {number_text(value)}" for column, value in result.statistics(trial).items()]
    return ", ".join(parts) if parts else "no statistic read"



def _summary(result: DoctorResult) -> list[dict[str, Any]]:
    """A short row per remedy: its verdict, its trial cost and each baseline problem's
    statistic after it (numbers, right-aligned; the sentences are in its section)."""
    rows = []
    for o in result.outcomes:
        row: dict[str, Any] = {"remedy": o.remedy.name, "verdict": o.verdict,
                               "cost": "diverged" if o.trial.diverged_at is not None else o.trial.cost}
        row.update({column: number_text(value) for column, value in result.statistics(o.trial).items()})
        rows.append(row)
    return rows


def write_doctor_report(result: DoctorResult, out: str | Path) -> Path:
    """Write the page into the folder ``out`` (made if missing); return its path."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    diagnosis = [Verdict(f.name, f.severity, f.evidence + (f" Advice: {f.advice}" if f.advice else ""))
                 for f in result.findings]
    sections = [Section("Diagnosis of the baseline trial", diagnosis)]
    if result.outcomes:
        summary = Table(_summary(result), f"Baseline: cost {result.baseline.cost:.4g} (the mean of the last tenth of "
                                          f"{result.steps} updates), {_statistics(result, result.baseline)}. Each "
                                          "remedy's numbers, and the evidence, in its section below.")
        curves = ReportFigure(_loss_figure(result, folder), "Training cost of each trial, on the same batches.")
        sections.append(Section("Remedies tried", [summary, curves,
                                                   *(f"{name}: does not apply ({why})."
                                                     for name, why in result.not_tried.items()),
                                                   *(f"{name}: its trial failed ({error})."
                                                     for name, error in result.failed.items())]))
        sections += [_remedy_section(result, outcome, folder) for outcome in result.outcomes]
    if not result.problems:
        recommendation = ["No remedy: nothing is wrong in the trial, so nothing was tried."]
    elif result.recommended:  # each with its code (also in remedy-NAME.py beside the page)
        recommendation = [block for rank, o in enumerate(result.recommended, 1)
                          for block in (f"{rank}. {o.remedy.name}: {o.evidence}", _code(o))]
    else:
        recommendation = [f"Nothing recommended: no remedy tried fixed the problem within the trial ({result.steps} "
                          "updates)."]
    sections.insert(1, Section("Recommendation", recommendation))
    sections.append(_mean_field_section(result))
    if result.depth_check is not None:
        sections.append(Section("Depth check", [result.depth_check.line(), Table(result.depth_check.rows)]))
    intro = (f"Each trial trains a copy of the model for {result.steps} updates on the same batches from the same "
             "seed; the model, its optimizer and its data are untouched.")
    return write_report(folder / PAGE, "depthlab doctor", sections, intro)

"""From diagnosis to a verified fix: :func:`doctor` probes a model as it is, trains a short
trial of a copy, diagnoses it (:mod:`depthlab.report.diagnosis`), tries each remedy the
findings call for (:mod:`depthlab.clinic.remedies`) on a fresh copy for the same trial
(:mod:`depthlab.clinic.trial`), and says per remedy what it changed, with the numbers,
and which to use, ranked; nothing when nothing helped.

A remedy *fixes* the network when, within the trial,

1. every finding it answers is gone from its own trial's diagnosis (the statistic is
   back inside the rule's healthy range: r = std(∂C/∂s) bottom/top within
   [:data:`~depthlab.report.diagnosis.VANISHING_RATIO`,
   :data:`~depthlab.report.diagnosis.EXPLODING_RATIO`], saturated or dead fraction
   under its limit, update sizes within theirs, no divergence);
2. no new problem appears, and no problem (severity ``problem``) of the baseline's is
   left; and
3. its trial cost (the mean training cost over the last tenth of the updates) is below
   the baseline's by more than :data:`COST_MARGIN` of it (or the baseline diverged).

The fixing remedies are ranked by trial cost, lowest first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from depthlab.clinic.remedies import REMEDIES, Patient, Remedy, remedies_for
from depthlab.clinic.theory import MeanFieldCheck, mean_field_check
from depthlab.clinic.trial import (
    Trial,
    TrialData,
    TrialSettings,
    draw_batches,
    findings_of,
    fresh_copy,
    model_device,
    number_text,
    run_trial,
    untouched_rng,
)
from depthlab.errors import DepthlabError
from depthlab.probe.quantities import SATURATED_FRACTION, UPDATE_RATIO
from depthlab.report.diagnosis import Facts, Finding, chain_ratios
from depthlab.report.document import Severity

COST_MARGIN = 0.05
"""A remedy must bring the trial cost below (1 − 0.05) × the baseline's. Over three seeds
(data, init, trial) the trial costs of the networks in tests/clinic/test_doctor.py moved by
0.04–4.7% of their mean (a saturated tanh net's erratic cost excepted: 18%), so a 5%
drop is about the smallest that is not seed noise; the tests ask each case for more than
twice its own measured range."""

def baseline_seconds(seconds: float) -> float:
    """With a budget of ``seconds``, the baseline trial's: seconds / (1 + the number of
    remedies), since every remedy then runs as many updates as the baseline reached, so
    that even with every remedy tried the whole stays within the budget."""
    return seconds / (1 + len(REMEDIES))


@dataclass
class RemedyOutcome:
    """What one remedy did: its ``trial``, the findings of its trial (``after``), which
    answered findings it ``fixed`` and which ``remain``, the ``new`` problems it brought,
    whether its cost is ``cheaper`` than the baseline's by the margin, and the baseline's
    problems (severity problem) it does not answer that are still there (``left``)."""

    remedy: Remedy
    trial: Trial
    after: list[Finding]
    fixed: list[str]
    remain: list[str]
    new: list[str]
    cheaper: bool
    code: str
    left: list[str] = field(default_factory=list)
    evidence: str = ""

    @property
    def fixes(self) -> bool:
        return bool(self.fixed) and not self.remain and not self.new and not self.left and self.cheaper

    @property
    def verdict(self) -> str:
        if self.fixes:
            return "fixes"
        if self.fixed and not self.remain and not self.new and not self.left:
            return "fixes the statistics, not the cost"
        if self.cheaper:
            return "lowers the cost only"
        return "does not help"


@dataclass
class DoctorResult:
    """The doctor's answer: the baseline ``findings`` (problems and warnings), the
    ``baseline`` trial, each remedy's :class:`RemedyOutcome`, the ``recommended`` ones
    ranked (empty when nothing helped), the remedies not tried and why, those whose trial
    failed and the error, the mean-field
    comparison (or why there is none) and the depth check (where a builder was given)."""

    findings: list[Finding]
    baseline: Trial
    outcomes: list[RemedyOutcome]
    steps: int
    not_tried: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    """Remedies whose trial raised (the user's model or loss refusing them): name → the error."""
    mean_field: MeanFieldCheck | str = ""
    depth_check: Any = None
    path: Path | None = None

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.severity != Severity.OK]

    @property
    def recommended(self) -> list[RemedyOutcome]:
        return sorted((o for o in self.outcomes if o.fixes), key=lambda o: o.trial.cost)

    def statistics(self, trial: Trial) -> dict[str, float | None]:
        """Each baseline problem's statistic (:data:`STATISTICS`) read of ``trial``:
        "label (finding)" → its value (None where it cannot be read)."""
        return {f"{STATISTICS[f.name][0]} ({f.name})": STATISTICS[f.name][1](trial)
                for f in self.problems if f.name in STATISTICS}

    def text(self) -> str:
        """The answer as the terminal shows it."""
        lines = [f"depthlab doctor: trial of {self.steps} updates, cost {_cost(self.baseline)}"]
        lines += [f.line() for f in self.findings]
        if not self.problems:
            lines.append("No remedy: nothing is wrong in the trial, so nothing was tried.")
        for outcome in self.outcomes:
            lines.append(f"- {outcome.remedy.name}: {outcome.verdict}: {outcome.evidence}")
        for name, why in self.not_tried.items():
            lines.append(f"- {name}: does not apply ({why})")
        for name, error in self.failed.items():
            lines.append(f"- {name}: its trial failed ({error})")
        if self.problems:
            if self.recommended:
                lines.append("Recommended, best first:")
                for rank, outcome in enumerate(self.recommended, 1):
                    lines.append(f"{rank}. {outcome.remedy.name} ({outcome.remedy.summary}):")
                    lines += ["    " + line for line in outcome.code.splitlines()]
            else:
                lines.append("Nothing recommended: no remedy tried fixed the problem within the trial "
                             f"({self.steps} updates); try a longer trial (steps=), or change the model.")
        if isinstance(self.mean_field, MeanFieldCheck):
            lines.append(self.mean_field.line())
            top = self.recommended[0] if self.recommended else None
            if top is not None and isinstance(after := top.trial.initial.get("mean field"), MeanFieldCheck):
                lines.append(f"With {top.remedy.name}: {after.line()}")
        if self.depth_check is not None:
            lines.append(self.depth_check.line())
        if self.path is not None:
            lines.append(f"wrote {self.path}")
        return "\n".join(lines)


def _cost(trial: Trial) -> str:
    return f"diverged at update {trial.diverged_at}" if trial.diverged_at is not None else f"{trial.cost:.4g}"


def _problem_names(findings: Sequence[Finding]) -> list[str]:
    return [f.name for f in findings if f.severity != Severity.OK]


# -- the numbers each verdict states --------------------------------------------------------
def gradient_ratio(trial: Trial, worst: Callable = min) -> float | None:
    """The extreme r = std(∂C/∂s) bottom/top over the trial's chains and probes (``min``
    for vanishing, ``max`` for exploding), None without a chain."""
    facts = Facts.of_probe(trial.probe, trial.settings.effective_lr)
    values = [r for _, ratios in chain_ratios(facts, trial.log) for r in ratios.values()]
    return worst(values) if values else None


def unit_fraction(trial: Trial, kind: str) -> float | None:
    """The largest saturated (``kind`` "asymptote") or dead ("dead") fraction of a layer at
    the trial's last probe."""
    last = trial.log.updates[-1]
    values = trial.log.values_at(SATURATED_FRACTION, last)
    fractions = [values[layer] for layer, a in trial.probe.activations.items()
                 if a.saturation == kind and layer in values and math.isfinite(values[layer])]
    return max(fractions) if fractions else None


def update_size(trial: Trial, worst: Callable) -> float | None:
    """The extreme over layers of the median ‖ΔW‖/‖W‖ per update."""
    medians = []
    for layer in trial.log.layers:
        if trial.log.has(UPDATE_RATIO):
            _, values = trial.log.series(UPDATE_RATIO, layer)
            finite = [v for v in values if math.isfinite(v)]
            if finite:
                medians.append(float(np.median(finite)))
    return worst(medians) if medians else None


STATISTICS: dict[str, tuple[str, Callable[[Trial], float | None]]] = {
    "vanishing gradients": ("bottom/top ∂C/∂s", lambda t: gradient_ratio(t, min)),
    "exploding gradients": ("bottom/top ∂C/∂s", lambda t: gradient_ratio(t, max)),
    "saturation": ("saturated fraction", lambda t: unit_fraction(t, "asymptote")),
    "dead ReLUs": ("dead fraction", lambda t: unit_fraction(t, "dead")),
    "dead units": ("dead fraction", lambda t: unit_fraction(t, "dead")),
    "tiny updates": ("‖ΔW‖/‖W‖ per update", lambda t: update_size(t, min)),
    "huge updates": ("‖ΔW‖/‖W‖ per update", lambda t: update_size(t, max)),
    "divergence": ("diverged at update", lambda t: t.diverged_at),
}
"""Finding → the statistic a verdict states before and after, and how it is read."""



def _evidence(outcome: RemedyOutcome, baseline: Trial, problems: list[str]) -> str:
    """Each of the baseline's ``problems``, fixed or left, with its statistic before →
    after; the new problems; the cost before → after."""
    parts = []
    gone = {name for name in problems if name not in _problem_names(outcome.after)}
    for name in problems:
        label, read = STATISTICS.get(name, (name, lambda t: None))
        state = "fixes" if name in gone else "leaves"
        before, after = number_text(read(baseline)), number_text(read(outcome.trial))
        parts.append(f"{state} the {name}: {label} {before} → {after}")
    if outcome.new:
        parts.append(f"brings {', '.join(outcome.new)}")
    parts.append(f"cost after {outcome.trial.steps_run} updates {_cost(baseline)} → {_cost(outcome.trial)}")
    return "; ".join(parts)


# -- the doctor ----------------------------------------------------------------------------
def doctor(model: nn.Module, data: Any, loss_fn: Callable | None = None, optimizer: Any = None, steps: int = 100,
           seconds: float | None = None, seed: int = 0, clip_norm: float | None = None,
           builder: Callable[..., nn.Module] | None = None,
           depths: Sequence[int] = (2, 4, 8, 16), widths: Sequence[int] | None = None,
           out: str | Path | None = None, progress: bool = True, echo: bool = True) -> DoctorResult:
    """Try the remedies the diagnosis of ``model`` calls for, and say which fix it.

    ``data``: a data loader (or any iterable) of (inputs, targets) batches, or one
    (inputs, targets) pair; ``steps`` batches are drawn once and every trial replays them.
    ``loss_fn(output, targets)``: the cost (default: as :class:`depthlab.probe.Probe`'s).
    ``optimizer``: the user's optimizer (its kind and hyperparameters are read, the
    optimizer itself is never stepped), a callable making one from parameters, or None
    (SGD, lr 0.01); ``clip_norm``: the gradient clipping the user's loop does (None:
    none). ``steps``: the trial's updates; ``seconds``: a time budget instead
    (the baseline runs at most :func:`baseline_seconds`, and the remedies as many
    updates as it reached). ``seed``: the torch seed of every trial. ``builder(depth)``
    or ``builder(depth, width)``: the model family, for the depth-and-width check at
    ``depths`` (and ``widths``). ``out``: a folder for the HTML report. The trials run on
    the model's device; the user's model, optimizer, data loader and random number
    generators are left as they were. Returns a :class:`DoctorResult`; ``echo`` prints
    its text.
    """
    _check(model, steps, seconds, depths, widths)
    settings = replace(TrialSettings.of(optimizer, model), clip_norm=clip_norm)
    with untouched_rng(data), torch.enable_grad():  # the trials train, even when called under torch.no_grad()
        trial_data = draw_batches(data, steps, model_device(model))
        result = _treat(model, trial_data, loss_fn, settings, steps, seconds, seed, progress)
        if builder is not None:
            from depthlab.clinic.depth import depth_check

            result.depth_check = depth_check(builder, trial_data, loss_fn, optimizer, depths, widths, seed=seed,
                                             progress=progress)
    if out is not None:
        from depthlab.clinic.report import write_doctor_report

        result.path = write_doctor_report(result, out)
    if echo:
        print(result.text())
    return result


def _check(model: Any, steps: Any, seconds: Any, depths: Sequence[int], widths: Sequence[int] | None) -> None:
    """A one-line :class:`DepthlabError` for arguments the doctor cannot work with."""
    if not isinstance(model, nn.Module):
        raise DepthlabError(f"doctor needs a torch.nn.Module, not a {type(model).__name__}")
    if not any(p.requires_grad for p in model.parameters()):
        raise DepthlabError(f"the {type(model).__name__} has no parameter that requires a gradient: the doctor "
                            "trains copies of it, so it needs at least one trainable parameter")
    if torch.is_inference_mode_enabled():
        raise DepthlabError("doctor was called under torch.inference_mode(), where nothing can be trained: call it "
                            "outside")
    if isinstance(steps, bool) or not (isinstance(steps, int) and steps >= 2):
        raise DepthlabError(f"steps {steps!r} must be an integer of at least 2")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                or not seconds > 0 or not math.isfinite(seconds)):
        raise DepthlabError(f"seconds {seconds!r} must be a positive number of seconds (or None: a budget in steps)")
    for name, sizes in (("depths", depths), ("widths", widths or ())):
        bad = [size for size in sizes if isinstance(size, bool) or not (isinstance(size, int) and size >= 1)]
        if bad:
            raise DepthlabError(f"{name}= holds {bad[0]!r}: give positive integers")


def _treat(model: nn.Module, data: TrialData, loss_fn: Callable | None, settings: TrialSettings, steps: int,
           seconds: float | None, seed: int, progress: bool) -> DoctorResult:
    from tqdm.auto import tqdm

    bar = tqdm(total=steps, desc="doctor: baseline", disable=not progress, leave=False)
    try:
        budget = baseline_seconds(seconds) if seconds is not None else None
        baseline = run_trial("baseline", fresh_copy(model), settings, data, loss_fn, steps, seed, budget, bar.update,
                             before=_mean_field_reader(data))
        steps = baseline.steps_run
        findings = findings_of(baseline)
        problems = set(_problem_names(findings))
        probe = baseline.probe
        modules = probe.module_names
        activations: dict[str, Any] = {}
        for layer in probe.layers:
            activations.setdefault(modules[layer["layer"]], probe.activations.get(layer["layer"]))
        patient = Patient(activations, data.probe_inputs, settings.effective_lr, settings.clip_norm)
        outcomes, not_tried, failed = [], {}, {}
        chosen = []
        for remedy in remedies_for(problems):
            why = remedy.applies(patient, model)
            if why:
                not_tried[remedy.name] = why
            else:
                chosen.append(remedy)
        bar.total = steps * (1 + len(chosen))
        bar.refresh()
        best: RemedyOutcome | None = None
        for remedy in chosen:
            bar.set_description(f"doctor: {remedy.name}")
            try:
                copy = fresh_copy(model)
                originals = list(copy.parameters())  # in the user's order: each keeps its optimizer group
                trial_settings = remedy.change(copy, settings, patient)
                trial = run_trial(remedy.name, copy, trial_settings, data, loss_fn, steps, seed, None, bar.update,
                                  before=_mean_field_reader(data), originals=originals)
            except Exception as error:  # the user's model or loss refusing a remedy ends that remedy, not the doctor
                failed[remedy.name] = f"{type(error).__name__}: {_first_line(error)}"
                continue
            outcome = _judge(remedy, trial, baseline, findings, remedy.code(patient, model))
            outcomes.append(outcome)
            # only the best fixing copy so far is kept (and the baseline's): the others are freed at once
            if outcome.fixes and (best is None or outcome.trial.cost < best.trial.cost):
                if best is not None:
                    best.trial.release()
                best = outcome
            else:
                outcome.trial.release()
    finally:
        bar.close()
    return DoctorResult(findings, baseline, outcomes, steps, not_tried, failed, baseline.initial.get("mean field", ""))


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "(no message)"


def _mean_field_reader(data: TrialData) -> Callable:
    def read(model: nn.Module, probe) -> dict[str, Any]:
        return {"mean field": mean_field_check(model, data.probe_inputs, probe)}

    return read


def _judge(remedy: Remedy, trial: Trial, baseline: Trial, baseline_findings: list[Finding], code: str) -> RemedyOutcome:
    problems = set(_problem_names(baseline_findings))
    after = findings_of(trial)
    now = set(_problem_names(after))
    answered = [name for name in remedy.answers if name in problems]
    fixed = [name for name in answered if name not in now]
    remain = [name for name in answered if name in now]
    new = sorted(now - problems)
    serious = {f.name for f in baseline_findings if f.severity == Severity.PROBLEM}
    left = sorted((serious & now) - set(answered))
    if baseline.diverged_at is not None:
        cheaper = trial.diverged_at is None
    else:
        cheaper = trial.cost < (1 - COST_MARGIN) * baseline.cost
    outcome = RemedyOutcome(remedy, trial, after, fixed, remain, new, cheaper, code, left)
    outcome.evidence = _evidence(outcome, baseline, _problem_names(baseline_findings))
    return outcome


"""Plain-words diagnosis of one run from its stored statistics.

Each rule reads the run's config, status, metrics and probe measures (see
:mod:`depthlab.store.probes`) and may return a :class:`Finding`: what is wrong, the
numbers that show it, and the depthlab flag to change. The rules and their thresholds:

- divergence: the run's status is ``diverged`` (a non-finite training cost);
- unfinished: the status is ``interrupted``, or still ``running`` (killed, or going on);
- vanishing gradients: r = std(∂C/∂s¹) / std(∂C/∂s^L) (bottom over top hidden layer)
  below :data:`VANISHING_RATIO` at some probe, at initialization or later (Glorot &
  Bengio 2010, section 4.2.2, Figure 7: with the standard init the back-propagated
  gradients shrink toward the input);
- exploding gradients: the same r above :data:`EXPLODING_RATIO`;
- saturation (an activation whose units saturate at an asymptote: sigmoid, tanh,
  softsign): the fraction of saturated units of a hidden layer (the activation's
  ``saturation_rule``) above :data:`SATURATION_LIMIT` (Glorot & Bengio 2010, Figures 2–3:
  the top sigmoid layer sits at 0, tanh saturates layer after layer);
- dead ReLUs (an activation whose units die: ReLU): the fraction of dead units (exactly
  0) above :data:`DEAD_LIMIT`;
- slow learning: the last validation error not below :data:`SLOW_LEARNING_FRACTION` of
  the first;
- update size: the median over probes of ‖ΔW‖ / ‖W‖ per update (``update_ratio``) of a
  layer below :data:`UPDATE_RATIO_LOW` or above :data:`UPDATE_RATIO_HIGH` (about 1e-3 is
  the usual healthy size).

Saturation and dead units are a ``problem`` while they last to the last probe, otherwise
a ``warning``. When no rule fires the diagnosis is one ``ok`` finding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from depthlab.config import TrainConfig
from depthlab.nets.activations import ACTIVATIONS
from depthlab.store import ProbeLog, RunDir

VANISHING_RATIO = 0.1
EXPLODING_RATIO = 10.0
SATURATION_LIMIT = 0.5
DEAD_LIMIT = 0.6
"""Above 0.5: a healthy ReLU layer already has about half its activations at exactly 0
(its pre-activations are symmetric about 0); a tiny He-initialized Shapeset net measured
0.40–0.50 with one probe at 0.504, so 0.5 itself would flag healthy networks."""
SLOW_LEARNING_FRACTION = 0.9
UPDATE_RATIO_LOW = 1e-5
UPDATE_RATIO_HIGH = 1e-1

SEVERITIES = ("problem", "warning", "ok")


@dataclass(frozen=True)
class Finding:
    """One diagnosis: its ``name``, ``severity`` (one of :data:`SEVERITIES`), the
    ``evidence`` in plain words with the numbers, and the ``advice``: what to change."""

    name: str
    severity: str
    evidence: str
    advice: str = ""

    def line(self) -> str:
        """The finding as one line of text, e.g. for the terminal."""
        advice = f" Try: {self.advice}" if self.advice else ""
        return f"{self.severity.upper():<8} {self.name}: {self.evidence}{advice}"


def diagnose(config: TrainConfig, status: dict[str, Any], metrics: Sequence[dict[str, Any]],
             probes: ProbeLog) -> list[Finding]:
    """Every finding for a run with this ``config``, ``status``, ``metrics`` (rows with
    "update" and the training cost or errors) and ``probes`` (empty without probes),
    problems first."""
    findings = [finding for rule in (_divergence, _unfinished) if (finding := rule(config, status))]
    if status.get("status") != "diverged" and (finding := _slow_learning(metrics)):
        findings.append(finding)
    if probes:
        findings += _gradient_ratio(config, probes)
        findings += _saturation(config, probes)
        findings += _update_size(config, probes)
    if not findings:
        checked = "" if probes else " (the run stored no probe statistics: only its status and errors were checked)"
        findings.append(Finding("no problem found", "ok", f"No rule fired{checked}."))
    return sorted(findings, key=lambda f: SEVERITIES.index(f.severity))


def diagnose_run(run: RunDir | str | Path) -> list[Finding]:
    """Every finding for a stored run (a :class:`~depthlab.store.RunDir` or its path),
    problems first."""
    run = run if isinstance(run, RunDir) else RunDir.open(run)
    return diagnose(run.config, run.status, run.metrics(), run.probes)


# -- advice ------------------------------------------------------------------------------
def _better_init(config: TrainConfig) -> str:
    """The init the activation suggests (He for rectifiers, Glorot's normalized
    otherwise); batch normalization when the run already uses that init; fewer layers
    when it uses both."""
    init = ACTIVATIONS.get(config.activation).suggested_init
    if config.init != init:
        return f"--init {init}"
    return "fewer layers (--depth)" if config.batchnorm else "--batchnorm"


def _lower_lr(config: TrainConfig) -> str:
    return f"lower --lr (now {config.lr:g}; e.g. --lr {config.lr / 10:g})"


# -- rules -------------------------------------------------------------------------------
def _divergence(config: TrainConfig, status: dict[str, Any]) -> Finding | None:
    if status.get("status") != "diverged":
        return None
    update = status.get("diverged_at", status.get("update"))
    clip = "" if config.clip_norm else " or add --clip-norm 1"
    return Finding("divergence", "problem",
                   f"The training cost became {status.get('cost', 'non-finite')} at update {update}, so the run "
                   f"stopped there.", f"{_lower_lr(config)}{clip}.")


def _unfinished(config: TrainConfig, status: dict[str, Any]) -> Finding | None:
    state = status.get("status")
    if state not in ("interrupted", "running"):
        return None
    why = "was interrupted" if state == "interrupted" else "is still running, or was killed before it could finish"
    return Finding("unfinished run", "warning",
                   f"The run {why} at update {status.get('update', '?')}; every number here covers only that part.",
                   "finish it with depthlab train --resume on this run directory.")


def _slow_learning(metrics: Sequence[dict[str, Any]]) -> Finding | None:
    evaluated = sorted((m["update"], m["validation_error"]) for m in metrics
                       if m.get("validation_error") is not None)
    if len(evaluated) < 2 or evaluated[0][1] == 0:
        return None
    (start_update, start), (end_update, end) = evaluated[0], evaluated[-1]
    if end < SLOW_LEARNING_FRACTION * start:
        return None
    return Finding("slow learning", "warning",
                   f"The validation error went from {100 * start:.1f}% at update {start_update} to {100 * end:.1f}% "
                   f"at update {end_update}: {end / start:.0%} of its start, not below "
                   f"{SLOW_LEARNING_FRACTION:.0%}.",
                   "raise --lr, train longer (--updates), or use --activation softsign with --init normalized.")


def _finite_series(probes: ProbeLog, stat: str, layer: str) -> dict[int, float]:
    if not probes.has(stat) or layer not in probes.layers:
        return {}
    updates, values = probes.series(stat, layer)
    return {int(u): float(v) for u, v in zip(updates, values) if math.isfinite(v)}


def _gradient_ratio(config: TrainConfig, probes: ProbeLog) -> list[Finding]:
    layers = probes.hidden_layers()
    if len(layers) < 2:
        return []
    bottom, top = (_finite_series(probes, "backprop_grad_std", layer) for layer in (layers[0], layers[-1]))
    ratios = {step: bottom[step] / top[step] for step in sorted(bottom.keys() & top.keys()) if top[step] > 0}
    if not ratios:
        return []
    first = next(iter(ratios))
    at_start = f" (at update {first}: {ratios[first]:.2g}×)"

    def evidence(step: int, direction: str) -> str:
        start = at_start if step != first else ""
        return (f"At update {step} the back-propagated gradient ∂C/∂s of {layers[0]} has {ratios[step]:.2g}× the "
                f"standard deviation of {layers[-1]}{start}: the gradients {direction} toward the input.")

    findings = []
    lowest, highest = min(ratios, key=ratios.get), max(ratios, key=ratios.get)
    if ratios[lowest] < VANISHING_RATIO:
        advice = f"{_better_init(config)}"
        if config.activation == "sigmoid":
            advice += ", or --activation tanh or softsign"
        findings.append(Finding("vanishing gradients", "problem",
                                evidence(lowest, f"vanish (below {VANISHING_RATIO:g}×)"), advice + "."))
    if ratios[highest] > EXPLODING_RATIO:
        findings.append(Finding("exploding gradients", "problem",
                                evidence(highest, f"explode (above {EXPLODING_RATIO:g}×)"),
                                f"{_better_init(config)}, or add --clip-norm 1."))
    return findings


def _saturation(config: TrainConfig, probes: ProbeLog) -> list[Finding]:
    """Units saturated at an asymptote of φ, or dead ones (the activation's ``saturation``
    says which it has): per hidden layer the first probe over the limit and the fraction
    at the last probe."""
    activation = ACTIVATIONS.get(config.activation)
    if activation.saturation == "asymptote":
        name, limit, what = "saturation", SATURATION_LIMIT, f"saturated ({activation.saturation_rule})"
        advice = ("--activation softsign, or tanh with --init normalized" if activation.name == "sigmoid"
                  else f"{_better_init(config)}, or --activation softsign, or lower --lr")
    elif activation.saturation == "dead":
        name, limit, what = "dead ReLUs", DEAD_LIMIT, "exactly 0 (dead)"
        advice = "lower --lr, --init he-normal, or --activation leaky-relu"
    else:
        return []
    layers = probes.hidden_layers()
    over, lasting = [], False
    for layer in layers:
        fractions = _finite_series(probes, "saturated_fraction", layer)
        crossing = next((step for step, value in fractions.items() if value > limit), None)
        if crossing is None:
            continue
        last = max(fractions)
        lasting |= fractions[last] > limit
        note = ""
        if activation.name == "sigmoid" and layer == layers[-1]:
            mean = _finite_series(probes, "activation_mean", layer).get(crossing, 1.0)
            if mean < 0.5:
                note = (" near 0, as Glorot & Bengio (2010, Figure 2) saw the top sigmoid layer saturate early "
                        "and recover only slowly")
        over.append(f"{layer} from update {crossing} ({fractions[crossing]:.0%}{note}; "
                    f"{fractions[last]:.0%} at the last probe, update {last})")
    if not over:
        return []
    evidence = (f"More than {limit:.0%} of the activations are {what} in " + "; ".join(over) + ".")
    return [Finding(name, "problem" if lasting else "warning", evidence, advice + ".")]


def _update_size(config: TrainConfig, probes: ProbeLog) -> list[Finding]:
    medians = {layer: float(np.median(list(values.values())))
               for layer in probes.layers if (values := _finite_series(probes, "update_ratio", layer))}
    if not medians:
        return []
    findings = []
    smallest, largest = min(medians, key=medians.get), max(medians, key=medians.get)

    def evidence(layer: str, limit: str) -> str:
        return (f"The median relative weight change per update ‖ΔW‖/‖W‖ of {layer} is {medians[layer]:.2g} "
                f"({limit}; about 1e-3 is healthy).")

    if medians[smallest] < UPDATE_RATIO_LOW:
        findings.append(Finding("tiny updates", "warning", evidence(smallest, f"below {UPDATE_RATIO_LOW:g}"),
                                f"raise --lr (now {config.lr:g}; e.g. --lr {config.lr * 10:g})."))
    if medians[largest] > UPDATE_RATIO_HIGH:
        clip = "" if config.clip_norm else " or add --clip-norm 1"
        findings.append(Finding("huge updates", "warning", evidence(largest, f"above {UPDATE_RATIO_HIGH:g}"),
                                f"{_lower_lr(config)}{clip}."))
    return findings

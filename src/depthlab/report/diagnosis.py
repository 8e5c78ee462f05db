"""Plain-words diagnosis of a network from its probe statistics: a stored run's, or any
model's, probed on the spot.

Each rule reads the network's facts (:class:`Facts`: each probed layer's activation and,
where known, the learning rate, init, clipping and batch normalization), its status and
metrics (stored runs) and its probe measures (see :mod:`depthlab.store.probes`), and may
return a :class:`Finding`: what is wrong, the numbers that show it, and what to change,
as depthlab flags for a depthlab run or as PyTorch calls for a user's model. The rules
and their thresholds:

- divergence: the run's status is ``diverged`` (a non-finite training cost);
- unfinished: the status is ``interrupted``, or still ``running`` (killed, or going on);
- vanishing gradients: r = std(∂C/∂s) of the bottom over the top layer of a chain of
  like layers, below :data:`VANISHING_RATIO` at some probe, at initialization or later
  (Glorot & Bengio 2010, section 4.2.2, Figure 7: with the standard init the
  back-propagated gradients shrink toward the input). A chain is one layer repeated
  along the depth: the entries whose names agree once each index reads ``#``, of one
  kind and activation (a depthlab net's hidden layers ``layer #``; ``0``, ``2``, … of an
  ``nn.Sequential``; ``bert.encoder.layer.#.intermediate.dense``). One module's repeated
  calls are no chain (a hand-written LSTM cell's gates over 5 steps, loss at the last,
  have r = 0.08 at PyTorch's init: time, not depth), and a net without like layers has
  none, so the rule says nothing of it. Only like layers compare: std(∂C/∂s) also
  scales with the weights' own init scale and with how many positions the gradient
  enters through, so a head against the body measures those, not depth. A
  BERT classifier at its own init (hidden 64, 4 layers, 12 tokens) has r = 0.004 from
  its first ``intermediate.dense`` to its ``pooler.dense``, and nothing is wrong: the
  pooler reads only [CLS], so the top encoder layer's ∂C/∂s is non-zero on 1 position
  in 12 (its std ×1/√12 = 0.29), each N(0, 0.02²) weight with 64 outputs passes
  0.02·√64 = 0.16 of the gradient back (pooler, ``output.dense``: ×0.026) and GELU′
  about half; along each of its chains r is 0.83–1.26. In a residual net the entries
  writing into the stream (``output.dense``, ``conv2``) carry the stream's gradient, so
  a gradient vanishing there shows as r along their chain. At their own inits BERT (4
  and 12 layers), GPT-2 (4 and 12), ``nn.TransformerEncoder`` (4) and a BatchNorm
  ResNet (8 blocks) have r in 0.46–1.4 on every chain; a 10-layer sigmoid MLP at
  PyTorch's default (Glorot's standard) init 2.5e-8, a ReLU one at N(0, 1) weights
  4.7e7;
- exploding gradients: the same r above :data:`EXPLODING_RATIO`;
- gradient drop: in a plain stack of layers (a depthlab run, a model that is an MLP), one
  layer's std(∂C/∂s) at or below :data:`ADJACENT_DROP` of the layer above it, the output
  into the top hidden layer included (a top sigmoid layer saturated at 0 passes almost
  nothing back); other architectures are not read pair by pair (:func:`_stack`);
- saturation (a layer whose activation saturates at an asymptote: sigmoid, tanh,
  softsign, …): the fraction of saturated units (the activation's ``saturation_rule``)
  above :data:`SATURATION_LIMIT` (Glorot & Bengio 2010, Figures 2–3: the top sigmoid
  layer sits at 0, tanh saturates layer after layer);
- dead units (an activation whose units die: ReLU, ReLU6, Hardswish): the fraction of
  dead units above :data:`DEAD_LIMIT`;
- slow learning: the last validation error not below :data:`SLOW_LEARNING_FRACTION` of
  the first;
- update size: the median over probes of ‖ΔW‖ / ‖W‖ per update (``update_ratio``) of a
  layer below :data:`UPDATE_RATIO_LOW` or above :data:`UPDATE_RATIO_HIGH` (about 1e-3 is
  the usual healthy size).

Saturation, dead units and a gradient drop are a ``problem`` while they last to the last
probe, otherwise a ``warning``. Saturation or dead units already there at update 0 are the
initialization's doing, and the advice is the init; where they appear later, a lower
learning rate. A model's entries are named as Python reaches their modules from the
model (``model[0] (linear)`` for an ``nn.Sequential``'s first layer); the stored names
are the probe's. A rule the facts cannot feed (one measure has no update sizes) is skipped,
and a model's diagnosis says which were. When no rule fires the diagnosis is one ``ok``
finding.
"""

from __future__ import annotations


import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from depthlab.config import TrainConfig
from depthlab.errors import DepthlabError
from depthlab.nets.activations import ACTIVATIONS, Activation, activation_named
from depthlab.nets.init import INITS
from depthlab.probe.quantities import ACTIVATION_MEAN, BACKPROP_GRAD_STD, SATURATED_FRACTION, UPDATE_RATIO
from depthlab.report.document import Severity
from depthlab.store import ProbeLog, RunDir

if TYPE_CHECKING:
    from depthlab.probe.probe import Probe

VANISHING_RATIO = 0.1
EXPLODING_RATIO = 10.0
ADJACENT_DROP = 0.01
"""A 100× drop or more of std(∂C/∂s) from one layer of a plain stack into the one below.
What the shapes alone make of it stays above: the drop through a linear layer W is about
‖W‖_F/√n_in times φ' below it, so from a 10-class output into 1000 tanh units at
Glorot's normalized init about 0.12 (measured on a 5 × 1000 Shapeset net), at PyTorch's
default init 0.05; a sigmoid net at the standard init measured 0.013 at update 0 and
0.0012 once its top layer had saturated at 0."""
SATURATION_LIMIT = 0.5
DEAD_LIMIT = 0.6
"""Above 0.5: a healthy ReLU layer already has about half its activations at exactly 0
(its pre-activations are symmetric about 0); a tiny He-initialized Shapeset net measured
0.40–0.50 with one probe at 0.504, so 0.5 itself would flag healthy networks."""
SLOW_LEARNING_FRACTION = 0.9
UPDATE_RATIO_LOW = 1e-5
UPDATE_RATIO_HIGH = 1e-1

@dataclass(frozen=True)
class Finding:
    """One diagnosis: its ``name``, ``severity`` (a :class:`~depthlab.report.document.Severity`), the
    ``evidence`` in plain words with the numbers, and the ``advice``: what to change."""

    name: str
    severity: Severity
    evidence: str
    advice: str = ""

    def line(self) -> str:
        """The finding as one line of text, e.g. for the terminal."""
        advice = f" Try: {self.advice}" if self.advice else ""
        return f"{self.severity.upper():<8} {self.name}: {self.evidence}{advice}"


@dataclass(frozen=True)
class Facts:
    """What the diagnosis knows of a network besides its probes: ``activations``, the
    activation of each probed layer that has one, bottom to top; where known the
    learning rate ``lr``, weight ``init``, gradient clipping ``clip_norm`` and
    ``batchnorm``. ``voice`` phrases the advice as depthlab flags (``"cli"``) or PyTorch
    calls (``"torch"``). ``kinds``: every probed entry's kind (linear, conv, norm, …),
    bottom to top, where the probe listed its entries; empty for a depthlab run, whose
    probed layers are its hidden ones. ``init_at_0``: whether a measure at update 0 is of
    the network as initialized (a run's is; a model diagnosed as given may be trained)."""

    activations: dict[str, Activation]
    lr: float | None = None
    init: str | None = None
    clip_norm: float | None = None
    batchnorm: bool | None = None
    voice: str = "cli"
    unknown: tuple[str, ...] = field(default=())
    kinds: dict[str, str] = field(default_factory=dict)
    init_at_0: bool = True

    @classmethod
    def of_run(cls, config: TrainConfig, probes: ProbeLog) -> Facts:
        """A depthlab run: every hidden layer has the config's activation."""
        activation = ACTIVATIONS.get(config.activation)
        return cls({layer: activation for layer in probes.hidden_layers()}, config.lr, config.init,
                   config.clip_norm, config.batchnorm)

    @classmethod
    def of_logged_run(cls, facts: dict[str, Any]) -> Facts:
        """A run a user's loop wrote (``Probe.log_to``): its probe.json's layers and lr."""
        layers = facts.get("layers", [])
        activations = {layer["layer"]: activation for layer in layers
                       if (activation := _activation_or_none(layer.get("activation"))) is not None}
        lr = facts.get("lr")
        return cls(activations, lr, voice="torch", unknown=() if lr else ("the learning rate",),
                   kinds={layer["layer"]: layer.get("kind", "") for layer in layers})

    @classmethod
    def of_probe(cls, probe: Probe, lr: float | None = None) -> Facts:
        """A user's model: each layer's activation as the probe found it."""
        unknown = () if lr is not None else ("the learning rate (give lr=)",)
        return cls(probe.activations, lr, voice="torch", unknown=unknown,
                   kinds={layer["layer"]: layer["kind"] for layer in probe.layers}, init_at_0=False)


def diagnose(facts: Facts, status: dict[str, Any], metrics: Sequence[dict[str, Any]],
             probes: ProbeLog) -> list[Finding]:
    """Every finding for a network with these ``facts``, ``status`` (a stored run's, with
    "checkpointed": whether it has a checkpoint to resume from; {} for a model), ``metrics`` (rows with "update" and the training cost or errors) and
    ``probes`` (empty without probes), problems first."""
    findings = [finding for rule in (_divergence, _unfinished) if (finding := rule(facts, status))]
    if status.get("status") != "diverged" and (finding := _slow_learning(facts, metrics)):
        findings.append(finding)
    if probes:
        findings += _gradient_ratio(facts, probes)
        findings += _gradient_drop(facts, probes)
        findings += _saturation(facts, probes)
        findings += _update_size(facts, probes)
    findings = _consistent(facts, findings)
    if not findings:
        checks = {"vanishing or exploding gradients": bool(probes) and bool(_chains(facts, probes)),
                  "drops of the gradient between adjacent layers": bool(probes) and bool(_stack(facts, probes)),
                  "saturated or dead units": bool(probes), "update sizes": len(probes.updates) >= 2,
                  "slow learning": sum(m.get("validation_error") is not None for m in metrics) >= 2}
        checked = ([name for name, done in checks.items() if done] if probes else
                   ["only its status and errors: the run stored no probe statistics"])
        findings.append(Finding("no problem found", Severity.OK,
                                f"Nothing looks wrong. Checked: {_listed(checked)}."))
    return sorted(findings, key=lambda f: list(Severity).index(f.severity))


def _listed(names: Sequence[str]) -> str:
    """Names as a sentence lists them: ``a, b and c``."""
    return f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else names[0]


def diagnose_run(run: RunDir | str | Path) -> list[Finding]:
    """Every finding for a stored run (a :class:`~depthlab.store.RunDir` or its path),
    problems first."""
    run = run if isinstance(run, RunDir) else RunDir.open(run)
    probes = run.probes
    facts = Facts.of_logged_run(run.probe_facts) if run.made_by_probe else Facts.of_run(run.config, probes)
    return diagnose(facts, {**run.status, "checkpointed": run.has_checkpoint}, run.metrics(), probes)


def diagnose_model(model, inputs, targets=None, loss_fn=None, lr: float | None = None) -> list[Finding]:
    """Every finding for a user's model, from one probe measure on ``inputs`` (see
    :class:`depthlab.probe.Probe` for the forms inputs, targets and ``loss_fn`` may take),
    with each layer's activation as the probe found it and advice in PyTorch terms; the
    rules the facts cannot feed are named in a last ``ok`` finding."""
    from depthlab.probe.probe import Probe

    probe = Probe(model, inputs, targets, loss_fn)
    probe.measure(0)
    facts = Facts.of_probe(probe, lr)
    findings = diagnose(facts, {}, [], probe.log)
    skipped = ["vanishing or exploding gradients (no layer repeats along the depth: no like layers to compare)"
               ] if not _chains(facts, probe.log) else []
    skipped += ["drops of the gradient between adjacent layers (the entries are not a plain stack of linear layers, "
                "so their order need not be the gradient's path)"] if not _stack(facts, probe.log) else []
    skipped += ["the size of the updates (it needs measures at two updates of training)",
               "slow learning (it needs validation errors over training)",
               *(f"advice that needs {fact}" for fact in facts.unknown)]
    return [*findings, Finding("not checked", Severity.OK, "Not checked from one measure: " + "; ".join(skipped) + ".")]


def findings_for(network, inputs=None, targets=None, loss_fn=None, lr: float | None = None) -> list[Finding]:
    """The diagnosis of a stored run (its path or :class:`~depthlab.store.RunDir`) or of a
    model (a ``torch.nn.Module`` with its probe ``inputs``, and ``targets``, ``loss_fn``,
    ``lr`` where known): :func:`diagnose_run` or :func:`diagnose_model`."""
    if isinstance(network, (str, Path, RunDir)):
        return diagnose_run(network)
    if inputs is None:
        raise DepthlabError("diagnosing a model needs its probe inputs: diagnose(model, inputs, targets, loss_fn)")
    return diagnose_model(network, inputs, targets, loss_fn, lr)


# -- advice ------------------------------------------------------------------------------
def _main_activation(facts: Facts) -> Activation | None:
    """The activation most of the probed layers have."""
    names = [a.name for a in facts.activations.values()]
    return ACTIVATIONS.get(max(set(names), key=names.count)) if names else None


def _better_init(facts: Facts) -> str:
    """The init the activation suggests (He for rectifiers, Glorot's normalized
    otherwise); batch normalization when the run already uses that init; fewer layers
    when it uses both."""
    activation = _main_activation(facts)
    init = activation.suggested_init if activation else "normalized"
    if facts.voice == "torch":
        return (f"initialize the weights with {INITS.get(init).torch_call}"
                f"{f' (for {activation.name})' if activation else ''}, or put a normalization layer "
                "(torch.nn.LayerNorm, torch.nn.BatchNorm1d/2d) before the activations")
    if facts.init != init:
        return f"--init {init}"
    return "fewer layers (--depth)" if facts.batchnorm else "--batchnorm"


def _lower_lr(facts: Facts) -> str:
    if facts.voice == "torch":
        return "a lower learning rate" + (f" (now {facts.lr:g}; e.g. {facts.lr / 10:g})" if facts.lr else "")
    return f"lower --lr (now {facts.lr:g}; e.g. --lr {facts.lr / 10:g})"


def _clipping(facts: Facts) -> str:
    if facts.clip_norm:
        return ""
    return (" or clip the gradients: torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)"
            if facts.voice == "torch" else " or add --clip-norm 1")


# -- rules -------------------------------------------------------------------------------
def _divergence(facts: Facts, status: dict[str, Any]) -> Finding | None:
    if status.get("status") != "diverged":
        return None
    update = status.get("diverged_at", status.get("update"))
    return Finding("divergence", Severity.PROBLEM,
                   f"The training cost became {status.get('cost', 'non-finite')} at update {update}, so the run "
                   f"stopped there.", f"{_lower_lr(facts)}{_clipping(facts)}.")


def _unfinished(facts: Facts, status: dict[str, Any]) -> Finding | None:
    state = status.get("status")
    if state not in ("interrupted", "running"):
        return None
    why = "was interrupted" if state == "interrupted" else "is still running, or was killed before it could finish"
    update = status.get("update", "?")
    if facts.voice == "torch":  # a user's loop wrote it: the loop continues it
        advice = (f"start the loop again from the update after {update}, with probe.log_to on this run directory: "
                  "it continues the run.")
    elif status.get("checkpointed", True):
        advice = "finish it with depthlab train --resume on this run directory."
    else:
        advice = ("it stopped before its first checkpoint, so there is nothing to resume: train it again with --out "
                  "on this run directory.")
    return Finding("unfinished run", Severity.WARNING,
                   f"The run {why} at update {update}; every number here covers only that part.", advice)


LOWERS_LR = ("divergence", "saturation", "dead units", "dead ReLUs", "huge updates")
"""Findings whose evidence says the learning rate may be too high (their advice lowers it)."""


def _consistent(facts: Facts, findings: list[Finding]) -> list[Finding]:
    """No advice contradicts another: where a finding says the learning rate may be too
    high, the slow-learning and tiny-update findings stop advising a higher one and
    point to that finding instead."""
    reasons = [f.name for f in findings if f.name in LOWERS_LR and "lower" in f.advice]
    if not reasons:
        return findings
    see = f"not a higher learning rate: see {' and '.join(reasons)}"
    rewritten = {
        "slow learning": ("train longer, or use softsign (or tanh with the normalized init); " + see),
        "tiny updates": ("saturated or dead units pass almost no gradient, so their weights barely move; " + see),
    }
    return [replace(f, advice=rewritten[f.name] + ".") if f.name in rewritten else f for f in findings]


def _slow_learning(facts: Facts, metrics: Sequence[dict[str, Any]]) -> Finding | None:
    evaluated = sorted((m["update"], m["validation_error"]) for m in metrics
                       if m.get("validation_error") is not None)
    if len(evaluated) < 2 or evaluated[0][1] == 0:
        return None
    (start_update, start), (end_update, end) = evaluated[0], evaluated[-1]
    if end < SLOW_LEARNING_FRACTION * start:
        return None
    return Finding("slow learning", Severity.WARNING,
                   f"The validation error went from {100 * start:.1f}% at update {start_update} to {100 * end:.1f}% "
                   f"at update {end_update}: {end / start:.0%} of its start, not below "
                   f"{SLOW_LEARNING_FRACTION:.0%}.",
                   "a higher learning rate, or longer training" if facts.voice == "torch" else
                   "raise --lr, train longer (--updates), or use --activation softsign with --init normalized.")


def _shown(facts: Facts, layer: str) -> str:
    """How a finding names an entry. A depthlab run's layers as stored ("layer 2",
    "output"). A model's entries by the path a user types to reach the module, then its
    kind: ``0`` of an ``nn.Sequential`` is ``model[0] (linear)``,
    ``bert.encoder.layer.0.output.dense`` is ``model.bert.encoder.layer[0].output.dense
    (linear)``, a module's second call ``fc#2`` is ``model.fc (linear, call 2)``; a chain's
    pattern ``layer#.#.conv#`` reads ``model.layer#[#].conv#``. The stored names (the keys
    of probes.jsonl, :meth:`depthlab.Probe.series`) are unchanged."""
    if not facts.kinds:
        return layer
    module, call = re.fullmatch(r"(.*?)(?:#(\d+))?", layer).groups()
    about = [kind] if (kind := facts.kinds.get(layer)) else []
    about += [f"call {call}"] if call else []
    return f"{_path(module)} ({', '.join(about)})" if about else _path(module)


def _path(module: str) -> str:
    """A module's qualified name as Python reaches it from the model: ``0`` is
    ``model[0]``, ``layer1.0.conv1`` is ``model.layer1[0].conv1`` (an index read as ``#``
    stays one: ``model.layer#[#].conv#``)."""
    return "model" + "".join(f"[{part}]" if part.isdigit() or part == "#" else f".{part}"
                             for part in module.split("."))


def _finite_series(probes: ProbeLog, stat: str, layer: str) -> dict[int, float]:
    if not probes.has(stat) or layer not in probes.layers:
        return {}
    updates, values = probes.series(stat, layer)
    return {int(u): float(v) for u, v in zip(updates, values) if math.isfinite(v)}


def _chains(facts: Facts, probes: ProbeLog) -> list[list[str]]:
    """The layers the gradient rule compares, as chains, each bottom to top: the entries
    that are one layer repeated along the depth, i.e. whose names agree once every index
    in the module's name reads ``#`` (``bert.encoder.layer.#.intermediate.dense``,
    ``layer#.#.conv#``, a depthlab net's ``layer #``), of one kind and activation."""
    chains: dict[tuple[str, str | None, str | None], list[str]] = {}
    for layer in facts.kinds or facts.activations:
        if layer in probes.layers:
            activation = facts.activations.get(layer)
            key = (_repeated(layer), facts.kinds.get(layer), activation.name if activation else None)
            chains.setdefault(key, []).append(layer)
    return [chain for chain in chains.values() if len(chain) > 1]


def _repeated(layer: str) -> str:
    """An entry's name with every index in its module's name read as ``#``; the count of a
    repeated call (``fc#2``) stays, for one module's calls are as often steps in time as
    layers in depth."""
    module, call = re.fullmatch(r"(.*?)(#\d+)?", layer).groups()
    return re.sub(r"\d+", "#", module) + (call or "")


def _ratios(probes: ProbeLog, chain: list[str]) -> dict[int, float]:
    """Update → r = std(∂C/∂s) of the chain's bottom layer over its top one."""
    bottom, top = (_finite_series(probes, BACKPROP_GRAD_STD, layer) for layer in (chain[0], chain[-1]))
    return {step: bottom[step] / top[step] for step in sorted(bottom.keys() & top.keys()) if top[step] > 0}


def _gradient_ratio(facts: Facts, probes: ProbeLog) -> list[Finding]:
    measured = [(chain, ratios) for chain in _chains(facts, probes) if (ratios := _ratios(probes, chain))]
    if not measured:
        return []

    def evidence(chain: list[str], ratios: dict[int, float], step: int, direction: str) -> str:
        first = next(iter(ratios))
        start = f" (at update {first}: {ratios[first]:.2g}×)" if step != first else ""
        (named, *others) = {_repeated(layer) for layer in chain}
        along = (f", the bottom and top of the {len(chain)} layers named {_shown(facts, named)}"
                 if facts.kinds and not others else "")
        return (f"At update {step} the back-propagated gradient ∂C/∂s of {_shown(facts, chain[0])} has "
                f"{ratios[step]:.2g}× the standard deviation of {_shown(facts, chain[-1])}{along}{start}: the "
                f"gradients {direction} toward the input.")

    findings = []
    points = [(ratio, step, chain, ratios) for chain, ratios in measured for step, ratio in ratios.items()]
    lowest, highest = min(points, key=lambda p: p[0]), max(points, key=lambda p: p[0])
    if lowest[0] < VANISHING_RATIO:
        advice = f"{_better_init(facts)}"
        if (main := _main_activation(facts)) and main.name == "sigmoid":
            advice += ", or torch.nn.Tanh instead" if facts.voice == "torch" else ", or --activation tanh or softsign"
        findings.append(Finding("vanishing gradients", Severity.PROBLEM,
                                evidence(lowest[2], lowest[3], lowest[1], f"vanish (below {VANISHING_RATIO:g}×)"),
                                advice + "."))
    if highest[0] > EXPLODING_RATIO:
        findings.append(Finding("exploding gradients", Severity.PROBLEM,
                                evidence(highest[2], highest[3], highest[1], f"explode (above {EXPLODING_RATIO:g}×)"),
                                f"{_better_init(facts)}{',' + _clipping(facts) if _clipping(facts) else ''}."))
    return findings


def _stack(facts: Facts, probes: ProbeLog) -> list[str]:
    """The probed layers bottom to top where they are a plain stack, each one's output (through
    its activation) the input of the next, so that ∂C/∂s flows from each straight into the one
    below: a depthlab run's hidden layers and output; a model's entries when every one is a
    linear layer called once, each but the top with an activation and the top without (an
    MLP). Empty otherwise: a module called again is a step in time, not a layer, and in a
    ResNet, a transformer or a net of convolutions the entries' order is not the gradient's
    path and std(∂C/∂s) changes with the positions it spreads over (at their own inits, the
    ratio of adjacent entries measured 0.011 for a ResNet's last block under its head, 0.019
    for a BERT layer's attention key under its value, 0.018 for a convolution under a linear
    head: nothing wrong)."""
    if not facts.kinds:
        layers = [*probes.hidden_layers(), *(["output"] if "output" in probes.layers else [])]
    else:
        layers = list(facts.kinds)
        if not (all(kind == "linear" for kind in facts.kinds.values())
                and not any(re.search(r"#\d+$", layer) for layer in layers)
                and all(layer in facts.activations for layer in layers[:-1]) and layers[-1] not in facts.activations):
            return []
    return layers if len(layers) > 1 and all(layer in probes.layers for layer in layers) else []


def _gradient_drop(facts: Facts, probes: ProbeLog) -> list[Finding]:
    """The largest drop of std(∂C/∂s) from a layer of a plain stack (:func:`_stack`) into the
    one below it, output into top hidden layer included, at or beyond :data:`ADJACENT_DROP`."""
    stack = _stack(facts, probes)
    drops = [(ratios[step], step, lower, upper, ratios) for lower, upper in zip(stack, stack[1:])
             if (ratios := _ratios(probes, [lower, upper])) for step in ratios]
    if not drops or (worst := min(drops, key=lambda d: d[0]))[0] > ADJACENT_DROP:
        return []
    ratio, step, lower, upper, ratios = worst
    first, last = min(ratios), max(ratios)
    start = f" (at update {first}: {ratios[first]:.2g}×)" if step != first else ""
    advice = _better_init(facts)
    if (main := _main_activation(facts)) and main.name == "sigmoid":
        advice += ", or torch.nn.Tanh instead" if facts.voice == "torch" else ", or --activation tanh or softsign"
    return [Finding("gradient drop", Severity.PROBLEM if ratios[last] <= ADJACENT_DROP else Severity.WARNING,
                    f"At update {step} the back-propagated gradient ∂C/∂s of {_shown(facts, lower)} has {ratio:.2g}× "
                    f"the standard deviation of {_shown(facts, upper)}, the layer above it{start}: it drops "
                    f"{1 / ADJACENT_DROP:g}× or more in one layer (where a layer's φ' is near 0, as in a saturated "
                    f"layer, or the weights above it are small).", advice + ".")]


SATURATION_KINDS = {"asymptote": ("saturation", SATURATION_LIMIT), "dead": ("dead ReLUs", DEAD_LIMIT)}
"""An activation's ``saturation`` → the finding's name and its limit."""


def _saturation(facts: Facts, probes: ProbeLog) -> list[Finding]:
    """Units saturated at an asymptote of φ, or dead ones (each layer's activation says
    which it has): per layer the first probe over the limit and the fraction at the last.
    The advice follows when it began (:func:`_saturation_advice`)."""
    findings = []
    for kind, (name, limit) in SATURATION_KINDS.items():
        layers = {layer: a for layer, a in facts.activations.items() if a.saturation == kind and layer in probes.layers}
        over, lasting, rules, crossings = [], False, [], {}
        for layer, activation in layers.items():
            fractions = _finite_series(probes, SATURATED_FRACTION, layer)
            crossing = next((step for step, value in fractions.items() if value > limit), None)
            if crossing is None:
                continue
            crossings[layer] = crossing
            last = max(fractions)
            lasting |= fractions[last] > limit
            note = ""
            if activation.name == "sigmoid" and layer == list(facts.activations)[-1]:
                mean = _finite_series(probes, ACTIVATION_MEAN, layer).get(crossing, 1.0)
                if mean < 0.5:
                    note = (" near 0, as Glorot & Bengio (2010, Figure 2) saw the top sigmoid layer saturate early "
                            "and recover only slowly")
            over.append(f"{_shown(facts, layer)} from update {crossing} ({fractions[crossing]:.0%}{note}; "
                        f"{fractions[last]:.0%} at the last probe, update {last})")
            rules.append(activation)
        if not over:
            continue
        kinds = list(dict.fromkeys(rules))
        if kind == "dead":
            what = "exactly 0 (dead)"
            name = name if all(a.name == "relu" for a in kinds) else "dead units"
        else:
            what = "saturated (" + "; ".join(f"{a.name}: {a.saturation_rule}" if len(kinds) > 1 else a.saturation_rule
                                             for a in kinds) + ")"
        evidence = f"More than {limit:.0%} of the activations are {what} in " + "; ".join(over) + "."
        at_start = [layer for layer, step in crossings.items() if step == 0]
        later = [layer for layer in crossings if layer not in at_start]
        findings.append(Finding(name, Severity.PROBLEM if lasting else Severity.WARNING, evidence,
                                _saturation_advice(facts, kind, kinds, at_start, later) + "."))
    return findings


def _saturation_advice(facts: Facts, kind: str, activations: list[Activation], at_start: list[str],
                       later: list[str]) -> str:
    """Units saturated (or dead) at update 0, before any update, are the initialization's
    doing: the cure is the init, not the learning rate. Units that saturate only later
    were driven there by training: the cure is a lower learning rate. Where the measure
    at update 0 may be of a trained model (a model diagnosed as given), both. Besides,
    an activation that saturates less (or does not die); for sigmoid, the paper's cure
    first."""
    cures = [_better_init(facts)] if at_start else []
    if later or not facts.init_at_0:
        if at_start and later:
            why = f" for {_listed([_shown(facts, layer) for layer in later])}, which saturated only later"
        else:
            why = "" if later else " if training brought it there"
        cures.append(_lower_lr(facts) + why)
    if kind == "dead":
        return ", or ".join([*cures, "torch.nn.LeakyReLU" if facts.voice == "torch" else "--activation leaky-relu"])
    if facts.voice == "torch":
        return ", or ".join(cures)
    if activations[0].name == "sigmoid":
        return ", or ".join(["--activation softsign, or tanh with --init normalized", *cures])
    return ", or ".join([*cures, "--activation softsign"])


def _update_size(facts: Facts, probes: ProbeLog) -> list[Finding]:
    medians = {layer: float(np.median(list(values.values())))
               for layer in probes.layers if (values := _finite_series(probes, UPDATE_RATIO, layer))}
    if not medians:
        return []
    findings = []
    smallest, largest = min(medians, key=medians.get), max(medians, key=medians.get)

    def evidence(layer: str, limit: str) -> str:
        return (f"The median relative weight change per update ‖ΔW‖/‖W‖ of {_shown(facts, layer)} is "
                f"{medians[layer]:.2g} ({limit}; about 1e-3 is healthy).")

    if medians[smallest] < UPDATE_RATIO_LOW:
        raise_lr = ("a higher learning rate" + (f" (now {facts.lr:g}; e.g. {facts.lr * 10:g})" if facts.lr else "")
                    if facts.voice == "torch" else f"raise --lr (now {facts.lr:g}; e.g. --lr {facts.lr * 10:g})")
        findings.append(Finding("tiny updates", Severity.WARNING, evidence(smallest, f"below {UPDATE_RATIO_LOW:g}"),
                                raise_lr + "."))
    if medians[largest] > UPDATE_RATIO_HIGH:
        findings.append(Finding("huge updates", Severity.WARNING, evidence(largest, f"above {UPDATE_RATIO_HIGH:g}"),
                                f"{_lower_lr(facts)}{_clipping(facts)}."))
    return findings


def _activation_or_none(name: Any) -> Activation | None:
    """The activation a logged run's probe.json names (a registered one or a family member,
    :func:`~depthlab.nets.activations.activation_named`), or None where it names none
    depthlab knows (a learned PReLU's slopes are not in the file)."""
    try:
        return activation_named(name) if isinstance(name, str) else None
    except DepthlabError:
        return None


def chain_ratios(facts: Facts, probes: ProbeLog) -> list[tuple[list[str], dict[int, float]]]:
    """Each chain of like layers (bottom to top) with r = std(∂C/∂s) bottom/top at each
    probe: the numbers the gradient rules read (:mod:`depthlab.clinic` reports them
    before and after a remedy)."""
    return [(chain, ratios) for chain in _chains(facts, probes) if (ratios := _ratios(probes, chain))]

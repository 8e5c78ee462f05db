"""Per-layer statistics of any network on a fixed probe set, as Glorot & Bengio (2010)
monitor them (section 2.3: 300 test examples, Figures 2–10) and Nielsen (2015, ch. 5)
measures learning speed.

Every measure is a :class:`~depthlab.store.probes.Measure`: rows {"update", "layer",
"stat", "value"} and histograms {"update", "layer", "quantity", "edges", "counts"}, one
entry per call of a weighted layer (see :mod:`depthlab.probe.capture`: a module called
twice gives two). What is measured on each entry are the probe's quantities
(:mod:`depthlab.probe.quantities`, by default every one registered there: activations,
pre-activations, back-propagated and weight gradients, update ratios, Jacobian spectra);
the pass computes what they need (:class:`~depthlab.probe.quantities.Need`) and no more.

Entries are named after the modules owning their weights (``layer1.0.conv1``,
``fc#2`` for a module's second call); ``layer_names="positions"`` names the linear and
convolutional entries of a plain stack "layer 1", "layer 2", … and "output" (the last one
when no activation follows it), as the studies of depthlab's own networks read them.

What a pass measures does not depend on whether a weight trains: within the pass a frozen
parameter (``requires_grad=False``: a frozen backbone, a LoRA adapter's base layer) acts
through a detached alias that requires grad (:class:`FrozenAsVariables`), so ∂C/∂s, φ'(s)
and ∂C/∂W — defined whether or not W trains — are found for it as for any other; the
parameter, its flag and ``.grad`` are untouched. Whatever a forward does (a custom
``torch.autograd.Function``, an operation under ``torch.no_grad``), :meth:`Probe.measure`
returns what it can, and :meth:`Probe.summary` says per entry what it could not and why.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_map_only

from depthlab.errors import DepthlabError, unknown_choice
from depthlab.nets.activations import Activation
from depthlab.probe.budget import OverheadBudget
from depthlab.probe.calling import Inputs, call_model, examples_in, first_examples, probe_loss
from depthlab.probe.capture import Call, CapturePass
from depthlab.probe.entry import Entry
from depthlab.probe.jacobian import SEQUENCE_ROWS, Spectrum, chain_jacobian, input_spectrum, layer_jacobians
from depthlab.probe.quantities import JACOBIANS, QUANTITIES, Need, Quantity, Reading
from depthlab.probe.state import preserved_state
from depthlab.probe.stats import all_finite, histogram, on_host, settle, wide
from depthlab.registry import Choice
from depthlab.store.probes import Measure, ProbeLog
from depthlab.store.writer import ProbeWriter, checked_update


class LayerNaming(Choice, kind="layer naming"):
    """How a probe names its entries (see the module docstring)."""

    MODULES = "modules"
    POSITIONS = "positions"


class Probe:
    """Measures a model layer by layer on a fixed probe set.

    Each :meth:`measure` runs one forward/backward pass of C = ``loss_fn(model(inputs),
    targets)`` (see :mod:`depthlab.probe.calling` for the forms ``inputs`` may take, and
    the default ``loss_fn``), in eval mode unless ``train_mode``, and leaves the
    parameters, their ``.grad``, the buffers, the modules' modes and the global RNG as
    they were. ``layers`` names the modules to probe (default: every one with weights): a
    module's qualified name or a glob pattern on it (``"encoder.*"``, fnmatch's), or a list
    of them; ``quantities`` what to measure on them (names in, or entries of,
    :data:`~depthlab.probe.quantities.QUANTITIES`; default: every registered one);
    ``stats`` the statistics to keep (names of :mod:`depthlab.probe.quantities`; default:
    all): only the quantities emitting one are measured, with their histograms, and the
    rows hold only those statistics. Jacobian spectra use the first ``jacobian_examples``
    probe examples (0: none). ``budget``, a fraction such as 0.05 (or an
    :class:`~depthlab.probe.budget.OverheadBudget`, which may know the run's length), keeps
    the measures within that share of the time spent training between them: a measure that would exceed it is
    skipped and listed in :attr:`skipped` as (update, why); None (the default): every
    measure runs. On a GPU the statistics and histograms are reduced on the device and read
    in one transfer at the end of each measure; on the CPU with numpy (see
    :mod:`depthlab.probe.stats`).
    """

    def __init__(self, model: nn.Module, inputs: Inputs, targets: Tensor | None = None,
                 loss_fn: Callable[[Any, Tensor | None], Tensor] | None = None,
                 layers: str | Sequence[str] | None = None, jacobian_examples: int = 2, train_mode: bool = False,
                 bins: int = 100, layer_names: str = LayerNaming.MODULES,
                 quantities: Sequence[str | Quantity] | None = None, stats: str | Sequence[str] | None = None,
                 budget: float | OverheadBudget | None = None):
        if jacobian_examples < 0:
            raise DepthlabError(f"jacobian_examples {jacobian_examples} is negative (0 turns Jacobians off)")
        self.layer_names = LayerNaming.parse(layer_names)
        self.quantities = _emitting(_chosen(quantities), stats)
        examples = examples_in(inputs)
        if examples == 0:
            raise DepthlabError("the probe set is empty (0 examples): give it at least one example per row "
                                "of its input tensors")
        if on_meta := [name for name, t in (*model.named_parameters(), *model.named_buffers()) if t.is_meta]:
            raise DepthlabError(f"the model's {on_meta[0]} is on the meta device (it holds no values to measure): "
                                "materialize the model first (model.to_empty(device=...) and load its weights)")
        if targets is not None and len(targets) != examples:
            raise DepthlabError(f"the probe set has {examples} inputs but {len(targets)} targets")
        self.model, self.inputs, self.targets, self.loss_fn = model, inputs, targets, loss_fn
        self.only = _check_layer_names(model, layers)
        self.jacobian_examples = min(jacobian_examples, examples)
        self.train_mode, self.bins = train_mode, bins
        self.log = ProbeLog()
        self.calls: list[Call] = []
        self._names: dict[str, str] = {}
        self._unmeasured: dict[str, list[str]] = {}
        self._previous: tuple[int, dict[str, list[Tensor]]] | None = None
        self.writer: ProbeWriter | None = None
        self.budget = budget if isinstance(budget, OverheadBudget) or budget is None else OverheadBudget(budget)
        self.skipped: list[tuple[int, str]] = []

    @property
    def activations(self) -> dict[str, Activation]:
        """Entry name → the activation its output went through, for the entries that have
        one, in call order (after a measure)."""
        return {self._names[call.name]: call.activation for call in self.calls if call.activation is not None}

    @property
    def module_names(self) -> dict[str, str]:
        """Entry name → the qualified name of the module owning its weights (after a measure)."""
        return {self._names[call.name]: call.module_name for call in self.calls}

    @property
    def layers(self) -> list[dict[str, Any]]:
        """Each entry's name, module, kind and activation (after a measure), bottom to top."""
        return [{"layer": self._names[call.name], "module": call.module_name, "kind": call.kind,
                 "activation": call.activation.name if call.activation else None} for call in self.calls]

    def measure(self, update: int, with_jacobians: bool = True, with_histograms: bool = True) -> Measure:
        """Measure every quantity at training update ``update`` and return the measure (its
        rows and histograms are also added to :attr:`log`, a :class:`ProbeLog`, and
        written where :meth:`log_to` said). ``with_jacobians=False`` skips the Jacobian
        spectra, the dearest part; ``with_histograms=False`` the histograms, the dearest
        of the rest. Under a ``budget``, a measure it refuses returns an empty Measure
        and is added to :attr:`skipped`. Once :meth:`finish` was called, or at an update a
        continued run already holds, it is refused in one line."""
        update = checked_update(update, "probe update")
        if self.writer is not None:
            self.writer.check(update)
        if self.budget is None:
            return self._measure(update, with_jacobians, with_histograms)
        kind = (with_jacobians and self.jacobian_examples > 0, with_histograms)
        if (why := self.budget.refusal(update, kind)) is not None:
            self.skipped.append((update, why))
            if self.writer is not None:
                self.writer.skip(update)
            return Measure(update, [], [], self.layers)
        with self.budget.timing(kind):
            return self._measure(update, with_jacobians, with_histograms)

    def _measure(self, update: int, with_jacobians: bool, with_histograms: bool) -> Measure:
        if self._previous is not None and update <= self._previous[0]:
            raise DepthlabError(f"probe update {update} is not after the previous measure at update "
                                f"{self._previous[0]}")
        jacobians = with_jacobians and self.jacobian_examples > 0
        chosen = [q for q in self.quantities if jacobians or not q.needs & JACOBIANS]
        needs = frozenset().union(*(q.needs for q in chosen))
        rows, histograms = [], []
        with preserved_state(self.model, self.train_mode):
            entries = self._pass(self.inputs, update, needs)  # as the model runs: in the caller's autocast
            with _without_autocast():  # the statistics and spectra: in float32 or wider, always
                for entry in entries:
                    entry_rows, entry_histograms = self._read(entry, chosen, with_histograms)
                    rows += entry_rows
                    histograms += entry_histograms
        settle(rows, histograms)  # what was reduced on a device, read in one transfer
        kept = Need.PREVIOUS_WEIGHTS in needs
        self._previous = (update, {call.name: [w.detach().clone() for w in call.weights]
                                   for call in self.calls} if kept else {})
        measure = Measure(update, rows, histograms, self.layers)
        self.log.add(rows, histograms)
        if self.writer is not None:
            self.writer.write(measure)
        return measure

    def _read(self, entry: Entry, chosen: list[Quantity], with_histograms: bool) -> tuple[list[dict], list[dict]]:
        """The rows and histograms of the ``chosen`` quantities on one entry; a quantity the
        model's operations keep autograd from is listed under "not measured"."""
        stats, samples = {}, {}
        for quantity in chosen:
            try:
                reading = quantity.measure(entry)
            except RuntimeError as error:  # an operation of the model's that autograd cannot go through
                self._unmeasured.setdefault(entry.name, []).append(f"{quantity.name}: {error}")
                continue
            if reading is not None:
                stats |= reading.stats
                samples |= reading.samples
        rows = [{"update": entry.update, "layer": entry.name, "stat": stat, "value": value}
                for stat, value in stats.items()]
        histograms = [{"update": entry.update, "layer": entry.name, "quantity": quantity,
                       **dict(zip(("edges", "counts"), histogram(values, value_range, self.bins)))}
                      for quantity, (values, value_range) in samples.items()] if with_histograms else []
        return rows, histograms

    # -- a user's loop writes a run directory (depthlab.store.writer) -------------------
    def log_to(self, path: str | Path, lr: float | None = None) -> Probe:
        """Write every measure from now on into a run directory at ``path`` that
        ``depthlab inspect`` (and :func:`depthlab.diagnose`) read, through a
        :class:`~depthlab.store.writer.ProbeWriter`: ``probes.jsonl``, ``status.json`` and
        ``probe.json`` (the model's class, ``lr`` where given, and each layer's module,
        kind and activation, from the probe). :meth:`log_metrics` adds training numbers
        for the curves; :meth:`finish` marks the run completed. A run at ``path`` that a
        loop left unfinished (crashed, killed) is continued, from the update after the last
        one it holds; any other folder that is not empty is refused. Returns the probe."""
        facts = {"model": type(self.model).__name__, "lr": lr, "probe_size": examples_in(self.inputs)}
        self.writer = ProbeWriter(path, facts)
        return self

    def log_metrics(self, update: int, **numbers: float) -> None:
        """Record training numbers at ``update`` (``train_cost``, ``validation_error``,
        ``test_error``, … as depthlab train names them) in the run :meth:`log_to` writes."""
        self._writing().log_metrics(update, **numbers)

    def finish(self, update: int | None = None, status: str = "completed") -> None:
        """Mark the run :meth:`log_to` writes ``status`` (completed, diverged or
        interrupted) at ``update``, default the last one written, and let go of its lock
        (held from :meth:`log_to` on, so no other process writes the run meanwhile)."""
        self._writing().finish(update, status)

    def _writing(self) -> ProbeWriter:
        if self.writer is None:
            raise DepthlabError("this probe writes no run directory: call probe.log_to(path) first")
        return self.writer

    def summary(self) -> list[dict[str, str]]:
        """One row per entry: its name, module, kind, shape, what its output went through
        (the activation, or what took it instead) and, under "not measured", what the last
        pass could not measure on it and why, in words ("" when nothing is missing); then
        one row (kind "not recognised") per module with weights that no entry used, such
        as a custom layer multiplying by its parameter with ``@``. Runs a pass if none has
        run."""
        if not self.calls:
            with preserved_state(self.model, self.train_mode):
                self._pass(self.inputs, 0, frozenset())
        rows = [{"layer": self._names[call.name], "module": call.module_name, "kind": call.kind,
                 "weight": "×".join(map(str, call.weight.shape)),
                 "then": call.activation.name if call.activation else f"no activation: {_words(call.after)}",
                 "not measured": "; ".join(self._unmeasured.get(self._names[call.name], []))}
                for call in self.calls]
        used = {id(p) for call in self.calls for p in call.sources}
        for name, module in self.model.named_modules():
            own = list(module.parameters(recurse=False))
            if own and not any(id(p) in used for p in own) and (self.only is None or name in self.only):
                rows.append({"layer": name or type(module).__name__, "module": name, "kind": "not recognised",
                             "weight": "×".join(map(str, own[0].shape)),
                             "then": f"not probed: no layer function the probe knows used the weights of this "
                                     f"{type(module).__name__} in the pass", "not measured": "everything"})
        return rows

    def state_dict(self) -> dict[str, Any]:
        """What the next measure depends on (the previous update and weights, for the update
        ratio), so that a resumed run measures what an uninterrupted one would."""
        return {"previous": self._previous}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        previous = state["previous"]
        if previous is not None and isinstance(previous[1], list):  # saved before entries were named
            previous = None
        self._previous = previous

    def histograms_at(self, update: int) -> list[dict[str, Any]]:
        """The histograms measured at ``update``."""
        return self.log.histograms_at(update)

    def series(self, stat: str, layer: str):
        """Updates and values of one statistic of one layer over the measures so far."""
        return self.log.series(stat, layer)

    # -- the pass ------------------------------------------------------------------------
    def _pass(self, inputs: Inputs, update: int, needs: frozenset[Need]) -> list[Entry]:
        """One forward pass, and the backward pass of what ``needs`` asks: per call ∂C/∂s
        (:attr:`Need.OUTPUT`), ∂C/∂W and ∂C/∂b (:attr:`Need.WEIGHTS`), φ'(s) on its first
        rows (the Jacobians), the previous measure's weights."""
        capture = CapturePass(self.model, self.only)
        variables = FrozenAsVariables(self.model)
        with torch.enable_grad(), variables, capture.watching_activation_modules(self.model), capture:
            output = call_model(self.model, inputs)
        loss = probe_loss(self.loss_fn, output, self.targets)
        calls = capture.calls
        if not calls:
            raise DepthlabError(f"{type(self.model).__name__} has no weighted layer to probe (Linear, Conv, "
                                "Embedding, normalization, attention or recurrent)")
        self.calls, self._names = calls, self._entry_names(calls)
        self._unmeasured = {self._names[call.name]: _out_of_sight(call) for call in calls}
        slopes = bool(needs & JACOBIANS)
        outputs = [call.s for call in calls if call.s is not None and call.s.requires_grad] \
            if Need.OUTPUT in needs else []
        params = list(dict.fromkeys(p for call in calls for p in (*call.weights, *call.biases))) \
            if Need.WEIGHTS in needs else []
        variable = {id(p): p if p.requires_grad else variables.aliases.get(id(p)) for p in params}
        wrt = [*outputs, *(v for v in variable.values() if v is not None)]
        if not loss.requires_grad:
            for reasons in self._unmeasured.values():
                reasons.append("every gradient: the cost does not depend on anything autograd recorded")
        half = any(t.dtype == torch.float16 for t in (loss, *wrt, *(call.s for call in calls if call.s is not None)))
        grads = _gradients(loss, wrt, half, retain_graph=slopes) if wrt and loss.requires_grad else [None] * len(wrt)
        by_tensor = dict(zip(map(id, wrt), grads))

        def grad_of(p: Tensor) -> Tensor | None:
            return by_tensor.get(id(variable[id(p)])) if variable[id(p)] is not None else None

        def grads_of(tensors: list[Tensor]) -> list[Tensor] | None:
            found = [grad_of(t) for t in tensors]
            return None if any(g is None for g in found) else found

        slope = _finite_only({call.name: (self._slope(call), call.weight) for call in calls}) if slopes else {}
        top = self._top(calls) if Need.INPUT_JACOBIAN in needs else None
        previous = self._previous[1] if self._previous is not None else {}
        entries = [Entry(self._names[call.name], call, update,
                         output_grad=by_tensor.get(id(call.s)) if call.s is not None else None,
                         weight_grads=grads_of(call.weights) if Need.WEIGHTS in needs else None,
                         bias_grads=grads_of(call.biases) if Need.WEIGHTS in needs else None,
                         slope=slope.get(call.name),
                         previous=(self._previous[0], previous[call.name]) if call.name in previous else None,
                         spectrum_of_input=(lambda: self._input_spectrum(calls, top, slope)) if call is top else None)
                   for call in calls]
        if Need.WEIGHTS in needs and loss.requires_grad:
            for entry in entries:
                if not entry.weight_grads:
                    self._unmeasured[entry.name].append("∂C/∂W: its weights were used where autograd records "
                                                        "nothing, or the cost does not depend on them through it")
        return entries

    def _slope(self, call: Call) -> Tensor | None:
        """φ'(s) on the first rows (examples, or at most :data:`SEQUENCE_ROWS` positions of
        the first examples, evenly spaced) of a linear call whose activation acts elementwise
        on its output; 1 for one that feeds the next layer directly; None otherwise."""
        if call.kind != "linear" or call.s is None or call.s.dim() not in (2, 3) or self._is_output(call):
            return None
        rows = self.jacobian_examples * (1 if call.s.dim() == 2 else call.s.shape[1])
        if call.s.dim() == 3 and rows > SEQUENCE_ROWS:
            rows = torch.linspace(0, rows - 1, SEQUENCE_ROWS, dtype=torch.float64).round().long()  # any default dtype
        else:
            rows = slice(rows)
        if call.activation is None:
            return torch.ones_like(call.s.reshape(-1, call.s.shape[-1])[rows]).detach()
        if call.a.shape != call.s.shape or not (call.s.requires_grad and call.a.requires_grad):
            return None  # φ was applied out of autograd's sight
        try:
            (slope,) = torch.autograd.grad(call.a, call.s, torch.ones_like(call.a), retain_graph=True,
                                           allow_unused=True)
        except RuntimeError as error:  # a backward of the model's own that cannot run twice, or any other
            self._unmeasured[self._names[call.name]].append(f"the layer Jacobian: φ'(s) could not be found ({error})")
            return None
        return None if slope is None else slope.reshape(-1, slope.shape[-1])[rows].detach()

    @staticmethod
    def _is_output(call: Call) -> bool:
        return call.activation is None and call.after == "the model's output"

    def _entry_names(self, calls: list[Call]) -> dict[str, str]:
        if self.layer_names == LayerNaming.MODULES:
            return {call.name: call.name for call in calls}
        numbered = [call for call in calls if call.kind in ("linear", "conv")]
        names = {call.name: call.name for call in calls}
        for k, call in enumerate(numbered, start=1):
            names[call.name] = "output" if k == len(numbered) and self._is_output(call) else f"layer {k}"
        return names

    # -- the input Jacobian's spectrum ------------------------------------------------
    def _top(self, calls: list[Call]) -> Call | None:
        """The top entry below the output (None when the output is all there is)."""
        below = [call for call in calls if not self._is_output(call)]
        return below[-1] if below else None

    def _input_spectrum(self, calls: list[Call], top: Call, slopes: dict[str, Tensor | None]) -> Spectrum | None:
        """The singular values of the ``top`` entry's output (or activation) with respect to
        the input: the product of the layer Jacobians when the entries form a plain chain of
        linear layers (each one's input is the one below's output, the first's the
        flattened probe input), else matrix-free on the first examples
        (:func:`depthlab.probe.jacobian.input_spectrum`)."""
        try:
            chain = self._chain(calls, top, slopes)
            return chain if chain is not None else self._matrix_free_spectrum(top.name)
        except RuntimeError as error:  # an operation autograd cannot differentiate as the spectrum needs
            self._unmeasured[self._names[top.name]].append(f"the input Jacobian: {error}")
            return None

    def _chain(self, calls: list[Call], top: Call, slopes: dict[str, Tensor | None]) -> Spectrum | None:
        stack = calls[:calls.index(top) + 1]
        if not isinstance(self.inputs, Tensor) or not all(c.kind == "linear" for c in stack):
            return None
        signal = self.inputs.reshape(len(self.inputs), -1)
        jacobians, same = [], []
        for call in stack:
            slope = slopes.get(call.name)
            if slope is None or call.x is None or call.x.dim() != 2 or call.x.shape != signal.shape:
                return None
            if call.x is not signal and on_host(signal) and not torch.equal(call.x, signal):
                return None
            if call.x is not signal and not on_host(signal):  # read below, with the other checks
                same.append((call.x == signal).all())
            jacobians.append(layer_jacobians(wide(slope), wide(call.matrix.detach())))
            signal = call.a if call.activation is not None else call.s
        product = chain_jacobian(jacobians)
        # a diverging network has no spectrum to speak of; on a device, one read for all the checks
        if not torch.stack([*same, all_finite(product)]).all().item():
            return None
        return Spectrum(torch.linalg.svdvals(wide(product)), True)

    def _matrix_free_spectrum(self, name: str) -> Spectrum | None:
        """A pass on the first examples with the input (or, for integer inputs, the first
        entry's output) as the variable, then :func:`input_spectrum` of the entry ``name``."""
        inputs = first_examples(self.inputs, self.jacobian_examples)
        floating = isinstance(inputs, Tensor) and torch.is_floating_point(inputs)
        if floating:
            inputs = inputs.detach().requires_grad_(True)
        capture = CapturePass(self.model, self.only)
        with torch.enable_grad(), sdpa_kernel(SDPBackend.MATH), FrozenAsVariables(self.model), \
                capture.watching_activation_modules(self.model), capture:
            call_model(self.model, inputs)
        found = {call.name: call for call in capture.calls}
        first = next((call for call in capture.calls if call.s is not None and torch.is_floating_point(call.s)), None)
        variable = inputs if floating else first.s if first is not None else None
        top = found.get(name)
        if variable is None or top is None or (top is first and not floating):
            return None
        signal = top.a if top.activation is not None else top.s
        if signal is None or not signal.requires_grad or len(signal) != len(variable):
            return None
        try:
            spectrum = input_spectrum(signal, variable)
        except RuntimeError:  # an operation without the second derivative Jacobian-vector products need
            return None
        return spectrum if torch.isfinite(spectrum.values).all() else None


LOSS_SCALES = (2.0 ** 15, 2.0 ** 8)
"""The factors a float16 pass's cost is multiplied by before its backward, tried in turn
(2**15 is the largest power of two float16 holds) before the cost itself."""


def _gradients(loss: Tensor, wrt: list[Tensor], half: bool, retain_graph: bool) -> list[Tensor]:
    """∂C/∂t for each tensor t of ``wrt`` (zeros where C does not depend on t).

    Where the pass ran in float16 (``half``: a float16 model or a float16 autocast region),
    a back-propagated gradient below float16's smallest subnormal, 6e-8, reads 0 (a deep
    sigmoid net's first layers at standard initialization). The backward then runs on S·C
    and each gradient is divided by S in float32 (loss scaling: Micikevicius et al. 2018,
    "Mixed precision training", section 3.2): ∂C/∂t = (∂(S·C)/∂t) / S, exact for S a power
    of two. S is the first of :data:`LOSS_SCALES` for which every gradient is finite, else
    1 (autograd's own gradients, whatever they are). What is returned is the cost's own
    gradient, never a scaled one (float16 ones as float32); a user's ``GradScaler`` is
    neither read nor changed."""
    if half and torch.isfinite(loss):  # no scale makes a diverged cost's gradients finite
        for scale in LOSS_SCALES:
            grads = torch.autograd.grad(loss, wrt, torch.full_like(loss, scale), allow_unused=True,
                                        materialize_grads=True, retain_graph=True)
            if torch.stack([g.isfinite().all() for g in grads]).all():
                return [g.float() / scale if g.dtype == torch.float16 else g / scale for g in grads]
    return list(torch.autograd.grad(loss, wrt, allow_unused=True, materialize_grads=True, retain_graph=retain_graph))


class FrozenAsVariables(TorchFunctionMode):
    """Within a probe pass, each frozen floating-point parameter of ``model``
    (``requires_grad=False``) that an operation takes while grad mode is on is given to it
    as :attr:`aliases` ``[id(p)]``: ``p.detach().requires_grad_()``, one per parameter,
    sharing its storage. Every output downstream of it then has a derivative, and ∂C/∂W of
    a frozen W is the gradient of its alias; the parameter itself, its ``requires_grad``
    and ``.grad`` are untouched (attribute reads and in-place operations get the parameter
    itself). Entered below the :class:`CapturePass`, which sees the parameters themselves;
    a model without frozen parameters runs with no mode at all."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.frozen = {id(p) for p in model.parameters() if not p.requires_grad and p.is_floating_point()}
        self.aliases: dict[int, Tensor] = {}

    def __enter__(self):
        return super().__enter__() if self.frozen else self

    def __exit__(self, *exc):
        if self.frozen:
            super().__exit__(*exc)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if torch.is_grad_enabled() and not _reads_or_mutates(func):
            args, kwargs = tree_map_only(Tensor, self._alias, (args, kwargs))
        return func(*args, **kwargs)

    def _alias(self, tensor: Tensor) -> Tensor:
        if id(tensor) not in self.frozen:
            return tensor
        if id(tensor) not in self.aliases:
            self.aliases[id(tensor)] = tensor.detach().requires_grad_()
        return self.aliases[id(tensor)]


AUTOGRAD_ATTRIBUTES = {"requires_grad", "grad", "data", "is_leaf", "grad_fn", "_version"}
"""A tensor's attributes about autograd itself: a forward reading them gets the parameter's."""


@contextlib.contextmanager
def _without_autocast():
    """Autocast turned off on every device type it is on: a measure's reductions and
    Jacobian products are computed in the tensors' own (widened) precision, not in the
    bfloat16/float16 a surrounding ``torch.autocast`` (a Lightning precision plugin's
    forward context, a user's own) would give a matrix product."""
    with contextlib.ExitStack() as stack:
        for device in ("cpu", "cuda"):
            if torch.is_autocast_enabled(device):
                stack.enter_context(torch.autocast(device, enabled=False))
        yield


def _reads_or_mutates(func: Callable) -> bool:
    """Whether a torch function reads or sets an autograd attribute of a tensor
    (:data:`AUTOGRAD_ATTRIBUTES`), or works in place (``add_``, ``__iadd__``, ``x[i] = v``)."""
    name = getattr(func, "__name__", "")
    if name in ("__get__", "__set__"):
        return name == "__set__" or getattr(getattr(func, "__self__", None), "__name__", "") in AUTOGRAD_ATTRIBUTES
    return name == "__setitem__" or (name.endswith("_") and not name.startswith("__")) \
        or (name.startswith("__i") and name.endswith("__") and name != "__invert__")


def _finite_only(slopes: dict[str, tuple[Tensor | None, Tensor]]) -> dict[str, Tensor | None]:
    """Each call's φ'(s) (of ``slopes``: name → (φ'(s) or None, W)) where it and W are
    finite and W is not empty, else None (a diverging network has no spectrum to speak of,
    nor has a layer without inputs): all read at once."""
    found = {name: (slope, weight) for name, (slope, weight) in slopes.items()
             if slope is not None and weight.numel()}
    if not found:
        return {name: None for name in slopes}
    device = next(iter(found.values()))[0].device  # one read, on a model spread over devices too
    flags = torch.stack([(all_finite(slope) & all_finite(weight)).to(device)
                         for slope, weight in found.values()]).tolist()
    kept = {name: slope for (name, (slope, _)), finite in zip(found.items(), flags, strict=True) if finite}
    return {name: kept.get(name) for name in slopes}


def _out_of_sight(call: Call) -> list[str]:
    """What cannot be measured on ``call`` whatever the pass computes, in words."""
    if call.s is None:
        return []  # an attention block's input projection: its "then" says why
    if not call.s.requires_grad:
        return ["∂C/∂s: its output was computed where autograd records nothing (inside a custom "
                "torch.autograd.Function's forward, or under torch.no_grad)"]
    if call.activation is not None and call.a is not None and not call.a.requires_grad:
        return [f"the layer Jacobian: its activation ({call.activation.name}) ran where autograd records nothing "
                "(inside a custom torch.autograd.Function's forward), so φ'(s) is unknown"]
    return []


def _check_layer_names(model: nn.Module, layers: str | Sequence[str] | None) -> set[str] | None:
    """The modules to probe, checked: each name or glob pattern (fnmatch's, on the
    module's qualified name) must name at least one module of the model with weights."""
    weighted = [name for name, module in model.named_modules() if any(True for _ in module.parameters(recurse=False))]
    if not weighted:
        raise DepthlabError(f"{type(model).__name__} has no weighted layer to probe (Linear, Conv, Embedding, "
                            "normalization, attention or recurrent)")
    if layers is None:
        return None
    modules = dict(model.named_modules())
    chosen: set[str] = set()
    for pattern in [layers] if isinstance(layers, str) else layers:
        if not any(c in pattern for c in "*?["):
            if pattern not in modules:
                raise unknown_choice("layer", pattern, weighted)
            if pattern not in weighted:
                raise DepthlabError(f"layer '{pattern}' is a {type(modules[pattern]).__name__}, which has no weights "
                                    "to probe")
        matched = [name for name in weighted if fnmatchcase(name, pattern)]
        if not matched:
            few = ", ".join(weighted[:FEW]) + (f", … ({len(weighted)} in all)" if len(weighted) > FEW else "")
            raise DepthlabError(f"layer pattern '{pattern}' matches no module with weights; modules with weights: "
                                f"{few}")
        chosen.update(matched)
    return chosen


FEW = 6
"""Module names a refused layer pattern is shown."""


def _words(after: str) -> str:
    """What took a layer's output, in words."""
    spelled = {"add": "an addition of another tensor", "add_": "an addition of another tensor",
               "__add__": "an addition of another tensor", "__iadd__": "an addition of another tensor",
               "cat": "a concatenation", "stack": "a stack", "mul": "a product with another tensor",
               "__mul__": "a product with another tensor", "matmul": "a matrix product"}
    return spelled.get(after, after if " " in after or after == "the model's output" else f"{after}()")



def _chosen(quantities: Sequence[str | Quantity] | None) -> tuple[Quantity, ...]:
    """The quantities to measure: each a name in :data:`QUANTITIES` or a :class:`Quantity`
    (default: every registered one); two may not emit one statistic or histogram."""
    if quantities is None:
        quantities = list(QUANTITIES)
    if isinstance(quantities, str):
        quantities = [quantities]
    chosen = tuple(dict.fromkeys(q if isinstance(q, Quantity) else QUANTITIES.get(q) for q in quantities))
    seen: dict[tuple[str, str], str] = {}
    for quantity in chosen:
        for key in (*(("statistic", s) for s in quantity.stats), *(("histogram", h) for h in quantity.histograms)):
            if seen.setdefault(key, quantity.name) != quantity.name:
                raise DepthlabError(f"probe quantities {seen[key]} and {quantity.name} both emit the {key[0]} "
                                    f"'{key[1]}'")
    return chosen


def _emitting(quantities: tuple[Quantity, ...], stats: str | Sequence[str] | None) -> tuple[Quantity, ...]:
    """The ``quantities`` emitting one of ``stats`` (None: all of them), each emitting only
    those (and all its histograms)."""
    if stats is None:
        return quantities
    stats = [stats] if isinstance(stats, str) else list(stats)
    if not stats:
        raise DepthlabError("stats names no statistic: name at least one, or leave it out for all")
    valid = [stat for quantity in quantities for stat in quantity.stats]
    for stat in stats:
        if stat not in valid:
            raise unknown_choice("probe statistic", stat, valid)
    return tuple(quantity if set(quantity.stats) <= set(stats) else _Selected(quantity, stats)
                 for quantity in quantities if set(quantity.stats) & set(stats))


class _Selected(Quantity):
    """A quantity emitting only the statistics ``stats`` of its own (and all its histograms)."""

    def __init__(self, quantity: Quantity, stats: Sequence[str]):
        self.quantity = quantity
        self.name, self.needs, self.histograms = quantity.name, quantity.needs, quantity.histograms
        self.stats = tuple(stat for stat in quantity.stats if stat in stats)

    def measure(self, entry: Entry) -> Reading | None:
        reading = self.quantity.measure(entry)
        if reading is None:
            return None
        return Reading({stat: value for stat, value in reading.stats.items() if stat in self.stats}, reading.samples)

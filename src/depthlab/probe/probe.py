"""Per-layer statistics of any network on a fixed probe set, as Glorot & Bengio (2010)
monitor them (section 2.3: 300 test examples, Figures 2–10) and Nielsen (2015, ch. 5)
measures learning speed.

Every measure gives rows {"update", "layer", "stat", "value"}, one entry per call of a
weighted layer (see :mod:`depthlab.probe.capture`: a module called twice gives two). The
statistics, per entry (C is the loss on the whole probe set, s the layer's output, a = φ(u)
the activation its output went through, u what φ was applied to):

- with an activation: ``activation_mean``, ``activation_std``, ``activation_p2``,
  ``activation_p98`` (percentiles), ``saturated_fraction`` (the
  activation's ``saturation_rule``);
- with an output: ``preactivation_mean``, ``preactivation_std``; ``backprop_grad_std``
  and ``backprop_grad_norm`` of ∂C/∂s;
- every entry: ``weight_grad_std``, ``weight_grad_norm`` of ∂C/∂W (over all its weights);
  ``bias_grad_norm`` ‖∂C/∂b‖ (Nielsen's learning speed); ``weight_norm`` ‖W‖;
  ``update_ratio`` ‖W_t − W_t'‖ / ‖W_t'‖ / (t − t') since the previous measure t';
- linear layers (of 2-D or, per position, 3-D inputs) that are not the output:
  ``jacobian_sv_mean``, ``_min``, ``_max`` of the layer's Jacobian diag(φ'(s)) W (or
  ``_max`` and ``_count`` of its largest singular values, see :mod:`depthlab.probe.jacobian`);
- the top entry below the output: ``input_jacobian_sv_mean`` (complete spectra) and
  ``input_jacobian_sv_max`` of its output with respect to the input (the first
  floating-point entry output when the inputs are integers, such as token ids).

Histograms {"update", "layer", "quantity", "edges", "counts"} of ``activation`` (over the
activation's fixed ``value_range``; values beyond it count in the end bins),
``preactivation``, ``backprop_grad``, ``weight_grad`` (over ±max|value|) and
``input_jacobian_sv`` (over [0, max]).

Entries are named after the modules owning their weights (``layer1.0.conv1``,
``fc#2`` for a module's second call); ``layer_names="positions"`` names the linear and
convolutional entries of a plain stack "layer 1", "layer 2", … and "output" (the last one
when no activation follows it), as the studies of depthlab's own networks read them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from depthlab.errors import DepthlabError, unknown_choice
from depthlab.nets.activations import Activation
from depthlab.probe.calling import Inputs, call_model, examples_in, first_examples, probe_loss
from depthlab.probe.capture import Call, CapturePass
from depthlab.probe.jacobian import (
    SEQUENCE_ROWS,
    Spectrum,
    chain_jacobian,
    input_spectrum,
    layer_jacobians,
    layer_spectrum,
)
from depthlab.probe.state import preserved_state
from depthlab.probe.stats import activation_stats, histogram
from depthlab.store.probes import ProbeLog
from depthlab.store.run import RunDir

LAYER_NAMINGS = ("modules", "positions")
FINISHED = ("completed", "diverged", "interrupted")


class Probe:
    """Measures a model layer by layer on a fixed probe set.

    Each :meth:`measure` runs one forward/backward pass of C = ``loss_fn(model(inputs),
    targets)`` (see :mod:`depthlab.probe.calling` for the forms ``inputs`` may take, and
    the default ``loss_fn``), in eval mode unless ``train_mode``, and leaves the
    parameters, their ``.grad``, the buffers, the modules' modes and the global RNG as
    they were. ``layers`` names the modules to probe (default: every one with weights);
    Jacobian spectra use the first ``jacobian_examples`` probe examples (0: none).
    """

    def __init__(self, model: nn.Module, inputs: Inputs, targets: Tensor | None = None,
                 loss_fn: Callable[[Any, Tensor | None], Tensor] | None = None, layers: Sequence[str] | None = None,
                 jacobian_examples: int = 2, train_mode: bool = False, bins: int = 100,
                 layer_names: str = "modules"):
        if jacobian_examples < 0:
            raise DepthlabError(f"jacobian_examples {jacobian_examples} is negative (0 turns Jacobians off)")
        if layer_names not in LAYER_NAMINGS:
            raise unknown_choice("layer naming", layer_names, LAYER_NAMINGS)
        examples = examples_in(inputs)
        if targets is not None and len(targets) != examples:
            raise DepthlabError(f"the probe set has {examples} inputs but {len(targets)} targets")
        self.model, self.inputs, self.targets, self.loss_fn = model, inputs, targets, loss_fn
        self.only = _check_layer_names(model, layers)
        self.jacobian_examples = min(jacobian_examples, examples)
        self.train_mode, self.bins, self.layer_names = train_mode, bins, layer_names
        self.log = ProbeLog()
        self.calls: list[Call] = []
        self._names: dict[str, str] = {}
        self._previous: tuple[int, dict[str, list[Tensor]]] | None = None
        self.run: RunDir | None = None
        self._facts: dict[str, Any] = {}

    @property
    def activations(self) -> dict[str, Activation]:
        """Entry name → the activation its output went through, for the entries that have
        one, in call order (after a measure)."""
        return {self._names[call.name]: call.activation for call in self.calls if call.activation is not None}

    @property
    def module_names(self) -> dict[str, str]:
        """Entry name → the qualified name of the module owning its weights (after a measure)."""
        return {self._names[call.name]: call.module_name for call in self.calls}

    def measure(self, update: int, with_jacobians: bool = True, with_histograms: bool = True) -> list[dict[str, Any]]:
        """Measure every statistic at training update ``update``; return the new rows (the
        rows and histograms are also added to :attr:`log`, a :class:`ProbeLog`).
        ``with_jacobians=False`` skips the Jacobian spectra, the dearest part;
        ``with_histograms=False`` the histograms, the dearest of the rest."""
        if self._previous is not None and update <= self._previous[0]:
            raise DepthlabError(f"probe update {update} is not after the previous measure at update "
                                f"{self._previous[0]}")
        jacobians = with_jacobians and self.jacobian_examples > 0
        with preserved_state(self.model, self.train_mode):
            calls, grads = self._pass(self.inputs, slopes=jacobians)
            spectra = self._layer_spectra(calls) if jacobians else {}
            top = self._input_spectrum(calls) if jacobians else None
        rows, histograms = [], []
        for call in calls:
            name = self._names[call.name]
            stats, hists = self._call_measures(call, grads[call.name], update, with_histograms)
            if call.name in spectra:
                stats |= spectra[call.name].stats("jacobian_sv")
            if top is not None and call.name == top[0]:
                stats |= {key.replace("jacobian_sv", "input_jacobian_sv"): value
                          for key, value in top[1].stats("jacobian_sv").items() if not key.endswith(("_min", "_count"))}
                if with_histograms:
                    hists["input_jacobian_sv"] = histogram(top[1].values, (0.0, top[1].values.max().item()),
                                                           self.bins)
            rows += [{"update": update, "layer": name, "stat": stat, "value": value} for stat, value in stats.items()]
            histograms += [{"update": update, "layer": name, "quantity": quantity, "edges": edges, "counts": counts}
                           for quantity, (edges, counts) in hists.items()]
        self._previous = (update, {call.name: [w.detach().clone() for w in call.weights] for call in calls})
        self.log.add(rows, histograms)
        if self.run is not None:
            self._write(update, rows, histograms)
        return rows

    # -- a user's loop writes a run directory --------------------------------------------
    def log_to(self, path: str | Path, lr: float | None = None) -> Probe:
        """Write every measure from now on into a run directory at ``path`` that
        ``depthlab inspect`` (and :func:`depthlab.diagnose`) read: ``probes.jsonl``,
        ``status.json`` and ``probe.json`` (the model's class, ``lr`` where given, and each
        layer's module, kind and activation, from the probe). :meth:`log_metrics` adds
        training numbers for the curves; :meth:`finish` marks the run completed. Returns
        the probe."""
        self._facts = {"model": type(self.model).__name__, "lr": lr, "probe_size": examples_in(self.inputs),
                       "layers": []}
        self.run = RunDir.create_for_probe(path, self._facts)
        return self

    def log_metrics(self, update: int, **numbers: float) -> None:
        """Record training numbers at ``update`` (``train_cost``, ``validation_error``,
        ``test_error``, … as depthlab train names them) in the run :meth:`log_to` writes."""
        self._logging().append_metrics({"update": update, **{k: float(v) for k, v in numbers.items()}})
        self._logging().set_status("running", update=update)

    def finish(self, update: int | None = None, status: str = "completed") -> None:
        """Mark the run :meth:`log_to` writes ``status`` (completed, diverged or
        interrupted) at ``update``, default the last measure's, and let go of its lock
        (held from :meth:`log_to` on, so no other process writes the run meanwhile)."""
        if status not in FINISHED:
            raise unknown_choice("run status", status, FINISHED)
        run = self._logging()
        run.set_status(status, update=update if update is not None else self._last_update())
        run.release()

    def _logging(self) -> RunDir:
        if self.run is None:
            raise DepthlabError("this probe writes no run directory: call probe.log_to(path) first")
        return self.run

    def _last_update(self) -> int:
        return self._previous[0] if self._previous else 0

    def _write(self, update: int, rows: list[dict[str, Any]], histograms: list[dict[str, Any]]) -> None:
        layers = [{"layer": self._names[call.name], "module": call.module_name, "kind": call.kind,
                   "activation": call.activation.name if call.activation else None} for call in self.calls]
        if layers != self._facts["layers"]:
            self._facts["layers"] = layers
            self.run.write_probe_facts(self._facts)
        self.run.append_probes(rows, histograms)
        self.run.set_status("running", update=update)

    def summary(self) -> list[dict[str, str]]:
        """One row per entry: its name, module, kind, shape and what its output went
        through (the activation, or what took it instead); then one row (kind "not
        recognised") per module with weights that no entry used, such as a custom layer
        multiplying by its parameter with ``@``. Runs a pass if none has run."""
        if not self.calls:
            with preserved_state(self.model, self.train_mode):
                self._pass(self.inputs, slopes=False)
        rows = [{"layer": self._names[call.name], "module": call.module_name, "kind": call.kind,
                 "weight": "×".join(map(str, call.weight.shape)),
                 "then": call.activation.name if call.activation else f"no activation: {_words(call.after)}"}
                for call in self.calls]
        used = {id(p) for call in self.calls for p in (*call.weights, *call.biases)}
        for name, module in self.model.named_modules():
            own = list(module.parameters(recurse=False))
            if own and not any(id(p) in used for p in own) and (self.only is None or name in self.only):
                rows.append({"layer": name or type(module).__name__, "module": name, "kind": "not recognised",
                             "weight": "×".join(map(str, own[0].shape)),
                             "then": f"not probed: no layer function the probe knows used the weights of this "
                                     f"{type(module).__name__} in the pass"})
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
    def _pass(self, inputs: Inputs, slopes: bool) -> tuple[list[Call], dict[str, dict[str, Tensor | None]]]:
        """One forward/backward pass: the calls, and per call ∂C/∂s, ∂C/∂W (each weight) and
        ∂C/∂b; with ``slopes``, each call's φ'(s) on its first rows too."""
        capture = CapturePass(self.model, self.only)
        with torch.enable_grad(), capture.watching_activation_modules(self.model), capture:
            output = call_model(self.model, inputs)
        loss = probe_loss(self.loss_fn, output, self.targets)
        calls = capture.calls
        if not calls:
            raise DepthlabError(f"{type(self.model).__name__} has no weighted layer to probe (Linear, Conv, "
                                "Embedding, normalization, attention or recurrent)")
        self.calls, self._names = calls, self._entry_names(calls)
        outputs = [call.s for call in calls if call.s is not None and call.s.requires_grad]
        params = list(dict.fromkeys(p for call in calls for p in (*call.weights, *call.biases) if p.requires_grad))
        grads = torch.autograd.grad(loss, [*outputs, *params], allow_unused=True, materialize_grads=True,
                                    retain_graph=slopes)
        by_tensor = dict(zip(map(id, [*outputs, *params]), grads))
        def grad_of(t: Tensor) -> Tensor:
            found = by_tensor.get(id(t))
            return torch.zeros_like(t) if found is None else found

        found = {call.name: {"s": by_tensor.get(id(call.s)) if call.s is not None else None,
                             "weights": [grad_of(w) for w in call.weights], "biases": [grad_of(b) for b in call.biases]}
                 for call in calls}
        if slopes:
            for call in calls:
                found[call.name]["slope"] = self._slope(call)
        self._grads = found
        return calls, found

    def _slope(self, call: Call) -> Tensor | None:
        """φ'(s) on the first rows (examples, or at most :data:`SEQUENCE_ROWS` positions of
        the first examples, evenly spaced) of a linear call whose activation acts elementwise
        on its output; 1 for one that feeds the next layer directly; None otherwise."""
        if call.kind != "linear" or call.s is None or call.s.dim() not in (2, 3) or self._is_output(call):
            return None
        rows = self.jacobian_examples * (1 if call.s.dim() == 2 else call.s.shape[1])
        if call.s.dim() == 3 and rows > SEQUENCE_ROWS:
            rows = torch.linspace(0, rows - 1, SEQUENCE_ROWS).round().long()
        else:
            rows = slice(rows)
        if call.activation is None:
            return torch.ones_like(call.s.reshape(-1, call.s.shape[-1])[rows]).detach()
        if call.a.shape != call.s.shape:
            return None
        (slope,) = torch.autograd.grad(call.a, call.s, torch.ones_like(call.a), retain_graph=True, allow_unused=True)
        return None if slope is None else slope.reshape(-1, slope.shape[-1])[rows].detach()

    @staticmethod
    def _is_output(call: Call) -> bool:
        return call.activation is None and call.after == "the model's output"

    def _entry_names(self, calls: list[Call]) -> dict[str, str]:
        if self.layer_names == "modules":
            return {call.name: call.name for call in calls}
        numbered = [call for call in calls if call.kind in ("linear", "conv")]
        names = {call.name: call.name for call in calls}
        for k, call in enumerate(numbered, start=1):
            names[call.name] = "output" if k == len(numbered) and self._is_output(call) else f"layer {k}"
        return names

    # -- statistics ----------------------------------------------------------------------
    def _call_measures(self, call: Call, grads: dict[str, Any], update: int,
                       with_histograms: bool) -> tuple[dict[str, float], dict[str, tuple[list[float], list[int]]]]:
        stats, tensors = {}, {}
        if call.activation is not None:
            stats |= activation_stats(call.u, call.a, call.activation)
            tensors["activation"] = (call.a, call.activation.value_range)
        if call.s is not None and grads["s"] is not None:
            s, grad_s = call.s.detach(), grads["s"]
            stats |= {"preactivation_mean": s.float().mean().item(), "preactivation_std": s.float().std().item(),
                      "backprop_grad_std": grad_s.std().item(), "backprop_grad_norm": grad_s.norm().item()}
            tensors |= {"preactivation": (s, None), "backprop_grad": (grad_s, None)}
        grad_w = _flat(grads["weights"])
        weight = _flat([w.detach() for w in call.weights])
        stats |= {"weight_grad_std": grad_w.std().item(), "weight_grad_norm": grad_w.norm().item(),
                  "weight_norm": weight.norm().item()}
        if grads["biases"]:
            stats["bias_grad_norm"] = _flat(grads["biases"]).norm().item()
        if self._previous is not None and call.name in self._previous[1]:
            before = _flat(self._previous[1][call.name])
            if before.shape == weight.shape:
                change = torch.dist(weight, before) / torch.linalg.vector_norm(before)
                stats["update_ratio"] = change.item() / (update - self._previous[0])
        tensors["weight_grad"] = (grad_w, None)
        hists = {quantity: histogram(values, value_range, self.bins)
                 for quantity, (values, value_range) in tensors.items()} if with_histograms else {}
        return stats, hists

    # -- spectra -------------------------------------------------------------------------
    def _layer_spectra(self, calls: list[Call]) -> dict[str, Spectrum]:
        spectra = {}
        for call in calls:
            slope = self._grads[call.name].get("slope")
            if slope is not None and _finite(slope) and _finite(call.weight):
                spectra[call.name] = layer_spectrum(slope, call.matrix.detach())
        return spectra

    def _input_spectrum(self, calls: list[Call]) -> tuple[str, Spectrum] | None:
        """The top entry below the output, and the singular values of its output (or
        activation) with respect to the input there: the product of the layer Jacobians
        when the entries form a plain chain of linear layers (each one's input is the one
        below's output, the first's the flattened probe input), else matrix-free on the
        first examples (:func:`depthlab.probe.jacobian.input_spectrum`)."""
        below = [call for call in calls if not self._is_output(call)]
        if not below:
            return None
        top = below[-1]
        chain = self._chain(calls, top)
        if chain is not None:
            return top.name, chain
        return self._matrix_free_spectrum(top.name)

    def _chain(self, calls: list[Call], top: Call) -> Spectrum | None:
        stack = calls[:calls.index(top) + 1]
        if not isinstance(self.inputs, Tensor) or not all(c.kind == "linear" for c in stack):
            return None
        signal = self.inputs.reshape(len(self.inputs), -1)
        jacobians = []
        for call in stack:
            slope = self._grads[call.name].get("slope")
            if slope is None or call.x is None or call.x.dim() != 2 or not torch.equal(call.x, signal):
                return None
            jacobians.append(layer_jacobians(slope, call.matrix.detach()))
            signal = call.a if call.activation is not None else call.s
        product = chain_jacobian(jacobians)
        if not torch.isfinite(product).all():  # a diverging network: no spectrum to speak of
            return None
        return Spectrum(torch.linalg.svdvals(product), True)

    def _matrix_free_spectrum(self, name: str) -> tuple[str, Spectrum] | None:
        """A pass on the first examples with the input (or, for integer inputs, the first
        entry's output) as the variable, then :func:`input_spectrum` of the entry ``name``."""
        inputs = first_examples(self.inputs, self.jacobian_examples)
        floating = isinstance(inputs, Tensor) and torch.is_floating_point(inputs)
        if floating:
            inputs = inputs.detach().requires_grad_(True)
        capture = CapturePass(self.model, self.only)
        with torch.enable_grad(), sdpa_kernel(SDPBackend.MATH), capture.watching_activation_modules(self.model), \
                capture:
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
        return (name, spectrum) if torch.isfinite(spectrum.values).all() else None


def _check_layer_names(model: nn.Module, layers: Sequence[str] | None) -> set[str] | None:
    """The modules to probe, checked: each must be a module of the model with weights."""
    weighted = [name for name, module in model.named_modules() if any(True for _ in module.parameters(recurse=False))]
    if not weighted:
        raise DepthlabError(f"{type(model).__name__} has no weighted layer to probe (Linear, Conv, Embedding, "
                            "normalization, attention or recurrent)")
    if layers is None:
        return None
    modules = dict(model.named_modules())
    for name in layers:
        if name not in modules:
            raise unknown_choice("layer", name, weighted)
        if name not in weighted:
            raise DepthlabError(f"layer '{name}' is a {type(modules[name]).__name__}, which has no weights to probe")
    return set(layers)


def _finite(tensor: Tensor) -> bool:
    """Whether every value is finite (NaN and ±inf reach the extremes: no mask is made)."""
    low, high = torch.aminmax(tensor.detach())
    return bool(torch.isfinite(low) and torch.isfinite(high))


def _flat(tensors: list[Tensor]) -> Tensor:
    """One tensor's values, or several tensors' values in one vector."""
    return tensors[0].flatten() if len(tensors) == 1 else torch.cat([t.flatten() for t in tensors])


def _words(after: str) -> str:
    """What took a layer's output, in words."""
    spelled = {"add": "an addition of another tensor", "add_": "an addition of another tensor",
               "__add__": "an addition of another tensor", "__iadd__": "an addition of another tensor",
               "cat": "a concatenation", "stack": "a stack", "mul": "a product with another tensor",
               "__mul__": "a product with another tensor", "matmul": "a matrix product"}
    return spelled.get(after, after if " " in after or after == "the model's output" else f"{after}()")


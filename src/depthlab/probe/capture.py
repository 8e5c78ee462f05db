"""One probe pass over any model: every call of every weighted layer, and the activation
the data actually went through next.

**The mechanism.** A :class:`torch.overrides.TorchFunctionMode` sees every torch function
the forward pass calls, at the Python level and above autograd: the functional forms the
modules call (``F.linear``, ``F.conv2d``, ``F.layer_norm``, ``torch.lstm``,
``F.multi_head_attention_forward``), the activations a model calls itself (``F.relu``,
``F.gelu``, ``torch.tanh``, ``x.relu_()``) and every operation in between. Forward hooks
alone see modules, not functional calls, and report a module used twice by its last call;
``torch.fx`` cannot trace most real models (data-dependent control flow, dict inputs);
a ``TorchDispatchMode`` sits below autograd, where the tensors have no gradient to take.
Modules enter only where a class computes an activation as a composite of other
operations (transformers' ``NewGELUActivation``): hooks on those modules pair their
output as one activation, and the operations inside them are not looked at.

**What is recorded.** A call of a weighted function whose weight is a parameter of the
model is a :class:`Call`, named after the module owning the weight, with ``#2``, ``#3``…
for its later calls. Its output goes on to the model as a copy, so nothing in-place can
change the recorded one. The data flow is followed from there: through views and
reshapes, dropout, normalization, and elementwise arithmetic with numbers or the model's
parameters and buffers (a bias, a layer scale). The first activation applied to what
flows from a call is that call's activation, with copies of its input and output. Any
other operation (an addition of another tensor such as a residual, a concatenation,
another layer) ends the flow, and the call notes what ended it.

**Computed weights.** A weight the model computes from its parameters (and buffers) alone
counts as theirs: a ``torch.nn.utils.parametrize`` parametrization (``weight_norm``,
``spectral_norm``, ``orthogonal``: its output, seen by a hook), the legacy
``nn.utils.weight_norm`` (``torch._weight_norm(v, g)``), a transpose or a cast. The call
is then an ordinary entry under the module's name, and its ``weights`` are the effective
weights the layer applied (so ∂C/∂W is taken with respect to them); ``sources`` are the
parameters they were computed from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.overrides import TorchFunctionMode

from depthlab.nets.activations import ACTIVATIONS, FAMILIES, Activation, activation_of

LAYER_FUNCTIONS = {
    "linear": ("linear", 1, 2), "conv1d": ("conv", 1, 2), "conv2d": ("conv", 1, 2), "conv3d": ("conv", 1, 2),
    "conv_transpose1d": ("conv", 1, 2), "conv_transpose2d": ("conv", 1, 2), "conv_transpose3d": ("conv", 1, 2),
    "embedding": ("embedding", 1, None), "addmm": ("linear", 2, 0),
    "layer_norm": ("norm", 2, 3), "group_norm": ("norm", 2, 3), "batch_norm": ("norm", 3, 4),
    "instance_norm": ("norm", 3, 4), "rms_norm": ("norm", 2, None),
}
"""torch functions that apply a weighted layer: name → (kind, position of the weight,
position of the bias). ``addmm(bias, x, W)`` is transformers' ``Conv1D``. A call counts
only when its weight is a parameter of the probed model."""

LAYER_NAMES = {"conv": "a convolution", "linear": "a linear layer", "embedding": "an embedding",
               "attention": "an attention block", "recurrent": "a recurrent layer"}
RECURRENT_FUNCTIONS = ("lstm", "gru", "rnn_tanh", "rnn_relu")
CELL_FUNCTIONS = ("lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell")
"""One step of ``nn.LSTMCell``, ``nn.GRUCell``, ``nn.RNNCell``: (input, hx, w_ih, w_hh,
b_ih, b_hh), giving h' (``lstm_cell``: (h', c'))."""
ATTENTION_FUNCTION = "multi_head_attention_forward"

VIEWS = {"view", "reshape", "flatten", "permute", "transpose", "t", "contiguous", "unsqueeze", "squeeze", "clone",
         "to", "float", "double", "half", "bfloat16", "detach", "expand", "expand_as", "view_as", "reshape_as",
         "unflatten", "movedim", "swapaxes", "__getitem__", "__get__"}
DROPOUTS = {"dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"}
NORMALIZATIONS = {"batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm", "local_response_norm"}
ARITHMETIC = {"add", "sub", "mul", "div", "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
              "__truediv__", "__rtruediv__", "add_", "sub_", "mul_", "div_", "__iadd__", "__isub__", "__imul__",
              "__itruediv__", "neg", "__neg__"}
"""Operations the data flows through from a layer to its activation: views, dropout,
normalization, and (:data:`ARITHMETIC`) elementwise arithmetic with numbers or the
model's own parameters and buffers."""


@dataclass(eq=False)  # each call is itself: compared and hashed by identity
class Call:
    """One call of a weighted layer in a probe pass, and what its output went through.

    ``name`` is the owning module's qualified name (``#k`` for its k-th call),
    ``kind`` one of linear, conv, embedding, norm, attention, recurrent. ``x`` is the
    call's input and ``s`` its output (None for the input projection of an attention
    block, which PyTorch computes out of sight), ``weights`` and ``biases`` its
    parameters. ``activation`` is the first activation applied to what flowed from ``s``
    (``u`` its input, ``a`` its output, both copies), or None with ``after`` saying what
    the output went into instead ("the model's output" when nothing). ``sources`` are the
    model's parameters its weights and biases are, or were computed from (a
    parametrization's originals, a legacy weight norm's g and v), and its activation's
    own (a PReLU's learned slopes)."""

    name: str
    module_name: str
    kind: str
    weights: list[Tensor]
    biases: list[Tensor]
    x: Tensor | None
    s: Tensor | None
    activation: Activation | None = None
    u: Tensor | None = None
    a: Tensor | None = None
    after: str = "the model's output"
    transposed: bool = False
    sources: list[Tensor] = field(default_factory=list)

    @property
    def weight(self) -> Tensor:
        return self.weights[0]

    @property
    def matrix(self) -> Tensor:
        """A linear call's weight as the (out, in) matrix W of s = W x + b (transformers'
        ``Conv1D`` stores it transposed)."""
        return self.weight.t() if self.transposed else self.weight


@dataclass
class _Flow:
    """The calls a tensor's values come from (through the operations of :data:`VIEWS` …)."""

    tensor: Tensor
    calls: list[Call] = field(default_factory=list)


class CapturePass(TorchFunctionMode):
    """Records :class:`Call` entries while active (see the module docstring)."""

    def __init__(self, model: nn.Module, only: set[str] | None = None):
        super().__init__()
        self.owners: dict[int, tuple[str, str]] = {}
        self.constants: set[int] = set()
        self.model = model
        for module_name, module in model.named_modules():
            for param_name, param in module.named_parameters(recurse=False):
                self.owners.setdefault(id(param), (module_name, param_name))
                self.constants.add(id(param))
            for buffer in module.buffers(recurse=False):
                self.constants.add(id(buffer))
            if parametrize.is_parametrized(module):  # its originals are the parametrized module's, not the list's
                for tensor_name, parametrization in module.parametrizations.items():
                    for param in parametrization.parameters():
                        self.owners.setdefault(id(param), (module_name, tensor_name))
        self._computed: dict[int, tuple[Tensor, tuple[str, str], list[Tensor]]] = {}
        self._hooks: list = []
        self.only = only
        self.calls: list[Call] = []
        self._counts: dict[str, int] = {}
        self._flows: dict[int, _Flow] = {}
        self._activation_depth = 0
        self._entered: list[tuple[_Flow | None, Tensor | None]] = []

    # -- the mode ------------------------------------------------------------------------
    def __enter__(self):
        for module_name, module in self.model.named_modules():
            if parametrize.is_parametrized(module):
                for tensor_name, parametrization in module.parametrizations.items():
                    self._hooks.append(parametrization.register_forward_hook(
                        self._parametrized((module_name, tensor_name), list(parametrization.parameters()))))
        return super().__enter__()

    def __exit__(self, *exc):
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()
        return super().__exit__(*exc)

    def _parametrized(self, owner: tuple[str, str], sources: list[Tensor]) -> Callable:
        def hook(module: nn.Module, inputs: tuple, output: Tensor) -> None:
            if isinstance(output, Tensor):
                self._computed[id(output)] = (output, owner, sources)
        return hook

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if self._activation_depth:  # inside a composite activation module: its own business
            return func(*args, **kwargs)
        layer = self._layer(name, args, kwargs)
        if layer is not None:
            return self._record(layer, func, args, kwargs)
        flowing = self._flowing(args, kwargs)
        activation = _function_activation(name, args, kwargs) if flowing else None
        if activation is not None and id(args[0]) in self._flows:
            return self._activate(self._flows[id(args[0])], activation, func, args, kwargs)
        out = func(*args, **kwargs)
        if flowing and _holds_tensors(out):  # not a query such as .shape, .size() or .dim()
            self._follow(name, flowing, args, kwargs, out)
        elif not flowing and isinstance(out, Tensor):
            self._compute(args, kwargs, out)
        return out

    def _compute(self, args: tuple, kwargs: dict, out: Tensor) -> None:
        """Note ``out`` as a weight computed from the model's parameters when every tensor
        it was computed from is a parameter, a buffer or such a weight, one at least not a
        buffer (the module docstring's computed weights)."""
        tensors = _tensor_args(args, kwargs)
        if not tensors or not all(id(t) in self.constants or id(t) in self._computed for t in tensors):
            return
        owner, sources = None, []
        for t in tensors:
            if id(t) in self._computed:
                _, found, more = self._computed[id(t)]
                owner, sources = owner or found, [*sources, *more]
            elif id(t) in self.owners:
                owner, sources = owner or self.owners[id(t)], [*sources, t]
        if owner is not None:
            self._computed[id(out)] = (out, owner, sources)

    def _sources(self, tensors: list[Tensor]) -> list[Tensor]:
        """The model's parameters that ``tensors`` are, or were computed from."""
        found = []
        for t in tensors:
            owned = self._owner(t)
            found += owned[1] if owned is not None else [t]
        return list(dict.fromkeys(found))

    def _owner(self, weight: Any) -> tuple[tuple[str, str], list[Tensor]] | None:
        """The (module name, parameter name) owning a weight, and the parameters it is or
        was computed from; None for a tensor not the model's."""
        if not isinstance(weight, Tensor):
            return None
        if id(weight) in self.owners:
            return self.owners[id(weight)], [weight]
        if id(weight) in self._computed:
            _, owner, sources = self._computed[id(weight)]
            return owner, list(dict.fromkeys(sources))
        return None

    def _flowing(self, args: tuple, kwargs: dict) -> list[_Flow]:
        return [flow for arg in _tensor_args(args, kwargs) if (flow := self._flows.get(id(arg)))]

    # -- layers --------------------------------------------------------------------------
    def _layer(self, name: str, args: tuple, kwargs: dict) -> tuple | None:
        """(kind, module name, weights, biases, sources, input, output picker, transposed) if
        this call applies a weighted layer of the model, else None."""
        if name in LAYER_FUNCTIONS:
            kind, weight_at, bias_at = LAYER_FUNCTIONS[name]
            weight = _arg(args, kwargs, weight_at, "weight")
            owned = self._owner(weight)
            if owned is None:
                return None
            bias = _arg(args, kwargs, bias_at, "bias") if bias_at is not None else None
            biases = [bias] if isinstance(bias, Tensor) else []
            x = args[1] if name == "addmm" else args[0]
            return kind, owned[0][0], [weight], biases, self._sources([weight, *biases]), x, lambda out: out, \
                name == "addmm"
        if name in RECURRENT_FUNCTIONS and len(args) > 2 and isinstance(args[2], (list, tuple)):
            params = [p for p in args[2] if isinstance(p, Tensor) and id(p) in self.owners]
            if not params:
                return None
            named = [(self.owners[id(p)][1], p) for p in params]
            return ("recurrent", self.owners[id(params[0])][0], [p for n, p in named if n.startswith("weight")],
                    [p for n, p in named if n.startswith("bias")], params, args[0], lambda out: out[0], False)
        if name in CELL_FUNCTIONS and len(args) > 3:
            owned = [self._owner(w) for w in args[2:4]]
            if None in owned:
                return None
            biases = [b for b in args[4:6] if isinstance(b, Tensor)]
            weights = list(args[2:4])
            return ("recurrent", owned[0][0][0], weights, biases, self._sources([*weights, *biases]), args[0],
                    (lambda out: out[0]) if name == "lstm_cell" else (lambda out: out), False)
        if name == ATTENTION_FUNCTION:
            weight = _arg(args, kwargs, 11, "out_proj_weight")
            owner = self.owners.get(id(weight)) if isinstance(weight, Tensor) else None
            if owner is None:
                return None
            bias = _arg(args, kwargs, 12, "out_proj_bias")
            biases = [bias] if isinstance(bias, Tensor) else []
            return "attention", owner[0], [weight], biases, [weight, *biases], args[0], lambda out: out[0], False
        return None

    def _record(self, layer: tuple, func, args: tuple, kwargs: dict):
        kind, module_name, weights, biases, sources, x, pick, transposed = layer
        inherited = self._flows.get(id(x)) if isinstance(x, Tensor) else None
        if kind == "attention":
            self._record_input_projection(module_name, args, kwargs)
        out = func(*args, **kwargs)
        if kind != "norm":  # a normalization passes the flow on; any other layer ends it
            self._end(self._flowing(args, kwargs), LAYER_NAMES.get(kind, kind))
        if self.only is not None and module_name not in self.only:
            if kind == "norm" and inherited is not None and isinstance(out, Tensor):
                self._flows[id(out)] = _Flow(out, list(inherited.calls))
            return out
        s = pick(out)
        copy = s.clone()  # what the model goes on with: nothing it does can change s
        count = self._counts[module_name] = self._counts.get(module_name, 0) + 1
        call = Call(module_name if count == 1 else f"{module_name}#{count}", module_name, kind, weights, biases,
                    x, s, transposed=transposed, sources=sources)
        self.calls.append(call)
        calls = [*inherited.calls, call] if kind == "norm" and inherited is not None else [call]
        self._flows[id(copy)] = _Flow(copy, calls)
        if s is out:
            return copy
        return (copy, *out[1:]) if isinstance(out, tuple) else out

    def _record_input_projection(self, module_name: str, args: tuple, kwargs: dict) -> None:
        """The attention block's input projection: its weights only (PyTorch computes its
        output inside one function)."""
        attention = module_name.rpartition(".")[0]
        if self.only is not None and attention not in self.only:
            return
        weight = _arg(args, kwargs, 5, "in_proj_weight")
        if isinstance(weight, Tensor) and id(weight) in self.owners:
            bias = _arg(args, kwargs, 6, "in_proj_bias")
            biases = [bias] if isinstance(bias, Tensor) else []
            self.calls.append(Call(f"{attention}.in_proj", attention, "attention", [weight], biases, None, None,
                                   after="computed inside multi_head_attention_forward, out of sight",
                                   sources=[weight, *biases]))

    # -- the flow from a layer to its activation -----------------------------------------
    def _activate(self, flow: _Flow, activation: Activation, func, args: tuple, kwargs: dict):
        u = args[0].clone()  # before an in-place activation changes it
        out = func(*args, **kwargs)
        own = [t for t in _tensor_args(args[1:], kwargs) if id(t) in self.owners]  # a PReLU's slopes
        self._pair(flow, activation, u, out, own)
        self._flows.pop(id(out), None)  # an in-place activation's output is its input: it flows no further
        return out

    def _pair(self, flow: _Flow, activation: Activation, u: Tensor, out: Tensor,
              own: list[Tensor] | tuple = ()) -> None:
        a = out.clone()
        for call in flow.calls:
            if call.activation is None and call.after == "the model's output":
                call.activation, call.u, call.a = activation, u, a
                call.sources = [*call.sources, *own]

    def _follow(self, name: str, flowing: list[_Flow], args: tuple, kwargs: dict, out: Any) -> None:
        """Pass the flow on through ``name`` when it keeps what flows (see the module
        docstring); otherwise note, on the calls that had no activation yet, what ended it."""
        calls = list(dict.fromkeys(call for flow in flowing for call in flow.calls))
        keeps = isinstance(out, Tensor) and (
            name in VIEWS or name in DROPOUTS or name in NORMALIZATIONS
            or (name in ARITHMETIC and self._only_constants_besides(flowing, args, kwargs)))
        if keeps:
            self._flows[id(out)] = _Flow(out, calls)
            return
        self._end(flowing, _unregistered(name, args, kwargs) or name)
        if isinstance(out, Tensor):
            self._flows.pop(id(out), None)  # an in-place operation that ended the flow (x += shortcut)

    def _end(self, flowing: list[_Flow], name: str) -> None:
        """Note on the calls of ``flowing`` without an activation that ``name`` took their
        output instead."""
        for call in (call for flow in flowing for call in flow.calls):
            if call.activation is None and call.after == "the model's output":
                call.after = name

    def _only_constants_besides(self, flowing: list[_Flow], args: tuple, kwargs: dict) -> bool:
        """Whether the tensors of an arithmetic operation, besides the flowing ones of one
        origin, are the model's own parameters or buffers (numbers always are)."""
        origins = {tuple(id(c) for c in flow.calls) for flow in flowing}
        others = [t for t in _tensor_args(args, kwargs) if id(t) not in self._flows]
        return len(origins) == 1 and all(id(t) in self.constants or t.dim() == 0 for t in others)

    # -- composite activation modules ----------------------------------------------------
    @contextmanager
    def watching_activation_modules(self, model: nn.Module) -> Iterator[None]:
        """Hooks on the activation modules from outside torch (transformers' classes, a
        user's own), whose forward may be a composite of other operations: each one's output
        is paired as one activation, and the operations inside it are not looked at."""
        handles = []
        for module in model.modules():
            activation = activation_of(module)
            if activation is not None and not type(module).__module__.startswith("torch."):
                handles.append(module.register_forward_pre_hook(self._entering))
                handles.append(module.register_forward_hook(self._leaving(activation)))
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    def _entering(self, module: nn.Module, inputs: tuple) -> None:
        flow = self._flows.get(id(inputs[0])) if inputs and not self._activation_depth else None
        self._entered.append((flow, inputs[0].clone() if flow else None))
        self._activation_depth += 1

    def _leaving(self, activation: Activation) -> Callable:
        def hook(module: nn.Module, inputs: tuple, output: Tensor) -> None:
            self._activation_depth -= 1
            flow, u = self._entered.pop()
            if flow is not None and isinstance(output, Tensor):
                self._pair(flow, activation, u, output)
        return hook


def _arg(args: tuple, kwargs: dict, position: int, keyword: str) -> Any:
    return args[position] if len(args) > position else kwargs.get(keyword)


def _holds_tensors(out: Any) -> bool:
    """Whether an operation's result is a tensor or holds some (``split``'s tuple), not an
    answer to a query (a ``torch.Size``, a number, a dtype)."""
    return isinstance(out, Tensor) or (isinstance(out, (tuple, list)) and any(isinstance(t, Tensor) for t in out))


def _tensor_args(args: tuple, kwargs: dict) -> list[Tensor]:
    """The tensors among the arguments, and in lists of them (``torch.cat``'s)."""
    found = []
    for arg in (*args, *kwargs.values()):
        if isinstance(arg, Tensor):
            found.append(arg)
        elif isinstance(arg, (list, tuple)):
            found += [t for t in arg if isinstance(t, Tensor)]
    return found


FUNCTIONS = {
    "relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "softsign": "softsign", "selu": "selu", "silu": "silu",
    "mish": "mish", "hardswish": "hardswish", "hardsigmoid": "hardsigmoid", "relu6": "relu6",
}
"""torch function (stripped of its underscores: ``relu_`` in place) → the registered
activation it computes, for the functions without parameters."""

FAMILY_FUNCTIONS = {
    "leaky_relu": "leaky-relu", "rrelu": "rrelu", "prelu": "prelu", "elu": "elu", "celu": "celu",
    "softplus": "softplus", "hardtanh": "hardtanh", "threshold": "threshold", "gelu": "gelu",
}
"""torch function → the :class:`~depthlab.nets.activations.Family` of the activations it
computes, whose parameters are its arguments after the input, in order: the call is the
member at the values it is given (torch's defaults where not), the registered activation
at its own values (a leaky ReLU of slope 0 and ``threshold(s, 0, 0)`` are ReLU, CELU at
α = 1 is ELU), ``leaky-relu:0.2`` elsewhere, and PReLU the one of the slopes its weight
has now. Outside the family's rule (a leaky ReLU of negative slope, RReLU in training)
the function ends the flow like any operation, and the call notes it with its values."""


def _function_activation(name: str, args: tuple, kwargs: dict) -> Activation | None:
    """The activation a torch function call computes, or None."""
    base = name.strip("_")
    if base in FUNCTIONS:
        return ACTIVATIONS.get(FUNCTIONS[base]) if FUNCTIONS[base] in ACTIVATIONS else None
    if base in FAMILY_FUNCTIONS and FAMILY_FUNCTIONS[base] in FAMILIES:
        return FAMILIES.get(FAMILY_FUNCTIONS[base]).member(_parameters(base, args, kwargs))
    return None


def _parameters(base: str, args: tuple, kwargs: dict) -> dict[str, Any]:
    """The arguments of a family's function call, by parameter name (None: not given)."""
    family = FAMILIES.get(FAMILY_FUNCTIONS[base])
    return {key: _arg(args, kwargs, at, key) for at, (key, _) in enumerate(family.parameters, start=1)}


def _unregistered(name: str, args: tuple, kwargs: dict) -> str | None:
    """What took a layer's output, in words, when it is an activation function at values
    its family does not cover (None for any other operation)."""
    base = name.strip("_")
    if base not in FAMILY_FUNCTIONS or FAMILY_FUNCTIONS[base] not in FAMILIES:
        return None
    family = FAMILIES.get(FAMILY_FUNCTIONS[base])
    if family.member(_parameters(base, args, kwargs)) is not None:
        return None
    given = {key: value for key, value in _parameters(base, args, kwargs).items() if value is not None}
    return f"{base}({family.given(given)}), outside the {family.name} family ({family.rule})"

"""Weight and bias initialization schemes, each declared once with its variance.

Every weight scheme fills a matrix W of shape (n_out, n_in) in place. Var[W] for each:

- ``standard``: W ~ U[-1/√n_in, 1/√n_in], Var = 1/(3 n_in)  (Glorot & Bengio 2010, eq. 1)
- ``normalized`` (Xavier/Glorot uniform): W ~ U[±√6/√(n_in+n_out)], Var = 2/(n_in+n_out)
  (Glorot & Bengio 2010, eq. 16)
- ``xavier-normal``: N(0, 2/(n_in+n_out))
- ``lecun-normal``: N(0, 1/n_in)  (LeCun et al. 1998, "Efficient BackProp")
- ``he-normal``: N(0, 2/n_in); ``he-uniform``: U[±√(6/n_in)], Var = 2/n_in
  (He et al. 2015, "Delving deep into rectifiers")
- ``orthogonal``: a random (semi-)orthogonal matrix, Var = 1/max(n_in, n_out)
  (Saxe et al. 2014, "Exact solutions to the nonlinear dynamics of learning")
- ``lsuv``: orthogonal, then each layer rescaled so its output variance on a data
  batch is 1 (Mishkin & Matas 2016, "All you need is a good init"): see :func:`lsuv_`
- ``gaussian:STD``: N(0, STD²);  ``constant:C``: every weight C (Var = 0)
- ``sigma-w2:V``: N(0, V/n_in), mean-field theory's σ_w² = V (Poole et al. 2016;
  Schoenholz et al. 2017)

Biases (``BIAS_INITS``): ``zero``, ``normal`` N(0, 1) as Nielsen (2015, ch. 1) does, or
``sigma-b2:V``: N(0, V), mean-field theory's σ_b² = V.
Importing this module imports no torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from depthlab.errors import DepthlabError
from depthlab.registry import Registry, deferred

if TYPE_CHECKING:
    from torch import Tensor, nn


@dataclass(frozen=True)
class Init:
    """A weight initialization scheme: ``fill(W)`` draws an (n_out, n_in) matrix in place,
    with ``variance(n_in, n_out)`` = Var[W]. ``needs_data``: the scheme then rescales the
    layers on a data batch (:func:`lsuv_`). ``no_mean_field`` says why mean-field theory
    does not describe networks so initialized ("" when it does); ``torch_call`` is the
    torch.nn.init call that draws the same, for advice to users of plain PyTorch."""

    name: str
    summary: str
    fill: Callable[[Tensor], object]
    variance: Callable[[int, int], float]
    needs_data: bool = False
    no_mean_field: str = ""
    torch_call: str = ""


@dataclass(frozen=True)
class BiasInit:
    """A bias initialization: ``fill(b)`` in place, each bias with variance ``variance``
    (σ_b² of mean-field theory)."""

    name: str
    summary: str
    fill: Callable[[Tensor], object]
    variance: float


_uniform = deferred("torch.nn.init:uniform_")


def _standard(w: Tensor) -> None:
    bound = 1 / math.sqrt(w.shape[1])
    _uniform(w, -bound, bound)


INITS: Registry[Init] = Registry("init", [
    Init("standard", "U[-1/√n_in, 1/√n_in] (Glorot & Bengio 2010, eq. 1)", _standard,
         lambda n_in, n_out: 1 / (3 * n_in)),
    Init("normalized", "U[±√6/√(n_in+n_out)], Xavier uniform (Glorot & Bengio 2010, eq. 16)",
         deferred("torch.nn.init:xavier_uniform_"), lambda n_in, n_out: 2 / (n_in + n_out),
         torch_call="torch.nn.init.xavier_uniform_(layer.weight)"),
    Init("xavier-normal", "N(0, 2/(n_in+n_out))", deferred("torch.nn.init:xavier_normal_"),
         lambda n_in, n_out: 2 / (n_in + n_out)),
    Init("lecun-normal", "N(0, 1/n_in) (LeCun et al. 1998)", deferred("torch.nn.init:kaiming_normal_",
                                                                      nonlinearity="linear"),
         lambda n_in, n_out: 1 / n_in, torch_call="torch.nn.init.kaiming_normal_(layer.weight, nonlinearity='linear')"),
    Init("he-normal", "N(0, 2/n_in) (He et al. 2015)", deferred("torch.nn.init:kaiming_normal_", nonlinearity="relu"),
         lambda n_in, n_out: 2 / n_in, torch_call="torch.nn.init.kaiming_normal_(layer.weight, nonlinearity='relu')"),
    Init("he-uniform", "U[±√(6/n_in)] (He et al. 2015)", deferred("torch.nn.init:kaiming_uniform_",
                                                                 nonlinearity="relu"),
         lambda n_in, n_out: 2 / n_in),
    Init("orthogonal", "random (semi-)orthogonal (Saxe et al. 2014)", deferred("torch.nn.init:orthogonal_"),
         lambda n_in, n_out: 1 / max(n_in, n_out)),
    Init("lsuv", "orthogonal, then unit output variance on data (Mishkin & Matas 2016)",
         deferred("torch.nn.init:orthogonal_"), lambda n_in, n_out: 1 / max(n_in, n_out), needs_data=True,
         no_mean_field="LSUV rescales each layer on a data batch, so σ_w² is not fixed by the init"),
])


def _number(spec: str, argument: str) -> float:
    try:
        value = float(argument)
    except ValueError:
        raise DepthlabError(f"init '{spec}' needs a number after the colon, e.g. {spec.partition(':')[0]}:0.1") \
            from None
    if not math.isfinite(value):
        raise DepthlabError(f"init '{spec}' needs a finite number")
    return value


def _gaussian(argument: str) -> Init:
    spec = f"gaussian:{argument}"
    std = _number(spec, argument)
    if not std > 0:
        raise DepthlabError(f"init '{spec}': the standard deviation must be positive")
    return Init(spec, f"N(0, {std:g}²)", deferred("torch.nn.init:normal_", mean=0.0, std=std),
                lambda n_in, n_out: std**2)


def _constant(argument: str) -> Init:
    spec = f"constant:{argument}"
    value = _number(spec, argument)
    return Init(spec, f"every weight {value:g}", deferred("torch.nn.init:constant_", val=value),
                lambda n_in, n_out: 0.0,
                no_mean_field="a constant init has Var[W] = 0: every unit of a layer computes the same thing")


def _positive_number(spec: str, argument: str, what: str) -> float:
    value = _number(spec, argument)
    if not value > 0:
        raise DepthlabError(f"init '{spec}': {what} must be positive")
    return value


_normal = deferred("torch.nn.init:normal_")


def _sigma_w2(argument: str) -> Init:
    spec = f"sigma-w2:{argument}"
    sigma_w2 = _positive_number(spec, argument, "σ_w²")

    def fill(w: Tensor) -> None:
        _normal(w, 0.0, math.sqrt(sigma_w2 / w.shape[1]))

    return Init(spec, f"N(0, {sigma_w2:g}/n_in)", fill, lambda n_in, n_out: sigma_w2 / n_in,
                torch_call=f"torch.nn.init.normal_(w, 0, ({sigma_w2:g} / n_in) ** 0.5)")


def _sigma_b2(argument: str) -> BiasInit:
    spec = f"sigma-b2:{argument}"
    sigma_b2 = _positive_number(spec, argument, "σ_b²")
    return BiasInit(spec, f"N(0, {sigma_b2:g})", deferred("torch.nn.init:normal_", mean=0.0, std=math.sqrt(sigma_b2)),
                    sigma_b2)


INITS.register_family("gaussian", "STD", _gaussian)
INITS.register_family("constant", "C", _constant)
INITS.register_family("sigma-w2", "V", _sigma_w2)

BIAS_INITS: Registry[BiasInit] = Registry("bias-init", [
    BiasInit("zero", "every bias 0", deferred("torch.nn.init:zeros_"), 0.0),
    BiasInit("normal", "N(0, 1) (Nielsen 2015, ch. 1)", deferred("torch.nn.init:normal_"), 1.0),
])
BIAS_INITS.register_family("sigma-b2", "V", _sigma_b2)


def lsuv_(layers: list[nn.Linear], forward_to: Callable[[int, Tensor], Tensor], x: Tensor,
          tol: float = 0.1, max_rounds: int = 10) -> list[float]:
    """Layer-sequential unit-variance rescaling (Mishkin & Matas 2016, Algorithm 1), to be
    called under ``torch.no_grad()``.

    Starting from orthonormal weights, for each layer k in turn: compute its output
    (pre-activation) on the batch ``x`` via ``forward_to(k, x)``, and divide W_k by the
    output's standard deviation until |Var - 1| < ``tol`` or ``max_rounds`` rounds.
    Returns the final output variance of each layer.
    """
    variances = []
    for k, layer in enumerate(layers):
        var = forward_to(k, x).var().item()
        for _ in range(max_rounds):
            if abs(var - 1) < tol or var == 0:
                break
            layer.weight.div_(math.sqrt(var))
            var = forward_to(k, x).var().item()
        variances.append(var)
    return variances

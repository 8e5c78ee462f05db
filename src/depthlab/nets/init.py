"""Weight initialization schemes, by name.

Every scheme fills a weight matrix W of shape (n_out, n_in) in place; biases start at 0
unless the run asks otherwise. Var[W] for each:

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
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from depthlab.errors import DepthlabError, unknown_choice

InitFn = Callable[[Tensor], None]


def _standard(w: Tensor) -> None:
    bound = 1 / math.sqrt(w.shape[1])
    nn.init.uniform_(w, -bound, bound)


SCHEMES: dict[str, InitFn] = {
    "standard": _standard,
    "normalized": nn.init.xavier_uniform_,
    "xavier-normal": nn.init.xavier_normal_,
    "lecun-normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="linear"),
    "he-normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
    "he-uniform": lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"),
    "orthogonal": nn.init.orthogonal_,
    "lsuv": nn.init.orthogonal_,  # then lsuv_() on data
}
PARAMETRIC = {"gaussian": "gaussian:STD", "constant": "constant:C"}
CHOICES = [*SCHEMES, *PARAMETRIC.values()]


def parse_init(spec: str) -> InitFn:
    """Turn an init name such as ``normalized`` or ``gaussian:0.01`` into a function."""
    if spec in SCHEMES:
        return SCHEMES[spec]
    kind, _, arg = spec.partition(":")
    if kind not in PARAMETRIC:
        raise unknown_choice("init", spec, CHOICES)
    try:
        value = float(arg)
    except ValueError:
        raise DepthlabError(f"init '{spec}' needs a number after the colon, e.g. {PARAMETRIC[kind]}") from None
    if not math.isfinite(value):
        raise DepthlabError(f"init '{spec}' needs a finite number")
    if kind == "gaussian":
        if not value > 0:
            raise DepthlabError(f"init '{spec}': the standard deviation must be positive")
        return lambda w: nn.init.normal_(w, 0.0, value)
    return lambda w: nn.init.constant_(w, value)


def weight_variance(spec: str, n_in: int, n_out: int) -> float:
    """The variance the scheme gives each weight of an (n_out, n_in) matrix."""
    kind, _, arg = spec.partition(":")
    return {
        "standard": lambda: 1 / (3 * n_in),
        "normalized": lambda: 2 / (n_in + n_out),
        "xavier-normal": lambda: 2 / (n_in + n_out),
        "lecun-normal": lambda: 1 / n_in,
        "he-normal": lambda: 2 / n_in,
        "he-uniform": lambda: 2 / n_in,
        "orthogonal": lambda: 1 / max(n_in, n_out),
        "lsuv": lambda: 1 / max(n_in, n_out),
        "gaussian": lambda: float(arg) ** 2,
        "constant": lambda: 0.0,
    }[kind]()


@torch.no_grad()
def lsuv_(layers: list[nn.Linear], forward_to: Callable[[int, Tensor], Tensor], x: Tensor,
          tol: float = 0.1, max_rounds: int = 10) -> list[float]:
    """Layer-sequential unit-variance rescaling (Mishkin & Matas 2016, Algorithm 1).

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

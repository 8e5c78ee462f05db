"""How a probe calls a user's model and turns what it returns into a cost.

Inputs are a tensor, a tuple of positional arguments, or a dict of keyword arguments
(``{"input_ids": …, "attention_mask": …}``); every tensor in them holds one probe example
per row. The model's output (a tensor, tuple, dict or transformers ``ModelOutput``) goes
to ``loss_fn(output, targets)`` untouched; without a ``loss_fn``, :func:`default_loss`
reads the output's own ``.loss`` or cross-entropy on its ``.logits``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from depthlab.errors import DepthlabError

Inputs = Tensor | tuple | Mapping[str, Any]


def call_model(model: nn.Module, inputs: Inputs) -> Any:
    """``model(inputs)``, ``model(*inputs)`` or ``model(**inputs)``."""
    if isinstance(inputs, Mapping):
        return model(**inputs)
    if isinstance(inputs, tuple):
        return model(*inputs)
    return model(inputs)


def tensors_of(inputs: Inputs) -> list[Tensor]:
    values = inputs.values() if isinstance(inputs, Mapping) else inputs if isinstance(inputs, tuple) else [inputs]
    return [value for value in values if isinstance(value, Tensor)]


def examples_in(inputs: Inputs) -> int:
    """The number of probe examples: the first dimension every input tensor shares."""
    sizes = {len(t) for t in tensors_of(inputs) if t.dim() > 0}
    if len(sizes) != 1:
        raise DepthlabError(f"the probe inputs must be tensors of one batch size, not {sorted(sizes) or 'none'}")
    return sizes.pop()


def first_examples(inputs: Inputs, k: int) -> Inputs:
    """The same inputs cut to their first ``k`` examples."""
    def cut(value: Any) -> Any:
        return value[:k] if isinstance(value, Tensor) and value.dim() > 0 else value

    if isinstance(inputs, Mapping):
        return {key: cut(value) for key, value in inputs.items()}
    if isinstance(inputs, tuple):
        return tuple(cut(value) for value in inputs)
    return cut(inputs)


def logits_of(output: Any) -> Tensor:
    """The logits a model returned: the output itself, its ``.logits``, its ``"logits"``
    key, or the first element of a tuple."""
    if isinstance(output, Tensor):
        return output
    for logits in (getattr(output, "logits", None), output.get("logits") if isinstance(output, Mapping) else None):
        if isinstance(logits, Tensor):
            return logits
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], Tensor):
        return output[0]
    raise DepthlabError(f"cannot find the logits in a {type(output).__name__}: give the probe a loss_fn")


def default_loss(output: Any, targets: Tensor | None) -> Tensor:
    """The output's own ``.loss`` (a transformers model given labels), else the
    cross-entropy of its logits against ``targets`` (class indices, per example or per
    position)."""
    loss = getattr(output, "loss", None)
    if loss is None and isinstance(output, Mapping):
        loss = output.get("loss")
    if isinstance(loss, Tensor):
        return loss
    if targets is None:
        raise DepthlabError("the model returned no loss and the probe has no targets: give targets or a loss_fn")
    logits = logits_of(output)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def probe_loss(loss_fn: Callable | None, output: Any, targets: Tensor | None) -> Tensor:
    loss = default_loss(output, targets) if loss_fn is None else loss_fn(output, targets)
    if not (isinstance(loss, Tensor) and loss.dim() == 0 and torch.is_floating_point(loss)):
        raise DepthlabError(f"the loss must be a floating-point scalar tensor, not {type(loss).__name__} "
                            f"of shape {tuple(getattr(loss, 'shape', ()))}")
    return loss

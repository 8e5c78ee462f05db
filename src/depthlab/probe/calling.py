"""How a probe calls a user's model and turns what it returns into a cost.

Inputs are a tensor, a tuple of positional arguments, or a dict of keyword arguments
(``{"input_ids": …, "attention_mask": …}``; any mapping, such as transformers'
``BatchEncoding``); anything else is the model's one argument (a list of tensors, a
dataclass, …). A dict passed positionally is a tuple of one dict: ``({"x": …},)``. The
arguments may nest tensors in any containers torch's pytree knows (tuples, lists, dicts,
named tuples, and the types registered with ``torch.utils._pytree.register_pytree_node``),
in dataclasses (field by field) and in other mappings; every tensor in them with at least
one dimension holds one probe example per row of its first dimension. Other leaves (an
int, a string, a 0-dim tensor, an object of a type none of these open) are passed as they
are. The model's output (a tensor, tuple, dict or transformers ``ModelOutput``) goes to
``loss_fn(output, targets)`` untouched; without a ``loss_fn``, :func:`default_loss` reads
the output's own ``.loss`` or cross-entropy on its ``.logits``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import fields, is_dataclass
from typing import Any

import torch
import torch.nn.functional as F
import torch.utils._pytree as pytree
from torch import Tensor, nn

from depthlab.errors import DepthlabError

Inputs = Any
"""A tensor, a tuple of positional arguments, a mapping of keyword arguments, or one
argument of any nesting (see the module docstring)."""

SHOWN_LEAVES = 4
"""How many leaves an error message about inputs without a batch lists."""


def call_model(model: nn.Module, inputs: Inputs) -> Any:
    """``model(**inputs)`` for a mapping, ``model(*inputs)`` for a tuple (a named tuple
    included), else ``model(inputs)``."""
    if isinstance(inputs, Mapping):
        return model(**inputs)
    if isinstance(inputs, tuple):
        return model(*inputs)
    return model(inputs)


def map_leaves(fn: Callable[[str, Any], Any], inputs: Inputs, path: str = "inputs") -> Inputs:
    """``inputs`` rebuilt with each leaf replaced by ``fn(where, leaf)``, ``where`` the
    expression that reads the leaf (``inputs['mask']``, ``inputs[1].x``). Containers are
    copied, never changed in place: a dataclass (frozen or not) is copied and its fields
    set, a mutable mapping torch's pytree does not know (``BatchEncoding``) is copied and
    its items set, another mapping becomes a dict."""

    def visit(keys: tuple, leaf: Any) -> Any:
        where = path + pytree.keystr(keys)
        if not _opened(leaf):
            return fn(where, leaf)
        if isinstance(leaf, Mapping):
            items = {key: map_leaves(fn, value, f"{where}[{key!r}]") for key, value in leaf.items()}
            if not isinstance(leaf, MutableMapping):
                return items
            rebuilt = copy.copy(leaf)
            rebuilt.update(items)
            return rebuilt
        rebuilt = copy.copy(leaf)
        for field in fields(leaf):
            object.__setattr__(rebuilt, field.name, map_leaves(fn, getattr(leaf, field.name), f"{where}.{field.name}"))
        return rebuilt

    return pytree.tree_map_with_path(visit, inputs, is_leaf=_opened)


def _opened(value: Any) -> bool:
    """A container torch's pytree takes for a leaf but the probe opens: a dataclass
    instance or a mapping."""
    return pytree.tree_is_leaf(value) and (
        isinstance(value, Mapping) or (is_dataclass(value) and not isinstance(value, type)))


def leaves_of(inputs: Inputs) -> list[tuple[str, Any]]:
    """Each leaf of ``inputs`` with the expression that reads it, in order."""
    found: list[tuple[str, Any]] = []
    map_leaves(lambda where, leaf: found.append((where, leaf)), inputs)
    return found


def examples_in(inputs: Inputs) -> int:
    """The number of probe examples: the first dimension every input tensor (of at least
    one dimension) shares."""
    leaves = leaves_of(inputs)
    batched = [(where, leaf) for where, leaf in leaves if isinstance(leaf, Tensor) and leaf.dim() > 0]
    if not batched:
        raise DepthlabError(f"the probe inputs hold no tensor with a batch dimension ({_described(inputs, leaves)}): "
                            "give them as tensors with one probe example per row")
    (first_where, first), *others = batched
    for where, leaf in others:
        if len(leaf) != len(first):
            raise DepthlabError(f"the probe inputs' tensors must share their first (batch) dimension: {where} has "
                                f"shape {tuple(leaf.shape)} but {first_where} has shape {tuple(first.shape)}")
    return len(first)


def _described(inputs: Inputs, leaves: list[tuple[str, Any]]) -> str:
    if not leaves:
        return f"inputs is an empty {type(inputs).__name__}"

    def kind(leaf: Any) -> str:
        return f"a tensor of shape {tuple(leaf.shape)}" if isinstance(leaf, Tensor) else type(leaf).__name__

    shown = [f"{where}: {kind(leaf)}" for where, leaf in leaves[:SHOWN_LEAVES]]
    return ", ".join(shown + (["…"] if len(leaves) > SHOWN_LEAVES else []))


def first_examples(inputs: Inputs, k: int) -> Inputs:
    """The same inputs cut to their first ``k`` examples: every tensor leaf of at least one
    dimension sliced ``[:k]`` along its first (batch) dimension, the other leaves as they
    are."""
    examples_in(inputs)  # one batch size, or a precise error
    return map_leaves(lambda _, leaf: leaf[:k] if isinstance(leaf, Tensor) and leaf.dim() > 0 else leaf, inputs)


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

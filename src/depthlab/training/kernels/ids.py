"""The numbers the native kernels know activations and costs by, read from their C source.

``fused_mlp.c`` numbers the activations and the costs it computes in two enums,
``enum activation`` and ``enum cost``. An activation
(:class:`depthlab.nets.activations.Activation`) or a cost
(:class:`depthlab.training.costs.Cost`) names its native form by the member's name in
lower case with ``-`` for ``_`` (``LEAKY_RELU`` is ``native="leaky-relu"``), and
:class:`depthlab.training.kernels.NativeKernels` passes the C functions the member's
number. The C file is the one owner of the numbers: the maps are parsed from it at import,
by C's rule (the first member is 0, each next one more than the one before unless it says
``= N``).
"""

from __future__ import annotations

import re
from pathlib import Path

SOURCE = Path(__file__).with_name("fused_mlp.c")


def c_enum(source: str, tag: str) -> dict[str, int]:
    """The members of ``enum TAG { ... }`` in the C ``source``, each as depthlab names it
    (``LEAKY_RELU`` as ``leaky-relu``) with its value; ValueError when there is no such enum."""
    found = re.search(rf"\benum\s+{tag}\s*{{([^}}]*)}}", re.sub(r"/\*.*?\*/|//[^\n]*", "", source, flags=re.S))
    if found is None:
        raise ValueError(f"the C source declares no enum {tag}")
    ids, value = {}, 0
    for member in filter(None, map(str.strip, found.group(1).split(","))):
        name, equals, given = member.partition("=")
        value = int(given, 0) if equals else value
        ids[name.strip().lower().replace("_", "-")] = value
        value += 1
    return ids


_SOURCE_TEXT = SOURCE.read_text()
ACTIVATION_IDS = c_enum(_SOURCE_TEXT, "activation")
"""Each native activation's number in ``fused_mlp.c``, by name: ``{"linear": 0, "tanh": 1, …}``."""
COST_IDS = c_enum(_SOURCE_TEXT, "cost")
"""Each native cost's number in ``fused_mlp.c``, by name: ``{"nll": 0, …}``."""

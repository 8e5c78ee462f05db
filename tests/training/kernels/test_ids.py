"""The names activations and costs give their native forms, against the C source's enums."""

import dataclasses
import math
import re

import pytest
import torch

from depthlab.errors import DepthlabError
from depthlab.nets.activations import ACTIVATIONS
from depthlab.training.costs import COSTS
from depthlab.training.kernels import Kernel
from depthlab.training.kernels.ids import ACTIVATION_IDS, COST_IDS, SOURCE, c_enum


def enum_members(tag):
    """The members of ``enum TAG`` in fused_mlp.c, in order, read here without ids.c_enum."""
    body = re.search(rf"enum {tag} {{(.*?)}};", SOURCE.read_text()).group(1)
    return [member.strip() for member in body.split(",")]


@pytest.mark.parametrize("tag, ids", [("activation", ACTIVATION_IDS), ("cost", COST_IDS)])
def test_each_map_is_its_c_enum(tag, ids):
    assert ids == {name.lower().replace("_", "-"): position for position, name in enumerate(enum_members(tag))}


@pytest.mark.parametrize("registry, ids", [(ACTIVATIONS, ACTIVATION_IDS), (COSTS, COST_IDS)])
def test_the_registry_and_the_c_enum_have_the_same_members(registry, ids):
    """Every native form an entry names is in the C enum, and every member of the enum is
    some entry's native form: a member added on one side only fails here."""
    named = [entry.native for entry in registry if entry.native is not None]
    assert sorted(named) == sorted(ids)
    assert all(entry.native in (None, entry.name) for entry in registry)  # the built-ins are named alike


def test_c_enum_follows_c_numbering_and_skips_comments():
    source = "enum other { A }; enum cost { NLL, /* a, B */ QUADRATIC = 4, // C,\n BINARY_CROSS_ENTROPY, };"
    assert c_enum(source, "cost") == {"nll": 0, "quadratic": 4, "binary-cross-entropy": 5}
    assert c_enum(source.replace("QUADRATIC = 4", "QUADRATIC, HINGE"), "cost")["hinge"] == 2
    with pytest.raises(ValueError, match="^the C source declares no enum activation$"):
        c_enum(source, "activation")


def test_a_native_name_the_kernels_lack_is_one_line(native):
    x, weights, biases = torch.ones(2, 3), [torch.ones(4, 3), torch.ones(2, 4)], [torch.zeros(4), torch.zeros(2)]
    outputs, delta, y = [torch.empty(2, 4), torch.empty(2, 2)], torch.empty(2, 2), torch.tensor([0, 1])
    tanh, nll = ACTIVATIONS.get("tanh"), COSTS.get("nll")
    assert native.forward(x, weights, biases, outputs, tanh, nll, y, delta) == pytest.approx(math.log(2))
    typo = dataclasses.replace(tanh, native="tahn")
    with pytest.raises(DepthlabError) as raised:
        native.forward(x, weights, biases, outputs, typo)
    assert str(raised.value) == ("unknown native activation 'tahn' (did you mean 'tanh'?); "
                                 f"valid choices: {', '.join(sorted(ACTIVATION_IDS))}")
    with pytest.raises(DepthlabError, match="^unknown native cost 'hinge'; valid choices: binary-cross-entropy, "):
        native.forward(x, weights, biases, outputs, tanh, dataclasses.replace(nll, native="hinge"), y, delta)
    with pytest.raises(DepthlabError, match="^unknown native activation 'tahn'"):
        native.backward(x, outputs, [torch.empty(2, 4), delta], weights, biases, None, typo, 0.1, 0.0, 0.0, False)


def test_kernel_choices():
    assert Kernel.names() == ("auto", "native", "torch") and Kernel.parse("torch") is Kernel.TORCH
    with pytest.raises(DepthlabError, match="^unknown kernel 'fast'; valid choices: auto, native, torch$"):
        Kernel.parse("fast")

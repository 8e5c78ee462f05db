"""The depth-and-width check: where a family's statistics stop being stable."""

from __future__ import annotations

import math

import clinic_cases as cases
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthlab.clinic.depth import depth_check
from depthlab.clinic.trial import draw_batches
from depthlab.errors import DepthlabError


def gained(depth: int, width: int = 32) -> nn.Sequential:
    """Leaky ReLU (slope 0.01, none of its units die) at σ_w² = 3 (He's is 2): by
    mean-field theory each layer multiplies std(∂C/∂s) by about √(σ_w²/2) = 1.22 toward
    the input, so r ≈ 1.22^(depth−1): 1.5 at depth 3, 9 at depth 12, 50 at depth 20."""
    torch.manual_seed(0)
    model = cases.mlp(depth, width, lambda: nn.LeakyReLU(0.01))
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, 0.0, math.sqrt(3 / layer.in_features))
            nn.init.zeros_(layer.bias)
    return model


def test_the_check_finds_the_first_depth_where_the_gradients_explode():
    data = draw_batches(cases.teacher_data(0), 5, torch.device("cpu"))
    check = depth_check(gained, data, F.cross_entropy, None, depths=(3, 20))
    shallow, deep = check.rows
    assert shallow["problems"] == "" and 1 < shallow["r at init"] < 10
    assert "exploding gradients" in deep["problems"] and deep["r at init"] > 10
    assert check.first_unstable is deep
    assert check.line().startswith("Depth check: stable up to depth 3, not at depth 20: ")


def test_widths_are_checked_per_width():
    data = draw_batches(cases.teacher_data(0), 5, torch.device("cpu"))
    check = depth_check(gained, data, F.cross_entropy, None, depths=(3,), widths=(16, 32))
    assert [(row["depth"], row["width"]) for row in check.rows] == [(3, 16), (3, 32)]
    assert check.line() == ("Depth check: width 16: stable at every depth tried (3); width 32: stable at every "
                            "depth tried (3).")


def test_each_built_model_goes_where_the_batches_are():
    """The batches are on the user's model's device (a GPU there): a model the builder
    makes on the CPU is moved to it before its trial."""
    moved = []

    class Recorded(nn.Sequential):
        def to(self, *args, **kwargs):
            moved.append(args[0])
            return super().to(*args, **kwargs)

    data = draw_batches(cases.teacher_data(0), 2, torch.device("cpu"))
    depth_check(lambda depth: Recorded(*gained(depth)), data, F.cross_entropy, None, depths=(2, 3), steps=2)
    assert moved == [torch.device("cpu")] * 2


def test_a_builder_that_makes_no_module_is_one_line():
    data = draw_batches(cases.teacher_data(0), 2, torch.device("cpu"))
    with pytest.raises(DepthlabError, match=r"^builder\(2\) gave a list, not a torch.nn.Module$"):
        depth_check(lambda depth: [], data, F.cross_entropy, None, depths=(2,))


def test_the_check_shows_its_progress(capsys):
    data = draw_batches(cases.teacher_data(0), 2, torch.device("cpu"))
    depth_check(gained, data, F.cross_entropy, None, depths=(2, 3), steps=2, progress=True)
    assert "doctor: depth check" in capsys.readouterr().err

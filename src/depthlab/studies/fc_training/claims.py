"""The lecture's statements about training and the rules that decide them.

Each function takes measured numbers (never runs) and returns a
:class:`~depthlab.report.document.Verdict`, so each rule is tested both ways on made-up
numbers. ``decides`` says the runs were long enough (:data:`~depthlab.studies.
fc_training.DECIDING_UPDATES`); a claim about training is "cannot show" otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from depthlab.report.document import Verdict

TRAINED = 0.5
"""A net trains when its final validation error is below 50% (chance: 90%)."""
BATCHNORM_GAIN = 0.2
"""Batch normalization helps when it lowers the final validation error by 20 points."""
RELU_SLACK = 0.01
"""ReLU or leaky ReLU is preferred when the better of them ends within 1 point of tanh
and below sigmoid."""
FASTER = 2.0
"""An optimizer trains faster than SGD when its final training cost is lower by more
than 2 standard errors of the difference."""
ZIGZAG_FACTOR = 0.5
"""Momentum damps the zig-zag when it turns back across the valley at most half as often
as plain gradient descent."""

SHORT = "The runs are too short for the nets to show how they train."


def beats_sgd(name: str, final_costs: Mapping[str, tuple[float, float]], decides: bool) -> Verdict:
    """``final_costs``: each optimizer's final training cost at its best rate, as (mean,
    standard error) over the last logging windows."""
    (sgd, sgd_error), (cost, error) = final_costs["sgd"], final_costs[name]
    margin = FASTER * math.hypot(sgd_error, error)
    shown = ", ".join(f"{other} {value:.4f} ± {se:.4f}" for other, (value, se) in final_costs.items())
    return Verdict.decide(
        f"{name.capitalize()} trains a deep MLP faster than plain SGD (each at its best learning rate).",
        sgd - cost > margin,
        f"Final training cost (± standard error): {shown}; {name} is {sgd - cost:.4f} below SGD "
        f"(reproduced beyond {FASTER:g} standard errors of the difference, {margin:.4f}).", decides, SHORT)


def momentum_damps(sgd: tuple[float, int], momentum: tuple[float, int], steps: int) -> Verdict:
    """(final f, reversals across the valley) of gradient descent and of momentum."""
    holds = momentum[1] <= ZIGZAG_FACTOR * sgd[1] and momentum[0] <= sgd[0]
    return Verdict.decide(
        "On an ill-conditioned quadratic, momentum damps plain gradient descent's zig-zag "
        "across the valley and gets at least as far down.", holds,
        f"In {steps} steps at their best rates, gradient descent turns back across the valley {sgd[1]} "
        f"times and ends at f = {sgd[0]:.3g}; momentum {momentum[1]} times, f = {momentum[0]:.3g} "
        f"(reproduced at most {ZIGZAG_FACTOR:g}× as many turns and no higher f).")


def clipping(plain_status: str, clipped_status: str, clipped_error: float, decides: bool) -> Verdict:
    holds = plain_status == "diverged" and clipped_status == "completed" and clipped_error < TRAINED
    return Verdict.decide(
        "A net whose gradients explode diverges without clipping and trains with the gradient norm "
        "clipped.", holds,
        f"Without clipping: {plain_status}; clipped: {clipped_status}, final validation error "
        f"{100 * clipped_error:.2f}% (reproduced when the first diverges and the second ends below "
        f"{100 * TRAINED:g}%).", decides, SHORT)


def batchnorm(plain_error: float, normalized_error: float, decides: bool) -> Verdict:
    return Verdict.decide(
        "A 10-layer sigmoid MLP barely trains without batch normalization and trains with it.",
        plain_error - normalized_error >= BATCHNORM_GAIN and normalized_error < TRAINED,
        f"Final validation error {100 * plain_error:.2f}% without, {100 * normalized_error:.2f}% with "
        f"batch normalization (reproduced when it is at least {100 * BATCHNORM_GAIN:g} points lower and "
        f"below {100 * TRAINED:g}%).", decides, SHORT)


def batchnorm_gradients(plain_spread: float, normalized_spread: float, decides: bool) -> Verdict:
    """Each net's ratio of its largest to its smallest back-propagated gradient std over
    the hidden layers, at the last probe."""
    return Verdict.decide(
        "Batch normalization keeps the back-propagated gradient of similar size in every layer, which "
        "is why the deep sigmoid net trains with it.", normalized_spread < plain_spread,
        f"Largest over smallest layer's gradient std at the end: {plain_spread:.3g} without, "
        f"{normalized_spread:.3g} with batch normalization (reproduced when smaller with it).", decides, SHORT)


def sigmoid_gradient_vanishes(bottom_over_top: Mapping[str, float]) -> Verdict:
    """Each activation's back-propagated gradient std, first hidden layer over last, at
    initialization."""
    smallest = min(bottom_over_top, key=bottom_over_top.get)
    shown = ", ".join(f"{name} {ratio:.3g}" for name, ratio in bottom_over_top.items())
    return Verdict.decide(
        "At initialization sigmoid's back-propagated gradient shrinks the most on its way to "
        "the first layer.", smallest == "sigmoid",
        f"First over last hidden layer's gradient std: {shown} (reproduced when sigmoid's is the "
        "smallest).")


def prefer_relu(errors: Mapping[str, float], decides: bool) -> Verdict:
    """Each activation's final validation error."""
    best_relu = min(errors["relu"], errors["leaky-relu"])
    holds = best_relu <= errors["tanh"] + RELU_SLACK and best_relu < errors["sigmoid"]
    shown = ", ".join(f"{name} {100 * error:.2f}%" for name, error in errors.items())
    return Verdict.decide(
        "Prefer ReLU or leaky ReLU: in a deep net they train at least as well as tanh and better than "
        "sigmoid.", holds, f"Final validation error: {shown} (reproduced when the better of ReLU and "
        f"leaky ReLU is within {100 * RELU_SLACK:g} point of tanh and below sigmoid).", decides, SHORT)

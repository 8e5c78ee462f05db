"""The d2l chapter's statements and the rules that decide them from our numbers.

Each function takes measured numbers (never runs) and returns a
:class:`~depthlab.report.document.Verdict`, so each rule is tested both ways on made-up
numbers. ``full`` says the budget ran the chapter's settings; a claim that needs them is
"cannot show" on a smaller budget, and says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from depthlab.report.document import Verdict

MLP_ACCURACY = 0.82
"""The chapter's curves end with test accuracy in the mid-80s %: reproduced at ≥ 82%."""
AGREEMENT = 0.015
"""From scratch and with nn modules agree when their final test accuracies are within
1.5 points (different initial draws of one net differ by about half a point)."""
WEIGHT_TOLERANCE = 0.2
"""The normal fit recovers the weights when each is within 0.2 of the true one."""
UNDERFIT_FACTOR = 5.0
"""Underfitting: both final losses at least 5× the normal fit's test loss."""
OVERFIT_FACTOR = 1.1
"""Overfitting: the final test loss more than 1.1× the final training loss."""
GAP_MARGIN = 0.005
"""Dropout narrows the generalization gap when by at least half a point: two accuracies
on 10,000 test images near 87% each have a standard error of 0.34 points, their
difference 0.48."""
INTERPOLATION = 0.1
"""λ = 0 overfits: its final training loss below 0.1× its test loss."""
SELECTION_FACTOR = 1.5
"""K-fold chooses well when the chosen λ's test loss is within 1.5× the best candidate's."""
SIGMOID_PEAK, SIGMOID_FAR, SIGMOID_TAIL = 0.25, 5.0, 0.01
"""σ′ peaks at 1/4 (at 0) and is below 0.01 once |x| ≥ 5: there it vanishes."""
EXPLODED = 1e10
"""The product of 100 N(0, 1) matrices has exploded past this Frobenius norm per √n."""


SHORT = "The budget trains less than the chapter does, so the end of its curves is not reached."


def mlp_accuracy(test_accuracy: float, full: bool) -> Verdict:
    return Verdict.decide(
        "The 784-256-10 ReLU MLP reaches test accuracy in the mid-80s % after 10 epochs.",
        test_accuracy >= MLP_ACCURACY,
        f"Final test accuracy {100 * test_accuracy:.2f}% (reproduced at ≥ {100 * MLP_ACCURACY:g}%).",
        full, SHORT)


def scratch_agrees(scratch_accuracy: float, nn_accuracy: float, full: bool) -> Verdict:
    gap = abs(scratch_accuracy - nn_accuracy)
    return Verdict.decide(
        "The MLP written from scratch and the one built from nn modules learn alike.", gap <= AGREEMENT,
        f"Final test accuracy {100 * scratch_accuracy:.2f}% from scratch, {100 * nn_accuracy:.2f}% with "
        f"nn modules: {100 * gap:.2f} points apart (they agree within {100 * AGREEMENT:g}).", full,
        "Early in training two initial draws differ by more than at the end.")


def normal_fit(weights: Sequence[float], true: Sequence[float], full: bool) -> Verdict:
    worst = float(np.max(np.abs(np.subtract(weights, true))))
    shown = ", ".join(f"{w:.3f}" for w in weights)
    return Verdict.decide(
        "Fitted with the true degree (4 features), the weights come out near the true 5, 1.2, −3.4, 5.6.",
        worst <= WEIGHT_TOLERANCE,
        f"Fitted weights {shown}; the farthest is {worst:.3f} from its true value "
        f"(reproduced within {WEIGHT_TOLERANCE}).", full, SHORT)


def underfitting(train: float, test: float, normal_test: float, full: bool) -> Verdict:
    floor = UNDERFIT_FACTOR * normal_test
    return Verdict.decide(
        "With too few features (2) the model underfits: training and test loss both stay high.",
        min(train, test) >= floor,
        f"Final training loss {train:.4g}, test loss {test:.4g}; the normal fit's test loss "
        f"{normal_test:.4g} (reproduced when both are at least {UNDERFIT_FACTOR:g}× it, {floor:.4g}).",
        full, SHORT)


def overfitting(train: float, test: float, full: bool) -> Verdict:
    return Verdict.decide(
        "With too many features (20) the model overfits: its test loss ends above its training loss.",
        test > OVERFIT_FACTOR * train,
        f"Final training loss {train:.4g}, test loss {test:.4g}, ratio {test / train:.3g} "
        f"(reproduced above {OVERFIT_FACTOR:g}).", full, SHORT)


def weight_decay(plain: tuple[float, float], decayed: tuple[float, float], norms: tuple[float, float],
                 full: bool) -> Verdict:
    """``plain``, ``decayed``: (training loss, test loss) at λ = 0 and λ = 3; ``norms``:
    their final ‖w‖."""
    overfits = plain[0] < INTERPOLATION * plain[1]
    helps = decayed[1] < plain[1] and norms[1] < norms[0]
    return Verdict.decide(
        "Without weight decay (λ = 0) the 200-input model overfits 20 examples (training loss near 0, "
        "test loss high); λ = 3 shrinks ‖w‖ and brings the test loss down.", overfits and helps,
        f"λ = 0: training loss {plain[0]:.4g}, test loss {plain[1]:.4g}, ‖w‖ {norms[0]:.3g}; λ = 3: "
        f"training loss {decayed[0]:.4g}, test loss {decayed[1]:.4g}, ‖w‖ {norms[1]:.3g} (reproduced "
        f"when λ = 0's training loss is below {INTERPOLATION:g}× its test loss and λ = 3 lowers both the "
        "test loss and ‖w‖).", full, SHORT)


def dropout(gaps: tuple[float, float], accuracies: tuple[float, float], full: bool) -> Verdict:
    """``gaps``: test error − training error (both with dropout off) without and with
    dropout; ``accuracies``: their final test accuracies."""
    return Verdict.decide(
        "Dropout regularizes: with it the gap between training and test accuracy is smaller, and the "
        "test accuracy no worse.",
        gaps[1] <= gaps[0] - GAP_MARGIN and accuracies[1] >= accuracies[0] - AGREEMENT,
        f"Without dropout: gap {100 * gaps[0]:.2f} points, test accuracy {100 * accuracies[0]:.2f}%; "
        f"with 0.2 and 0.5: gap {100 * gaps[1]:.2f} points, test accuracy {100 * accuracies[1]:.2f}% "
        f"(reproduced when the gap shrinks by at least {100 * GAP_MARGIN:g} points and the accuracy drops "
        f"by at most {100 * AGREEMENT:g}).",
        full, SHORT)


def kfold_selection(validation: Mapping[float, float], test: Mapping[float, float], full: bool) -> Verdict:
    """``validation``: each λ's mean validation loss over the folds; ``test``: each λ's
    test loss when fitted on the whole training set."""
    chosen = min(validation, key=validation.get)
    best = min(test, key=test.get)
    return Verdict.decide(
        "K-fold cross-validation picks a weight decay that generalizes: the λ with the lowest mean "
        "validation loss over 5 folds also has a low test loss.",
        test[chosen] <= SELECTION_FACTOR * test[best],
        f"Chosen λ = {chosen:g} (mean validation loss {validation[chosen]:.4g}), test loss "
        f"{test[chosen]:.4g}; the best test loss is λ = {best:g}'s {test[best]:.4g} (reproduced within "
        f"{SELECTION_FACTOR:g}×).", full, SHORT)


def sigmoid_vanishes(x: np.ndarray, grad: np.ndarray) -> Verdict:
    peak = float(grad.max())
    far = float(grad[np.abs(x) >= SIGMOID_FAR].max())
    holds = abs(peak - SIGMOID_PEAK) < 1e-6 and abs(float(x[grad.argmax()])) < 1e-9 and far < SIGMOID_TAIL
    return Verdict.decide(
        "Sigmoid's gradient vanishes when its input is large in either direction.", holds,
        f"σ′ peaks at {peak:.4f} at x = {float(x[grad.argmax()]):g} and is at most {far:.2g} once "
        f"|x| ≥ {SIGMOID_FAR:g} (reproduced: a peak of {SIGMOID_PEAK} at 0 and below {SIGMOID_TAIL} there).")


def product_explodes(norms: np.ndarray) -> Verdict:
    return Verdict.decide(
        "The product of 100 Gaussian N(0, 1) matrices explodes.", norms[-1] > EXPLODED,
        f"‖W₁₀₀⋯W₁‖_F/√n = {norms[-1]:.3g} after {len(norms)} factors (reproduced above {EXPLODED:.0e}).")

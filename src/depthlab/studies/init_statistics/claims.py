"""The lecture's statements on initialization and the rule that decides each from the
demonstrations' numbers (:mod:`.demos`), by the thresholds stated below."""

from __future__ import annotations

from typing import Any

from depthlab.references import LECTURE_STD
from depthlab.report.document import Verdict
from depthlab.studies.init_statistics.demos import DEPTH, PRODUCT_FACTORS, SCHEMES, SYMMETRY_DROPOUTS

LECTURE_RTOL = 0.1
"""Our std reproduces a lecture number when within this relative difference."""
SATURATED_MAJORITY = 0.5
"""N(0, 1) saturates a layer when more than this fraction of its units has |a| ≥ 0.95."""
COLLAPSED_STD = 1e-3
"""0.01·N(0, 1) has collapsed when the top layer's std is below this."""
KEPT_FACTOR, LOST_FACTOR = 3.0, 10.0
"""ReLU: He keeps the std (largest/smallest layer std below 3); N(0, 1/n) loses it (more than 10×)."""
EXPLODED, BOUNDED = 1e10, (1e-3, 1e3)
"""The σ² = 1 product explodes past 1e10; the scaled one stays within [1e-3, 1e3]."""


def _close(ours: float, lecture: float) -> bool:
    return abs(ours - lecture) <= LECTURE_RTOL * lecture


def tanh_verdicts(rows: list[dict[str, Any]]) -> list[Verdict]:
    """The lecture's three statements on tanh: 0.01·N(0,1) collapses, N(0,1/n) decays slowly
    (both against the lecture's stds), N(0,1) saturates every layer."""
    by = {(r["init"], r["layer"]): r for r in rows}
    verdicts = []
    for label, claim in (("0.01·N(0,1)", "0.01·N(0,1): the std collapses, 0.21, 0.048, 0.011, … → 0."),
                         ("LeCun N(0,1/n)", "N(0,1/n) (the lecture's Xavier): the std decays slowly, ≈ 0.63, "
                                            "0.49, 0.41, …")):
        lecture = LECTURE_STD["tanh", SCHEMES[label]]
        pairs = [(by[label, k]["std"], v) for k, v in enumerate(lecture, start=1)]
        ours = ", ".join(f"{o:.3g}" for o, _ in pairs)
        top = by[label, DEPTH]["std"]
        holds = all(_close(o, v) for o, v in pairs)
        if label == "0.01·N(0,1)":
            holds = holds and top < COLLAPSED_STD
        verdicts.append(Verdict.decide(
            claim, holds, f"Ours: {ours}; layer {DEPTH}: {top:.3g} (agreement within "
            f"{LECTURE_RTOL:.0%}; collapse means below {COLLAPSED_STD:g})."))
    saturated = [by["N(0,1)", k]["saturated_fraction"] for k in range(1, DEPTH + 1)]
    verdicts.append(Verdict.decide(
        "N(0,1): every layer saturates at ±1.", min(saturated) > SATURATED_MAJORITY,
        f"Fraction of units with |a| ≥ 0.95: {min(saturated):.1%} to {max(saturated):.1%} "
        f"across the layers."))
    return verdicts


def relu_verdict(rows: list[dict[str, Any]]) -> Verdict:
    """He's init keeps the std of ReLU's activations across the layers; N(0,1/n) loses it."""

    def spread(label: str) -> float:
        stds = [r["std"] for r in rows if r["init"] == label]
        return max(stds) / min(stds)

    lecun, he = spread("LeCun N(0,1/n)"), spread("He N(0,2/n)")
    return Verdict.decide(
        "ReLU: N(0,1/n) (the lecture's Xavier) collapses the activations, He keeps them.",
        lecun > LOST_FACTOR and he < KEPT_FACTOR,
        f"Largest/smallest layer std: N(0,1/n) {lecun:.3g} (collapse: above {LOST_FACTOR:g}), He {he:.3g} "
        f"(kept: below {KEPT_FACTOR:g}).")


def products_explode(unscaled: float, scaled: float) -> Verdict:
    """The norm after :data:`~.demos.PRODUCT_FACTORS` factors explodes with σ² = 1
    (``unscaled``) and stays bounded with σ² = 1/n (``scaled``)."""
    holds = unscaled > EXPLODED and BOUNDED[0] <= scaled <= BOUNDED[1]
    return Verdict.decide(
        f"The product of {PRODUCT_FACTORS} Gaussian random matrices with σ² = 1 explodes; with "
        "σ² = 1/n it stays O(1).", holds,
        f"After {PRODUCT_FACTORS} factors: σ² = 1 gives {unscaled:.3g} (explodes: above {EXPLODED:g}), "
        f"σ² = 1/n gives {scaled:.3g} (bounded: within {BOUNDED[0]:g}–{BOUNDED[1]:g}).")


def symmetry_breaks(tied: float, broken: float) -> Verdict:
    """Without dropout the units stay identical (largest difference ``tied`` is 0); with
    dropout they part (smallest largest difference ``broken`` above 0)."""
    return Verdict.decide(
        "Constant initialization keeps every hidden unit of a layer identical under SGD; dropout "
        "breaks the symmetry.", tied == 0 and broken > 0,
        f"Largest difference between units: {tied:g} without dropout, at least {broken:.3g} with "
        f"dropout {SYMMETRY_DROPOUTS[-1]}.")

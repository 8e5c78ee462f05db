"""Nielsen's three claims of chapter 5 and the rule that decides each from our numbers
(his numbers: :mod:`depthlab.references`)."""

from __future__ import annotations

import numpy as np

from depthlab.references import NIELSEN_EPOCHS, NIELSEN_INIT_SPEED, NIELSEN_TRAINING_RATIO
from depthlab.report.document import Outcome, Verdict

RATIO_TOLERANCE = 3.0
"""Our training ratio reproduces Nielsen's when its median is within this factor of 100."""
DEPTH_GAIN = 0.3
"""Depth helps when 3 or 4 hidden layers beat the best of 1 and 2 by more than this many
accuracy points."""


def speed_grows_upward(init_speeds: dict[int, np.ndarray]) -> Verdict:
    """Reproduced when, for every depth, each hidden layer's mean speed at initialization
    (``init_speeds[depth]``: one row per seed) exceeds the one below it."""
    increasing = all(np.all(np.diff(s.mean(0)) > 0) for s in init_speeds.values())
    ratios = ", ".join(f"{d} layers: {s.mean(0)[-1] / s.mean(0)[0]:.3g} (Nielsen {n[-1] / n[0]:.3g})"
                       for (d, s), n in zip(init_speeds.items(), NIELSEN_INIT_SPEED.values()))
    return Verdict("At initialization every hidden layer learns faster than the one below it (Nielsen, ch. 5).",
                   Outcome.REPRODUCED if increasing else Outcome.NOT_REPRODUCED,
                   f"Last/first layer speed ratio: {ratios}.")


def first_layer_stays_slower(ratio: np.ndarray) -> Verdict:
    """Reproduced when the median last/first speed ratio over the epochs (``ratio``) is
    within :data:`RATIO_TOLERANCE` × of Nielsen's 100."""
    median = float(np.median(ratio))
    close = NIELSEN_TRAINING_RATIO / RATIO_TOLERANCE <= median <= NIELSEN_TRAINING_RATIO * RATIO_TOLERANCE
    return Verdict("During training the first hidden layer stays about 100× slower than the last (Nielsen).",
                   Outcome.REPRODUCED if close else Outcome.NOT_REPRODUCED,
                   f"Last/first ratio over {len(ratio)} epochs: median {median:.3g}, from {ratio.min():.3g} "
                   f"to {ratio.max():.3g} (reproduced when the median is within {RATIO_TOLERANCE:g}× of 100).")


def depth_does_not_help(shallow: float, deep: float, epochs: int, whole_training_set: bool) -> Verdict:
    """Reproduced when the best accuracy of 3–4 hidden layers (``deep``) is at most
    :data:`DEPTH_GAIN` points above the best of 1–2 (``shallow``); "cannot show" when the
    runs train less than Nielsen's (fewer ``epochs``, or not on the whole training set)."""
    evidence = (f"Best of 1–2 hidden layers {shallow:.2f} %, best of 3–4 {deep:.2f} % "
                f"(depth helps when the deeper nets gain more than {DEPTH_GAIN} points).")
    if epochs < NIELSEN_EPOCHS or not whole_training_set:
        verdict = Outcome.CANNOT_SHOW
        evidence += (f" The budget trains less than Nielsen's {NIELSEN_EPOCHS} epochs on 50,000 images, which "
                     "handicaps the deeper nets, slower to learn.")
    else:
        verdict = Outcome.REPRODUCED if deep <= shallow + DEPTH_GAIN else Outcome.NOT_REPRODUCED
    return Verdict("More than two hidden layers does not improve accuracy (Nielsen: 96.48, 96.90, 96.57, "
                   "96.53 %).", verdict, evidence)

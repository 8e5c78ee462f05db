"""The depth-and-width check: a model family built at several depths (and widths), each
probed at initialization and after a few updates on the same batches, and where its
per-layer statistics stop being stable, as muP's coordinate check does for width alone
(Yang et al. 2021).

A built model is *stable* when its short trial's diagnosis (:mod:`depthlab.report.diagnosis`)
finds no problem or warning: r = std(∂C/∂s) bottom/top within the gradient rules' range,
no saturated or dead layer, update sizes in range, no divergence.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from depthlab.clinic.trial import TrialData, TrialSettings, findings_of, number_text, run_trial
from depthlab.errors import DepthlabError
from depthlab.probe.calling import map_leaves
from depthlab.report.diagnosis import Facts, chain_ratios
from depthlab.report.document import Severity

CHECK_STEPS = 5


@dataclass(frozen=True)
class DepthCheck:
    """Per built model (``rows``: depth, width, r at init and after the steps, the
    problems found) and the first (depth, width) that is not stable, None when all are."""

    rows: list[dict[str, Any]]
    steps: int

    @property
    def first_unstable(self) -> dict[str, Any] | None:
        return next((row for row in self.rows if row["problems"]), None)

    def line(self) -> str:
        """Per width (or for the one family), up to which depth it is stable, and what
        goes wrong at the first depth that is not."""
        parts = []
        for width in dict.fromkeys(row["width"] for row in self.rows):
            rows = [row for row in self.rows if row["width"] == width]
            where = f"width {width}: " if width is not None else ""
            first = next((row for row in rows if row["problems"]), None)
            if first is None:
                parts.append(f"{where}stable at every depth tried ({', '.join(str(r['depth']) for r in rows)})")
                continue
            stable = [row["depth"] for row in rows if row["depth"] < first["depth"] and not row["problems"]]
            parts.append(f"{where}{f'stable up to depth {stable[-1]}, ' if stable else ''}not at depth "
                         f"{first['depth']}: {first['problems']} (r at init {number_text(first['r at init'])}, after "
                         f"{self.steps} updates {number_text(first['r after'])})")
        return "Depth check: " + "; ".join(parts) + "."



def _extreme(trial) -> tuple[float | None, float | None]:
    """The r farthest from 1 (in log) over the chains, at the first and the last probe."""
    facts = Facts.of_probe(trial.probe, trial.settings.effective_lr)
    first, last = trial.log.updates[0], trial.log.updates[-1]
    ends = []
    for update in (first, last):
        values = [ratios[update] for _, ratios in chain_ratios(facts, trial.log) if update in ratios]
        ends.append(max(values, key=lambda r: abs(math.log(r)) if r > 0 else math.inf) if values else None)
    return ends[0], ends[1]


def _leaves(value: Any) -> list[torch.Tensor]:
    found: list[torch.Tensor] = []
    map_leaves(lambda _, leaf: found.append(leaf) if isinstance(leaf, torch.Tensor) else None, value)
    return found


def depth_check(builder: Callable[..., nn.Module], data: TrialData, loss_fn: Callable | None, optimizer: Any,
                depths: Sequence[int], widths: Sequence[int] | None = None, steps: int = CHECK_STEPS,
                seed: int = 0, progress: bool = False) -> DepthCheck:
    """Build ``builder(depth)`` (or ``builder(depth, width)`` for each of ``widths``) at
    each depth, train each ``steps`` updates on ``data``'s first batches with the user's
    optimizer settings, and read the statistics at initialization and after (``progress``:
    a bar over the models)."""
    takes_width = len(inspect.signature(builder).parameters) >= 2
    if widths and not takes_width:
        raise DepthlabError("widths= needs a builder taking (depth, width)")
    sizes = [(d, w) for d in depths for w in (widths or [None])]
    device = next((leaf.device for leaf in _leaves(data.batches[0][0])), torch.device("cpu"))
    from tqdm.auto import tqdm

    rows = []
    for depth, width in tqdm(sizes, desc="doctor: depth check", disable=not progress, leave=False):
        model = builder(depth, width) if width is not None else builder(depth)
        if not isinstance(model, nn.Module):
            raise DepthlabError(f"builder({depth}{'' if width is None else f', {width}'}) gave a "
                                f"{type(model).__name__}, not a torch.nn.Module")
        model = model.to(device)  # built where the user's model and the batches are
        settings = TrialSettings.of(optimizer, model)
        trial = run_trial(f"depth {depth}", model, settings, data, loss_fn, min(steps, len(data.batches)), seed)
        at_init, after = _extreme(trial)
        problems = [f.name for f in findings_of(trial) if f.severity != Severity.OK]
        rows.append({"depth": depth, "width": width, "r at init": at_init, "r after": after,
                     "cost": trial.cost, "problems": ", ".join(problems)})
    return DepthCheck(rows, steps)

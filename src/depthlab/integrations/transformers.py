"""Probe a Hugging Face ``transformers.Trainer`` run on depthlab's schedule.

    from depthlab.integrations.transformers import ProbeCallback

    trainer = transformers.Trainer(model, args, train_dataset=data, callbacks=[ProbeCallback("runs/mine")])
    trainer.train()
    # then: depthlab inspect runs/mine

The probe calls ``model(**batch)`` on its probe set and, without a ``loss_fn``, takes the
output's own ``.loss`` (the batches hold ``labels``) or the cross-entropy of its
``.logits`` (:func:`depthlab.probe.calling.default_loss`). Without ``inputs``, the probe
set is the first ``probe_size`` examples of the evaluation batches when the Trainer has
them at the start of training, else of the training batches (joined while their padded
shapes agree), drawn without touching the run's random state. It measures on the main
process only, and as the Trainer runs the model: under ``bf16=True`` or ``fp16=True``
accelerate wraps the model's own ``forward`` in its autocast region, which the probe's
calls go through too (the gradients it reports are the cost's own, never a GradScaler's
scaled ones: :data:`depthlab.probe.probe.LOSS_SCALES`). The Trainer's logged ``loss`` and
``eval_loss`` become the run's ``train_cost`` and ``validation_cost`` curves.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from depthlab.integrations.scheduled import ScheduledProbe

try:
    from transformers import TrainerCallback
except ImportError:
    raise ImportError("depthlab.integrations.transformers needs transformers: pip install transformers") from None

LOGGED = {"loss": "train_cost", "eval_loss": "validation_cost"}
"""The Trainer's log keys → depthlab's names for the same curves."""


class ProbeCallback(TrainerCallback):
    """Measures the model on depthlab's probe schedule and, given ``path``, writes a run
    directory there (see :class:`depthlab.integrations.scheduled.ScheduledProbe` for the
    arguments). The measures are in ``callback.probe.log``."""

    def __init__(self, path: str | Path | None = None, **options: Any):
        self.scheduled = ScheduledProbe(path, **options)
        self._last_cost = 0.0

    @property
    def probe(self):
        return self.scheduled.probe

    def on_train_begin(self, args, state, control, model=None, optimizer=None, train_dataloader=None,
                       eval_dataloader=None, **kwargs):
        if not state.is_world_process_zero:
            return
        lr = optimizer.param_groups[0]["lr"] if optimizer is not None else args.learning_rate
        device = next(model.parameters()).device
        with torch.random.fork_rng(devices=[]):  # a shuffling sampler draws from the global generator
            self.scheduled.start(model, state.max_steps, device, lr=lr, batches=eval_dataloader or train_dataloader,
                                 first=state.global_step)

    def on_step_begin(self, args, state, control, **kwargs):
        if self.scheduled.started:
            self.scheduled.before_update(state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not self.scheduled.started or not logs:
            return
        numbers = {LOGGED[key]: float(value) for key, value in logs.items() if key in LOGGED}
        self._last_cost = numbers.get("train_cost", self._last_cost)
        self.scheduled.log_metrics(state.global_step, **numbers)

    def on_train_end(self, args, state, control, **kwargs):
        if self.scheduled.started:
            self.scheduled.end(state.global_step, status="completed" if math.isfinite(self._last_cost) else "diverged")

"""Probe a PyTorch Lightning run on depthlab's schedule.

    from depthlab.integrations.lightning import ProbeCallback

    trainer = lightning.Trainer(max_steps=20_000, callbacks=[ProbeCallback("runs/mine")])
    trainer.fit(module, train_loader)
    # then: depthlab inspect runs/mine

The probe calls ``pl_module(inputs)`` (the module's ``forward``) and, without a
``loss_fn``, takes the cross-entropy of what it returns against the targets (or the
output's own ``.loss``; :func:`depthlab.probe.calling.default_loss`). Without
``inputs``, the probe set is the first ``probe_size`` examples of the validation batches
when Lightning has loaded them at the start of training, else of the training batches,
drawn without touching the run's random state. It measures on the global-zero process
only, on the module's device, and as the Trainer runs ``training_step``: in its precision
plugin's ``forward_context`` (the autocast region of ``precision="bf16-mixed"`` or
``"16-mixed"``, the default dtype of ``"bf16-true"`` or ``"16-true"``), on the probe set
converted by the plugin's ``convert_input``. The gradients it reports are the cost's
own, never a GradScaler's scaled ones (:data:`depthlab.probe.probe.LOSS_SCALES`). The
training cost the module's ``training_step`` returns is averaged between measures into
the run's ``train_cost`` curve.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from depthlab.errors import DepthlabError
from depthlab.integrations.scheduled import ScheduledProbe

try:
    from lightning.pytorch import Callback, LightningModule, Trainer
except ImportError:
    try:
        from pytorch_lightning import Callback, LightningModule, Trainer
    except ImportError:
        raise ImportError("depthlab.integrations.lightning needs PyTorch Lightning: pip install lightning") from None


class ProbeCallback(Callback):
    """Measures the module on depthlab's probe schedule and, given ``path``, writes a run
    directory there (see :class:`depthlab.integrations.scheduled.ScheduledProbe` for the
    arguments). The measures are in ``callback.probe.log``."""

    def __init__(self, path: str | Path | None = None, **options: Any):
        self.scheduled = ScheduledProbe(path, **options)
        self._cost_sum: torch.Tensor | None = None
        self._cost_count = 0
        self._last_cost = 0.0

    @property
    def probe(self):
        return self.scheduled.probe

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        if type(pl_module).forward is LightningModule.forward:
            raise DepthlabError(f"{type(pl_module).__name__} defines no forward(): the probe calls "
                                "pl_module(inputs), so forward must run the network")
        total = trainer.estimated_stepping_batches
        if not isinstance(total, int) and not (isinstance(total, float) and total.is_integer()):
            raise DepthlabError(f"the run's length is {total}: give the Trainer max_steps or max_epochs so the "
                                "probe schedule knows it")
        optimizers = trainer.optimizers
        lr = optimizers[0].param_groups[0]["lr"] if optimizers else None
        loader = trainer.val_dataloaders or trainer.train_dataloader
        if isinstance(loader, (list, tuple)):
            loader = loader[0] if loader else None
        precision = trainer.precision_plugin  # the probe runs the module as training_step does
        with torch.random.fork_rng(devices=[]):  # a shuffling sampler draws from the global generator
            self.scheduled.start(pl_module, int(total), pl_module.device, lr=lr, batches=loader,
                                 convert=precision.convert_input, context=precision.forward_context,
                                 first=trainer.global_step)

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        if self.scheduled.started:
            update = trainer.global_step
            if update in self.scheduled.schedule and update != self.scheduled.measured_at:
                self._log_cost(update)
            self.scheduled.before_update(update)

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if not self.scheduled.started:
            return
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor) and loss.dim() == 0:  # summed on the device: no synchronisation
            loss = loss.detach().float()
            self._cost_sum = loss if self._cost_sum is None else self._cost_sum + loss
            self._cost_count += 1

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.scheduled.started:
            self._log_cost(trainer.global_step)
            status = "completed" if math.isfinite(self._last_cost) else "diverged"
            self.scheduled.end(trainer.global_step, status=status)

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        if self.scheduled.started and self.scheduled.path is not None:
            self.scheduled.end(trainer.global_step, status="interrupted")

    def _log_cost(self, update: int) -> None:
        if self._cost_count:
            self._last_cost = (self._cost_sum / self._cost_count).item()
            self.scheduled.log_metrics(update, train_cost=self._last_cost)
            self._cost_sum, self._cost_count = None, 0

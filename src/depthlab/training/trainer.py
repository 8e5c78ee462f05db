"""The training loop: one config and one seed in, one run directory out.

Online SGD as in Glorot & Bengio (2010), section 2.2: θ ← θ − ε·g with g averaged over a
minibatch (10 by default). At intervals the loop logs the training cost, evaluates the
validation and test error, probes the network (depthlab.probe) on a fixed probe set and
checkpoints. A non-finite cost stops the run as ``diverged``; Ctrl-C (SIGINT) stops it
cleanly between two updates as ``interrupted``, and :func:`resume` finishes it with the
numbers an uninterrupted run gets.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from depthlab.config import TrainConfig, from_mapping
from depthlab.data.base import Dataset, FixedDataset
from depthlab.data.registry import DATASETS
from depthlab.errors import DepthlabError
from depthlab.limits import MAX_UPDATES, check_at_most, check_fits, network_bytes
from depthlab.nets.mlp import MLP
from depthlab.probe import Probe
from depthlab.store.run import Network, RunDir, environment
from depthlab.training.costs import COSTS, Cost
from depthlab.training.engine import make_engine
from depthlab.training.schedule import ProbeSchedule, evaluates_at_start

DEFAULT_UPDATES = 10_000
EVAL_BATCH = 1000
LSUV_BATCH = 500


@dataclass
class RunningMean:
    """The training cost over the current logging window: its sum and count."""

    total: float = 0.0
    count: int = 0

    def add(self, value: float) -> None:
        self.total += value
        self.count += 1

    @property
    def mean(self) -> float:
        return self.total / self.count


@dataclass
class RunResult:
    """What :func:`train` returns: the run directory, its status and final numbers."""

    path: Path
    status: str
    final: dict[str, Any]

    @property
    def run(self) -> RunDir:
        return RunDir(self.path)


def total_updates(config: TrainConfig, dataset: Dataset) -> int:
    """--updates, or --epochs times the updates per epoch of a finite training set (which
    must hold at least one minibatch)."""
    # raises, even with --updates, when the batch is larger than a finite training set
    per_epoch = dataset.updates_per_epoch(config.batch_size) if isinstance(dataset, FixedDataset) else None
    if config.epochs is None:
        return config.updates or DEFAULT_UPDATES
    if per_epoch is None:
        raise DepthlabError(f"--epochs needs a finite training set; {dataset.name} is an unlimited stream: "
                            "use --updates")
    updates = config.epochs * per_epoch
    check_at_most(f"--epochs {config.epochs:g} of {per_epoch} updates each:", updates, MAX_UPDATES,
                  "update numbers are recorded exactly in JSON")
    return max(1, round(updates))


def default_run_dir(config: TrainConfig) -> Path:
    name = config.dataset.replace(":", "-").replace("/", "-")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    widths = config.hidden_widths
    shape = f"{len(widths)}x{widths[0]}" if widths else "linear"
    return Path("runs") / f"{name}-{config.activation}-{config.init}-{shape}-s{config.seed}-{stamp}"


@torch.no_grad()
def evaluate(model: nn.Module, cost: Cost, x: Tensor, y: Tensor, device: torch.device) -> dict[str, float]:
    """The mean cost of ``model`` on ``(x, y)``, and its error rate when y holds class
    labels, in eval mode, in batches: ``{"error": …, "cost": …}``."""
    if len(x) == 0:
        raise DepthlabError("the validation or test set is empty: nothing to evaluate on")
    was_training = model.training
    model.eval()
    errors, total_cost = 0, 0.0
    for i in range(0, len(x), EVAL_BATCH):
        xb, yb = x[i:i + EVAL_BATCH].to(device), y[i:i + EVAL_BATCH].to(device)
        z = model(xb)
        if not cost.regression:
            errors += (z.argmax(1) != yb).sum().item()
        total_cost += cost.loss(z, yb).item() * len(xb)
    model.train(was_training)
    return {"cost": total_cost / len(x)} if cost.regression else {"error": errors / len(x), "cost": total_cost / len(x)}


def check_targets(cost: Cost, dataset: Dataset) -> None:
    """A classification cost needs class labels, a regression cost real-valued targets."""
    if cost.regression and not dataset.regression:
        raise DepthlabError(f"cost {cost.name} fits real-valued targets, and {dataset.name} has class labels: "
                            f"use --cost {', '.join(c.name for c in COSTS if not c.regression)}")
    if dataset.regression and not cost.regression:
        raise DepthlabError(f"{dataset.name} has real-valued targets, not class labels: use --cost "
                            f"{', '.join(c.name for c in COSTS if c.regression)} (cost {cost.name} is for classes)")


class Trainer:
    """Trains ``model`` on ``dataset`` under ``config``, writing into ``run``. ``engine``,
    (name, stepper), replaces the one the config chooses: a stack gives each of its runs
    its member's (:class:`depthlab.training.stacked.StackMember`)."""

    def __init__(self, config: TrainConfig, dataset: Dataset, model: nn.Module, run: RunDir,
                 progress: bool = True, callbacks: list[Callable[[Trainer, int], None]] | None = None,
                 engine: tuple[str, Any] | None = None):
        self.config, self.dataset, self.model, self.run = config, dataset, model, run
        self.device = torch.device(config.device)
        self.cost = COSTS.get(config.cost)
        self.engine_name, self.engine = engine or make_engine(config, model, self.cost)
        self.stack: dict[str, Any] | None = None  # the stack this run trains in, for env.json (None: alone)
        self.total = total_updates(config, dataset)
        self.progress = progress
        self.callbacks = callbacks or []
        self.update = 0
        self.window = RunningMean()
        self.stop_requested = False
        self.probe = None
        self.probe_seconds = 0.0
        self.tensorboard = None
        if config.probe:
            x, y = dataset.test
            n = min(config.probe_size, len(x))
            self.probe = Probe(model, x[:n].to(self.device), y[:n].to(self.device), self.cost.loss,
                               jacobian_examples=config.jacobian_examples, layer_names="positions")
            self.schedule = ProbeSchedule(self.total, config.probe_every)

    # -- checkpoints ---------------------------------------------------------------------
    def checkpoint(self) -> None:
        self.run.save_checkpoint({
            "update": self.update,
            # cloned: a stacked run's parameters are views, and saving a view saves its whole stack
            "model": {key: value.clone() for key, value in self.model.state_dict().items()},
            "engine": self.engine.state_dict(),
            "probe": self.probe.state_dict() if self.probe else None,
            "window": [self.window.total, self.window.count],
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
        })

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint; one that does not fit this run's configuration (its
        widths edited in config.json, say) or misses a part is one line."""
        checkpoint = self.run.path / "checkpoint.pt"
        try:
            self.model.load_state_dict(state["model"])
            self.engine.load_state_dict(state["engine"])
            if self.probe and state["probe"]:
                self.probe.load_state_dict(state["probe"])
            self.update, self.window = int(state["update"]), RunningMean(*state["window"])
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
            telling = next((line for line in lines if line.startswith(("size mismatch", "Missing key", "Unexpected"))),
                           lines[0] if lines else type(error).__name__)
            raise DepthlabError(f"{checkpoint} does not fit the run's config.json (was either edited?): "
                                f"{telling}") from None
        torch.set_rng_state(state["rng"])
        if state["cuda_rng"] is not None:
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.run.truncate_after(self.update)

    # -- measurements ----------------------------------------------------------------------
    def evaluate(self) -> dict[str, float]:
        row: dict[str, Any] = {"update": self.update}
        for split in ("validation", "test"):
            x, y = getattr(self.dataset, split)
            for key, value in evaluate(self.model, self.cost, x, y, self.device).items():
                row[f"{split}_{key}"] = value
        if self.config.eval_train:  # train_cost is the logging window's mean: this one is train_set_cost
            x, y = self.dataset.train
            n = self.config.eval_size or len(x)
            for key, value in evaluate(self.model, self.cost, x[:n], y[:n], self.device).items():
                row["train_error" if key == "error" else "train_set_cost"] = value
        self.run.append_metrics(row)
        return row

    def measure_probe(self) -> None:
        start = time.perf_counter()
        measure = self.probe.measure(self.update, **self.schedule.measure(self.update))
        self.run.append_probes(measure.rows, measure.histograms)
        self.probe_seconds += time.perf_counter() - start
        if self.config.tensorboard:
            if self.tensorboard is None:
                from depthlab.probe.tensorboard import TensorBoardWriter
                self.tensorboard = TensorBoardWriter(self.run.tensorboard_dir)
            self.tensorboard.write(measure.rows, measure.histograms, measure.update)

    # -- the loop ------------------------------------------------------------------------
    def fit(self) -> RunResult:
        """Train from ``self.update`` to the end; return the result (never raises for a
        diverged or interrupted run: that is recorded in the run directory). The run's
        lock is let go at the end, however it ends."""
        try:
            self.begin()
            batches = self.dataset.train_batches(self.config.batch_size, self.config.seed, start=self.update)
            with stop_on_sigint([self]):
                while self.running:
                    self.before_update()
                    x, y = next(batches)
                    loss = self.engine.step(x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True))
                    self.after_update(loss.item())
            return self.finish()
        except KeyboardInterrupt:  # a Ctrl-C outside the loop's own handling (the first evaluation, say)
            self.abandon()
            raise
        finally:
            self.run.release()

    # The loop's steps, which a stack of networks (depthlab.training.stacked_runs) drives
    # for each of its runs: begin, then before_update / an update / after_update while
    # running, then finish.
    def begin(self) -> None:
        """Record the engine, evaluate at update 0 where due and start the clock."""
        self.run.update_env(engine=self.engine_name, kernel=self.engine.kernel, total_updates=self.total,
                            stack=self.stack)
        self.model.train()
        self.status, self.info = ("running" if self.update < self.total else "completed"), {}
        self.started, self.start_update = time.perf_counter(), self.update
        due = self.update == 0 and evaluates_at_start(self.total, self.config.eval_every)
        self.last_eval = self.evaluate() if due else None
        self.bar = tqdm(total=self.total, initial=self.update, unit="upd", disable=not self.progress,
                        dynamic_ncols=True, mininterval=0.5, leave=False)

    @property
    def running(self) -> bool:
        return self.status == "running"

    def before_update(self) -> None:
        """Probe the network where the schedule says, before the update."""
        if self.probe is not None and self.update in self.schedule:
            self.measure_probe()

    def after_update(self, cost: float) -> None:
        """Book the update just taken on a minibatch of cost ``cost``: a non-finite cost
        ends the run as diverged; log, evaluate and checkpoint where due; end it as
        completed at the last update, or as interrupted (checkpointed) when asked to stop."""
        cfg = self.config
        self.update += 1
        self.bar.update()
        if not math.isfinite(cost):
            self.status, self.info = "diverged", {"diverged_at": self.update, "cost": str(cost)}
            return
        self.window.add(cost)
        if self.update % cfg.log_every == 0:
            self.run.append_metrics({"update": self.update, "train_cost": self.window.mean})
            self.window = RunningMean()
        if self.update % cfg.eval_every == 0 or self.update == self.total:
            self.last_eval = self.evaluate()
            shown = f"validation_{self.cost.measure}"
            self.bar.set_postfix({shown: f"{self.last_eval[shown]:.4g}"})
            self.checkpoint()
        for callback in self.callbacks:
            callback(self, self.update)
        if self.update >= self.total:
            self.status = "completed"
        elif self.stop_requested:
            self.status = "interrupted"
            self.checkpoint()

    def finish(self) -> RunResult:
        """Probe the end of a completed run, write its status and final numbers."""
        self.bar.close()
        status, info = self.status, self.info
        if status == "completed" and self.probe is not None and self.update in self.schedule:
            self.measure_probe()
        if self.tensorboard is not None:
            self.tensorboard.close()
        elapsed = time.perf_counter() - self.started
        share = 1 / self.stack["size"] if self.stack else 1.0  # a stacked run: its share of the stack's time
        final = {"status": status, "update": self.update, "engine": self.engine_name,
                 "seconds": round(elapsed * share, 3),
                 **({"probe_seconds": round(self.probe_seconds, 3)} if self.probe is not None else {}),
                 "updates_per_second": round((self.update - self.start_update) / elapsed, 2) if elapsed else None,
                 **info}
        if self.last_eval is not None and status != "diverged":
            final.update({k: v for k, v in self.last_eval.items() if k != "update"})
        measure = f"validation_{self.cost.measure}"
        best = [r[measure] for r in self.run.metrics() if measure in r]
        if best:
            final[f"best_{measure}"] = min(best)
        self.run.set_status(status, update=self.update, **info)
        self.run.write_final(final)
        return RunResult(self.run.path, status, final)

    def abandon(self) -> None:
        """After a Ctrl-C outside the loop's handling: a checkpointed run is interrupted, one
        with nothing to resume is removed (no run is left stuck at "running")."""
        if self.run.has_checkpoint:
            self.run.set_status("interrupted", update=self.update)
        else:
            self.run.discard()


@contextmanager
def stop_on_sigint(trainers: list[Trainer]):
    """A first Ctrl-C asks the loop to stop every run after the current update; a second
    one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if trainers[0].stop_requested:
            raise KeyboardInterrupt
        for trainer in trainers:
            trainer.stop_requested = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _widths(widths: list[int]) -> str:
    """Widths for a message, runs of one width shortened: 1024-1000x5-9."""
    parts, k = [], 0
    while k < len(widths):
        run = next((j for j in range(k, len(widths)) if widths[j] != widths[k]), len(widths)) - k
        parts.append(f"{widths[k]}" + (f"x{run}" if run > 1 else ""))
        k += run
    return "-".join(parts)


def load_data(config: TrainConfig) -> Dataset:
    """The run's data set; with ``eval_size`` only that many validation and test examples."""
    return DATASETS.get(config.dataset).load(config.data_dir, config.download, config.eval_size)


def build_model(config: TrainConfig, dataset: Dataset) -> MLP:
    """The MLP of ``config``, initialized from the run's seed (LSUV on a training batch);
    one that cannot fit in memory is refused before anything is allocated."""
    widths = [dataset.input_dim, *config.hidden_widths, dataset.num_outputs]
    check_fits(f"a network of widths {_widths(widths)}", network_bytes(widths), "choose a smaller --width or --depth")
    torch.manual_seed(config.seed)
    model = MLP(dataset.input_dim, config.hidden_widths, dataset.num_outputs, config.activation,
                batchnorm=config.batchnorm, dropout=config.dropouts)
    data = None
    if config.init == "lsuv":
        size = min(LSUV_BATCH, len(dataset.train[0])) if isinstance(dataset, FixedDataset) else LSUV_BATCH
        data, _ = next(dataset.train_batches(size, config.seed + 1))
    model.initialize(config.init, config.bias_init, data=data)
    return model.to(config.device)


def prepare(config: TrainConfig | dict[str, Any] | None = None, out: str | Path | None = None,
            data: Dataset | None = None, progress: bool = True,
            callbacks: list[Callable[[Trainer, int], None]] | None = None, **overrides: Any) -> Trainer:
    """Validate, load the data, build the model and only then create the run directory,
    so a bad input never leaves a half-made run behind."""
    if config is None or isinstance(config, dict):
        config = from_mapping({**(config or {}), **overrides}, source="arguments")
    elif overrides:
        config = config.replace(**overrides)
    config.validate()
    dataset = data or load_data(config)
    check_targets(COSTS.get(config.cost), dataset)
    if config.eval_train and not isinstance(dataset, FixedDataset):
        raise DepthlabError(f"--eval-train needs a finite training set; {dataset.name} is an unlimited stream")
    total_updates(config, dataset)
    model = build_model(config, dataset)
    path = Path(out or default_run_dir(config))
    run = RunDir.create(path, config, environment(config.seed, config.device),
                        Network(tuple(dataset.input_shape), tuple(model.widths)))
    try:
        return Trainer(config, dataset, model, run, progress=progress, callbacks=callbacks)
    except BaseException:  # a bad input or a Ctrl-C while setting up: leave no half-made run
        run.discard()
        raise


def train(config: TrainConfig | dict[str, Any] | None = None, out: str | Path | None = None,
          data: Dataset | None = None, progress: bool = True,
          callbacks: list[Callable[[Trainer, int], None]] | None = None, **overrides: Any) -> RunResult:
    """Train one network and return its :class:`RunResult` (its run directory, status and
    final numbers). The run is ``config`` (a :class:`~depthlab.config.TrainConfig`, or a
    mapping of its keys) with ``overrides``; ``data`` is a loaded data set to use instead of
    the config's; ``callbacks(trainer, update)`` run after every update.

    >>> result = train(dataset="shapeset", depth=2, width=100, updates=500, out="runs/demo")  # doctest: +SKIP
    """
    return prepare(config, out, data, progress, callbacks, **overrides).fit()


def resume(path: str | Path, progress: bool = True, data: Dataset | None = None,
           callbacks: list[Callable[[Trainer, int], None]] | None = None, **overrides: Any) -> RunResult:
    """Finish an interrupted run from its last checkpoint, or extend a finished one by
    raising ``updates`` (or ``epochs``); ``eval_every`` and ``probe_every`` may change too.
    The new settings are recorded in the run's configuration."""
    return reopen(path, progress, data, callbacks, **overrides).fit()


def reopen(path: str | Path, progress: bool = True, data: Dataset | None = None,
           callbacks: list[Callable[[Trainer, int], None]] | None = None, **overrides: Any) -> Trainer:
    """The trainer of a stored run restored from its last checkpoint, held and marked
    running, ready to :meth:`~Trainer.fit` (what :func:`resume` does with it)."""
    run = RunDir.open(path).hold()
    try:
        return _reopen(run, progress, data, callbacks, overrides)
    except BaseException:
        run.release()
        raise


def _reopen(run: RunDir, progress: bool, data: Dataset | None, callbacks: list[Callable[[Trainer, int], None]] | None,
            overrides: dict[str, Any]) -> Trainer:
    allowed = {"updates", "epochs", "eval_every", "probe_every"}
    if set(overrides) - allowed:
        flags = lambda names: ", ".join("--" + n.replace("_", "-") for n in sorted(names))  # noqa: E731
        raise DepthlabError(f"--resume can only change {flags(allowed)}, not {flags(set(overrides) - allowed)}")
    if len({"updates", "epochs"} & set(overrides)) == 1:  # a new length replaces the stored one, in either unit
        overrides = {"updates": None, "epochs": None, **overrides}
    config = run.config.replace(**overrides).validate()
    state = run.load_checkpoint()
    status = run.status["status"]
    if status == "diverged":
        raise DepthlabError(f"{run.path} diverged at update {run.status['diverged_at']}: there is nothing to resume")
    dataset = data or load_data(config)
    if total_updates(config, dataset) <= state["update"]:
        done = "is completed" if status == "completed" else "is checkpointed"
        raise DepthlabError(f"{run.path} {done} at update {state['update']}: give --updates above it to train on")
    trainer = Trainer(config, dataset, build_model(config, dataset), run, progress=progress, callbacks=callbacks)
    trainer.restore(state)
    run.write_config(config)
    run.set_status("running", update=trainer.update)
    return trainer

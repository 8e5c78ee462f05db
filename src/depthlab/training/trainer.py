"""The training loop: one config and one seed in, one run directory out.

Online SGD as in Glorot & Bengio (2010), section 2.2: θ ← θ − ε·g with g averaged over a
minibatch (10 by default). At intervals a run logs the training cost, evaluates the
validation and test error, probes the network (depthlab.probe) on a fixed probe set and
checkpoints. A non-finite cost stops the run as ``diverged``; Ctrl-C, SIGTERM or SIGHUP
(:mod:`depthlab.signals`) stops it cleanly between two updates as ``interrupted``, and
:func:`resume` finishes it with the numbers an uninterrupted run gets (also one killed
after its last checkpoint, before its status: resuming then only writes its end).

One :func:`loop` trains K runs at once with one stepper (a lone run is a stack of one,
:class:`depthlab.training.step.StackOfOne`; several are a
:class:`depthlab.training.stacked.StackedSGD`); each run's :class:`Trainer` keeps its
books. The costs stay on the device until a run's books need them: at its log rows,
evaluations, probes, checkpoints and end, where the loop reads all of them at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
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
from depthlab.signals import StopRequest, stop_requests
from depthlab.store.run import Network, RunDir, Status, environment
from depthlab.training.costs import COSTS, Cost
from depthlab.training.graphs import graphed
from depthlab.training.schedule import ProbeSchedule, evaluates_at_start
from depthlab.training.step import RunStep, StackOfOne, Stepper, make_step

DEFAULT_UPDATES = 10_000
EVAL_BATCH = 1000
LSUV_BATCH = 500
STATUS_SECONDS = 2.0
"""How often a training run's status.json is brought up to the update it reached (what a
grid's progress bar reads from another process)."""


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
    status: Status
    final: dict[str, Any]
    stopped_by: int | None = None
    """The signal that stopped an interrupted run (SIGINT, SIGTERM or SIGHUP)."""

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
    labels, in eval mode, in batches: ``{"error": …, "cost": …}``. The sums stay on
    ``device`` (the cost's in float64, as a Python float would sum it) and are read once,
    at the end; data held there already is not copied."""
    if len(x) == 0:
        raise DepthlabError("the validation or test set is empty: nothing to evaluate on")
    was_training = model.training
    model.eval()
    sums = torch.zeros(2, dtype=torch.float64 if torch.device(device).type != "mps" else torch.float32,
                       device=device)  # the cost's, the errors'
    for i in range(0, len(x), EVAL_BATCH):
        xb, yb = x[i:i + EVAL_BATCH].to(device), y[i:i + EVAL_BATCH].to(device)
        z = model(xb)
        if not cost.regression:
            sums[1] += (z.argmax(1) != yb).sum()
        sums[0] += cost.loss(z, yb).to(sums.dtype) * len(xb)
    model.train(was_training)
    total_cost, errors = sums.tolist()
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
    """One run's books: it trains ``model`` on ``dataset`` under ``config``, writing into
    ``run``, with ``stepper`` (:func:`depthlab.training.step.make_step`'s, or its member
    of a stack, whose size and runs ``stack`` gives). It keeps the logging window, the
    evaluation, probe and checkpoint schedules, the status and the final numbers;
    :func:`loop` takes the updates and hands it their costs.
    ``callbacks(trainer, update)`` run after every update."""

    def __init__(self, config: TrainConfig, dataset: Dataset, model: nn.Module, run: RunDir, stepper: RunStep,
                 progress: bool = True, callbacks: list[Callable[[Trainer, int], None]] | None = None,
                 stack: dict[str, Any] | None = None):
        self.config, self.dataset, self.model, self.run, self.stepper = config, dataset, model, run, stepper
        self.device = torch.device(config.device)
        self.cost = COSTS.get(config.cost)
        self.stack = stack  # the stack this run trains in, for env.json (None: alone)
        self.total = total_updates(config, dataset)
        self.progress = progress
        self.callbacks = callbacks or []
        self.update = self.start_update = 0
        self.window = RunningMean()
        self.status, self.info = Status.RUNNING, {}
        self.started = 0.0
        self.last_eval: dict[str, float] | None = None
        self.stopped_by: int | None = None  # the signal that interrupted the run
        self.schedule = ProbeSchedule(self.total, config.probe_every)
        self.probe = None
        self.probe_seconds = 0.0
        self.tensorboard = None
        if config.probe:
            x, y = dataset.test
            n = min(config.probe_size, len(x))
            self.probe = Probe(model, x[:n].to(self.device), y[:n].to(self.device), self.cost.loss,
                               jacobian_examples=config.jacobian_examples, layer_names="positions",
                               stats=config.probe_stats)

    # -- checkpoints ---------------------------------------------------------------------
    def checkpoint(self) -> None:
        self.run.save_checkpoint({
            "update": self.update,
            # cloned: a stacked run's parameters are views, and saving a view saves its whole stack
            "model": {key: value.clone() for key, value in self.model.state_dict().items()},
            "step": self.stepper.state_dict(),
            "probe": self.probe.state_dict() if self.probe else None,
            "window": [self.window.total, self.window.count],
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
        })

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint; one that does not fit this run's configuration (its
        widths edited in config.json, say) or misses a part is one line."""
        try:
            self.model.load_state_dict(state["model"])
            self.stepper.load_state_dict(state["step" if "step" in state else "engine"])  # "engine": an older run's
            if self.probe and state["probe"]:
                self.probe.load_state_dict(state["probe"])
            self.update, self.window = int(state["update"]), RunningMean(*state["window"])
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
            telling = next((line for line in lines if line.startswith(("size mismatch", "Missing key", "Unexpected"))),
                           lines[0] if lines else type(error).__name__)
            raise DepthlabError(f"{self.run.checkpoint_path} does not fit the run's config.json (was either edited?): "
                                f"{telling}") from None
        torch.set_rng_state(state["rng"])
        if state["cuda_rng"] is not None:
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.run.truncate_after(self.update)
        self.last_eval = last_evaluation(self.run.metrics())

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

    # -- training --------------------------------------------------------------------------
    def fit(self) -> RunResult:
        """Train from ``self.update`` to the end, alone; return the result (never raises
        for a diverged or interrupted run: that is recorded in the run directory). The
        run's lock is let go at the end, however it ends."""
        batches = self.dataset.train_batches(self.config.batch_size, self.config.seed, start=self.update)
        return loop([self], StackOfOne(self.stepper), batches, self.progress)[0]

    # What the loop asks of a run's books: begin; then, while running, the updates to its
    # next boundary and the booking of the costs of the updates taken; then finish.
    def begin(self, no_graphs: str | None) -> None:
        """Record the step (and why its updates replay no CUDA graph, ``no_graphs``; None
        when they do), evaluate at update 0 where due, start the clock and probe before the
        first update where the schedule says."""
        self.run.record_step(self.stepper.name, self.stepper.kernel, self.total, self.stack, no_graphs)
        self.model.train()
        self.status = Status.RUNNING if self.update < self.total else Status.COMPLETED
        self.started, self.start_update = time.perf_counter(), self.update
        if self.update == 0 and evaluates_at_start(self.total, self.config.eval_every):
            self.last_eval = self.evaluate()
        self._probe_if_due()

    @property
    def running(self) -> bool:
        return self.status == Status.RUNNING

    def updates_to_boundary(self) -> int:
        """Updates until the next one after which the books need the costs: a log row,
        an evaluation and checkpoint, a probe or the last update (every update when
        callbacks watch)."""
        update, cfg = self.update, self.config
        if self.callbacks:
            return 1
        boundary = min(self.total, (update // cfg.log_every + 1) * cfg.log_every,
                       (update // cfg.eval_every + 1) * cfg.eval_every)
        if self.probe is not None:
            boundary = min(boundary, self.schedule.after(update) or self.total)
        return boundary - update

    def book(self, costs: list[float], stop: StopRequest) -> None:
        """Book the updates just taken on minibatches of costs ``costs``, up to a boundary
        at most: the first non-finite cost ends the run as diverged at its update (what
        came after it is not recorded); log where due; at the last one, evaluate and
        checkpoint where due, end the run as completed at its last update or as
        interrupted (checkpointed) when a signal asked to ``stop``, or probe where due."""
        cfg = self.config
        for cost in costs:
            self.update += 1
            if not math.isfinite(cost):
                self.status, self.info = Status.DIVERGED, {"diverged_at": self.update, "cost": str(cost)}
                return
            self.window.add(cost)
            if self.update % cfg.log_every == 0:
                self.run.append_metrics({"update": self.update, "train_cost": self.window.mean})
                self.window = RunningMean()
        if self.update % cfg.eval_every == 0 or self.update == self.total:
            self.last_eval = self.evaluate()
            self.checkpoint()
        for callback in self.callbacks:
            callback(self, self.update)
        if self.update >= self.total:
            self.status = Status.COMPLETED
        elif stop.requested:
            self.status, self.stopped_by = Status.INTERRUPTED, stop.signum
            self.checkpoint()
        else:
            self._probe_if_due()

    def _probe_if_due(self) -> None:
        if self.running and self.probe is not None and self.update in self.schedule:
            self.measure_probe()

    def finish(self, sharing: int = 1) -> RunResult:
        """Probe the end of a completed run, write its status and final numbers (its
        seconds: its share of the time the loop spent on ``sharing`` runs at once)."""
        status, info = self.status, self.info
        if status == Status.COMPLETED and self.probe is not None and self.update in self.schedule:
            self.measure_probe()
        if self.tensorboard is not None:
            self.tensorboard.close()
        elapsed = time.perf_counter() - self.started
        final = {"status": status, "update": self.update, "step": self.stepper.name,
                 "seconds": round(elapsed / sharing, 3),
                 **({"probe_seconds": round(self.probe_seconds, 3)} if self.probe is not None else {}),
                 "updates_per_second": round((self.update - self.start_update) / elapsed, 2) if elapsed else None,
                 **info}
        if self.last_eval is not None and status != Status.DIVERGED:
            final.update({k: v for k, v in self.last_eval.items() if k != "update"})
        measure = f"validation_{self.cost.measure}"
        best = [r[measure] for r in self.run.metrics() if measure in r]
        if best:
            final[f"best_{measure}"] = min(best)
        # final.json first: a status that says the run ended always has its numbers beside it
        self.run.write_final(final)
        self.run.set_status(status, update=self.update, **info)
        return RunResult(self.run.path, status, final, self.stopped_by)

    def abandon(self) -> None:
        """After a Ctrl-C outside the loop's handling: a checkpointed run is interrupted, one
        with nothing to resume is removed (no run is left stuck at "running")."""
        if self.run.has_checkpoint:
            self.run.set_status(Status.INTERRUPTED, update=self.update)
        else:
            self.run.discard()


def loop(books: list[Trainer], stepper: Stepper, batches: Iterator[tuple[Tensor, Tensor]], progress: bool = True,
         name: str | None = None) -> list[RunResult]:
    """Train the K runs of ``books`` to their ends at once and return their results.
    ``batches`` gives each update's minibatch of every run; ``stepper.step(x, y)`` takes
    the update of every run and returns their costs, (K,), left on the device;
    ``stepper.freeze(k)`` stops updating run k once it ended. The costs are read at the
    first boundary any run's books have (:meth:`Trainer.updates_to_boundary`), or at once
    when a signal asks every run to stop. Every :data:`STATUS_SECONDS` each running run's
    status.json is brought to the update it reached (costs pending included: a run that
    turns out diverged among them says so at its end). On a CUDA device the updates replay
    a CUDA graph where the stepper can be captured and the runs' ``graphs`` setting allows
    (:func:`depthlab.training.graphs.graphed`). The runs' locks are let go at the end."""
    results: dict[int, RunResult] = {}
    device = books[0].device
    stepper, no_graphs = graphed(stepper, device, books[0].config.graphs)
    bar = tqdm(total=max(b.total for b in books), initial=min(b.update for b in books), unit="upd",
               disable=not progress, dynamic_ncols=True, mininterval=0.5, leave=False, desc=name)
    try:
        for book in books:
            book.begin(no_graphs)
        live = _settle(books, range(len(books)), stepper, results)
        left = min((books[k].updates_to_boundary() for k in live), default=0)
        pending: list[Tensor] = []
        status_due = time.monotonic() + STATUS_SECONDS
        with stop_requests() as stop:
            while live:
                x, y = next(batches)
                pending.append(stepper.step(to_device(x, device), to_device(y, device)))
                left -= 1
                if time.monotonic() >= status_due:  # the update reached, for whoever watches the run
                    for k in live:
                        books[k].run.set_status(Status.RUNNING, update=books[k].update + len(pending))
                    status_due = time.monotonic() + STATUS_SECONDS
                if left == 0 or stop.requested:
                    costs = read_costs(pending)
                    for k in live:
                        books[k].book(costs[k], stop)
                    bar.update(len(pending))
                    pending.clear()
                    if len(books) == 1 and books[0].last_eval is not None:
                        shown = f"validation_{books[0].cost.measure}"
                        bar.set_postfix({shown: f"{books[0].last_eval[shown]:.4g}"}, refresh=False)
                    live = _settle(books, live, stepper, results)
                    left = min((books[k].updates_to_boundary() for k in live), default=0)
        return [results[k] for k in range(len(books))]
    except KeyboardInterrupt:  # a second Ctrl-C, or one outside the loop's handling (the first evaluation, say)
        for k, book in enumerate(books):
            if k not in results:
                book.abandon()
        raise
    finally:
        bar.close()
        for book in books:
            book.run.release()


def to_device(t: Tensor, device: torch.device) -> Tensor:
    """``t`` on ``device`` without the host waiting for the copy: a CPU tensor bound for a
    GPU goes through pinned memory (a copy from pageable memory blocks the host until it is
    done, whatever ``non_blocking`` says)."""
    if t.device == device:
        return t
    if t.device.type == "cpu" and device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def last_evaluation(metrics: list[dict[str, Any]]) -> dict[str, float] | None:
    """The last evaluation row of ``metrics`` (the one with validation numbers), or None."""
    return next((row for row in reversed(metrics) if any(key.startswith("validation_") for key in row)), None)


def read_costs(pending: list[Tensor]) -> list[tuple[float, ...]]:
    """The costs of the updates taken since the last boundary, a tuple per run: the loop's
    one read from the device."""
    return list(zip(*torch.stack(pending).tolist()))


def _settle(books: list[Trainer], live: Iterable[int], stepper: Stepper, results: dict[int, RunResult]) -> list[int]:
    """Finish the runs of ``live`` that ended (their slices frozen); return the others."""
    still = []
    for k in live:
        if books[k].running:
            still.append(k)
        else:
            stepper.freeze(k)
            results[k] = books[k].finish(len(books))
    return still


def _widths(widths: list[int]) -> str:
    """Widths for a message, runs of one width shortened: 1024-1000x5-9."""
    parts, k = [], 0
    while k < len(widths):
        run = next((j for j in range(k, len(widths)) if widths[j] != widths[k]), len(widths)) - k
        parts.append(f"{widths[k]}" + (f"x{run}" if run > 1 else ""))
        k += run
    return "-".join(parts)


def load_data(config: TrainConfig) -> Dataset:
    """The run's data set, held on the run's device; with ``eval_size`` only that many
    validation and test examples."""
    return DATASETS.get(config.dataset).load(config.data_dir, config.download, config.eval_size).to(config.device)


def check_run(config: TrainConfig, dataset: Dataset) -> None:
    """What a new run of the validated ``config`` needs of its loaded ``dataset``, checked
    before anything is built: targets its cost fits, a training set holding a batch (and
    finite for --eval-train), and a network that fits in memory."""
    check_targets(COSTS.get(config.cost), dataset)
    if config.eval_train and not isinstance(dataset, FixedDataset):
        raise DepthlabError(f"--eval-train needs a finite training set; {dataset.name} is an unlimited stream")
    total_updates(config, dataset)
    check_network(config, dataset)


def check_network(config: TrainConfig, dataset: Dataset) -> None:
    """Refuse, before anything is allocated, a network that cannot fit in memory."""
    widths = [dataset.input_dim, *config.hidden_widths, dataset.num_outputs]
    check_fits(f"a network of widths {_widths(widths)}", network_bytes(widths), "choose a smaller --width or --depth")


def build_model(config: TrainConfig, dataset: Dataset) -> MLP:
    """The MLP of ``config``, initialized from the run's seed (LSUV on a training batch);
    one that cannot fit in memory is refused before anything is allocated."""
    check_network(config, dataset)
    torch.manual_seed(config.seed)
    model = MLP(dataset.input_dim, config.hidden_widths, dataset.num_outputs, config.activation,
                batchnorm=config.batchnorm, dropout=config.dropouts)
    data = None
    if config.init == "lsuv":
        size = min(LSUV_BATCH, len(dataset.train[0])) if isinstance(dataset, FixedDataset) else LSUV_BATCH
        data = next(dataset.train_batches(size, config.seed + 1))[0].cpu()  # the network is built on the CPU
    model.initialize(config.init, config.bias_init, data=data)
    return model.to(config.device)


@dataclass
class OpenRun:
    """A run made or reopened, held, not yet training: its validated config, data, model,
    directory, and the checkpoint it resumes from (None for a new run)."""

    config: TrainConfig
    dataset: Dataset
    model: nn.Module
    run: RunDir
    state: dict[str, Any] | None = None

    @property
    def cost(self) -> Cost:
        return COSTS.get(self.config.cost)

    def books(self, stepper: Callable[[], RunStep], progress: bool = True,
              callbacks: list[Callable[[Trainer, int], None]] | None = None,
              stack: dict[str, Any] | None = None) -> Trainer:
        """The run's :class:`Trainer` with the stepper ``stepper()`` makes, restored and
        marked running when it resumes; on a bad input or a Ctrl-C the run is given up
        (:meth:`close`)."""
        try:
            trainer = Trainer(self.config, self.dataset, self.model, self.run, stepper(), progress, callbacks, stack)
            if self.state is not None:
                trainer.restore(self.state)
                self.run.write_config(self.config)
                self.run.set_status(Status.RUNNING, update=trainer.update)
            return trainer
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Give the run up before it trained: a new one leaves no half-made run, a stored
        one is left as it was."""
        if self.state is None:
            self.run.discard()
        else:
            self.run.release()


def create(config: TrainConfig | dict[str, Any] | None = None, out: str | Path | None = None,
           data: Dataset | None = None, **overrides: Any) -> OpenRun:
    """Validate, load the data, build the model and only then create the run directory,
    so a bad input never leaves a half-made run behind."""
    if config is None or isinstance(config, dict):
        config = from_mapping({**(config or {}), **overrides}, source="arguments")
    elif overrides:
        config = config.replace(**overrides)
    config.validate()
    dataset = data or load_data(config)
    check_run(config, dataset)
    model = build_model(config, dataset)
    path = Path(out or default_run_dir(config))
    run = RunDir.create(path, config, environment(config.seed, config.device),
                        Network(tuple(dataset.input_shape), tuple(model.widths)))
    return OpenRun(config, dataset, model, run)


def open_stored(path: str | Path, data: Dataset | None = None, **overrides: Any) -> OpenRun:
    """A stored run, held, with its model built and its last checkpoint read, ready to
    resume; ``overrides`` may raise ``updates`` (or ``epochs``) and change ``eval_every``
    and ``probe_every``."""
    run = RunDir.open(path).hold()
    try:
        return _open_stored(run, data, overrides)
    except BaseException:
        run.release()
        raise


def _open_stored(run: RunDir, data: Dataset | None, overrides: dict[str, Any]) -> OpenRun:
    allowed = {"updates", "epochs", "eval_every", "probe_every"}
    if set(overrides) - allowed:
        flags = lambda names: ", ".join("--" + n.replace("_", "-") for n in sorted(names))  # noqa: E731
        raise DepthlabError(f"--resume can only change {flags(allowed)}, not {flags(set(overrides) - allowed)}")
    if len({"updates", "epochs"} & set(overrides)) == 1:  # a new length replaces the stored one, in either unit
        overrides = {"updates": None, "epochs": None, **overrides}
    config = run.config.replace(**overrides).validate()
    run.check_files()  # a damaged file: one line now, not after training
    state = run.load_checkpoint()
    status = run.status["status"]
    if status == Status.DIVERGED:
        raise DepthlabError(f"{run.path} diverged at update {run.status['diverged_at']}: there is nothing to resume")
    dataset = data or load_data(config)
    total = total_updates(config, dataset)
    # checkpointed at its last update but stopped before its status and final numbers were
    # written (killed in Trainer.finish): resuming finishes it, training nothing
    ended = status == Status.COMPLETED and run.final is not None
    if total < state["update"] or (total == state["update"] and ended):
        done = "is completed" if status == Status.COMPLETED else "is checkpointed"
        raise DepthlabError(f"{run.path} {done} at update {state['update']}: give --updates above it to train on")
    return OpenRun(config, dataset, build_model(config, dataset), run, state)


def _alone(opened: OpenRun, progress: bool, callbacks: list[Callable[[Trainer, int], None]] | None) -> Trainer:
    return opened.books(lambda: make_step(opened.config, opened.model, opened.cost), progress, callbacks)


def prepare(config: TrainConfig | dict[str, Any] | None = None, out: str | Path | None = None,
            data: Dataset | None = None, progress: bool = True,
            callbacks: list[Callable[[Trainer, int], None]] | None = None, **overrides: Any) -> Trainer:
    """The :class:`Trainer` of a new run (:func:`create`), ready to :meth:`~Trainer.fit`."""
    return _alone(create(config, out, data, **overrides), progress, callbacks)


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
    return _alone(open_stored(path, data, **overrides), progress, callbacks)

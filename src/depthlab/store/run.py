"""A run directory: everything one run wrote, readable without the code that wrote it.

    config.json    the resolved configuration (read back as a TrainConfig)
    probe.json     instead of config.json, for a run a user's own loop wrote through
                   Probe.log_to: the model, the facts given (a learning rate), and each
                   probed layer's module, kind and activation
    network.json   the network's shape: one example's input shape, the layer widths, and
                   its hidden layers' activation (checked against config.json on opening)
    env.json       versions, seed, device, threads, start time; the step (fused or
                   autograd), its kernel and the stack it trained in (null: alone)
    status.json    running | completed | diverged | interrupted, with the update reached
    metrics.jsonl  one JSON object per line: the training cost (train_cost, the mean over
                   the logging window), validation and test cost and error (a regression
                   has no error), and with eval_train the training set's train_error and
                   train_set_cost
    probes.jsonl   per-layer probe statistics (see depthlab.store.probes)
    final.json     the final numbers (written when the run stops)
    checkpoint.pt  model, optimizer and progress, for --resume
    tensorboard/   TensorBoard event files, when asked for
    report/        where ``depthlab inspect`` writes the run's report by default

This module is the only one that names these files. Only the run itself writes into its
directory; JSON files are replaced atomically, JSONL files appended line by line.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from depthlab import __version__
from depthlab.config import StepName, TrainConfig, from_mapping
from depthlab.errors import DepthlabError
from depthlab.registry import Choice
from depthlab.store.files import (
    append_jsonl,
    check_record,
    read_json,
    read_jsonl,
    read_object,
    replace_durably,
    rewrite_jsonl,
    stored_name,
    write_json,
)
from depthlab.store.lock import LOCK, FolderLock
from depthlab.store.probes import ProbeLog, append_measure, read_measures, read_records



class Status(Choice, kind="run status"):
    """Where a run stands (status.json): training, or stopped for one of three reasons."""

    RUNNING = "running"
    COMPLETED = "completed"
    DIVERGED = "diverged"
    INTERRUPTED = "interrupted"

CONFIG, NETWORK, ENV, STATUS, FINAL = "config.json", "network.json", "env.json", "status.json", "final.json"
PROBE_FACTS = "probe.json"
METRICS, PROBES, CHECKPOINT, TENSORBOARD = "metrics.jsonl", "probes.jsonl", "checkpoint.pt", "tensorboard"
REPORT = "report"
TEXTS = ("status", "step", "engine", "cost")
"""The keys of status.json and final.json whose values are strings (a diverged run's
cost: "nan" or "inf"); every other value there is a number or null."""
TRAIN_FILES = frozenset({CONFIG, NETWORK, ENV, STATUS, METRICS, PROBES, TENSORBOARD})
"""What ``depthlab train`` writes into a run before its first checkpoint: the only names
:meth:`RunDir.died_before_checkpoint` recognizes and the only ones a clearing removes."""


def recorded_step(record: dict[str, Any]) -> str | None:
    """The step a run's env.json or final.json records: its "step", or an older run's
    "engine" ("stacked" then: the fused step's rules, in a stack)."""
    step = record.get("step", record.get("engine"))
    return StepName.FUSED if step == "stacked" else step


@dataclass(frozen=True)
class Network:
    """The shape of a run's network: ``input_shape`` of one example, and ``widths``
    n_0 (the flattened input), n_1 … n_L (the hidden layers), n_{L+1} (the classes)."""

    input_shape: tuple[int, ...]
    widths: tuple[int, ...]

    @property
    def hidden(self) -> tuple[int, ...]:
        return self.widths[1:-1]


def environment(seed: int, device: str) -> dict[str, Any]:
    """What produced the numbers: versions, machine, seed and device."""
    import numpy  # here: reading a run directory needs neither
    import torch

    return {
        "depthlab": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "seed": seed,
        "device": device,
        "cuda_device": torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else None,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(sys.argv),
    }


class RunDir:
    """Reads and writes one run directory. A process writing it holds its lock
    (:meth:`hold`, :class:`~depthlab.store.lock.FolderLock`), so two never write one run."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = FolderLock(self.path, "run directory")
        self.created_folder = False

    def hold(self) -> RunDir:
        """Lock the run for this process, or raise one line naming the process holding it."""
        self._lock.acquire()
        return self

    def release(self) -> None:
        self._lock.release()

    @classmethod
    def _made_empty(cls, path: str | Path, hint: str, clear_dead: bool = False) -> RunDir:
        """A new run directory, locked: refuse one that holds anything but a lock file or,
        with ``clear_dead`` (a new depthlab train run), the remains of a train run that died
        before its first checkpoint (nothing to resume there: they are cleared)."""
        run = cls(path)
        run.created_folder = not run.path.exists()
        if run.path.exists() and not run.path.is_dir():
            raise DepthlabError(f"run directory {run.path} is a file, not a folder; {hint}")
        try:
            run.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:  # a file on the way, a read-only or missing mount
            raise DepthlabError(f"cannot make run directory {run.path}: {error.strerror or error}; {hint}") from None
        run.hold()
        if clear_dead and run.died_before_checkpoint:
            run._remove_files()
        if any(item.name != LOCK for item in run.path.iterdir()):
            run.release()
            raise DepthlabError(f"run directory {run.path} already exists and is not empty; {hint}")
        return run

    @property
    def died_before_checkpoint(self) -> bool:
        """Whether the folder holds the remains of a ``depthlab train`` run that died
        before its first checkpoint: a config.json depthlab reads as its own (or the
        temporary file it was writing it through), nothing but the files
        :data:`TRAIN_FILES` names and temporary files of those and of the checkpoint,
        and no status or a running one. A run a user's loop wrote (probe.json), a
        config.json of the user's own or any other file never qualifies."""
        names = {item.name for item in self.path.iterdir()} - {LOCK}
        if self.has_checkpoint or any(stored_name(name) not in TRAIN_FILES | {CHECKPOINT} for name in names):
            return False
        try:
            if CONFIG in names:
                self.config  # noqa: B018 - read for its checks: depthlab's own configuration
            elif not any(stored_name(name) == CONFIG for name in names):
                return False
        except DepthlabError:
            return False
        try:
            return not self.exists or self.status["status"] == Status.RUNNING
        except DepthlabError:  # a status.json cut short while it was first written
            return True

    def _remove_files(self) -> None:
        """Remove what depthlab train wrote here (:data:`TRAIN_FILES`, and temporary files
        of those and of the checkpoint), nothing else."""
        for item in self.path.iterdir():
            if stored_name(item.name) in TRAIN_FILES or stored_name(item.name) == CHECKPOINT != item.name:
                shutil.rmtree(item) if item.is_dir() else item.unlink()

    def discard(self) -> None:
        """Remove a run that never reached its first checkpoint: its files, and its folder
        if this run made it (and nothing else is in it)."""
        self._remove_files()
        self.release()
        (self.path / LOCK).unlink(missing_ok=True)
        if self.created_folder and not any(self.path.iterdir()):
            self.path.rmdir()

    @classmethod
    def create(cls, path: str | Path, config: TrainConfig, env: dict[str, Any], network: Network) -> RunDir:
        """Make a new run directory, held by this process; refuse one that already holds anything."""
        run = cls._made_empty(path, "choose another --out or --resume it", clear_dead=True)
        run.write_config(config)
        write_json(run.path / NETWORK, {"input_shape": list(network.input_shape), "widths": list(network.widths),
                                        "activation": config.activation})
        write_json(run.path / ENV, env)
        run.set_status(Status.RUNNING, update=0)
        return run

    @classmethod
    def create_for_probe(cls, path: str | Path, facts: dict[str, Any]) -> RunDir:
        """Make a run directory for a user's own training loop (``Probe.log_to``): ``facts``
        (the model, a learning rate, its layers) go to probe.json."""
        run = cls._made_empty(path, "choose another path")
        run.write_probe_facts(facts)
        run.set_status(Status.RUNNING, update=0)
        return run

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        """An existing run directory: one line if it is not one, or if its network.json
        does not match its config.json."""
        run = cls(path)
        if not (run.path / CONFIG).is_file() and not (run.path / PROBE_FACTS).is_file():
            raise DepthlabError(f"{run.path} is not a run directory written by depthlab train (no {CONFIG}) "
                                f"or by Probe.log_to (no {PROBE_FACTS})")
        if not (run.path / STATUS).is_file():
            raise DepthlabError(f"{run.path} is not a run directory written by depthlab train (no {STATUS})")
        run.network  # noqa: B018 (checked against config.json)
        return run

    # -- reading -------------------------------------------------------------------------
    @property
    def exists(self) -> bool:
        """Whether the run was made (its status is recorded)."""
        return (self.path / STATUS).is_file()

    @property
    def made_by_probe(self) -> bool:
        """Whether a user's own loop wrote the run (through ``Probe.log_to``)."""
        return not (self.path / CONFIG).is_file() and (self.path / PROBE_FACTS).is_file()

    @property
    def config(self) -> TrainConfig:
        if self.made_by_probe:
            raise DepthlabError(f"{self.path} was written by a user's loop (Probe.log_to): it has no depthlab "
                                "configuration")
        values = read_object(self.path / CONFIG)
        if "engine" in values and "step" not in values:  # written before the key was renamed
            values["step"] = values.pop("engine")
        return from_mapping(values, source=str(self.path / CONFIG))

    @property
    def probe_facts(self) -> dict[str, Any]:
        """probe.json: {"model", "lr" (or None), "layers": [{"layer", "module", "kind",
        "activation"}]} of a run a user's loop wrote."""
        facts = read_json(self.path / PROBE_FACTS)
        where = self.path / PROBE_FACTS
        if not isinstance(facts, dict) or not isinstance(facts.get("layers", []), list):
            raise DepthlabError(f"{where}: not a probe record (it needs \"layers\": a list)")
        for k, layer in enumerate(facts.setdefault("layers", [])):
            if not (isinstance(layer, dict) and isinstance(layer.get("layer"), str)):
                raise DepthlabError(f"{where}: layer {k} needs a \"layer\" name (with \"activation\": a name or "
                                    f"null), not {layer!r}")
            layer.setdefault("activation", None)
        if facts.get("lr") is not None and not isinstance(facts["lr"], (int, float)):
            raise DepthlabError(f"{where}: \"lr\" must be a number or null, not {facts['lr']!r}")
        return facts

    @property
    def network(self) -> Network | None:
        """The network's shape (None for a run made before depthlab recorded it), checked
        against itself (the input width is the input shape's size) and against the run's
        config.json (its hidden widths, and its activation where recorded)."""
        if not (self.path / NETWORK).is_file():
            return None
        where = self.path / NETWORK
        shape = read_object(where)
        sizes = [shape.get("input_shape"), shape.get("widths")]
        if not all(isinstance(s, list) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in s)
                   for s in sizes) or len(sizes[1]) < 2:
            raise DepthlabError(f"{where} does not hold \"input_shape\" and \"widths\" lists of whole "
                                "numbers; it was damaged or edited by hand")
        network = Network(tuple(sizes[0]), tuple(sizes[1]))
        if network.widths[0] != math.prod(network.input_shape):
            raise DepthlabError(f"{where}: input width {network.widths[0]} is not the size of input shape "
                                f"{list(network.input_shape)}; it was damaged or edited by hand")
        if self.made_by_probe:
            return network
        config = self.config
        hidden, activation = list(network.hidden), shape.get("activation", config.activation)
        differs = f"{len(hidden)} hidden layers, {CONFIG} {len(config.hidden_widths)}" \
            if len(hidden) != len(config.hidden_widths) else \
            next((f"hidden layer {k} is {a} wide, {CONFIG} says {b}"
                  for k, (a, b) in enumerate(zip(hidden, config.hidden_widths), start=1) if a != b), None) or \
            (f"activation {activation!r}, {CONFIG} {config.activation!r}" if activation != config.activation else None)
        if differs:
            raise DepthlabError(f"{where} does not match the run's {CONFIG}: {differs}; one of them was edited by hand")
        return network

    @property
    def env(self) -> dict[str, Any]:
        return read_object(self.path / ENV)

    @property
    def status(self) -> dict[str, Any]:
        status = read_object(self.path / STATUS)
        if status.get("status") not in Status.names():
            raise DepthlabError(f"{self.path / STATUS} holds status {status.get('status')!r}, not one of "
                                f"{', '.join(Status.names())}; it was damaged or edited by hand")
        return check_record(str(self.path / STATUS), status, TEXTS)

    @property
    def final(self) -> dict[str, Any] | None:
        """final.json's numbers (None before the run stopped): its status, step and a
        diverged run's cost are strings, every other value a number or null."""
        if not (self.path / FINAL).is_file():
            return None
        final = read_object(self.path / FINAL)
        if "status" in final and final["status"] not in Status.names():
            raise DepthlabError(f"{self.path / FINAL} holds status {final.get('status')!r}, not one of "
                                f"{', '.join(Status.names())}; it was damaged or edited by hand")
        return check_record(str(self.path / FINAL), final, TEXTS, needs_update=False)

    def metrics(self) -> list[dict[str, Any]]:
        """metrics.jsonl's rows, each an object with an "update" (a whole number) and
        numbers (or null)."""
        return [check_record(f"{self.path / METRICS}:{number}", row)
                for number, row in enumerate(read_jsonl(self.path / METRICS), start=1)]

    def check_files(self) -> None:
        """Read every file a resumed run reads or extends (status, metrics, probes), so a
        damaged one is one line before anything is trained."""
        self.status, self.metrics()  # noqa: B018 - read for their checks
        read_records(self.path / PROBES)

    def last_update(self) -> int:
        """The last update the run stored anything at: its metrics, probes or status (-1:
        nothing yet; a status at update 0 is where every run starts, not a record)."""
        probes = [row.get("update", row.get("step")) for row in read_jsonl(self.path / PROBES)]
        status = self.status.get("update", 0)
        updates = [*(row["update"] for row in self.metrics()), *probes, *([status] if status else [])]
        return max((u for u in updates if isinstance(u, int) and not isinstance(u, bool)), default=-1)

    def series(self, key: str) -> tuple[list[int], list[float]]:
        """(updates, values) of one metric, e.g. ``series("test_error")``."""
        rows = [r for r in self.metrics() if key in r]
        return [r["update"] for r in rows], [r[key] for r in rows]

    @property
    def has_probes(self) -> bool:
        return (self.path / PROBES).is_file()

    @functools.cached_property
    def probes(self) -> ProbeLog:
        """Every probe measure the run stored (read once per RunDir object; empty without
        probes)."""
        return read_measures(self.path / PROBES)

    @property
    def checkpoint_path(self) -> Path:
        return self.path / CHECKPOINT

    @property
    def has_checkpoint(self) -> bool:
        return self.checkpoint_path.is_file()

    @property
    def tensorboard_dir(self) -> Path:
        return self.path / TENSORBOARD

    @property
    def report_dir(self) -> Path:
        return self.path / REPORT

    def describe(self) -> str:
        """One line on what the run is: its net, learning rate, updates and directory,
        e.g. "5×1000 tanh/normalized, lr 0.01, 30000 updates (lr0.01)"."""
        if self.made_by_probe:
            facts = self.probe_facts
            lr = f", lr {facts['lr']:g}" if facts.get("lr") else ""
            return (f"{facts.get('model', 'a model')} probed by its own loop{lr}, {self.status.get('update', 0)} "
                    f"updates ({self.path.name})")
        config = self.config
        hidden = config.hidden_widths
        shape = f"{len(hidden)}×{hidden[0]}" if len(set(hidden)) == 1 else "-".join(map(str, hidden))
        return (f"{shape} {config.activation}/{config.init}, lr {config.lr:g}, "
                f"{self.status.get('update', 0)} updates ({self.path.name})")

    # -- writing -------------------------------------------------------------------------
    def write_config(self, config: TrainConfig) -> None:
        write_json(self.path / CONFIG, config.to_dict())

    def write_probe_facts(self, facts: dict[str, Any]) -> None:
        write_json(self.path / PROBE_FACTS, facts)

    def set_status(self, status: Status, **info: Any) -> None:
        assert status in Status.names(), status
        write_json(self.path / STATUS, {"status": status, **info})

    def write_final(self, numbers: dict[str, Any]) -> None:
        write_json(self.path / FINAL, numbers)

    def record_step(self, step: str, kernel: str, total_updates: int, stack: dict[str, Any] | None,
                    no_graphs: str | None) -> None:
        """Add to env.json how the run trains: its ``step`` (fused or autograd), the
        ``kernel`` that runs it, its length, the ``stack`` it trains in (None: alone) and
        whether its updates replay a CUDA graph (``graphs``; ``no_graphs``: why not, None
        when they do); an older run's "engine" gives way to "step"."""
        env = {key: value for key, value in self.env.items() if key not in ("engine", "graphs_off")}
        write_json(self.path / ENV, {**env, "step": step, "kernel": kernel, "total_updates": total_updates,
                                     "stack": stack, "graphs": no_graphs is None,
                                     **({"graphs_off": no_graphs} if no_graphs is not None else {})})

    def append_metrics(self, row: dict[str, Any]) -> None:
        append_jsonl(self.path / METRICS, row)

    def append_probes(self, rows: list[dict[str, Any]], histograms: list[dict[str, Any]]) -> None:
        """Append one probe measure (see :mod:`depthlab.store.probes`)."""
        append_measure(self.path / PROBES, rows, histograms)

    def truncate_after(self, update: int) -> None:
        """Drop what was logged after the checkpoint taken at ``update`` (used when
        resuming, so no row is written twice): metrics past ``update``, and probes from
        ``update`` on (the probe at an update is taken after its checkpoint)."""
        if (self.path / METRICS).is_file():
            rewrite_jsonl(self.path / METRICS, [r for r in self.metrics() if r["update"] <= update])
        if self.has_probes:
            rewrite_jsonl(self.path / PROBES, [m for m in read_records(self.path / PROBES) if m["update"] < update])

    def drop_cut_lines(self) -> None:
        """Drop a last line a crash cut short in metrics.jsonl and probes.jsonl (reading
        skips it; appending after it would join it to the next record), before a run is
        continued by appending."""
        for name in (METRICS, PROBES):
            path = self.path / name
            if path.is_file() and path.stat().st_size:
                with open(path, "rb") as f:
                    f.seek(-1, os.SEEK_END)
                    whole = f.read(1) == b"\n"
                if not whole:
                    rewrite_jsonl(path, read_jsonl(path))

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """Write checkpoint.pt whole, removing first what a writer killed mid-checkpoint
        left (a temporary file as large as the checkpoint; the run is held, so no other
        process writes one now)."""
        import torch

        for item in self.path.glob(f"{CHECKPOINT}*.tmp"):
            if stored_name(item.name) == CHECKPOINT:
                item.unlink(missing_ok=True)
        replace_durably(self.path / CHECKPOINT, lambda tmp: torch.save(state, tmp), durable=True)

    def load_checkpoint(self) -> dict[str, Any]:
        import torch

        if not self.has_checkpoint:
            raise DepthlabError(f"{self.path} has no {CHECKPOINT} to resume from")
        try:  # weights_only: tensors and plain containers only, never code
            return torch.load(self.path / CHECKPOINT, weights_only=True)
        except Exception as error:  # noqa: BLE001 - whatever the unpickler says, the file is not ours
            first = (str(error).strip().splitlines() or [""])[0]
            raise DepthlabError(f"{self.path / CHECKPOINT} is not a checkpoint depthlab wrote "
                                f"(only tensors and plain values are read from one): {type(error).__name__}"
                                + (f": {first}" if first else "")) from None

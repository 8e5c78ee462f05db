"""``depthlab train``: train one network into one run directory."""

from __future__ import annotations

import argparse
import signal
import sys

from depthlab.cli.common import Renamed, choices
from depthlab.config import FIELDS, StepName, from_mapping, load_config_file
from depthlab.data.registry import DATASETS
from depthlab.errors import DepthlabError, either
from depthlab.nets.activations import ACTIVATIONS
from depthlab.nets.init import BIAS_INITS, INITS
from depthlab.signals import exit_code
from depthlab.store.run import Status, recorded_step
from depthlab.threads import available_cores, check_threads, using
from depthlab.training.costs import COSTS
from depthlab.training.optim import OPTIMIZERS

EXIT_CODES = {Status.COMPLETED: 0, Status.DIVERGED: 3}
"""The exit status of a run that ended; an interrupted one exits as its signal says
(130 Ctrl-C, 143 SIGTERM, 129 SIGHUP: depthlab.signals)."""


def _widths(text: str) -> list[int]:
    try:
        return [int(w) for w in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of widths, e.g. 1000,500,250") from None


def _rates(text: str) -> float | list[float]:
    try:
        rates = [float(p) for p in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a rate or a comma-separated list of rates, e.g. 0.2,0.5") \
            from None
    return rates[0] if len(rates) == 1 else rates


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train one network and write one run directory",
                       description="Train one deep feedforward network (Glorot & Bengio 2010 setup by default). "
                                   "Flags override the keys of --config.",
                       argument_default=argparse.SUPPRESS)
    p.add_argument("--config", help="TOML or JSON file with the same keys as the flags")
    p.add_argument("--resume", metavar="RUN_DIR", help="finish an interrupted run (may raise --updates)")
    p.add_argument("--out", metavar="RUN_DIR", help="the run directory to create (default: runs/<name>-<time>)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    g = p.add_argument_group("data")
    g.add_argument("--dataset", help=choices(DATASETS))
    g.add_argument("--data-dir", help="where to look for data files first")
    g.add_argument("--download", action="store_true", help="download missing MNIST/CIFAR files")
    g.add_argument("--eval-size", type=int, help="use only this many validation and test examples")
    g = p.add_argument_group("network")
    g.add_argument("--depth", type=int, help="hidden layers (default 5)")
    g.add_argument("--width", type=int, help="units per hidden layer (default 1000)")
    g.add_argument("--widths", type=_widths, help="hidden widths, e.g. 1000,500,250 (overrides depth/width)")
    g.add_argument("--activation", help=choices(ACTIVATIONS))
    g.add_argument("--init", help=choices(INITS))
    g.add_argument("--bias-init", help=choices(BIAS_INITS))
    g.add_argument("--batchnorm", action="store_true", help="batch normalization before each activation")
    g.add_argument("--dropout", type=_rates, metavar="P",
                   help="dropout after each hidden activation: one rate, or one per hidden layer (0.2,0.5)")
    g = p.add_argument_group("training")
    g.add_argument("--cost", help=choices(COSTS))
    g.add_argument("--optimizer", help=choices(OPTIMIZERS))
    g.add_argument("--lr", type=float, help="learning rate (default 0.01)")
    g.add_argument("--momentum", type=float, help="momentum coefficient for momentum/nesterov (default 0.9)")
    g.add_argument("--batch-size", type=int, help="minibatch size (default 10, as in the paper)")
    g.add_argument("--updates", type=int, help=f"number of updates (default {10_000})")
    g.add_argument("--epochs", type=float, help="passes over a finite training set (instead of --updates)")
    g.add_argument("--weight-decay", type=float, help="L2 coefficient λ")
    g.add_argument("--clip-norm", type=float, help="clip the global gradient norm to this value")
    g.add_argument("--step", help=" | ".join(StepName.names()) + " (default auto)")
    g.add_argument("--engine", action=Renamed, now=f"--step: {either(StepName.names())}")
    g.add_argument("--seed", type=int)
    g.add_argument("--device", help="cpu | cuda | cuda:N | mps")
    g.add_argument("--graphs", action=argparse.BooleanOptionalAction,
                   help="replay each update from a CUDA graph (default: on CUDA, where the step can be captured)")
    g.add_argument("--threads", type=int, metavar="N",
                   help=f"CPU threads to train on, 1 to {available_cores()} here (default: torch's, one per core)")
    g = p.add_argument_group("measurement")
    g.add_argument("--eval-every", type=int, help="updates between validation/test evaluations (default 2000)")
    g.add_argument("--eval-train", action="store_true",
                   help="also evaluate on the training set (as many examples as --eval-size), dropout off")
    g.add_argument("--log-every", type=int, help="updates between training-cost log rows (default 100)")
    g.add_argument("--probe-every", type=int, help="updates between probes once past the dense start (default 2000)")
    g.add_argument("--probe-size", type=int, help="probe-set size, taken from the test set (default 300)")
    g.add_argument("--jacobian-examples", type=int, help="probe examples for Jacobian spectra (default 2; 0: none)")
    g.add_argument("--probe-stats", type=_names, metavar="STATS",
                   help="record only these probe statistics, e.g. activation_mean,backprop_grad_std (default all: "
                        "the run report's figures need them)")
    g.add_argument("--no-probe", dest="probe", action="store_false", help="do not probe")
    g.add_argument("--tensorboard", action="store_true", help="also write TensorBoard event files")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    given = {k: v for k, v in vars(args).items() if k in FIELDS}
    progress = not getattr(args, "quiet", False)
    threads = check_threads(getattr(args, "threads", None))
    if getattr(args, "resume", None):
        if getattr(args, "config", None):
            raise DepthlabError("--resume takes its config from the run directory; drop --config")
        from depthlab.training.trainer import resume

        with using(threads):
            result = resume(args.resume, progress=progress, **given)
    else:
        values = load_config_file(args.config) if getattr(args, "config", None) else {}
        config = from_mapping(values, source=getattr(args, "config", "config")).replace(**given).validate()
        # after the flags are checked: torch takes seconds to import
        from depthlab.training.trainer import train

        with using(threads):
            result = train(config, out=getattr(args, "out", None), progress=progress)
    report(result)
    if result.status == Status.INTERRUPTED:
        return exit_code(result.stopped_by or signal.SIGINT)
    return EXIT_CODES[result.status]


def report(result) -> None:
    f = result.final
    if result.status == Status.DIVERGED:
        print(f"diverged at update {f['diverged_at']} (cost {f['cost']}) -> {result.path}")
        return
    measure = COSTS.get(result.run.config.cost).measure
    line = (f"{result.status}: {f['update']} updates ({recorded_step(f)}, {f['updates_per_second']} updates/s), "
            f"validation {measure} {f.get(f'validation_{measure}', float('nan')):.4g}, "
            f"test {measure} {f.get(f'test_{measure}', float('nan')):.4g} -> {result.path}")
    if result.status == Status.INTERRUPTED:
        line += f"  (finish with: depthlab train --resume {result.path})"
    print(line, file=sys.stdout)

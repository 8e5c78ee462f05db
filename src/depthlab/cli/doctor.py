"""``depthlab doctor RUN_DIR``: the doctor (:mod:`depthlab.clinic`) on a run of depthlab's
own: its network rebuilt from the stored config at its initialization (the run's seed),
its optimizer, cost, clipping and training batches; the report in RUN_DIR/doctor."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("doctor", help="try the remedies a run's diagnosis calls for, and say which fix it",
                       description="Rebuild RUN_DIR's network at its initialization from its config, train a short "
                                   "trial of it and of each remedy its diagnosis calls for (a re-initialization, "
                                   "an activation, a normalization layer, a learning rate, gradient clipping) on "
                                   "the same batches, and print which fix it, with the numbers; the HTML report "
                                   "goes to RUN_DIR/doctor (or --out). The run itself is not changed.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by depthlab train")
    p.add_argument("--steps", type=int, default=100, help="updates per trial (default 100)")
    p.add_argument("--seconds", type=float, help="a time budget instead: the baseline trial runs at most "
                                                 "1/(1 + the number of remedies) of it, and every remedy as many "
                                                 "updates as it reached")
    p.add_argument("--out", metavar="DIR", help="where to write doctor.html (default RUN_DIR/doctor)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from depthlab.clinic import doctor
    from depthlab.errors import DepthlabError
    from depthlab.store.run import RunDir
    from depthlab.training.costs import COSTS
    from depthlab.training.optim import OPTIMIZERS
    from depthlab.training.trainer import build_model, load_data

    run_dir = RunDir.open(args.run_dir)
    if run_dir.made_by_probe:
        raise DepthlabError(f"{args.run_dir} was written by a user's training loop (Probe.log_to), which stores no "
                            "network to rebuild: call depthlab.doctor(model, data, loss_fn, optimizer) on the model")
    config = run_dir.config
    if args.seconds is not None and not args.seconds > 0:
        raise DepthlabError(f"--seconds {args.seconds:g} must be positive")
    dataset = load_data(config)
    model = build_model(config, dataset)
    rule = OPTIMIZERS.get(config.optimizer)
    cost = COSTS.get(config.cost)
    batches = dataset.train_batches(config.batch_size, config.seed)
    out = Path(args.out) if args.out else run_dir.path / "doctor"
    doctor(model, batches, cost.loss, lambda params: rule.make(params, config.lr, config.momentum,
                                                               config.weight_decay),
           steps=args.steps, seconds=args.seconds, seed=config.seed, clip_norm=config.clip_norm, out=out,
           progress=args.progress)
    return 0

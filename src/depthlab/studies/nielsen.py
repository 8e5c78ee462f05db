"""Nielsen's vanishing-gradient experiments (Neural Networks and Deep Learning, 2015, ch. 5).

Setup (Nielsen, ch. 3 and 5): networks [784, 30, …, 30, 10] with a sigmoid on every
layer, the output included, and the per-output cross-entropy
C = −Σ_k [t_k ln a_k + (1 − t_k) ln(1 − a_k)] (the ``binary-cross-entropy`` cost); weights
N(0, 1/n_in) (``lecun-normal``), biases N(0, 1); SGD with minibatches of 10, η = 0.1, and
L2 regularization λ = 5.0, i.e. the update w ← (1 − ηλ/n) w − η ∂C/∂w with n the size of
the training set. The depth runs go through the trainer, whose weight decay λ/n also
shrinks the biases (Nielsen leaves them alone): at λ/n = 5/50,000 = 1e-4 a negligible
difference. The full-batch run below decays the weights only, as Nielsen does.

Three measurements:

1. Learning speed at initialization: ‖δ^l‖ = ‖∂C/∂b^l‖ of each hidden layer, C averaged
   over the first 1000 training images, for 2, 3 and 4 hidden layers; the mean over
   ``init_seeds`` networks. Nielsen: [784,30,30,10] → 0.07, 0.31; [784,30,30,30,10] →
   0.012, 0.060, 0.283; [784,30,30,30,30,10] → 0.003, 0.017, 0.070, 0.285.
2. Learning speed during full-batch gradient descent on those 1000 images (η = 0.1,
   λ = 5, n = 1000) for 4 hidden layers: Nielsen finds the first layer about 100× slower
   than the last throughout 500 epochs.
3. Validation accuracy after training 1 to 4 hidden layers (30 epochs): 96.48, 96.90,
   96.57, 96.53 % — deeper is not better.

Nielsen's numbers are for MNIST; without MNIST the study runs on Fashion-MNIST and says so.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from depthlab.config import TrainConfig
from depthlab.data.base import FixedDataset
from depthlab.data.registry import DATASETS, available_datasets
from depthlab.errors import DepthlabError, unknown_choice
from depthlab.probe import Probe
from depthlab.report.html import Figure, Section, Table, Verdict, write_report
from depthlab.report.plotting import layer_color, new_figure, save_figure
from depthlab.report.tables import write_table
from depthlab.store.run import RunDir
from depthlab.studies.runner import RunSpec, run_specs
from depthlab.train.costs import COSTS
from depthlab.train.trainer import build_model

WIDTH = 30
ETA = 0.1
LAMBDA = 5.0
BATCH_SIZE = 10
COST = "binary-cross-entropy"
SPEED_EXAMPLES = 1000
SPEED_DEPTH = 4
DEPTHS = (1, 2, 3, 4)
NIELSEN_DATASETS = ("mnist", "fashion-mnist")

NIELSEN_INIT_SPEED = {2: (0.07, 0.31), 3: (0.012, 0.060, 0.283), 4: (0.003, 0.017, 0.070, 0.285)}
"""‖δ^l‖ per hidden layer at initialization, by number of hidden layers (Nielsen, ch. 5)."""
NIELSEN_TRAINING_RATIO = 100.0
"""How many times slower the first hidden layer learns than the last during training."""
NIELSEN_ACCURACY = {1: 96.48, 2: 96.90, 3: 96.57, 4: 96.53}
"""Validation accuracy (%) on MNIST after 30 epochs, by number of hidden layers."""
NIELSEN_EPOCHS = 30

RATIO_TOLERANCE = 3.0
"""Our training ratio reproduces Nielsen's when its median is within this factor of 100."""
DEPTH_GAIN = 0.3
"""Depth helps when 3 or 4 hidden layers beat the best of 1 and 2 by more than this many
accuracy points."""


@dataclass(frozen=True)
class NielsenBudget:
    """The sizes of one reproduction.

    ``init_seeds``: networks averaged for the learning speed at initialization;
    ``speed_epochs``: full-batch epochs of the learning speed during training (Nielsen: 500);
    ``depth_epochs``: epochs of each depth run (Nielsen: 30);
    ``depth_train_size``, ``depth_eval_size``: training and validation/test images of the
    depth runs (None: the whole split, 50,000 and 10,000).
    """

    init_seeds: int
    speed_epochs: int
    depth_epochs: int
    depth_train_size: int | None
    depth_eval_size: int | None


BUDGETS = {
    "smoke": NielsenBudget(init_seeds=2, speed_epochs=30, depth_epochs=1, depth_train_size=1000, depth_eval_size=500),
    "quick": NielsenBudget(init_seeds=5, speed_epochs=200, depth_epochs=5, depth_train_size=None,
                           depth_eval_size=None),
    "full": NielsenBudget(init_seeds=10, speed_epochs=500, depth_epochs=30, depth_train_size=None,
                          depth_eval_size=None),
}


def nielsen_config(hidden_layers: int, dataset: str, train_size: int, **changes: Any) -> TrainConfig:
    """Nielsen's network and training rule with ``hidden_layers`` hidden layers of 30
    sigmoid units, for a training set of ``train_size`` images (weight decay λ/n)."""
    return TrainConfig(dataset=dataset, widths=[WIDTH] * hidden_layers, activation="sigmoid",
                       init="lecun-normal", bias_init="normal", cost=COST, optimizer="sgd", lr=ETA,
                       batch_size=BATCH_SIZE, weight_decay=LAMBDA / train_size, probe=False, **changes)


def choose_dataset(data_dir: str | None = None) -> str:
    """MNIST when its files are found, else Fashion-MNIST, else a one-line error."""
    found = available_datasets(data_dir)
    for name in NIELSEN_DATASETS:
        if name in found:
            return name
    raise DepthlabError("Nielsen's study needs MNIST or Fashion-MNIST and found neither: put their IDX files "
                        "in --data-dir or $DEPTHLAB_DATA, or on Debian: apt-get install dataset-fashion-mnist")


def speed_set(dataset: FixedDataset) -> tuple[torch.Tensor, torch.Tensor]:
    """The first 1000 training images and labels, on which Nielsen measures learning speed."""
    x, y = dataset.train
    if len(x) < SPEED_EXAMPLES:
        raise DepthlabError(f"{dataset.name} has {len(x)} training images; the learning speed needs {SPEED_EXAMPLES}")
    return x[:SPEED_EXAMPLES], y[:SPEED_EXAMPLES]


def learning_speed_at_init(dataset: FixedDataset, hidden_layers: int, seeds: int) -> np.ndarray:
    """‖∂C/∂b^l‖ of each hidden layer (columns) of freshly initialized networks, one row
    per seed 0 … seeds−1, C averaged over :func:`speed_set` (the probes' ``bias_grad_norm``)."""
    x, y = speed_set(dataset)
    config = nielsen_config(hidden_layers, dataset.name, len(dataset.train[0]))
    speeds = []
    for seed in range(seeds):
        model = build_model(config.replace(seed=seed), dataset)
        rows = Probe(model, x, y, COSTS.get(COST).loss, jacobian_examples=0).measure(0)
        norms = {row["layer"]: row["value"] for row in rows if row["stat"] == "bias_grad_norm"}
        speeds.append([norms[f"layer {k}"] for k in range(1, hidden_layers + 1)])
    return np.array(speeds)


def learning_speed_in_training(dataset: FixedDataset, epochs: int, seed: int = 0,
                               progress: bool = False) -> np.ndarray:
    """Full-batch gradient descent on :func:`speed_set` (η = 0.1, λ = 5 on the weights
    only, n = 1000) of the 4-hidden-layer network; row e holds ‖∂C/∂b^l‖ of every hidden
    layer at the start of epoch e, read from that epoch's own gradient."""
    x, y = speed_set(dataset)
    model = build_model(nielsen_config(SPEED_DEPTH, dataset.name, len(x), seed=seed), dataset)
    weights = [layer.weight for layer in model.linears]
    biases = [layer.bias for layer in model.linears]
    optimizer = torch.optim.SGD([{"params": weights, "weight_decay": LAMBDA / len(x)}, {"params": biases}], lr=ETA)
    loss_fn = COSTS.get(COST).loss
    speeds = []
    for _ in tqdm(range(epochs), desc="full-batch epochs", disable=not progress, leave=False):
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        speeds.append([b.grad.norm().item() for b in biases[:-1]])
        optimizer.step()
    return np.array(speeds)


def depth_dataset(dataset: FixedDataset, budget: NielsenBudget, directory: Path) -> tuple[str, int]:
    """The data set name the depth runs train on and its training-set size: the data set
    itself, or an ``arrays:`` archive in ``directory`` of its first ``depth_train_size``
    training and ``depth_eval_size`` validation and test images."""
    if budget.depth_train_size is None and budget.depth_eval_size is None:
        return dataset.name, len(dataset.train[0])
    n_train, n_eval = budget.depth_train_size, budget.depth_eval_size
    splits = {"train": dataset.train[0][:n_train], "valid": dataset.validation[0][:n_eval],
              "test": dataset.test[0][:n_eval]}
    labels = {"train": dataset.train[1][:n_train], "valid": dataset.validation[1][:n_eval],
              "test": dataset.test[1][:n_eval]}
    path = directory / f"{dataset.name}-{len(splits['train'])}-{len(splits['valid'])}.npz"
    if not path.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {f"x_{s}": (x * 255).round().to(torch.uint8).numpy() for s, x in splits.items()}
        arrays |= {f"y_{s}": y.numpy() for s, y in labels.items()}
        partial = path.with_suffix(".partial.npz")
        np.savez(partial, **arrays)
        os.replace(partial, path)
    return f"arrays:{path.resolve()}", len(splits["train"])


def accuracy_runs(dataset: FixedDataset, budget: NielsenBudget, out: Path, data_dir: str | None,
                  workers: int, progress: bool) -> dict[int, RunDir]:
    """Train Nielsen's network with 1 to 4 hidden layers (through the trainer, resumable);
    the validation error is measured after every epoch."""
    name, n_train = depth_dataset(dataset, budget, out / "data")
    per_epoch = n_train // BATCH_SIZE
    specs = [RunSpec(f"depth{depth}", nielsen_config(depth, name, n_train, data_dir=data_dir,
                                                     epochs=budget.depth_epochs, eval_every=per_epoch,
                                                     log_every=per_epoch))
             for depth in DEPTHS]
    runs = run_specs(specs, out, workers=workers, progress=progress)
    return {depth: runs[f"depth{depth}"] for depth in DEPTHS}


# -- figures and tables -------------------------------------------------------------------

Blocks = list[str | Figure | Table | Verdict]


def _init_speed_results(init_speeds: dict[int, np.ndarray], out: Path) -> Blocks:
    rows = [{"hidden_layers": depth, "layer": k + 1, "ours_mean": float(speeds[:, k].mean()),
             "ours_std": float(speeds[:, k].std()), "nielsen": NIELSEN_INIT_SPEED[depth][k]}
            for depth, speeds in init_speeds.items() for k in range(depth)]
    write_table(rows, out, "learning_speed_init")
    fig, axes = new_figure(1, len(init_speeds), width=3.6, height=3.4, sharey=True)
    for ax, (depth, speeds) in zip(axes[0], init_speeds.items()):
        layers = np.arange(1, depth + 1)
        ax.bar(layers - 0.2, speeds.mean(0), 0.4, yerr=speeds.std(0), label="ours", color="tab:blue")
        ax.bar(layers + 0.2, NIELSEN_INIT_SPEED[depth], 0.4, label="Nielsen", color="tab:gray")
        ax.set(yscale="log", xticks=layers, xlabel="hidden layer", title=f"[784, {', '.join(['30'] * depth)}, 10]")
    axes[0][0].set_ylabel("learning speed ‖∂C/∂b‖")
    axes[0][0].legend()
    png = save_figure(fig, out, "learning_speed_init")
    seeds = len(next(iter(init_speeds.values())))
    increasing = all(np.all(np.diff(s.mean(0)) > 0) for s in init_speeds.values())
    ratios = ", ".join(f"{d} layers: {s.mean(0)[-1] / s.mean(0)[0]:.3g} (Nielsen {n[-1] / n[0]:.3g})"
                       for (d, s), n in zip(init_speeds.items(), NIELSEN_INIT_SPEED.values()))
    verdict = Verdict("At initialization every hidden layer learns faster than the one below it (Nielsen, ch. 5).",
                      "reproduced" if increasing else "not reproduced", f"Last/first layer speed ratio: {ratios}.")
    return [f"‖∂C/∂b^l‖ with C averaged over the first {SPEED_EXAMPLES} training images; mean ± std over "
            f"{seeds} initializations (seeds 0–{seeds - 1}).",
            Figure(png, "Learning speed per hidden layer at initialization, ours beside Nielsen's."),
            Table(rows, "Learning speed at initialization (learning_speed_init.csv)"), verdict]


def _training_speed_results(speeds: np.ndarray, out: Path) -> Blocks:
    ratio = speeds[:, -1] / speeds[:, 0]
    rows = [{"epoch": e, **{f"layer_{k + 1}": float(v) for k, v in enumerate(row)}, "last_over_first": float(r)}
            for e, (row, r) in enumerate(zip(speeds, ratio))]
    write_table(rows, out, "learning_speed_training")
    fig, axes = new_figure(1, 1, width=6.5, height=4.2)
    ax = axes[0][0]
    for k in range(speeds.shape[1]):
        ax.plot(speeds[:, k], color=layer_color(k + 1, speeds.shape[1]), label=f"hidden layer {k + 1}")
    ax.set(yscale="log", xlabel="epoch (full batch of 1000 images)", ylabel="learning speed ‖∂C/∂b‖",
           title="[784, 30, 30, 30, 30, 10]")
    ax.legend()
    png = save_figure(fig, out, "learning_speed_training")
    median = float(np.median(ratio))
    close = NIELSEN_TRAINING_RATIO / RATIO_TOLERANCE <= median <= NIELSEN_TRAINING_RATIO * RATIO_TOLERANCE
    verdict = Verdict("During training the first hidden layer stays about 100× slower than the last (Nielsen).",
                      "reproduced" if close else "not reproduced",
                      f"Last/first ratio over {len(speeds)} epochs: median {median:.3g}, from {ratio.min():.3g} "
                      f"to {ratio.max():.3g} (reproduced when the median is within {RATIO_TOLERANCE:g}× of 100).")
    shown = sorted({*range(0, len(rows), max(1, len(rows) // 5)), len(rows) - 1})
    return [f"Full-batch gradient descent on the first {SPEED_EXAMPLES} training images, η = {ETA}, λ = {LAMBDA} "
            f"(weights only), {len(speeds)} epochs; the speed is read from each epoch's gradient.",
            Figure(png, "Learning speed of each hidden layer during training (log scale)."),
            Table([rows[i] for i in shown], "Learning speed during training, some epochs "
                  "(every epoch in learning_speed_training.csv)"), verdict]


def _accuracy_results(runs: dict[int, RunDir], budget: NielsenBudget, out: Path) -> Blocks:
    rows = []
    for depth, run in runs.items():
        errors = run.series("validation_error")[1]  # a diverged run has no final error: nan
        ours = 100 * (1 - run.final.get("validation_error", float("nan")))
        rows.append({"hidden_layers": depth, "ours_final": ours, "ours_best": 100 * (1 - min(errors, default=np.nan)),
                     "nielsen": NIELSEN_ACCURACY[depth], "difference": ours - NIELSEN_ACCURACY[depth]})
    write_table(rows, out, "accuracy_vs_depth")
    fig, axes = new_figure(1, 2, width=5.0, height=3.8)
    depths = np.array(list(runs))
    axes[0][0].plot(depths, [r["ours_final"] for r in rows], "o-", label="ours")
    axes[0][0].plot(depths, [r["nielsen"] for r in rows], "s--", color="tab:gray", label="Nielsen (MNIST)")
    axes[0][0].set(xticks=depths, xlabel="hidden layers", ylabel="validation accuracy (%)")
    axes[0][0].legend()
    for depth, run in runs.items():
        updates, errors = run.series("validation_error")
        epochs = np.array(updates) / run.config["eval_every"]
        axes[0][1].plot(epochs, 100 * (1 - np.array(errors)), color=layer_color(depth, len(runs)),
                        label=f"{depth} hidden")
    axes[0][1].set(xlabel="epoch", ylabel="validation accuracy (%)")
    axes[0][1].legend()
    png = save_figure(fig, out, "accuracy_vs_depth")
    shallow = np.nanmax([r["ours_final"] for r in rows if r["hidden_layers"] <= 2])
    deep = np.nanmax([r["ours_final"] for r in rows if r["hidden_layers"] > 2])
    evidence = (f"Best of 1–2 hidden layers {shallow:.2f} %, best of 3–4 {deep:.2f} % "
                f"(depth helps when the deeper nets gain more than {DEPTH_GAIN} points).")
    if budget.depth_epochs < NIELSEN_EPOCHS or budget.depth_train_size is not None:
        verdict = "cannot show"
        evidence += (f" The budget trains less than Nielsen's {NIELSEN_EPOCHS} epochs on 50,000 images, which "
                     "handicaps the deeper nets, slower to learn.")
    else:
        verdict = "reproduced" if deep <= shallow + DEPTH_GAIN else "not reproduced"
    return [Figure(png, "Validation accuracy against depth, ours beside Nielsen's; right: during training."),
            Table(rows, "Validation accuracy (%) after training (accuracy_vs_depth.csv)"),
            Verdict("More than two hidden layers does not improve accuracy (Nielsen: 96.48, 96.90, 96.57, "
                    "96.53 %).", verdict, evidence)]


SETUP = ("Networks [784, 30, …, 30, 10], sigmoid everywhere, per-output cross-entropy, weights N(0, 1/n_in), "
         "biases N(0, 1), SGD minibatch 10, η = 0.1, L2 λ = 5 as weight decay λ/n per update (n: training images); "
         "the depth runs' weight decay also shrinks the biases, which Nielsen does not.")


def reproduce(out: Path, budget: str = "quick", workers: int = 1, data_dir: str | None = None,
              progress: bool = True) -> Path:
    """Run Nielsen's chapter-5 experiments at ``budget`` (``smoke``, ``quick`` or ``full``,
    see :data:`BUDGETS`) and write figures (PNG, SVG), tables (CSV) and ``report.html``
    into ``out``; return the report's path. Training runs resume when re-run."""
    if budget not in BUDGETS:
        raise unknown_choice("budget", budget, BUDGETS)
    sizes = BUDGETS[budget]
    name = choose_dataset(data_dir)
    dataset = DATASETS.get(name).load(data_dir)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    init_speeds = {depth: learning_speed_at_init(dataset, depth, sizes.init_seeds) for depth in NIELSEN_INIT_SPEED}
    training_speeds = learning_speed_in_training(dataset, sizes.speed_epochs, progress=progress)
    runs = accuracy_runs(dataset, sizes, out, data_dir, workers, progress)
    source = DATASETS.get(name).directory(data_dir)
    data_note = (f"Data: {name} from {source}." if name == "mnist" else
                 f"Data: {name} from {source}: MNIST was not found, and Nielsen's numbers are for MNIST, so "
                 "compare trends, not values.")
    depth_sizes = (f"{sizes.depth_train_size or 'all'} training and {sizes.depth_eval_size or 'all'} validation "
                   f"images, epochs: {sizes.depth_epochs}, one run (seed 0) per depth")
    sections = [
        Section("Setup", [SETUP, Table([{"budget": budget, **dataclasses.asdict(sizes)}], "Budget")]),
        Section("Learning speed at initialization", _init_speed_results(init_speeds, out)),
        Section("Learning speed during training", _training_speed_results(training_speeds, out)),
        Section("Validation accuracy against depth", [f"Depth runs: {depth_sizes}.",
                                                       *_accuracy_results(runs, sizes, out)]),
    ]
    return write_report(out / "report.html", "Nielsen, chapter 5: the vanishing gradient problem", sections,
                        intro=f"Budget '{budget}'. {data_note}")

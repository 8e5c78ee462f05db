"""The figures of the d2l MLP chapter, one per experiment: each saves a PNG and an SVG in
``out`` and returns the PNG's path."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from depthlab.probe.quantities import WEIGHT_NORM
from depthlab.report.plotting import new_figure, save_figure
from depthlab.store import RunDir
from depthlab.studies.d2l_mlp.claims import MLP_ACCURACY
from depthlab.studies.d2l_mlp.plan import DECAY_LAMBDAS, POLYNOMIAL_FITS


def per_epoch(run: RunDir, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(epochs, values) of an evaluated metric (epoch 0: before training)."""
    updates, values = run.series(key)
    return np.asarray(updates) / run.config.eval_every, np.asarray(values, dtype=float)


def weight_norm(run: RunDir) -> tuple[np.ndarray, np.ndarray]:
    """(epochs, ‖w‖) of the output layer, from the run's probes."""
    steps, norms = run.probes.series(WEIGHT_NORM, "output")
    return np.asarray(steps) / run.config.probe_every, norms


def mlp_figure(scratch: list[dict[str, float]], log_epochs: np.ndarray, train_cost: np.ndarray, epochs: np.ndarray,
               train_error: np.ndarray, test_error: np.ndarray, out: Path) -> Path:
    """The from-scratch MLP's epochs (``scratch``) beside the nn-module run's training
    cost (at ``log_epochs``) and training and test error (at ``epochs``)."""
    fig, axes = new_figure(1, 3, width=3.6, height=3.2)
    s_epochs = [r["epoch"] for r in scratch]
    axes[0][0].plot(s_epochs, [r["train_loss"] for r in scratch], "o-", label="from scratch")
    axes[0][0].plot(log_epochs, train_cost, "s--", label="nn modules")
    axes[0][0].set(xlabel="epoch", ylabel="training loss (epoch mean)")
    axes[0][1].plot(s_epochs, [r["train_accuracy"] for r in scratch], "o-", label="from scratch (epoch mean)")
    axes[0][1].plot(epochs, 1 - train_error, "s--", label="nn modules (at epoch end)")
    axes[0][1].set(xlabel="epoch", ylabel="training accuracy")
    axes[0][2].plot(s_epochs, [r["test_accuracy"] for r in scratch], "o-", label="from scratch")
    axes[0][2].plot(epochs, 1 - test_error, "s--", label="nn modules")
    axes[0][2].axhline(MLP_ACCURACY, color="gray", linestyle=":", label="82%")
    axes[0][2].set(xlabel="epoch", ylabel="test accuracy")
    for ax in axes[0]:
        ax.legend(fontsize=7)
    return save_figure(fig, out, "mlp_fashion_mnist")


def polynomial_figure(runs: dict[str, RunDir], out: Path) -> Path:
    """Training and test loss of each polynomial fit (``runs``: fit label → run)."""
    fig, axes = new_figure(1, len(runs), width=3.6, height=3.2, sharey=True)
    for ax, ((label, run), features) in zip(axes[0], zip(runs.items(), POLYNOMIAL_FITS.values())):
        for key, name in (("train_set_cost", "train"), ("test_cost", "test")):
            ax.plot(*per_epoch(run, key), label=name)
        ax.set(yscale="log", xlabel="epoch", title=f"{label}: {features} features")
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("squared error")
    return save_figure(fig, out, "polynomial_fits")


def decay_figure(shown: dict[float, RunDir], out: Path) -> Path:
    """Training and test loss of the fit at each λ of ``shown``, and its ‖w‖."""
    fig, axes = new_figure(1, 3, width=3.6, height=3.2)
    for ax, (lam, run) in zip(axes[0], shown.items()):
        for key, name in (("train_set_cost", "train"), ("test_cost", "test")):
            ax.plot(*per_epoch(run, key), label=name)
        ax.set(yscale="log", xlabel="epoch", ylabel="squared error", title=f"λ = {lam:g}")
        ax.legend(fontsize=8)
        axes[0][2].plot(*weight_norm(run), label=f"λ = {lam:g}")
    axes[0][2].set(yscale="log", xlabel="epoch", ylabel="‖w‖")
    axes[0][2].legend(fontsize=8)
    return save_figure(fig, out, "weight_decay")


def kfold_figure(mean: dict[float, dict[str, float]], test: dict[float, float], out: Path) -> Path:
    """Per λ: the folds' mean training and validation loss, and the test loss of the fit
    on the whole training set."""
    fig, axes = new_figure(1, 1, width=6.0, height=3.6)
    ax, positions = axes[0][0], np.arange(len(DECAY_LAMBDAS))
    for offset, key, label in ((-0.27, "train_loss", "fold training loss"), (0.0, "validation_loss",
                                                                             "fold validation loss")):
        ax.bar(positions + offset, [mean[lam][key] for lam in DECAY_LAMBDAS], 0.27, label=f"mean {label}")
    ax.bar(positions + 0.27, [test[lam] for lam in DECAY_LAMBDAS], 0.27, label="test loss (whole training set)")
    ax.set(yscale="log", xticks=positions, xticklabels=[f"λ = {lam:g}" for lam in DECAY_LAMBDAS],
           ylabel="squared error")
    ax.legend(fontsize=8)
    return save_figure(fig, out, "kfold")


def dropout_figure(runs: dict[str, RunDir], out: Path) -> Path:
    """Training and test accuracy of the net without (``"none"``) and with dropout."""
    fig, axes = new_figure(1, len(runs), width=4.2, height=3.2, sharey=True)
    for ax, (label, run) in zip(axes[0], runs.items()):
        epochs, train_error = per_epoch(run, "train_error")
        ax.plot(epochs, 1 - train_error, "o-", label="training")
        ax.plot(*(lambda e, v: (e, 1 - v))(*per_epoch(run, "test_error")), "s-", label="test")
        ax.set(xlabel="epoch", title="no dropout" if label == "none" else "dropout 0.2, 0.5")
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("accuracy (dropout off)")
    return save_figure(fig, out, "dropout")


def stability_figure(x: np.ndarray, y: np.ndarray, grad: np.ndarray, norms: np.ndarray, out: Path) -> Path:
    """Left: σ(x) (``y``) and σ′(x) (``grad``); right: the product norms against k."""
    fig, axes = new_figure(1, 2, width=4.4, height=3.2)
    axes[0][0].plot(x, y, label="σ(x)")
    axes[0][0].plot(x, grad, label="σ′(x)")
    axes[0][0].set(xlabel="x")
    axes[0][0].legend(fontsize=8)
    axes[0][1].plot(np.arange(1, len(norms) + 1), norms)
    axes[0][1].set(yscale="log", xlabel="factors k", ylabel="‖W_k⋯W_1‖_F / √n")
    return save_figure(fig, out, "numerical_stability")

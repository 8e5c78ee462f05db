"""The regression data of the d2l MLP chapter (Zhang et al., *Dive into Deep Learning*,
sections 5.4 and 5.5 of the PyTorch edition), drawn deterministically from a seed.

``polynomial``: x ~ N(0, 1) and y = 5 + 1.2x − 3.4x²/2! + 5.6x³/3! + ε, ε ~ N(0, 0.1²);
the inputs are the features xⁱ/i! for i = 1 … K−1, where K = ``features`` (2 … 20) counts
the constant x⁰ too: a linear model's bias is its weight, so K features are K weights, as
in the chapter. 100 training, 100 validation and 100 test points.

``linear``: x ~ N(0, 1)^d (d = ``inputs``, 200 by default) and y = 0.05 + Σᵢ 0.01·xᵢ + ε,
ε ~ N(0, 0.01²); 20 training (``train``), 100 validation and 100 test examples: far
fewer examples than weights, the chapter's case for weight decay.

Both take options after a colon, comma-separated: ``polynomial:features=20``,
``linear:inputs=200,train=20,seed=1``. ``seed`` draws other data (0 by default); every
option of one seed draws the same points, so ``polynomial:features=2`` and
``polynomial:features=20`` fit the same data. ``fold=I/K`` makes the I-th of K equal
folds of the training set the validation split and trains on the other K−1 (K-fold
cross-validation, d2l section 5.7); the test split is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from depthlab.data.base import FixedDataset
from depthlab.errors import DepthlabError, unknown_choice

POLYNOMIAL_WEIGHTS = (5.0, 1.2, -3.4, 5.6)
"""The true weights of x⁰/0!, x¹/1!, x²/2!, x³/3! (d2l, section 5.4)."""
POLYNOMIAL_MAX_FEATURES, POLYNOMIAL_NOISE, POLYNOMIAL_SPLIT = 20, 0.1, 100
LINEAR_BIAS, LINEAR_WEIGHT, LINEAR_NOISE, LINEAR_EVAL = 0.05, 0.01, 0.01, 100
MAX_INPUTS, MAX_EXAMPLES = 100_000, 1_000_000


@dataclass(frozen=True)
class Options:
    """The parsed options of one synthetic data set's name."""

    values: dict[str, int]
    fold: tuple[int, int] | None


def parse_options(family: str, argument: str, defaults: dict[str, int],
                  bounds: dict[str, tuple[int, int]]) -> Options:
    """``key=value,…`` after ``family:``: integers within ``bounds``, plus ``fold=I/K``;
    anything else is one line naming the key or value and the valid choices."""
    values, fold = dict(defaults), None
    for item in filter(None, argument.split(",")):
        key, equals, text = item.partition("=")
        key = key.strip()
        if key not in (*defaults, "fold"):
            raise unknown_choice(f"option of {family}", key, [*defaults, "fold"])
        if not equals:
            raise DepthlabError(f"{family} option '{key}' needs a value: {key}=…")
        if key == "fold":
            fold = _parse_fold(family, text.strip())
            continue
        try:
            value = int(text)
        except ValueError:
            raise DepthlabError(f"{family} option {key}={text!r} must be a whole number") from None
        low, high = bounds[key]
        if not low <= value <= high:
            raise DepthlabError(f"{family} option {key}={value} must be between {low} and {high:,}")
        values[key] = value
    return Options(values, fold)


def _parse_fold(family: str, text: str) -> tuple[int, int]:
    index, slash, folds = text.partition("/")
    try:
        fold = int(index), int(folds)
    except ValueError:
        fold = None
    if not slash or fold is None or fold[1] < 2 or not 1 <= fold[0] <= fold[1]:
        raise DepthlabError(f"{family} option fold={text!r} must be I/K with 2 <= K and 1 <= I <= K, e.g. fold=1/5")
    return fold


def _normal(generator: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=generator, dtype=torch.float64)


def polynomial_data(features: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """All 300 points of ``polynomial``: inputs (300, features − 1) in float64 and targets
    (300, 1); the first 100 train, the next 100 validate, the last 100 test."""
    generator = torch.Generator().manual_seed(seed)
    x = _normal(generator, 3 * POLYNOMIAL_SPLIT, 1)
    powers = torch.arange(POLYNOMIAL_MAX_FEATURES, dtype=torch.float64)
    scaled = x ** powers / torch.exp(torch.lgamma(powers + 1))  # xⁱ/i!
    weights = torch.zeros(POLYNOMIAL_MAX_FEATURES, 1, dtype=torch.float64)
    weights[:len(POLYNOMIAL_WEIGHTS), 0] = torch.tensor(POLYNOMIAL_WEIGHTS, dtype=torch.float64)
    y = scaled @ weights + POLYNOMIAL_NOISE * _normal(generator, len(x), 1)
    return scaled[:, 1:features], y


def linear_data(inputs: int, train: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """All ``train`` + 200 examples of ``linear`` in float64: the first ``train`` train,
    then 100 validate and 100 test."""
    generator = torch.Generator().manual_seed(seed)
    x = _normal(generator, train + 2 * LINEAR_EVAL, inputs)
    y = LINEAR_BIAS + LINEAR_WEIGHT * x.sum(1, keepdim=True) + LINEAR_NOISE * _normal(generator, len(x), 1)
    return x, y


def _split(name: str, x: torch.Tensor, y: torch.Tensor, train: int, fold: tuple[int, int] | None,
           eval_size: int | None) -> FixedDataset:
    x, y = x.float(), y.float()
    evaluation = (len(x) - train) // 2
    parts = [(x[:train], y[:train]), (x[train:train + evaluation], y[train:train + evaluation]),
             (x[train + evaluation:], y[train + evaluation:])]
    if fold is not None:
        index, folds = fold
        if train < folds:
            raise DepthlabError(f"{name}: {train} training examples cannot make {folds} folds")
        size = train // folds  # as d2l does, the last train % folds examples join no fold
        held = torch.zeros(train, dtype=torch.bool)
        held[(index - 1) * size:index * size] = True
        kept = torch.arange(train) < folds * size
        (xt, yt) = parts[0]
        parts[:2] = [(xt[kept & ~held], yt[kept & ~held]), (xt[held], yt[held])]
    dataset = FixedDataset(name, (x.shape[1],), None, *parts)
    return dataset.truncated(eval_size)


def polynomial(argument: str) -> Callable[..., FixedDataset]:
    """The loader of ``polynomial:OPTIONS`` (see the module docstring)."""
    options = parse_options("polynomial", argument, {"features": POLYNOMIAL_MAX_FEATURES, "seed": 0},
                            {"features": (2, POLYNOMIAL_MAX_FEATURES), "seed": (0, 2 ** 63 - 1)})

    def load(data_dir=None, download: bool = False, eval_size: int | None = None) -> FixedDataset:
        x, y = polynomial_data(options.values["features"], options.values["seed"])
        return _split(_name("polynomial", argument), x, y, POLYNOMIAL_SPLIT, options.fold, eval_size)

    return load


def linear(argument: str) -> Callable[..., FixedDataset]:
    """The loader of ``linear:OPTIONS`` (see the module docstring)."""
    options = parse_options("linear", argument, {"inputs": 200, "train": 20, "seed": 0},
                            {"inputs": (1, MAX_INPUTS), "train": (1, MAX_EXAMPLES), "seed": (0, 2 ** 63 - 1)})

    def load(data_dir=None, download: bool = False, eval_size: int | None = None) -> FixedDataset:
        values = options.values
        x, y = linear_data(values["inputs"], values["train"], values["seed"])
        return _split(_name("linear", argument), x, y, values["train"], options.fold, eval_size)

    return load


def _name(family: str, argument: str) -> str:
    return f"{family}:{argument}" if argument else family


def true_polynomial_weights(features: int) -> list[float]:
    """The true weights of the first ``features`` features (zeros past the cubic)."""
    return [*POLYNOMIAL_WEIGHTS, *[0.0] * POLYNOMIAL_MAX_FEATURES][:features]

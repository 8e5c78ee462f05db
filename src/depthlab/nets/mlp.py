"""The deep feedforward network of the studies.

x → flatten → [Linear → (BatchNorm) → φ → (Dropout)] × depth → Linear → logits.
The softmax lives in the cost (Glorot & Bengio 2010, section 2.2: a softmax output
layer with the negative log-likelihood −log P(y|x)). Depth 0 is a linear model
x → Linear → output, the d2l chapter's regressions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from depthlab.nets.activations import ACTIVATIONS
from depthlab.nets.init import BIAS_INITS, INITS, lsuv_


class MLP(nn.Sequential):
    """A multilayer perceptron with hidden widths ``widths`` (none: a linear model) and
    one activation; ``num_classes`` output units (one per class, or per target value);
    ``dropout`` one rate after every hidden layer, or one rate per hidden layer.

    ``linears`` lists the Linear layers bottom to top (the last is the output layer). The
    values are a validated config's (:meth:`depthlab.config.TrainConfig.validate` checks
    the widths and rates).
    """

    def __init__(self, input_dim: int, widths: Sequence[int], num_classes: int, activation: str = "tanh",
                 batchnorm: bool = False, dropout: float | Sequence[float] = 0.0):
        rates = list(dropout) if isinstance(dropout, Sequence) else [dropout] * len(widths)
        act = ACTIVATIONS.get(activation)
        layers: list[nn.Module] = [nn.Flatten()]
        sizes = [input_dim, *widths]
        for n_in, n_out, p in zip(sizes, sizes[1:], rates):
            layers.append(nn.Linear(n_in, n_out))
            if batchnorm:
                layers.append(nn.BatchNorm1d(n_out))
            layers.append(act.module())
            if p:
                layers.append(nn.Dropout(p))
        layers.append(nn.Linear(sizes[-1], num_classes))
        super().__init__(*layers)
        self.activation = act

    @property
    def linears(self) -> list[nn.Linear]:
        return [m for m in self if isinstance(m, nn.Linear)]

    @property
    def widths(self) -> list[int]:
        """n_0 (the flattened input), the hidden widths, n_{L+1} (the classes)."""
        return [self.linears[0].in_features, *(layer.out_features for layer in self.linears)]

    def pre_activation(self, k: int, x: Tensor) -> Tensor:
        """The output of the k-th Linear layer (s^k in the paper's notation) on ``x``."""
        target = self.linears[k]
        for m in self:
            x = m(x)
            if m is target:
                return x
        raise IndexError(k)

    @torch.no_grad()
    def initialize(self, init: str, bias: str = "zero", data: Tensor | None = None) -> None:
        """Fill the weights with the scheme ``init`` and the biases with ``bias`` (see
        :mod:`depthlab.nets.init`: 0 or N(0, 1)); ``lsuv`` needs a data batch ``data``."""
        scheme, bias_scheme = INITS.get(init), BIAS_INITS.get(bias)
        for layer in self.linears:
            scheme.fill(layer.weight)
            bias_scheme.fill(layer.bias)
        if scheme.needs_data:
            if data is None:
                raise ValueError(f"{init} needs a data batch")
            was_training = self.training
            self.eval()
            lsuv_(self.linears[:-1], self.pre_activation, data)
            self.train(was_training)

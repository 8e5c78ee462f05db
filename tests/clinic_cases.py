"""The networks the doctor's tests treat: four known-broken ones, each with the remedy a
textbook gives, and three healthy ones, each small enough to train a trial in seconds on
one CPU thread. Every case is built from one seed: its data (a fixed random teacher's
classes, so there is something to learn) and its weights.

Scaling (Glorot & Bengio 2010 used 5 × 1000 on Shapeset, 32 × 32 images): the sigmoid
case is 5 × 200 on 64 input features and 10 classes, batches of 32, SGD at lr 0.1; the
phenomenon (the top sigmoid layer driven to 0, the gradient vanishing toward the input:
r = 4e-4 at initialization) is already there at this size.
"""

from __future__ import annotations

import math

import torch
from torch import nn

FEATURES, CLASSES, BATCH, EXAMPLES = 64, 10, 32, 2048
STEPS = 100


def teacher_data(seed: int, features: int = FEATURES, shape: tuple[int, ...] | None = None,
                 batch: int = BATCH) -> torch.utils.data.DataLoader:
    """A shuffled loader of a random linear teacher's classes, with its own generator."""
    g = torch.Generator().manual_seed(1000 + seed)
    x = torch.randn(EXAMPLES, features, generator=g)
    y = (x @ torch.randn(features, CLASSES, generator=g)).argmax(1)
    if shape is not None:
        x = x.reshape(EXAMPLES, *shape)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch, shuffle=True,
                                       generator=torch.Generator().manual_seed(seed))


def mlp(depth: int, width: int, activation: type[nn.Module]) -> nn.Sequential:
    layers, n = [], FEATURES
    for _ in range(depth):
        layers += [nn.Linear(n, width), activation()]
        n = width
    return nn.Sequential(*layers, nn.Linear(n, CLASSES))


def _fill(model: nn.Module, weight, bias) -> nn.Module:
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, nn.Linear):
                weight(layer.weight)
                nn.init.zeros_(layer.bias) if bias is None else bias(layer)
    return model


def sigmoid_standard(seed: int):
    """Glorot & Bengio's own case: sigmoid with the standard init U[−1/√n, 1/√n]."""
    torch.manual_seed(seed)

    def standard(w):
        bound = 1 / math.sqrt(w.shape[1])
        nn.init.uniform_(w, -bound, bound)

    model = _fill(mlp(5, 200, nn.Sigmoid), standard, None)
    return model, torch.optim.SGD(model.parameters(), lr=0.1)


def relu_unit_gaussian(seed: int):
    """20 ReLU layers with N(0, 1) weights: every layer multiplies the signal's variance by
    n/2 = 32, the gradients explode and SGD diverges."""
    torch.manual_seed(seed)
    model = _fill(mlp(20, 64, nn.ReLU), lambda w: nn.init.normal_(w, 0.0, 1.0), None)
    return model, torch.optim.SGD(model.parameters(), lr=0.01)


def tanh_high_lr(seed: int):
    """10 tanh layers at Glorot's normalized init, healthy at lr 0.1, saturated by lr 1."""
    torch.manual_seed(seed)
    model = _fill(mlp(10, 64, nn.Tanh), nn.init.xavier_uniform_, None)
    return model, torch.optim.SGD(model.parameters(), lr=1.0)


def dead_relu_bias(seed: int):
    """4 ReLU layers at He's init, their biases −3: almost every unit is 0 from the start."""
    torch.manual_seed(seed)
    model = mlp(4, 64, nn.ReLU)
    hidden = [layer for layer in model if isinstance(layer, nn.Linear)][:-1]
    _fill(model, lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"), None)
    with torch.no_grad():
        for layer in hidden:
            layer.bias.fill_(-3.0)
    return model, torch.optim.SGD(model.parameters(), lr=0.05)


def tanh_normalized(seed: int):
    """Healthy: 5 tanh layers at Glorot's normalized init, SGD at lr 0.05."""
    torch.manual_seed(seed)
    model = _fill(mlp(5, 64, nn.Tanh), nn.init.xavier_uniform_, None)
    return model, torch.optim.SGD(model.parameters(), lr=0.05)


class Block(nn.Module):
    """ResNet's basic block (He et al. 2016): two 3×3 convolutions with batch norm, and
    the identity (or a 1×1 strided projection) added."""

    def __init__(self, n_in: int, n_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(n_in, n_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(n_out)
        self.conv2 = nn.Conv2d(n_out, n_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(n_out)
        self.relu = nn.ReLU()
        self.shortcut = nn.Sequential()
        if stride != 1 or n_in != n_out:
            self.shortcut = nn.Sequential(nn.Conv2d(n_in, n_out, 1, stride, bias=False), nn.BatchNorm2d(n_out))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class SmallResNet18(nn.Module):
    """ResNet-18's shape (a stem, four stages of two basic blocks, pooling, a linear
    head) at 8–64 channels, for 1 × 8 × 8 inputs."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        stages, n_in = [], 8
        for n_out, stride in ((8, 1), (16, 2), (32, 2), (64, 2)):
            stages += [Block(n_in, n_out, stride), Block(n_out, n_out, 1)]
            n_in = n_out
        self.layers = nn.Sequential(*stages)
        self.head = nn.Linear(64, CLASSES)

    def forward(self, x):
        return self.head(self.layers(self.stem(x)).mean(dim=(2, 3)))


def resnet(seed: int):
    """Healthy: the ResNet-18-shaped net at ResNet's own init (torchvision's: He's normal
    init on fan-out for the convolutions, BN at weight 1 and bias 0), SGD with momentum."""
    torch.manual_seed(seed)
    model = SmallResNet18()
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    return model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


class SmallTransformer(nn.Module):
    """A 2-layer ``nn.TransformerEncoder`` (d_model 32, 4 heads) over the 64 features read
    as 8 tokens of 8, mean-pooled into a linear head."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(8, 32)
        layer = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(32, CLASSES)

    def forward(self, x):
        return self.head(self.encoder(self.embed(x.reshape(len(x), 8, 8))).mean(dim=1))


def transformer(seed: int):
    """Healthy: the small transformer at its own init, Adam at lr 1e-3."""
    torch.manual_seed(seed)
    model = SmallTransformer()
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


BROKEN = {"sigmoid-standard": sigmoid_standard, "relu-unit-gaussian": relu_unit_gaussian, "tanh-lr-1": tanh_high_lr,
          "dead-relu-bias": dead_relu_bias}
HEALTHY = {"tanh-normalized": tanh_normalized, "resnet18-shaped": resnet, "transformer": transformer}
SHAPES = {"resnet18-shaped": (1, 8, 8)}
"""A case's input shape, where it is not the 64 features flat."""

"""What does one probe measure cost on real architectures, beside the pass it needs?

For each model, built here from plain torch (and transformers for BERT and GPT-2) at close
to its published architecture, with random weights and a random probe set:

- pass: one forward/backward pass of the model on the probe inputs, the same loss the
  probe takes (``model.zero_grad(); loss.backward()``);
- measure: one ``Probe.measure(update, with_jacobians=False, with_histograms=False)``,
  the cheap kind a probe schedule takes most often, of the default probe (every statistic);
- filtered: the same measure of a probe keeping two statistics,
  ``stats=["activation_std", "backprop_grad_std"]`` (W&B-style filtering);
- spectra: one ``Probe.measure(update)`` of the default probe, with Jacobian spectra and
  histograms;

each as wall seconds and peak memory growth in MB, and the number of probe entries found
(one per call of a weighted layer) and how many of them have an activation paired.

``--device`` (default: cuda where there is one, else cpu) is where the model, the probe
set and so the probe's reductions are; on cuda each timing is bracketed by
``torch.cuda.synchronize()``, MB is the growth of CUDA's peak allocated memory over what
was allocated with the model built, and the warm-up runs the timed kind itself (the first
call of each CUDA kernel pays its loading).

Each (model, kind) runs in a fresh process: the model is built, a warm-up call pays the
one-time costs (the pass for the pass kind, a cheap measure at update 0 for the measure
kinds), then the kind is timed once (at update 1). Peak memory is the growth of the
process's peak resident set (``ru_maxrss``) over its size before the warm-up, with the
model and inputs built: a high-water mark, so taken across the warm-up too, which is never
a dearer kind than the one timed. Models run in eval mode, as the probe runs them.

Image models take 32 examples of 3x64x64 (ImageNet-sized inputs would take minutes a model
on a small machine), sequence models 32 examples of 32 positions, the paper's MLP 300
examples of 1024 features.

    python benchmarks/bench_probe_models.py [--models resnet18 vit] [--timeout 600] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import Tensor, nn

from depthlab.nets.mlp import MLP
from depthlab.probe import Probe
from depthlab.probe.calling import Inputs, call_model, probe_loss

IMAGE = (3, 64, 64)
IMAGE_EXAMPLES = 32
IMAGE_CLASSES = 1000
SEQUENCE_EXAMPLES = 32
SEQUENCE_LENGTH = 32
MLP_EXAMPLES = 300
MLP_FEATURES = 1024
JACOBIAN_EXAMPLES = 2
KINDS = ("pass", "measure", "filtered", "spectra")
FILTERED = ["activation_std", "backprop_grad_std"]
"""The statistics the filtered kind's probe keeps."""

Built = tuple[nn.Module, Inputs, Tensor | None]


# -- building blocks -------------------------------------------------------------------
def named(**modules: nn.Module) -> nn.Sequential:
    """A sequential stack whose entries carry readable names."""
    return nn.Sequential(OrderedDict(modules))


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1,
            act: nn.Module | None = None) -> nn.Sequential:
    """A bias-free "same" convolution, batch normalization, and the activation ``act`` if any."""
    layers = [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, *([act] if act is not None else []))


class BasicBlock(nn.Module):
    """ResNet's block: two 3x3 convolutions with batch normalization and a shortcut (a
    strided 1x1 convolution where the shape changes); one ReLU module applied twice."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = conv_bn(c_in, c_out, 1, stride) if stride != 1 or c_in != c_out else None

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class SqueezeExcite(nn.Module):
    """Channel weights from the spatially pooled features: 1x1 convolution to ``squeezed``
    channels, ``act``, 1x1 convolution back, ``gate``; the input scaled by them."""

    def __init__(self, channels: int, squeezed: int, act: nn.Module, gate: nn.Module):
        super().__init__()
        self.reduce, self.act = nn.Conv2d(channels, squeezed, 1), act
        self.expand, self.gate = nn.Conv2d(squeezed, channels, 1), gate

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gate(self.expand(self.act(self.reduce(x.mean((2, 3), keepdim=True)))))


class InvertedResidual(nn.Module):
    """MobileNetV3's bneck and EfficientNet's MBConv: a 1x1 expansion (where ``expanded``
    differs from ``c_in``), a depthwise kxk convolution, squeeze-excitation ``se`` if any,
    and a 1x1 projection with no activation; a residual where the shape allows. ``act`` is
    the activation's class (each use gets its own in-place instance)."""

    def __init__(self, c_in: int, kernel: int, expanded: int, c_out: int, stride: int,
                 act: type[nn.Module], se: nn.Module | None):
        super().__init__()
        layers = [conv_bn(c_in, expanded, 1, act=act(inplace=True))] if expanded != c_in else []
        layers.append(conv_bn(expanded, expanded, kernel, stride, groups=expanded, act=act(inplace=True)))
        layers += [se] if se is not None else []
        layers.append(conv_bn(expanded, c_out, 1))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        out = self.block(x)
        return x + out if self.residual else out


class DenseLayer(nn.Module):
    """DenseNet's layer: BN-ReLU-1x1 convolution to 4·growth channels, BN-ReLU-3x3
    convolution to ``growth``; its output joins the input's features."""

    def __init__(self, c_in: int, growth: int):
        super().__init__()
        width = 4 * growth
        self.bottleneck = nn.Sequential(nn.BatchNorm2d(c_in), nn.ReLU(inplace=True),
                                        nn.Conv2d(c_in, width, 1, bias=False))
        self.conv = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                                  nn.Conv2d(width, growth, 3, padding=1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x, self.conv(self.bottleneck(x))], 1)


class ConvNeXtBlock(nn.Module):
    """ConvNeXt's block: a 7x7 depthwise convolution, then channels last: LayerNorm, Linear
    to 4x the width, GELU, Linear back, a learned layer scale; a residual."""

    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1, self.act, self.pwconv2 = nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim)
        self.layer_scale = nn.Parameter(torch.full((dim,), 1e-6))

    def forward(self, x: Tensor) -> Tensor:
        y = self.norm(self.dwconv(x).permute(0, 2, 3, 1))
        y = self.pwconv2(self.act(self.pwconv1(y))) * self.layer_scale
        return x + y.permute(0, 3, 1, 2)


class ChannelNorm(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor (ConvNeXt's stem and downsampling)."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class VisionTransformer(nn.Module):
    """ViT: patches embedded by a strided convolution, a class token and learned position
    embeddings, a pre-norm TransformerEncoder with GELU, a linear head on the class token."""

    def __init__(self, image: int, patch: int = 16, dim: int = 768, depth: int = 12, heads: int = 12,
                 classes: int = IMAGE_CLASSES):
        super().__init__()
        self.patches = nn.Conv2d(3, dim, patch, patch)
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.position = nn.Parameter(0.02 * torch.randn(1, (image // patch) ** 2 + 1, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, norm=nn.LayerNorm(dim), enable_nested_tensor=False)
        self.head = nn.Linear(dim, classes)

    def forward(self, x: Tensor) -> Tensor:
        tokens = self.patches(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.class_token.expand(len(x), -1, -1), tokens], 1) + self.position
        return self.head(self.encoder(tokens)[:, 0])


class SequenceClassifier(nn.Module):
    """The original Transformer's encoder at its base size (6 layers of width 512, 8 heads,
    a ReLU feed-forward of 2048) on a float sequence, mean-pooled into a linear classifier."""

    def __init__(self, dim: int = 512, classes: int = 10):
        super().__init__()
        layer = nn.TransformerEncoderLayer(dim, 8, 4 * dim, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 6, enable_nested_tensor=False)
        self.head = nn.Linear(dim, classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder(x).mean(1))


class RecurrentLanguageModel(nn.Module):
    """Token ids → Embedding → a 2-layer ``cell`` (LSTM or GRU) → Linear over the
    vocabulary at every position."""

    def __init__(self, cell: type[nn.RNNBase], vocab: int = 10_000, dim: int = 256, hidden: int = 512):
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim)
        self.rnn = cell(dim, hidden, 2, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, ids: Tensor) -> Tensor:
        return self.out(self.rnn(self.embedding(ids))[0])


# -- the models ------------------------------------------------------------------------
MOBILENET_V3_SMALL = (  # kernel, expanded, out, squeeze-excitation, activation, stride
    (3, 16, 16, True, nn.ReLU, 2), (3, 72, 24, False, nn.ReLU, 2), (3, 88, 24, False, nn.ReLU, 1),
    (5, 96, 40, True, nn.Hardswish, 2), (5, 240, 40, True, nn.Hardswish, 1), (5, 240, 40, True, nn.Hardswish, 1),
    (5, 120, 48, True, nn.Hardswish, 1), (5, 144, 48, True, nn.Hardswish, 1), (5, 288, 96, True, nn.Hardswish, 2),
    (5, 576, 96, True, nn.Hardswish, 1), (5, 576, 96, True, nn.Hardswish, 1),
)
EFFICIENTNET_B0 = (  # expansion, kernel, stride, out, repeats
    (1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3), (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)


def image_classifier(model: nn.Module) -> Built:
    """The model with a probe set of random images and classes."""
    return model, torch.randn(IMAGE_EXAMPLES, *IMAGE), torch.randint(0, IMAGE_CLASSES, (IMAGE_EXAMPLES,))


def token_ids(vocab: int) -> Tensor:
    return torch.randint(0, vocab, (SEQUENCE_EXAMPLES, SEQUENCE_LENGTH))


def resnet18() -> Built:
    stages, c_in = {}, 64
    for k, (c_out, stride) in enumerate(((64, 1), (128, 2), (256, 2), (512, 2)), start=1):
        stages[f"layer{k}"] = nn.Sequential(BasicBlock(c_in, c_out, stride), BasicBlock(c_out, c_out, 1))
        c_in = c_out
    return image_classifier(named(conv1=nn.Conv2d(3, 64, 7, 2, 3, bias=False), bn1=nn.BatchNorm2d(64),
                                  relu=nn.ReLU(inplace=True), maxpool=nn.MaxPool2d(3, 2, 1), **stages,
                                  pool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(), fc=nn.Linear(512, IMAGE_CLASSES)))


def vgg11_bn() -> Built:
    layers, c_in = [], 3
    for width in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"):
        if width == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(c_in, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            c_in = width
    classifier = nn.Sequential(nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(),
                               nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(),
                               nn.Linear(4096, IMAGE_CLASSES))
    return image_classifier(named(features=nn.Sequential(*layers), pool=nn.AdaptiveAvgPool2d(7), flatten=nn.Flatten(),
                                  classifier=classifier))


def mobilenet_v3_small() -> Built:
    blocks, c_in = [], 16
    for kernel, expanded, c_out, squeeze, act, stride in MOBILENET_V3_SMALL:
        se = SqueezeExcite(expanded, max(8, (expanded // 4 + 4) // 8 * 8), nn.ReLU(inplace=True), nn.Hardsigmoid()) \
            if squeeze else None
        blocks.append(InvertedResidual(c_in, kernel, expanded, c_out, stride, act, se))
        c_in = c_out
    classifier = nn.Sequential(nn.Linear(576, 1024), nn.Hardswish(inplace=True), nn.Dropout(0.2),
                               nn.Linear(1024, IMAGE_CLASSES))
    return image_classifier(named(stem=conv_bn(3, 16, 3, 2, act=nn.Hardswish(inplace=True)),
                                  blocks=nn.Sequential(*blocks),
                                  head=conv_bn(96, 576, 1, act=nn.Hardswish(inplace=True)),
                                  pool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(), classifier=classifier))


def densenet121(growth: int = 32) -> Built:
    stages, c = {}, 64
    for k, layers in enumerate((6, 12, 24, 16), start=1):
        stages[f"block{k}"] = nn.Sequential(*(DenseLayer(c + j * growth, growth) for j in range(layers)))
        c += layers * growth
        if k < 4:
            stages[f"transition{k}"] = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                                                     nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2))
            c //= 2
    return image_classifier(named(stem=conv_bn(3, 64, 7, 2, act=nn.ReLU(inplace=True)), pool0=nn.MaxPool2d(3, 2, 1),
                                  **stages, norm=nn.BatchNorm2d(c), relu=nn.ReLU(inplace=True),
                                  pool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(),
                                  classifier=nn.Linear(c, IMAGE_CLASSES)))


def vit() -> Built:
    """ViT-B/16."""
    return image_classifier(VisionTransformer(IMAGE[1]))


def convnext_tiny(depths: tuple[int, ...] = (3, 3, 9, 3), dims: tuple[int, ...] = (96, 192, 384, 768)) -> Built:
    stages = {"stem": nn.Sequential(nn.Conv2d(3, dims[0], 4, 4), ChannelNorm(dims[0], eps=1e-6))}
    for k, (depth, dim) in enumerate(zip(depths, dims), start=1):
        if k > 1:
            stages[f"downsample{k}"] = nn.Sequential(ChannelNorm(dims[k - 2], eps=1e-6),
                                                     nn.Conv2d(dims[k - 2], dim, 2, 2))
        stages[f"stage{k}"] = nn.Sequential(*(ConvNeXtBlock(dim) for _ in range(depth)))
    return image_classifier(named(**stages, pool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(),
                                  norm=nn.LayerNorm(dims[-1], eps=1e-6), head=nn.Linear(dims[-1], IMAGE_CLASSES)))


def efficientnet_b0() -> Built:
    blocks, c_in = [], 32
    for expansion, kernel, stride, c_out, repeats in EFFICIENTNET_B0:
        for k in range(repeats):
            se = SqueezeExcite(c_in * expansion, max(1, c_in // 4), nn.SiLU(inplace=True), nn.Sigmoid())
            blocks.append(InvertedResidual(c_in, kernel, c_in * expansion, c_out, stride if k == 0 else 1, nn.SiLU, se))
            c_in = c_out
    return image_classifier(named(stem=conv_bn(3, 32, 3, 2, act=nn.SiLU(inplace=True)), blocks=nn.Sequential(*blocks),
                                  head=conv_bn(320, 1280, 1, act=nn.SiLU(inplace=True)), pool=nn.AdaptiveAvgPool2d(1),
                                  flatten=nn.Flatten(), classifier=nn.Sequential(nn.Dropout(0.2),
                                                                                 nn.Linear(1280, IMAGE_CLASSES))))


def transformer() -> Built:
    model = SequenceClassifier()
    return model, torch.randn(SEQUENCE_EXAMPLES, SEQUENCE_LENGTH, 512), torch.randint(0, 10, (SEQUENCE_EXAMPLES,))


def bert_tiny() -> Built:
    """BERT-tiny's size (2 layers of width 128, 2 heads, BERT's vocabulary), classifying into 2 classes."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512,
                        num_labels=2)
    ids = token_ids(config.vocab_size)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    return BertForSequenceClassification(config), inputs, torch.randint(0, 2, (SEQUENCE_EXAMPLES,))


def gpt2_tiny() -> Built:
    """GPT-2 at 2 layers of width 128 and 2 heads (GPT-2's vocabulary), its own language-model loss."""
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(n_embd=128, n_layer=2, n_head=2)
    ids = token_ids(config.vocab_size)
    return GPT2LMHeadModel(config), {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}, None


def recurrent(cell: type[nn.RNNBase]) -> Callable[[], Built]:
    def build() -> Built:
        model = RecurrentLanguageModel(cell)
        return model, token_ids(model.out.out_features), token_ids(model.out.out_features)
    build.__doc__ = f"A {cell.__name__} language model (next-token targets drawn at random)."
    return build


def mlp() -> Built:
    """The paper's net: 5 hidden layers of 1000 tanh units, normalized initialization, 9 classes."""
    model = MLP(MLP_FEATURES, [1000] * 5, 9, "tanh")
    model.initialize("normalized")
    return model, torch.randn(MLP_EXAMPLES, MLP_FEATURES), torch.randint(0, 9, (MLP_EXAMPLES,))


MODELS: dict[str, Callable[[], Built]] = {
    "resnet18": resnet18, "vgg11_bn": vgg11_bn, "mobilenet_v3_small": mobilenet_v3_small, "densenet121": densenet121,
    "vit": vit, "convnext_tiny": convnext_tiny, "efficientnet_b0": efficientnet_b0, "transformer": transformer,
    "bert_tiny": bert_tiny, "gpt2_tiny": gpt2_tiny, "lstm": recurrent(nn.LSTM), "gru": recurrent(nn.GRU), "mlp": mlp,
}


# -- one (model, kind), in its own process ---------------------------------------------
def peak_mb() -> float:
    """The peak resident set of this process so far, in MB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def measure_one(name: str, kind: str, device: str) -> dict[str, float]:
    """Build the model on ``device``, warm the kind up, time it once; its seconds, peak
    memory growth (MB) and parameter count, and for the measure kinds the entries found
    and paired."""
    import scipy.sparse.linalg  # noqa: F401 - the spectra's one-time import, kept out of the timed call
    from torch.utils._pytree import tree_map_only

    torch.manual_seed(0)
    model, inputs, targets = MODELS[name]()
    model.eval().to(device)
    inputs = tree_map_only(Tensor, lambda t: t.to(device), inputs)
    targets = targets.to(device) if targets is not None else None
    cuda = torch.device(device).type == "cuda"
    probe = Probe(model, inputs, targets, jacobian_examples=JACOBIAN_EXAMPLES,
                  stats=FILTERED if kind == "filtered" else None)

    def forward_backward() -> None:
        model.zero_grad()
        probe_loss(None, call_model(model, inputs), targets).backward()

    timed = {"pass": forward_backward,
             "measure": lambda: probe.measure(1, with_jacobians=False, with_histograms=False),
             "filtered": lambda: probe.measure(1, with_jacobians=False, with_histograms=False),
             "spectra": lambda: probe.measure(1)}[kind]
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated() / 2 ** 20
    else:
        before = peak_mb()
    if kind == "pass":
        forward_backward()
    elif cuda and kind == "spectra":
        probe.measure(0)
    else:
        probe.measure(0, with_jacobians=False, with_histograms=False)
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    timed()
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    grown = torch.cuda.max_memory_allocated() / 2 ** 20 - before if cuda else peak_mb() - before
    result = {"seconds": seconds, "mb": grown, "params": sum(p.numel() for p in model.parameters())}
    if kind != "pass":
        result |= {"entries": len(probe.module_names), "paired": len(probe.activations)}
    return result


def run_one(name: str, kind: str, timeout: float, device: str) -> dict:
    """:func:`measure_one` in a fresh process; ``{"error": one line}`` where it fails."""
    try:
        done = subprocess.run([sys.executable, __file__, "--one", name, kind, "--device", device], check=False,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"{kind}: timed out after {timeout:g} s"}
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return {"error": f"{kind}: {lines[-1] if lines else f'exit status {done.returncode}'}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the table -------------------------------------------------------------------------
COLUMNS = (f"{'model':<19}{'params M':>9}{'entries':>8}{'paired':>7}  {'pass s':>8}{'MB':>7}  "
           f"{'measure s':>9}{'MB':>7}{'x pass':>7}  {'filtered s':>10}{'MB':>7}{'x pass':>7}  {'spectra s':>9}{'MB':>7}")


def cost(result: dict, width: int) -> str:
    """Seconds and MB of one kind, or dashes where it failed."""
    if "error" in result:
        return f"{'-':>{width}}{'-':>7}"
    return f"{result['seconds']:>{width}.3f}{result['mb']:>7.0f}"


def row(name: str, results: dict[str, dict]) -> str:
    """One model's line: its size, entries, the three kinds' costs, and any errors."""
    found = next((r for r in results.values() if "params" in r), {})
    counted = next((r for r in results.values() if "entries" in r), {})
    def ratio(kind: str) -> str:
        return (f"{results[kind]['seconds'] / results['pass']['seconds']:>7.1f}"
                if "error" not in results["pass"] and "error" not in results[kind] else f"{'-':>7}")

    params = f"{found['params'] / 1e6:>9.1f}" if found else f"{'-':>9}"
    entries = f"{counted['entries']:>8}{counted['paired']:>7}" if counted else f"{'-':>8}{'-':>7}"
    errors = "; ".join(r["error"] for r in results.values() if "error" in r)
    return (f"{name:<19}{params}{entries}  {cost(results['pass'], 8)}  {cost(results['measure'], 9)}{ratio('measure')}  "
            f"{cost(results['filtered'], 10)}{ratio('filtered')}  {cost(results['spectra'], 9)}"
            + (f"  {errors}" if errors else ""))


def header(timeout: float, device: str) -> str:
    where = (f"on {torch.cuda.get_device_name(device)}" if torch.device(device).type == "cuda"
             else f"on the CPU, {torch.get_num_threads()} torch threads")
    return (f"one Probe.measure beside one forward/backward pass; {where}, eval mode, "
            f"each (model, kind) in a fresh process (timeout {timeout:g} s), warmed up, timed once\n"
            f"probe sets: images {IMAGE_EXAMPLES} x {'x'.join(map(str, IMAGE))} ({IMAGE_CLASSES} classes); "
            f"sequences {SEQUENCE_EXAMPLES} x {SEQUENCE_LENGTH} positions; MLP {MLP_EXAMPLES} x {MLP_FEATURES} "
            f"features; Jacobian spectra on the first {JACOBIAN_EXAMPLES} examples\n"
            f"measure: no spectra, no histograms; filtered: the same, keeping {', '.join(FILTERED)}; "
            "spectra: with both; "
            + ("MB: CUDA peak allocated growth over the model built\n" if torch.device(device).type == "cuda"
               else "MB: peak RSS growth over the process with the model built\n")
            + COLUMNS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds for each (model, kind) process")
    parser.add_argument("--device", default=default_device(), help="where the model and probe set are "
                        "(default: cuda where there is one, else cpu)")
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "KIND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(*args.one, args.device)))
        return
    start = time.perf_counter()
    print(header(args.timeout, args.device), flush=True)
    for name in args.models:
        print(row(name, {kind: run_one(name, kind, args.timeout, args.device) for kind in KINDS}), flush=True)
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()

"""The native kernels (fused_mlp.c) against the formulas they implement, and their build."""

import os
import shlex
import shutil

import pytest
import torch

from depthlab.nets.activations import ACTIVATIONS
from depthlab.training import kernels
from depthlab.training.costs import COSTS
from depthlab.training.fused import NATIVE_MAX_BATCH
from depthlab.training.kernels import NativeUnavailable, native_kernels

NATIVE_ACTIVATIONS = [a.name for a in ACTIVATIONS if a.native is not None]
NATIVE_COSTS = [c.name for c in COSTS if c.native is not None]

# (B, n_in, n_out): vector tails (n_in % 8), row blocks of 4 ending in 1-3 rows, odd
# batches, one example, the paper's layer, the largest batch FusedSGD gives the kernels
SHAPES = [(1, 5, 3), (7, 21, 9), (10, 1024, 1000), (13, 8, 2), (24, 133, 17), (3, 16, 11),
          (NATIVE_MAX_BATCH, 40, 6)]
LR, DECAY = 0.1, 0.01


def rounding(*lengths):
    """Absolute tolerance for float32 sums of this many unit-size terms: n·2⁻²³."""
    return max(lengths) * 2**-23


@pytest.fixture
def fresh_build(tmp_path, monkeypatch):
    """Forget the loaded kernels and build into an empty cache; forget them again after."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    kernels._load.cache_clear()
    yield tmp_path / "cache" / "depthlab" / "kernels"
    kernels._load.cache_clear()


def layer(batch, n_in, n_out, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, n_in, generator=g), torch.randn(n_out, n_in, generator=g),
            torch.randn(n_out, generator=g), torch.randn(batch, n_out, generator=g))


def hidden_forward(native, a, w, b, activation):
    """φ(a Wᵀ + b), computed as the hidden layer of a two-layer forward pass (the last layer
    of a pass is linear)."""
    outputs = [torch.empty(len(a), len(w)), torch.empty(len(a), 1)]
    native.forward(a, [w, torch.zeros(1, len(w))], [b, torch.zeros(1)], outputs, ACTIVATIONS.get(activation))
    return outputs[0]


def backward_above(native, a, w, b, delta, buffers, activation, momentum=0.0, nesterov=False):
    """Update (w, b) as the second layer of a two-layer net whose first layer gave a (all
    zeros: x, its weights, its biases); return the δ written for that first layer."""
    x, w0, b0 = torch.zeros(len(a), 2), torch.zeros(a.shape[1], 2), torch.zeros(a.shape[1])
    below = torch.full_like(a, float("nan"))  # every element must be written
    layer_buffers = [(torch.zeros_like(w0), torch.zeros_like(b0)), buffers] if buffers else None
    native.backward(x, [a, torch.empty(len(a), len(w))], [below, delta], [w0, w], [b0, b], layer_buffers,
                    ACTIVATIONS.get(activation), LR, DECAY, momentum, nesterov)
    return below


@pytest.mark.parametrize("shape", SHAPES)
def test_forward_is_a_times_w_transposed_plus_b(native, shape):
    a, w, b, _ = layer(*shape)
    out = torch.empty(shape[0], shape[2])
    native.forward(a, [w], [b], [out], ACTIVATIONS.get("tanh"))  # a single layer is the last: linear
    expected = (a.double() @ w.double().t() + b.double()).float()
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=rounding(shape[1]))


@pytest.mark.parametrize("threads", [1, 2])
def test_forward_pass_chains_the_layers(native, threads, monkeypatch):
    """Each layer reads the finished output of the one below, on any number of threads."""
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    g = torch.Generator().manual_seed(0)
    widths = [21, 19, 40, 13, 5]
    x = torch.randn(7, widths[0], generator=g)
    weights = [torch.randn(n_out, n_in, generator=g) / n_in**0.5 for n_in, n_out in zip(widths, widths[1:])]
    biases = [torch.randn(n_out, generator=g) for n_out in widths[1:]]
    outputs = [torch.full((7, n_out), float("nan")) for n_out in widths[1:]]
    native.forward(x, weights, biases, outputs, ACTIVATIONS.get("sigmoid"))
    a = x.double()
    for k, (w, b) in enumerate(zip(weights, biases)):
        s = a @ w.double().t() + b.double()
        a = torch.sigmoid(s) if k < len(weights) - 1 else s
        torch.testing.assert_close(outputs[k].double(), a, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("activation", NATIVE_ACTIVATIONS)
def test_forward_applies_the_registry_activation(native, activation):
    """With W = I and b = 0 the product is exact, so out = φ(s) shows the kernel's φ alone:
    within 3 float ulps of the registry's φ in float64, from 0 and tiny inputs through the
    saturated range to beyond the clamps (|s| > 88)."""
    s = torch.cat([torch.linspace(-30, 30, 2401), torch.tensor([0.0, 1e-7, -1e-7, 1e-3, -1e-3, 88.5, -88.5, 200, -200])])
    n = len(s)
    out = hidden_forward(native, s.view(1, n), torch.eye(n), torch.zeros(n), activation)
    expected = ACTIVATIONS.get(activation).module()(s.double().view(1, n))
    torch.testing.assert_close(out.double(), expected, rtol=3 * 2**-23, atol=1e-37)


@pytest.mark.parametrize("cost", NATIVE_COSTS)
def test_forward_ends_in_the_registry_cost_and_its_gradient(native, cost):
    """One layer with W = I and b = 0 passes the logits through exactly, so the kernels' cost
    and ∂C/∂z are compared alone with the registry's in float64: logits from 0 to ±40 (far
    into saturation, where a naive softmax or log(1 + e^z) overflows)."""
    g = torch.Generator().manual_seed(0)
    z = torch.cat([torch.randn(6, 7, generator=g), torch.linspace(-40, 40, 14).view(2, 7)])
    y = torch.tensor([0, 6, 3, 3, 1, 5, 0, 6])
    delta = torch.full_like(z, float("nan"))
    loss = native.forward(z, [torch.eye(7)], [torch.zeros(7)], [torch.empty_like(z)], ACTIVATIONS.get("tanh"),
                          COSTS.get(cost), y, delta)
    assert loss == pytest.approx(COSTS.get(cost).loss(z.double(), y).item(), rel=1e-12)
    torch.testing.assert_close(delta.double(), COSTS.get(cost).grad_logits(z.double(), y), rtol=2**-23, atol=1e-45)


@pytest.mark.parametrize("label", [-1, 7])
def test_forward_names_a_label_outside_the_classes(native, label):
    z, delta = torch.zeros(3, 7), torch.zeros(3, 7)
    with pytest.raises(IndexError, match=rf"^label {label} of example 2 is not one of the 7 classes \(0 to 6\)$"):
        native.forward(z, [torch.eye(7)], [torch.zeros(7)], [torch.empty_like(z)], ACTIVATIONS.get("tanh"),
                       COSTS.get("nll"),
                       torch.tensor([0, 1, label]), delta)
    assert not delta.any()  # nothing written


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("activation", NATIVE_ACTIVATIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_backward_scales_below_by_the_registry_derivative(native, shape, activation, threads, monkeypatch):
    """below = (δ W) ⊙ φ′(a) on every column, vector tails and each thread's share alike."""
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    s, w, b, delta = layer(*shape)
    a = ACTIVATIONS.get(activation).module()(s)
    expected = (delta.double() @ w.double()) * ACTIVATIONS.get(activation).derivative(a.double())
    below = backward_above(native, a, w, b, delta, None, activation)
    torch.testing.assert_close(below.double(), expected, rtol=1e-5, atol=rounding(shape[2]))


def sgd_reference(a, w, b, delta, buffers, momentum, nesterov):
    """torch.optim.SGD's rule in float64: returns (below, W, b, buffers) after one step."""
    a, w, b, delta = (t.double() for t in (a, w, b, delta))
    below = delta @ w
    new = []
    for theta, grad, buffer in zip((w, b), (delta.t() @ a, delta.sum(0)), buffers or (None, None)):
        grad = grad + DECAY * theta
        if buffer is None:
            new.append((theta - LR * grad, None))
            continue
        buffer = momentum * buffer.double() + grad
        new.append((theta - LR * (grad + momentum * buffer if nesterov else buffer), buffer))
    (w, w_buffer), (b, b_buffer) = new
    return below, w, b, (w_buffer, b_buffer) if buffers else None


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov"])
@pytest.mark.parametrize("shape", SHAPES)
def test_backward_update_follows_torch_sgd(native, shape, optimizer, threads, monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    a, w, b, delta = layer(*shape)
    momentum, nesterov = (0.0, False) if optimizer == "sgd" else (0.9, optimizer == "nesterov")
    buffers = None
    if momentum:
        g = torch.Generator().manual_seed(1)
        buffers = (torch.randn(w.shape, generator=g), torch.randn(b.shape, generator=g))
    below_ref, w_ref, b_ref, buffers_ref = sgd_reference(a, w, b, delta, buffers, momentum, nesterov)

    below = backward_above(native, a, w, b, delta, buffers, "linear", momentum, nesterov)
    for got, expected in [(below, below_ref), (w, w_ref), (b, b_ref), *zip(buffers or (), buffers_ref or ())]:
        torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=rounding(*shape))


def test_first_layer_updates_without_computing_below(native):
    a, w, b, delta = layer(10, 21, 9)
    _, w_ref, b_ref, _ = sgd_reference(a, w, b, delta, None, 0.0, False)
    native.backward(a, [torch.empty(10, 9)], [delta], [w], [b], None, ACTIVATIONS.get("tanh"), LR, DECAY, 0.0,
                    False)
    torch.testing.assert_close(w.double(), w_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(b.double(), b_ref, rtol=1e-5, atol=1e-5)


def test_built_once_into_the_user_cache(fresh_build):
    if shutil.which(os.environ.get("CC") or "cc") is None:
        pytest.skip("no C compiler here")
    first = native_kernels()
    assert first.path.parent == fresh_build and first.path.suffix == ".so"
    assert sorted(p.name for p in fresh_build.iterdir()) == [first.path.stem + ".sha256", first.path.name]
    built_at = first.path.stat().st_mtime_ns
    kernels._load.cache_clear()
    assert native_kernels().path == first.path and first.path.stat().st_mtime_ns == built_at
    assert first.description.startswith("native (") and "-O3" in first.description


@pytest.mark.parametrize("flags", [*kernels.FLAG_SETS, (*kernels.FLAG_SETS[0], "-DDL_NO_SHUFFLE")], ids=" ".join)
def test_every_fallback_flag_set_builds_working_kernels(fresh_build, flags):
    """A machine without OpenMP or without -march=native gets the later flag sets: they too
    must compile and compute the same layer, its tanh included. So must the sums of lanes
    written without vector shuffles, for compilers that lack them (GCC before 12)."""
    compiler = os.environ.get("CC") or "cc"
    if shutil.which(compiler) is None:
        pytest.skip("no C compiler here")
    command = shlex.split(compiler)
    native = kernels._trusted(command, kernels._compiler_identity(command), flags)
    a, w, b, _ = layer(10, 1024, 1000)
    out = hidden_forward(native, a, w, b, "tanh")
    expected = torch.tanh(a.double() @ w.double().t() + b.double()).float()
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=rounding(1024))


def test_turned_off_by_environment(fresh_build, monkeypatch):
    monkeypatch.setenv("DEPTHLAB_NATIVE", "0")
    with pytest.raises(NativeUnavailable, match="^turned off by DEPTHLAB_NATIVE=0$"):
        native_kernels()


def test_missing_compiler_is_named(fresh_build, monkeypatch):
    monkeypatch.setenv("CC", "no-such-compiler-cc")
    with pytest.raises(NativeUnavailable, match=r"no C compiler found \(looked for 'no-such-compiler-cc'; set \$CC\)"):
        native_kernels()


def test_failing_compiler_reports_every_attempt(fresh_build, monkeypatch):
    monkeypatch.setenv("CC", "false")  # exists, but every build fails
    with pytest.raises(NativeUnavailable) as raised:
        native_kernels()
    attempts = "; ".join(f"{' '.join(flags)}: exit status 1" for flags in kernels.FLAG_SETS)
    assert str(raised.value) == f"false could not build fused_mlp.c ({attempts})"
    assert not fresh_build.exists() or not any(fresh_build.iterdir())  # nothing half-written

"""The probe on models as they are trained today (issue 26): frozen layers, a frozen
backbone, LoRA adapters, bfloat16/float16 weights, autocast regions and custom
``torch.autograd.Function``s in the forward.

Every statistic of the data flow is compared, per call, with one computed independently
of the probe: forward hooks on a clone of the model whose parameters all require grad,
``torch.autograd.grad`` of the cost on the tensors the hooks retained, and the mean and
standard deviation taken by hand in float64. Tolerance: 1e-4 relative for float32 and the
narrower dtypes, 1e-5 for float64. The probe reduces in float32 (float64 for a float64
model) and the reference in float64, on the very same tensors (a bfloat16 model's own
bfloat16 values, upcast by hand): what is left is float32's rounding of a sum of at most
a few hundred terms, about 1e-6 relative; a reduction in bfloat16 would be off by up to
4e-3 and fail.
"""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthlab.probe import Probe
from depthlab.report.diagnosis import diagnose_model

EXAMPLES, IN, CLASSES = 24, 6, 3

pytestmark = pytest.mark.usefixtures("reduced_on")  # each test on the host path and the device path


def mlp(dtype=torch.float32):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(IN, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, CLASSES)).to(dtype)


class LoRALinear(nn.Module):
    """A frozen base Linear plus a trainable low-rank path B A x added to its output, as
    PEFT's ``lora.Linear`` computes it (B starts at zero there; here it is random so that
    the path carries signal)."""

    def __init__(self, base: nn.Linear, rank: int = 2, scale: float = 0.5):
        super().__init__()
        self.base, self.scale = base, scale
        base.requires_grad_(False)
        self.lora_A = nn.Linear(base.in_features, rank, bias=False)
        self.lora_B = nn.Linear(rank, base.out_features, bias=False)

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.scale


class Backbone(nn.Module):
    """A frozen feature extractor (Linear, BatchNorm, tanh twice) and a trainable head."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.features = nn.Sequential(nn.Linear(IN, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh())
        self.head = nn.Linear(8, CLASSES)
        self.features.requires_grad_(False)
        self.features(torch.randn(64, IN) * 2)  # running statistics of their own

    def forward(self, x):
        return self.head(self.features(x))


class Autocast(nn.Module):
    """A float32 model whose hidden layers run in a bfloat16 autocast region."""

    def __init__(self):
        super().__init__()
        self.net = mlp()

    def forward(self, x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            h = self.net[3](self.net[2](self.net[1](self.net[0](x))))
        return self.net[4](h.float())


class HandTanh(torch.autograd.Function):
    """tanh written by hand, as a user's own activation."""

    @staticmethod
    def forward(ctx, s):
        a = torch.tanh(s)
        ctx.save_for_backward(a)
        return a

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * (1 - a * a)


class StraightThrough(torch.autograd.Function):
    """sign(s) forward, the identity backward (a binarizing straight-through estimator)."""

    @staticmethod
    def forward(ctx, s):
        return torch.sign(s)

    @staticmethod
    def backward(ctx, grad):
        return grad


class HandLinear(torch.autograd.Function):
    """A linear layer computed inside a Function: autograd sees nothing of it but the result."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return F.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        return grad @ weight, grad.t() @ x, grad.sum(0)


class Custom(nn.Module):
    """fc1 → a custom Function → fc2 (→ HandLinear when ``hand_linear``) → tanh → out."""

    def __init__(self, function, hand_linear=False):
        super().__init__()
        torch.manual_seed(2)
        self.fc1, self.fc2, self.out = nn.Linear(IN, 8), nn.Linear(8, 8), nn.Linear(8, CLASSES)
        self.function, self.hand_linear = function, hand_linear

    def forward(self, x):
        h = self.function.apply(self.fc1(x))
        h = HandLinear.apply(h, self.fc2.weight, self.fc2.bias) if self.hand_linear else self.fc2(h)
        return self.out(torch.tanh(h))


class Reused(nn.Module):
    """One frozen block applied twice (weights shared across depth, as ALBERT's), a trainable head."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(4)
        self.embed, self.block, self.head = nn.Linear(IN, 8), nn.Linear(8, 8), nn.Linear(8, CLASSES)
        self.act = nn.Tanh()
        self.block.requires_grad_(False)

    def forward(self, x):
        h = self.act(self.embed(x))
        return self.head(self.act(self.block(self.act(self.block(h)))))


def frozen_first(dtype=torch.float32):
    model = mlp(dtype)
    model[0].requires_grad_(False)
    return model


def lora():
    model = mlp()
    model[0], model[2] = LoRALinear(model[0]), LoRALinear(model[2])
    return model


# name → (model, {entry: module whose output is s},
#         {entry: (module, "output" or "input" holding a, or "tanh": a = tanh(its output))})
PLAIN = {"0": "0", "2": "2", "4": "4"}, {"0": ("1", "output"), "2": ("3", "output")}
CASES = {
    "frozen first layer": (frozen_first, *PLAIN),
    "frozen first layer, float64": (lambda: frozen_first(torch.float64), *PLAIN),
    "frozen backbone": (Backbone, {"features.0": "features.0", "features.1": "features.1", "features.3": "features.3",
                                   "head": "head"},
                        {"features.0": ("features.2", "output"), "features.1": ("features.2", "output"),
                         "features.3": ("features.4", "output")}),
    "LoRA adapters": (lora, {"0.base": "0.base", "0.lora_A": "0.lora_A", "0.lora_B": "0.lora_B",
                             "2.base": "2.base", "2.lora_A": "2.lora_A", "2.lora_B": "2.lora_B", "4": "4"}, {}),
    "frozen block called twice": (Reused, {"embed": "embed", "block": "block", "block#2": "block#2",
                                           "head": "head"},
                                  {"embed": ("act", "output"), "block": ("act#2", "output"),
                                   "block#2": ("act#3", "output")}),
    "bfloat16": (lambda: mlp(torch.bfloat16), *PLAIN),
    "float16": (lambda: mlp(torch.float16), *PLAIN),
    "autocast region": (Autocast, {"net.0": "net.0", "net.2": "net.2", "net.4": "net.4"},
                        {"net.0": ("net.1", "output"), "net.2": ("net.3", "output")}),
    "hand-written activation": (lambda: Custom(HandTanh), {"fc1": "fc1", "fc2": "fc2", "out": "out"},
                                {"fc1": ("fc2", "input")}),
    "straight-through estimator": (lambda: Custom(StraightThrough), {"fc1": "fc1", "fc2": "fc2", "out": "out"}, {}),
    "linear inside a Function": (lambda: Custom(HandTanh, hand_linear=True), {"fc1": "fc1", "out": "out"},
                                 {"fc1": ("fc1", "tanh")}),
}


def probe_set(model):
    dtype = next(model.parameters()).dtype if not isinstance(model, Autocast) else torch.float32
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(EXAMPLES, IN, generator=generator).to(dtype)
    return x, torch.randint(0, CLASSES, (EXAMPLES,), generator=generator)


def reference(model, x, y, outputs, activations):
    """entry → {statistic: value}, from hooks on a clone whose parameters all require grad
    (a module ``m`` named ``m#k`` is its k-th call)."""
    clone = copy.deepcopy(model).eval().requires_grad_(True)
    modules = dict(clone.named_modules())
    kept = {}

    def keep(name, where):
        def hook(module, args, output):
            kept.setdefault((name, where), []).append(args[0] if where == "input" else output)
        return hook

    def at(call, where):
        module, _, k = call.partition("#")
        return kept[module, where][int(k or 1) - 1]

    for name in {c.partition("#")[0] for c in (*outputs.values(), *(m for m, _ in activations.values()))}:
        for where in ("output", "input"):
            modules[name].register_forward_hook(keep(name, where))
    loss = F.cross_entropy(clone(x), y)
    names = list(outputs)
    grads = torch.autograd.grad(loss, [at(outputs[n], "output") for n in names], allow_unused=True)
    found = {}
    for name, grad in zip(names, grads, strict=True):
        s = at(outputs[name], "output").detach().double()
        found[name] = {"preactivation_mean": s.mean().item(), "preactivation_std": s.std().item()}
        if grad is not None:
            found[name]["backprop_grad_std"] = grad.double().std().item()
    for name, (module, where) in activations.items():
        a = torch.tanh(at(module, "output")) if where == "tanh" else at(module, where)
        a = a.detach().double()
        found[name] |= {"activation_mean": a.mean().item(), "activation_std": a.std().item()}
    return found


def measured(model, x, y):
    probe = Probe(model, x, y)
    rows = probe.measure(1).rows
    return probe, {(row["layer"], row["stat"]): row["value"] for row in rows}


@pytest.mark.parametrize("case", list(CASES))
def test_each_call_s_statistics_are_those_of_hooks_on_a_clone(case):
    make, outputs, activations = CASES[case]
    model = make()
    x, y = probe_set(model)
    _, values = measured(model, x, y)
    tolerance = 1e-5 if x.dtype == torch.float64 else 1e-4
    expected = reference(model, x, y, outputs, activations)
    compared = 0
    for name, stats in expected.items():
        for stat, value in stats.items():
            assert values[name, stat] == pytest.approx(value, rel=tolerance, abs=1e-12), (name, stat)
            compared += 1
    assert compared >= 2 * len(outputs) + 2 * len(activations)


@pytest.mark.parametrize("case", ["frozen first layer", "frozen backbone", "LoRA adapters",
                                  "frozen block called twice"])
def test_what_a_probe_measures_does_not_depend_on_what_trains(case):
    """Every row, weight gradients included (∂C/∂W is defined whether or not W trains: the
    probe reports it for frozen weights too), is that of the same model with every
    parameter trainable."""
    frozen = CASES[case][0]()
    x, y = probe_set(frozen)
    trainable = copy.deepcopy(frozen).requires_grad_(True)
    _, with_frozen = measured(frozen, x, y)
    _, all_trained = measured(trainable, x, y)
    assert with_frozen.keys() == all_trained.keys()
    assert {stat for _, stat in with_frozen} >= {"weight_grad_std", "backprop_grad_std", "jacobian_sv_mean",
                                                  "input_jacobian_sv_max"}
    for key, value in all_trained.items():
        assert with_frozen[key] == pytest.approx(value, rel=1e-6, abs=1e-12), key


def test_a_frozen_weight_s_gradient_is_dc_dw():
    model = frozen_first()
    x, y = probe_set(model)
    _, values = measured(model, x, y)
    clone = copy.deepcopy(model).requires_grad_(True).eval()
    (grad,) = torch.autograd.grad(F.cross_entropy(clone(x), y), [clone[0].weight])
    assert values["0", "weight_grad_std"] == pytest.approx(grad.double().std().item(), rel=1e-4)
    assert values["0", "weight_grad_norm"] == pytest.approx(grad.double().norm().item(), rel=1e-4)


@pytest.mark.parametrize("case", list(CASES))
def test_a_probe_leaves_the_model_as_it_was(case):
    model = CASES[case][0]()
    x, y = probe_set(model)
    model.train()
    for p in model.parameters():
        if p.requires_grad:
            p.grad = torch.full_like(p, 0.25)
    if isinstance(model, Backbone):
        model.features[1].eval()  # a BatchNorm the user froze
    params = [(p, p.detach().clone(), p.requires_grad, None if p.grad is None else p.grad.clone())
              for p in model.parameters()]
    buffers = [(b, b.clone()) for b in model.buffers()]
    modes = [m.training for m in model.modules()]
    torch.manual_seed(7)
    rng = torch.random.get_rng_state()
    probe = Probe(model, x, y)
    probe.measure(1)
    probe.measure(2)
    assert torch.equal(torch.random.get_rng_state(), rng)
    assert [m.training for m in model.modules()] == modes
    for p, value, requires_grad, grad in params:
        assert torch.equal(p, value) and p.requires_grad == requires_grad
        assert (p.grad is None) if grad is None else torch.equal(p.grad, grad)
    for b, value in buffers:
        assert torch.equal(b, value)


@pytest.mark.parametrize("case", ["bfloat16", "float16", "autocast region"])
def test_statistics_and_spectra_of_a_narrow_model_are_in_float32(case):
    model = CASES[case][0]()
    x, y = probe_set(model)
    probe = Probe(model, x, y)
    measure = probe.measure(1)
    stats = {row["stat"] for row in measure.rows}
    assert {"jacobian_sv_mean", "input_jacobian_sv_max", "activation_p98", "weight_grad_std"} <= stats
    assert all(isinstance(row["value"], float) for row in measure.rows)
    assert all(sum(h["counts"]) > 0 for h in measure.histograms)
    # the first layer's Jacobian spectrum: φ'(s) by autograd on the clone's own retained
    # tensors (in the model's dtype, as the model's backward computes it), upcast by hand
    name, act = ("0", "1") if case != "autocast region" else ("net.0", "net.1")
    clone = copy.deepcopy(model).eval().requires_grad_(True)
    modules, kept = dict(clone.named_modules()), {}
    modules[name].register_forward_hook(lambda m, args, out: kept.setdefault("s", out))
    modules[act].register_forward_hook(lambda m, args, out: kept.setdefault("a", out))
    clone(x)
    (slope,) = torch.autograd.grad(kept["a"], kept["s"], torch.ones_like(kept["a"]))
    weight = modules[name].weight.detach().float()
    expected = torch.linalg.svdvals(slope[:2].float().unsqueeze(2) * weight)
    value = {row["stat"]: row["value"] for row in measure.rows if row["layer"] == name}
    assert value["jacobian_sv_mean"] == pytest.approx(expected.mean().item(), rel=1e-4)
    assert value["jacobian_sv_max"] == pytest.approx(expected.max(1).values.mean().item(), rel=1e-4)


@pytest.mark.parametrize("case", ["hand-written activation", "straight-through estimator",
                                  "linear inside a Function"])
def test_custom_functions_measure_what_they_can_and_say_what_not(case):
    model = CASES[case][0]()
    x, y = probe_set(model)
    probe, values = measured(model, x, y)
    not_measured = {row["layer"]: row["not measured"] for row in probe.summary()}
    assert set(not_measured) == {"fc1", "fc2", "out"}
    assert not_measured["out"] == ""
    if case == "hand-written activation":  # tanh inside the Function: paired, but no φ'(s)
        assert "torch.autograd.Function" in not_measured["fc1"] and "layer Jacobian" in not_measured["fc1"]
        assert ("fc1", "activation_std") in values and ("fc1", "jacobian_sv_mean") not in values
    if case == "straight-through estimator":  # sign ends the flow: nothing is missing
        assert not_measured["fc1"] == "" and ("fc1", "backprop_grad_std") in values
    if case == "linear inside a Function":  # fc2's output is out of autograd's sight
        assert "∂C/∂s" in not_measured["fc2"] and ("fc2", "backprop_grad_std") not in values
        assert ("fc2", "preactivation_std") in values and ("fc2", "weight_grad_std") in values
    assert diagnose_model(model, x, y)


@pytest.mark.parametrize("case", ["frozen first layer", "frozen backbone", "LoRA adapters", "bfloat16"])
def test_diagnose_runs_on_models_of_today(case):
    model = CASES[case][0]()
    x, y = probe_set(model)
    findings = diagnose_model(model, x, y)
    assert findings and findings[-1].name == "not checked"


class ReadsItsFrozenWeight(nn.Module):
    """A forward that reads a frozen weight's flag and changes a frozen parameter in place,
    as a user's code may: the probe must hand it the parameters themselves."""

    def __init__(self):
        super().__init__()
        self.fc, self.out = nn.Linear(IN, 8), nn.Linear(8, CLASSES)
        self.scale = nn.Parameter(torch.ones(()), requires_grad=False)
        self.fc.requires_grad_(False)
        self.flags = []

    def forward(self, x):
        self.flags.append(self.fc.weight.requires_grad)
        self.scale.mul_(1.0)
        return self.out(torch.tanh(self.fc(x) * self.scale))


def test_a_forward_reading_or_changing_its_frozen_parameters_sees_them():
    model = ReadsItsFrozenWeight()
    x, y = probe_set(model)
    _, values = measured(model, x, y)
    assert model.flags and not any(model.flags)
    assert ("fc", "backprop_grad_std") in values and ("fc", "weight_grad_std") in values


class NoGrad(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = mlp()

    def forward(self, x):
        with torch.no_grad():
            return self.net(x)


def test_a_cost_without_gradients_gives_the_forward_statistics_and_says_why_not_the_rest():
    model = NoGrad()
    x, y = probe_set(model)
    probe, values = measured(model, x, y)
    expected = reference(model.net, x, y, *PLAIN)
    for name, stats in expected.items():
        for stat in ("preactivation_mean", "preactivation_std", "activation_mean", "activation_std"):
            if stat in stats:
                assert values[f"net.{name}", stat] == pytest.approx(stats[stat], rel=1e-4)
    assert not any(stat in ("backprop_grad_std", "weight_grad_std") for _, stat in values)
    assert all("∂C/∂s" in row["not measured"] for row in probe.summary())


def test_a_measure_called_inside_the_user_s_autocast_region():
    model = mlp()
    x, y = probe_set(model)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, values = measured(model, x, y)
        expected = reference(model, x, y, *PLAIN)
    assert ("0", "jacobian_sv_mean") in values and ("2", "input_jacobian_sv_max") in values
    for name, stats in expected.items():
        for stat, value in stats.items():
            assert values[name, stat] == pytest.approx(value, rel=1e-4), (name, stat)


def test_under_amp_the_probe_reports_the_true_gradients_and_leaves_the_scaled_ones():
    """A loop with a GradScaler leaves p.grad scaled by its factor between backward and
    step; the probe's ∂C/∂W is the cost's own, and p.grad stays as the loop left it."""
    model = mlp()
    x, y = probe_set(model)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = F.cross_entropy(model(x), y)
    scaler.scale(loss).backward()
    scaled = [p.grad.clone() for p in model.parameters()]
    _, values = measured(model, x, y)
    clone = copy.deepcopy(model).eval()
    (grad,) = torch.autograd.grad(F.cross_entropy(clone(x), y), [clone[0].weight])
    assert values["0", "weight_grad_norm"] == pytest.approx(grad.norm().item(), rel=1e-4)
    assert scaled[0].norm().item() == pytest.approx(1024.0 * values["0", "weight_grad_norm"], rel=5e-2)
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), scaled, strict=True))


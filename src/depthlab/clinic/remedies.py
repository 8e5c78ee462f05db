"""The remedies the doctor tries, each declared once as data (:data:`REMEDIES`): its
name, the findings of :mod:`depthlab.report.diagnosis` it answers, how it changes a
fresh copy of the model and the trial's settings, and the PyTorch code a user pastes.

- ``suggested init``: each Linear/Conv layer re-initialized as its activation wants it,
  He (``kaiming_normal_``, nonlinearity='relu') for rectifiers, Glorot's normalized
  (``xavier_uniform_``) otherwise (Glorot & Bengio 2010, eq. 16; He et al. 2015); biases 0;
- ``scaled init``: the layer's own weights (their distribution kept) rescaled to
  σ_w² = fan_in · mean(W²) = 2 where a rectifier follows (He et al. 2015), 1 otherwise
  (LeCun et al. 1998); biases kept;
- ``orthogonal init``: (semi-)orthogonal weights with the activation's gain (Saxe et al.
  2014; ``torch.nn.init.calculate_gain``); biases 0;
- ``LSUV init``: orthogonal, then each layer rescaled to unit output variance on the
  probe batch (Mishkin & Matas 2016, :func:`depthlab.nets.init.lsuv_`); biases 0;
- ``tanh for sigmoid``: every Sigmoid module a Tanh, with Glorot's normalized init
  (Glorot & Bengio 2010, sections 4–5: zero-centred, and its init keeps the signal);
- ``leaky ReLU for ReLU``: every ReLU module a LeakyReLU(0.01), which never dies (Maas
  et al. 2013);
- ``layer norm``: a ``torch.nn.LayerNorm`` between each Linear layer of an
  ``nn.Sequential`` and the activation after it (Ba et al. 2016), a BatchNorm after each
  convolution (Ioffe & Szegedy 2015) (:data:`NORMS`);
- ``lower lr``, ``higher lr``: the learning rate ÷10 or ×10;
- ``gradient clipping``: ‖∇‖ clipped to 1 before each update (Pascanu et al. 2013).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from depthlab.clinic.trial import TrialSettings
from depthlab.nets.activations import ACTIVATIONS, Activation, activation_of
from depthlab.nets.init import lsuv_

VANISHING, EXPLODING = "vanishing gradients", "exploding gradients"
SATURATION, DEAD_RELUS, DEAD_UNITS = "saturation", "dead ReLUs", "dead units"
DIVERGENCE, HUGE_UPDATES, TINY_UPDATES = "divergence", "huge updates", "tiny updates"
WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
"""The layer types the re-initializations fill."""
LR_FACTOR = 10.0
CLIP_NORM = 1.0
LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class Patient:
    """What the remedies read of the model, from the baseline's probe: ``activations``,
    each probed module's activation (by qualified module name, bottom to top; None
    where none follows it), the probe inputs (for LSUV), the learning rate and the
    gradient clipping the user's loop does (None: none)."""

    activations: dict[str, Activation | None]
    probe_inputs: Any
    lr: float
    clip_norm: float | None = None

    def main_activation(self) -> Activation | None:
        """The activation most probed modules have."""
        found = [a for a in self.activations.values() if a is not None]  # family members too: leaky-relu:0.2
        names = [a.name for a in found]
        return max(found, key=lambda a: names.count(a.name)) if found else None

    def weighted(self, model: nn.Module) -> list[tuple[str, nn.Module]]:
        """The probed Linear/Conv modules of ``model`` (a copy: the names are the same)."""
        modules = dict(model.named_modules())
        return [(name, modules[name]) for name in self.activations
                if name in modules and isinstance(modules[name], WEIGHTED)]


@dataclass(frozen=True)
class Remedy:
    """One remedy: ``answers`` the findings (by name) it may fix; ``applies(patient,
    model)`` says why it cannot be tried ("" when it can); ``change(model, settings,
    patient)`` changes the fresh copy ``model`` in place and returns the trial's settings;
    ``code(patient, model)`` is what a user pastes."""

    name: str
    answers: tuple[str, ...]
    summary: str
    change: Callable[[nn.Module, TrialSettings, Patient], TrialSettings]
    code: Callable[[Patient, nn.Module], str]
    applies: Callable[[Patient, nn.Module], str]


# -- re-initializations ------------------------------------------------------------------
def _needs_weighted(patient: Patient, model: nn.Module) -> str:
    return "" if patient.weighted(model) else "no probed Linear or Conv layer to re-initialize"


def _named(names: list[str]) -> str:
    return f"[model.get_submodule(name) for name in {names!r}]"


def _layers_code(patient: Patient, model: nn.Module) -> str:
    """Code for the list of the layers a re-initialization fills: every module of their
    types where those are all of them, else the modules by name."""
    weighted = patient.weighted(model)
    found = sorted({f"torch.nn.{type(m).__name__}" for _, m in weighted})
    types = tuple({type(m) for _, m in weighted})
    if {name for name, m in model.named_modules() if isinstance(m, types)} == {name for name, _ in weighted}:
        return f"[m for m in model.modules() if isinstance(m, ({', '.join(found)},))]".replace(",,)", ",)")
    return _named([name for name, _ in weighted])


def _rectifier(activation: Activation | None) -> bool:
    return activation is not None and activation.suggested_init.startswith("he")


FILLS: dict[str, tuple[Callable[[torch.Tensor], Any], str]] = {
    "he": (lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
           "torch.nn.init.kaiming_normal_(m.weight, nonlinearity='relu')"),
    "glorot": (nn.init.xavier_uniform_, "torch.nn.init.xavier_uniform_(m.weight)"),
}
"""The suggested init's fills: the function and the code a user pastes."""


def _suggested_plan(patient: Patient, model: nn.Module) -> list[tuple[str, str]]:
    """(module name, its fill) for each probed Linear/Conv layer: He where a rectifier
    follows it, Glorot's normalized otherwise (the output layer: as the main activation)."""
    main = patient.main_activation()
    return [(name, "he" if _rectifier(patient.activations[name] or main) else "glorot")
            for name, _ in patient.weighted(model)]


def _suggested_init(model: nn.Module, settings: TrialSettings, patient: Patient) -> TrialSettings:
    modules = dict(model.named_modules())
    with torch.no_grad():
        for name, fill in _suggested_plan(patient, model):
            FILLS[fill][0](modules[name].weight)
            if modules[name].bias is not None:
                nn.init.zeros_(modules[name].bias)
    return settings


def _suggested_code(patient: Patient, model: nn.Module) -> str:
    """Per fill, a loop over the layers it fills: the code does exactly what the trial did."""
    plan = _suggested_plan(patient, model)
    fills = {fill for _, fill in plan}
    blocks = []
    for fill, (_, line) in FILLS.items():
        names = [name for name, chosen in plan if chosen == fill]
        if names:
            layers = _layers_code(patient, model) if len(fills) == 1 else _named(names)
            blocks.append(f"for m in {layers}:\n    {line}\n    if m.bias is not None:\n"
                          "        torch.nn.init.zeros_(m.bias)")
    return "\n".join(blocks)


SCALED_TARGET = {"he": 2.0, "glorot": 1.0}
"""The scaled init's σ_w² = fan_in · mean(W²) per fill: 2 where a rectifier follows (He et
al. 2015), 1 otherwise (LeCun's, the linear regime's χ₁ = σ_w² φ'(0)² = 1 for tanh)."""


def _scaled_init(model: nn.Module, settings: TrialSettings, patient: Patient) -> TrialSettings:
    modules = dict(model.named_modules())
    with torch.no_grad():
        for name, fill in _suggested_plan(patient, model):
            weight = modules[name].weight
            mean_square = weight.pow(2).mean()
            if mean_square > 0:
                weight *= (SCALED_TARGET[fill] / (weight[0].numel() * mean_square)) ** 0.5
    return settings


def _scaled_code(patient: Patient, model: nn.Module) -> str:
    plan = _suggested_plan(patient, model)
    fills = {fill for _, fill in plan}
    blocks = []
    for fill, target in SCALED_TARGET.items():
        names = [name for name, chosen in plan if chosen == fill]
        if names:
            layers = _layers_code(patient, model) if len(fills) == 1 else _named(names)
            blocks.append(f"with torch.no_grad():  # fan_in · mean(W²) = {target:g}, the weights' shape kept\n"
                          f"    for m in {layers}:\n        ms = m.weight.pow(2).mean()\n"
                          "        if ms > 0:\n"
                          f"            m.weight *= ({target:g} / (m.weight[0].numel() * ms)) ** 0.5")
    return "\n".join(blocks)


GAINS = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu", "leaky-relu": "leaky_relu", "selu": "selu"}
"""depthlab's activation name → ``torch.nn.init.calculate_gain``'s (the others: gain 1)."""


def _gain_name(patient: Patient) -> str:
    """The main activation's gain name; a rectifier torch names no gain for (GELU, SiLU,
    ELU, a leaky ReLU of another slope) takes ReLU's √2, as He's init does."""
    main = patient.main_activation()
    if main is None:
        return "linear"
    return GAINS.get(main.name.split(":")[0]) or ("relu" if _rectifier(main) else "linear")


def _orthogonal(model: nn.Module, settings: TrialSettings, patient: Patient) -> TrialSettings:
    gain = nn.init.calculate_gain(_gain_name(patient))
    with torch.no_grad():
        for _, module in patient.weighted(model):
            nn.init.orthogonal_(module.weight, gain=gain)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return settings


def _orthogonal_code(patient: Patient, model: nn.Module) -> str:
    return (f"gain = torch.nn.init.calculate_gain('{_gain_name(patient)}')\nfor m in {_layers_code(patient, model)}:\n"
            "    torch.nn.init.orthogonal_(m.weight, gain=gain)\n"
            "    if m.bias is not None:\n        torch.nn.init.zeros_(m.bias)")


def _lsuv(model: nn.Module, settings: TrialSettings, patient: Patient) -> TrialSettings:
    from depthlab.probe.calling import call_model

    layers = [module for _, module in patient.weighted(model)]
    with torch.no_grad():
        for module in layers:
            nn.init.orthogonal_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        was_training = model.training
        model.eval()

        def forward_to(k: int, x: Any) -> torch.Tensor:
            seen: list[torch.Tensor] = []
            handle = layers[k].register_forward_hook(lambda _m, _i, out: seen.append(out))
            try:
                call_model(model, x)
            finally:
                handle.remove()
            return seen[0]

        lsuv_(layers, forward_to, patient.probe_inputs)
        model.train(was_training)
    return settings


def _lsuv_code(patient: Patient, model: nn.Module) -> str:
    return (f"layers = {_layers_code(patient, model)}\n"
            "with torch.no_grad():  # x: a batch of inputs (Mishkin & Matas 2016)\n"
            "    for m in layers:\n        torch.nn.init.orthogonal_(m.weight)\n"
            "        if m.bias is not None:\n            torch.nn.init.zeros_(m.bias)\n"
            "    for m in layers:\n        for _ in range(10):\n            out = []\n"
            "            h = m.register_forward_hook(lambda mod, i, o: out.append(o))\n"
            "            model(x)\n            h.remove()\n            var = out[0].var().item()\n"
            "            if abs(var - 1) < 0.1 or var == 0:\n                break\n"
            "            m.weight /= var ** 0.5")


# -- activations and normalization -------------------------------------------------------
def _modules_of(model: nn.Module, activation: str) -> list[tuple[nn.Module, str]]:
    """(parent, child name) of every module computing the registered ``activation`` that a
    Linear/Conv layer follows (a hidden one: the output's sigmoid of a model trained with
    binary cross-entropy is not one to swap)."""
    wanted = ACTIVATIONS.get(activation)
    order = {id(m): k for k, m in enumerate(model.modules())}
    last = max((order[id(m)] for m in model.modules() if isinstance(m, WEIGHTED)), default=-1)
    return [(parent, name) for parent in model.modules() for name, child in parent.named_children()
            if wanted.computed_by(child) and order[id(child)] < last]


def _swap(old: str, new: Callable[[], nn.Module], new_code: str,
          normalized: bool = False) -> tuple[Callable, Callable, Callable]:
    """A remedy's change, code and applicability: every ``old`` activation module replaced
    by ``new()``; with ``normalized``, the Linear/Conv layers then take Glorot's normalized
    init and zero biases (the activation's own init: Glorot & Bengio 2010, section 5)."""

    def change(model: nn.Module, settings: TrialSettings, patient: Patient) -> TrialSettings:
        for parent, name in _modules_of(model, old):
            setattr(parent, name, new())
        if normalized:
            with torch.no_grad():
                for _, module in patient.weighted(model):
                    nn.init.xavier_uniform_(module.weight)
                    if module.bias is not None:
                        nn.init.zeros_(module.bias)
        return settings

    def code(patient: Patient, model: nn.Module) -> str:
        swapped = _modules_of(model, old)
        found = sorted({type(getattr(parent, name)).__name__ for parent, name in swapped})
        kinds = tuple(getattr(nn, kind) for kind in found if isinstance(getattr(nn, kind, None), type))
        every = [(parent, name) for parent in model.modules() for name, child in parent.named_children()
                 if type(child) in kinds]
        if len(kinds) == len(found) and [(id(p), n) for p, n in every] == [(id(p), n) for p, n in swapped]:
            types = ", ".join(f"torch.nn.{kind}" for kind in found) + ("," if len(found) == 1 else "")
            swap = (f"for parent in list(model.modules()):\n    for name, child in list(parent.named_children()):\n"
                    f"        if isinstance(child, ({types})):\n"
                    f"            setattr(parent, name, {new_code})")
        else:  # not every such module (the output's is kept), or one torch.nn does not name: by name
            qualified = {id(m): name for name, m in model.named_modules()}
            names = [f"{qualified[id(parent)]}.{name}".lstrip(".") for parent, name in swapped]
            swap = (f"for name in {names!r}:\n    parent, _, child = name.rpartition('.')\n"
                    f"    setattr(model.get_submodule(parent), child, {new_code})")
        if not normalized:
            return swap
        return (swap + f"\nfor m in {_layers_code(patient, model)}:\n"
                "    torch.nn.init.xavier_uniform_(m.weight)\n    if m.bias is not None:\n"
                "        torch.nn.init.zeros_(m.bias)")

    def applies(patient: Patient, model: nn.Module) -> str:
        return "" if _modules_of(model, old) else f"no {old} module to swap (a functional {old} cannot be swapped)"

    return change, code, applies


NORMS: dict[type[nn.Module], tuple[Callable[[nn.Module], nn.Module], str]] = {
    nn.Linear: (lambda layer: nn.LayerNorm(layer.out_features), "torch.nn.LayerNorm(seq[k].out_features)"),
    nn.Conv1d: (lambda layer: nn.BatchNorm1d(layer.out_channels), "torch.nn.BatchNorm1d(seq[k].out_channels)"),
    nn.Conv2d: (lambda layer: nn.BatchNorm2d(layer.out_channels), "torch.nn.BatchNorm2d(seq[k].out_channels)"),
    nn.Conv3d: (lambda layer: nn.BatchNorm3d(layer.out_channels), "torch.nn.BatchNorm3d(seq[k].out_channels)"),
}
"""The normalization put after each layer type: LayerNorm over a Linear layer's features
(Ba et al. 2016), BatchNorm over a convolution's channels (Ioffe & Szegedy 2015)."""


def _normalized_sites(model: nn.Module) -> list[tuple[nn.Sequential, int]]:
    """(sequence, index) of each Linear/Conv layer in an ``nn.Sequential`` that an
    activation module follows."""
    sites = []
    for sequence in model.modules():
        if isinstance(sequence, nn.Sequential):
            children = list(sequence)
            for k, (layer, after) in enumerate(zip(children, children[1:])):
                if type(layer) in NORMS and activation_of(after) is not None:  # family members too
                    sites.append((sequence, k))
    return sites


def _layer_norm(model: nn.Module, settings: TrialSettings, patient: Patient) -> TrialSettings:
    for sequence, k in _normalized_sites(model):
        layer = sequence[k]
        norm = NORMS[type(layer)][0](layer).to(device=layer.weight.device, dtype=layer.weight.dtype)
        sequence[k] = nn.Sequential(layer, norm)
    return settings


def _layer_norm_code(patient: Patient, model: nn.Module) -> str:
    sites = _normalized_sites(model)
    kinds = sorted({type(sequence[k + 1]).__name__ for sequence, k in sites})
    activations = ", ".join(f"torch.nn.{kind}" for kind in kinds) + ("," if len(kinds) == 1 else "")
    lines = ["for seq in [m for m in model.modules() if isinstance(m, torch.nn.Sequential)]:",
             "    for k in range(len(seq) - 1):"]
    for kind in dict.fromkeys(type(sequence[k]) for sequence, k in sites):
        lines += [f"        if type(seq[k]) is torch.nn.{kind.__name__} and isinstance(seq[k + 1], ({activations})):",
                  f"            seq[k] = torch.nn.Sequential(seq[k], {NORMS[kind][1]})"]
    return "\n".join(lines + ["# the new layers have parameters: make the optimizer (again) after this"])


def _layer_norm_applies(patient: Patient, model: nn.Module) -> str:
    return "" if _normalized_sites(model) else ("no Linear or Conv layer followed by an activation module in an "
                                                "nn.Sequential")


# -- the optimizer -----------------------------------------------------------------------
def _lr_times(factor: float) -> tuple[Callable, Callable]:
    def change(model: nn.Module, settings: TrialSettings, patient: Patient) -> TrialSettings:
        return replace(settings, lr_scale=settings.lr_scale * factor)

    def code(patient: Patient, model: nn.Module) -> str:
        return (f"for group in optimizer.param_groups:  # each group's own rate (the first: {patient.lr:g} → "
                f"{patient.lr * factor:g})\n    group['lr'] *= {factor:g}")

    return change, code


def _clip(model: nn.Module, settings: TrialSettings, patient: Patient) -> TrialSettings:
    return replace(settings, clip_norm=CLIP_NORM)


def _always(patient: Patient, model: nn.Module) -> str:
    return ""


def _not_clipped(patient: Patient, model: nn.Module) -> str:
    return "" if patient.clip_norm is None else f"the gradients are already clipped (to norm {patient.clip_norm:g})"


_to_tanh = _swap("sigmoid", nn.Tanh, "torch.nn.Tanh()", normalized=True)
_to_leaky = _swap("relu", lambda: nn.LeakyReLU(LEAKY_SLOPE), f"torch.nn.LeakyReLU({LEAKY_SLOPE:g})")
_lower, _higher = _lr_times(1 / LR_FACTOR), _lr_times(LR_FACTOR)

REMEDIES: tuple[Remedy, ...] = (
    Remedy("suggested init", (VANISHING, EXPLODING, SATURATION, DEAD_RELUS, DEAD_UNITS),
           "each Linear/Conv layer re-initialized as its activation wants (He for rectifiers, Glorot's normalized "
           "otherwise), biases 0", _suggested_init, _suggested_code, _needs_weighted),
    Remedy("scaled init", (VANISHING, EXPLODING),
           "each Linear/Conv layer's own weights rescaled to fan_in · mean(W²) = 2 where a rectifier follows it, "
           "1 otherwise", _scaled_init, _scaled_code, _needs_weighted),
    Remedy("orthogonal init", (VANISHING, EXPLODING), "orthogonal weights with the activation's gain, biases 0",
           _orthogonal, _orthogonal_code, _needs_weighted),
    Remedy("LSUV init", (VANISHING, EXPLODING, SATURATION),
           "orthogonal weights rescaled to unit output variance per layer on the probe batch, biases 0",
           _lsuv, _lsuv_code, _needs_weighted),
    Remedy("tanh for sigmoid", (VANISHING, SATURATION),
           "every Sigmoid module replaced by a Tanh, with Glorot's normalized init and biases 0",
           _to_tanh[0], _to_tanh[1], _to_tanh[2]),
    Remedy("leaky ReLU for ReLU", (DEAD_RELUS,), f"every ReLU module replaced by a LeakyReLU({LEAKY_SLOPE:g})",
           _to_leaky[0], _to_leaky[1], _to_leaky[2]),
    Remedy("layer norm", (VANISHING, EXPLODING, SATURATION),
           "a LayerNorm between each Linear layer and its activation (a BatchNorm after each convolution)",
           _layer_norm, _layer_norm_code, _layer_norm_applies),
    Remedy("lower lr", (SATURATION, DEAD_RELUS, DEAD_UNITS, HUGE_UPDATES, DIVERGENCE),
           f"the learning rate ÷{LR_FACTOR:g}", _lower[0], _lower[1], _always),
    Remedy("higher lr", (TINY_UPDATES,), f"the learning rate ×{LR_FACTOR:g}", _higher[0], _higher[1], _always),
    Remedy("gradient clipping", (EXPLODING, DIVERGENCE, HUGE_UPDATES),
           f"the gradient's norm clipped to {CLIP_NORM:g} before each update", _clip,
           lambda patient, model: (f"torch.nn.utils.clip_grad_norm_(model.parameters(), {CLIP_NORM:g})"
                                   "  # after loss.backward(), before optimizer.step()"), _not_clipped),
)


def remedies_for(problems: set[str]) -> list[Remedy]:
    """The remedies answering any of the findings named ``problems``, in declared order."""
    return [remedy for remedy in REMEDIES if problems & set(remedy.answers)]

"""How the probe passes its set to a model: every nesting of tensors a forward takes, each
form's statistics against a hand-written computation of the same pass (forward hooks and
autograd on retained tensors), the Jacobian's first examples cut consistently, and a
one-line message naming the leaf and its shape when the inputs are not one batch."""

from collections import namedtuple
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from depthlab.errors import DepthlabError
from depthlab.probe import Probe
from depthlab.probe.calling import call_model, examples_in, first_examples, leaves_of, map_leaves

N, K = 10, 3  # probe examples, Jacobian examples

pytestmark = pytest.mark.usefixtures("reduced_on")  # each test on the host path and the device path


@dataclass(frozen=True)
class Batch:
    x: Tensor
    mask: Tensor
    scale: float = 2.0


Pair = namedtuple("Pair", "left right")


class Body(nn.Module):
    """fc1 → tanh → fc2 → tanh → fc3 on (N, 6) rows, 3 classes; each subclass's forward
    takes its inputs in one form and uses every tensor in them."""

    def __init__(self):
        super().__init__()
        self.fc1, self.act1, self.fc2, self.act2, self.fc3 = (nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(),
                                                              nn.Linear(8, 3))

    def body(self, x):
        return self.fc3(self.act2(self.fc2(self.act1(self.fc1(x)))))


class OneTensor(Body):
    def forward(self, x):
        return self.body(x)


class Positional(Body):
    def forward(self, x, mask):
        return self.body(x * mask)


class Keywords(Body):
    def forward(self, *, x, mask):
        return self.body(x * mask)


class DictPositional(Body):
    def forward(self, batch: dict):
        return self.body(batch["x"] * batch["mask"])


class TensorList(Body):
    def forward(self, parts: list):
        return self.body(torch.cat(parts, 1))


class Dataclass(Body):
    def forward(self, batch: Batch):
        return self.body(batch.x * batch.mask * batch.scale)


class Nested(Body):
    """A dict holding a list and a dataclass, a named tuple, an int and a string."""

    def forward(self, tree, pair: Pair, times: int, mode: str):
        assert isinstance(times, int) and mode == "sum"
        x = torch.cat(tree["parts"], 1) * tree["batch"].mask * tree["batch"].scale
        return self.body(x * times + pair.left * pair.right.unsqueeze(1))


def data():
    torch.manual_seed(0)
    x, mask = torch.randn(N, 6) + 0.5, (torch.rand(N, 6) > 0.2).float()
    return x, mask, torch.randint(0, 3, (N,))


def forms():
    """(model class, probe inputs, the model called on inputs by hand) for each form."""
    x, mask, _ = data()
    nested = ({"parts": [x[:, :2], x[:, 2:]], "batch": Batch(torch.ones(N, 1), mask, 0.5)},
              Pair(x, mask[:, 0]), 2, "sum")
    return {
        "a tensor": (OneTensor, x, lambda m, i: m(i)),
        "a tuple of positional args": (Positional, (x, mask), lambda m, i: m(i[0], i[1])),
        "a dict of keyword args": (Keywords, {"x": x, "mask": mask}, lambda m, i: m(x=i["x"], mask=i["mask"])),
        "a dict passed positionally": (DictPositional, ({"x": x, "mask": mask},), lambda m, i: m(i[0])),
        "a list of tensors": (TensorList, [x[:, :2], x[:, 2:]], lambda m, i: m(i)),
        "a dataclass": (Dataclass, Batch(x, mask), lambda m, i: m(i)),
        "a nesting of them all": (Nested, nested, lambda m, i: m(*i)),
    }


def measured(probe, update=0, with_jacobians=False):
    rows = probe.measure(update, with_jacobians=with_jacobians)
    return {(r["layer"], r["stat"]): r["value"] for r in rows}


def hand_measured(model, inputs, call, y):
    """Each layer's s, a = φ(s) and ∂C/∂s from forward hooks on the pass ``call`` makes."""
    seen = {}

    def keep(name):
        def hook(module, args, out):
            if name.startswith("fc"):
                out.retain_grad()
            seen[name] = out
        return hook

    handles = [getattr(model, name).register_forward_hook(keep(name)) for name in ("fc1", "act1", "fc2", "act2", "fc3")]
    model.eval()
    F.cross_entropy(call(model, inputs), y).backward()
    model.zero_grad()
    for handle in handles:
        handle.remove()
    stats = {}
    for k in (1, 2, 3):
        s = seen[f"fc{k}"]
        stats |= {(f"fc{k}", "preactivation_mean"): s.mean().item(), (f"fc{k}", "preactivation_std"): s.std().item(),
                  (f"fc{k}", "backprop_grad_std"): s.grad.std().item()}
        if k < 3:
            a = seen[f"act{k}"].detach()
            stats |= {(f"fc{k}", "activation_mean"): a.mean().item(), (f"fc{k}", "activation_std"): a.std().item()}
    return stats


@pytest.mark.parametrize("form", list(forms()))
def test_each_nesting_form_is_measured_as_a_hand_written_pass_gives(form):
    model_class, inputs, call = forms()[form]
    _, _, y = data()
    torch.manual_seed(1)
    model = model_class()
    probe = Probe(model, inputs, y, F.cross_entropy, jacobian_examples=K)
    stats = measured(probe)
    true = hand_measured(model, inputs, call, y)
    assert {key: stats[key] for key in true} == pytest.approx(true, rel=1e-4)
    assert {row["layer"]: row["then"] for row in probe.summary()} == {
        "fc1": "tanh", "fc2": "tanh", "fc3": "no activation: the model's output"}
    assert examples_in(inputs) == N


def test_the_input_jacobian_of_nested_inputs_is_on_the_first_examples_of_every_leaf():
    """Integer-free inputs that are not one tensor: the variable is fc1's output s₁ on the
    first K examples, and the top entry below the output is fc2, so the spectrum is that of
    ∂tanh(s₂)/∂s₁ = diag(tanh'(s₂)) W₂ diag(tanh'(s₁)) per example."""
    model_class, inputs, _ = forms()["a nesting of them all"]
    _, _, y = data()
    torch.manual_seed(1)
    model = model_class()
    stats = measured(Probe(model, inputs, y, F.cross_entropy, jacobian_examples=K), with_jacobians=True)
    cut = first_examples(inputs, K)
    seen = {}
    handle = model.fc1.register_forward_hook(lambda m, args, out: seen.setdefault("s1", out.detach()))
    with torch.no_grad():
        model(*cut)
    handle.remove()
    jacobians = torch.stack([torch.autograd.functional.jacobian(lambda s: torch.tanh(model.fc2(torch.tanh(s))), s)
                             for s in seen["s1"]])
    sv = torch.linalg.svdvals(jacobians)
    assert len(seen["s1"]) == K
    assert stats[("fc2", "input_jacobian_sv_mean")] == pytest.approx(sv.mean().item(), rel=1e-4)
    assert stats[("fc2", "input_jacobian_sv_max")] == pytest.approx(sv.max(1).values.mean().item(), rel=1e-4)


def test_first_examples_cut_every_tensor_leaf_and_keep_the_rest():
    x, mask, _ = data()
    scalar = torch.tensor(3.0)
    inputs = ({"parts": [x, "words"], "batch": Batch(x, mask, 0.5)}, Pair(mask, scalar), 7)
    cut = first_examples(inputs, K)
    assert [where for where, _ in leaves_of(cut)] == [
        "inputs[0]['parts'][0]", "inputs[0]['parts'][1]", "inputs[0]['batch'].x", "inputs[0]['batch'].mask",
        "inputs[0]['batch'].scale", "inputs[1].left", "inputs[1].right", "inputs[2]"]
    assert torch.equal(cut[0]["parts"][0], x[:K]) and cut[0]["parts"][1] == "words"
    assert torch.equal(cut[0]["batch"].x, x[:K]) and torch.equal(cut[0]["batch"].mask, mask[:K])
    assert type(cut[0]["batch"]) is Batch and cut[0]["batch"].scale == 0.5
    assert type(cut[1]) is Pair and torch.equal(cut[1].left, mask[:K]) and cut[1].right is scalar and cut[2] == 7
    assert inputs[0]["batch"].x is x and len(inputs[0]["parts"][0]) == N  # the original is untouched
    assert examples_in(cut) == K


def test_todays_forms_are_called_and_cut_as_before():
    x, mask, _ = data()
    seen = []
    model = lambda *args, **kwargs: seen.append((len(args), sorted(kwargs)))  # noqa: E731
    for inputs in (x, (x, mask), {"x": x, "mask": mask}, [x, mask], Pair(x, mask)):
        call_model(model, inputs)
    assert seen == [(1, []), (2, []), (0, ["mask", "x"]), (1, []), (2, [])]
    cut = first_examples({"x": x, "mask": mask}, K)
    assert type(cut) is dict and torch.equal(cut["x"], x[:K]) and torch.equal(cut["mask"], mask[:K])
    assert torch.equal(first_examples(x, K), x[:K]) and type(first_examples((x, mask), K)) is tuple


def test_a_batch_encoding_stays_one_and_is_cut():
    transformers = pytest.importorskip("transformers")
    ids = torch.arange(N * 4).reshape(N, 4)
    encoding = transformers.BatchEncoding({"input_ids": ids, "attention_mask": torch.ones_like(ids)})
    cut = first_examples(encoding, K)
    assert type(cut) is transformers.BatchEncoding and torch.equal(cut.input_ids, ids[:K])
    assert encoding["input_ids"] is ids and examples_in(encoding) == N


def test_map_leaves_reads_each_leaf_with_its_path():
    x, mask, _ = data()
    moved = map_leaves(lambda where, leaf: where, {"x": x, "more": (Batch(x, mask),)})
    assert moved == {"x": "inputs['x']", "more": (Batch("inputs['more'][0].x", "inputs['more'][0].mask",
                                                        "inputs['more'][0].scale"),)}


@pytest.mark.parametrize("inputs, message", [
    ({"x": torch.zeros(N, 6), "mask": torch.zeros(5, 6)},
     "the probe inputs' tensors must share their first (batch) dimension: inputs['mask'] has shape (5, 6) but "
     "inputs['x'] has shape (10, 6)"),
    ((torch.zeros(N, 6), Batch(torch.zeros(4, 6), torch.zeros(N, 6))),
     "the probe inputs' tensors must share their first (batch) dimension: inputs[1].x has shape (4, 6) but "
     "inputs[0] has shape (10, 6)"),
    ([torch.zeros(N, 2), torch.zeros(N + 1, 4)],
     "the probe inputs' tensors must share their first (batch) dimension: inputs[1] has shape (11, 4) but "
     "inputs[0] has shape (10, 2)"),
    ((3, "text"),
     "the probe inputs hold no tensor with a batch dimension (inputs[0]: int, inputs[1]: str): give them as "
     "tensors with one probe example per row"),
    ({"scale": torch.tensor(2.0)},
     "the probe inputs hold no tensor with a batch dimension (inputs['scale']: a tensor of shape ()): give them "
     "as tensors with one probe example per row"),
    ((),
     "the probe inputs hold no tensor with a batch dimension (inputs is an empty tuple): give them as tensors "
     "with one probe example per row"),
    ([1, 2, 3, 4, 5],
     "the probe inputs hold no tensor with a batch dimension (inputs[0]: int, inputs[1]: int, inputs[2]: int, "
     "inputs[3]: int, …): give them as tensors with one probe example per row"),
])
def test_inputs_that_are_not_one_batch_are_refused_in_one_line_naming_the_leaf(inputs, message):
    with pytest.raises(DepthlabError) as error:
        Probe(Positional(), inputs)
    assert str(error.value) == message
    with pytest.raises(DepthlabError) as error:
        first_examples(inputs, K)
    assert str(error.value) == message

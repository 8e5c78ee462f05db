"""Every call of every weighted layer, paired with the activation its output really went
through: each case of the issue's report on a model built here, against what a
hand-written computation of the same call gives."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthlab.errors import DepthlabError
from depthlab.nets.mlp import MLP
from depthlab.probe import Probe

pytestmark = pytest.mark.usefixtures("reduced_on")  # each test on the host path and the device path


def measured(probe, layer, update=0):
    rows = probe.measure(update, with_jacobians=False) if update is not None else probe.log.rows
    return {r["stat"]: r["value"] for r in rows if r["layer"] == layer}


def then(probe):
    return {row["layer"]: row["then"] for row in probe.summary()}


class BasicBlock(nn.Module):
    """ResNet's block: one ReLU module used after bn1 and again after the residual."""

    def __init__(self, width=4):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += x
        return self.relu(out)


class ResNetLike(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem, self.block, self.fc = nn.Conv2d(1, 4, 3, padding=1), BasicBlock(), nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(self.block(torch.relu(self.stem(x))).mean((2, 3)))


def test_a_shared_relu_is_paired_with_each_call_it_follows():
    torch.manual_seed(0)
    model = ResNetLike().eval()
    with torch.no_grad():
        model.block.bn1.running_mean.uniform_(-1, 1)
    x, y = torch.randn(16, 1, 6, 6), torch.randint(0, 3, (16,))
    probe = Probe(model, x, y, F.cross_entropy)
    stats = measured(probe, "block.conv1")
    with torch.no_grad():
        true = F.relu(model.block.bn1(model.block.conv1(F.relu(model.stem(x)))))
    assert stats["activation_std"] == pytest.approx(true.std().item(), rel=1e-5)
    assert stats["saturated_fraction"] == pytest.approx((true == 0).float().mean().item())
    assert then(probe)["block.conv2"] == "no activation: an addition of another tensor"
    assert then(probe)["stem"] == "relu"


class SqueezeExcite(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.act, self.fc2, self.gate = nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 8), nn.Sigmoid()
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(x * self.gate(self.fc2(self.act(self.fc1(x)))))


def test_squeeze_excitation_pairs_by_data_flow_not_registration_order():
    torch.manual_seed(0)
    model = SqueezeExcite()
    x, y = torch.randn(20, 8), torch.randint(0, 2, (20,))
    probe = Probe(model, x, y, F.cross_entropy)
    stats = measured(probe, "fc2")
    with torch.no_grad():
        true = torch.sigmoid(model.fc2(torch.relu(model.fc1(x))))
    assert then(probe)["fc1"] == "relu" and then(probe)["fc2"] == "sigmoid"
    assert stats["activation_mean"] == pytest.approx(true.mean().item(), rel=1e-6)


class DenseBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2, self.relu, self.fc = nn.Conv2d(2, 2, 1), nn.Conv2d(4, 2, 1), nn.ReLU(), nn.Linear(2, 2)

    def forward(self, x):
        return self.fc(self.relu(self.conv2(torch.cat([x, self.conv1(x)], 1))).mean((2, 3)))


def test_a_concatenation_ends_the_flow_and_the_next_layer_keeps_its_own_relu():
    torch.manual_seed(0)
    model = DenseBlock()
    x, y = torch.randn(10, 2, 3, 3), torch.randint(0, 2, (10,))
    probe = Probe(model, x, y, F.cross_entropy)
    stats = measured(probe, "conv2")
    with torch.no_grad():
        true = torch.relu(model.conv2(torch.cat([x, model.conv1(x)], 1)))
    assert then(probe)["conv1"] == "no activation: a concatenation"
    assert stats["activation_std"] == pytest.approx(true.std().item(), rel=1e-5)


class Reused(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.out = nn.Linear(5, 5), nn.Linear(5, 2)

    def forward(self, x):
        for _ in range(3):
            x = torch.tanh(self.fc(x))
        return self.out(x)


def test_a_linear_applied_three_times_gives_three_entries_with_their_own_gradients():
    torch.manual_seed(0)
    model = Reused()
    x, y = torch.randn(12, 5), torch.randint(0, 2, (12,))
    probe = Probe(model, x, y, F.cross_entropy)
    probe.measure(0, with_jacobians=False)
    assert [row["layer"] for row in probe.summary()] == ["fc", "fc#2", "fc#3", "out"]
    s = [None] * 3
    h = x
    for k in range(3):
        s[k] = model.fc(h)
        s[k].retain_grad()
        h = torch.tanh(s[k])
    F.cross_entropy(model.out(h), y).backward()
    for k, name in enumerate(["fc", "fc#2", "fc#3"]):
        stats = {r["stat"]: r["value"] for r in probe.log.rows if r["layer"] == name}
        assert stats["preactivation_std"] == pytest.approx(s[k].std().item(), rel=1e-6)
        assert stats["backprop_grad_std"] == pytest.approx(s[k].grad.std().item(), rel=1e-5)


def test_functional_activations_inside_forward_are_seen():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.fc3 = nn.Linear(4, 6), nn.Linear(6, 6), nn.Linear(6, 2)

        def forward(self, x):
            return self.fc3(F.gelu(self.fc2(self.fc1(x).tanh())))

    torch.manual_seed(0)
    model = Functional()
    x, y = torch.randn(30, 4) * 3, torch.randint(0, 2, (30,))
    probe = Probe(model, x, y, F.cross_entropy)
    stats = measured(probe, "fc2")
    with torch.no_grad():
        s = model.fc2(torch.tanh(model.fc1(x)))
    assert then(probe) == {"fc1": "tanh", "fc2": "gelu", "fc3": "no activation: the model's output"}
    assert stats["activation_std"] == pytest.approx(F.gelu(s).std().item(), rel=1e-6)
    assert stats["saturated_fraction"] == pytest.approx((s <= -3).float().mean().item())


def test_a_transformer_encoder_is_probed_whole():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, activation=nn.ReLU())
    model = nn.Sequential(nn.TransformerEncoder(layer, 2, enable_nested_tensor=False), nn.Flatten(),
                          nn.Linear(24, 3))
    x, y = torch.randn(6, 3, 8), torch.randint(0, 3, (6,))
    probe = Probe(model, x, y, F.cross_entropy)
    rows = probe.measure(0)
    found = then(probe)
    assert found["0.layers.0.linear1"] == "relu"
    assert found["0.layers.0.linear2"] == "no activation: an addition of another tensor"
    assert "0.layers.1.self_attn.out_proj" in found and "0.layers.0.norm1" in found
    with torch.no_grad():
        block = model[0].layers[0]
        hidden = block.norm1(x + block.self_attn(x, x, x, need_weights=False)[0])
        true = torch.relu(block.linear1(hidden))
    stats = {r["stat"]: r["value"] for r in rows if r["layer"] == "0.layers.0.linear1"}
    assert stats["activation_std"] == pytest.approx(true.std().item(), rel=1e-5)
    assert {r["stat"] for r in rows if r["layer"] == "0.layers.0.self_attn.in_proj"} >= {"weight_grad_norm"}


class TokenLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.lstm, self.head = nn.Embedding(12, 6), nn.LSTM(6, 5, batch_first=True), nn.Linear(5, 12)

    def forward(self, ids):
        hidden, _ = self.lstm(self.emb(ids))
        return self.head(hidden)


def test_an_lstm_on_token_ids_with_a_default_loss_and_its_spectrum():
    torch.manual_seed(0)
    model = TokenLSTM()
    ids = torch.randint(0, 12, (4, 7))
    probe = Probe(model, ids, ids, loss_fn=lambda out, t: F.cross_entropy(out.reshape(-1, 12), t.reshape(-1)))
    rows = probe.measure(0)
    stats = {(r["layer"], r["stat"]): r["value"] for r in rows}
    out, _ = model.lstm(model.emb(ids))
    assert stats["lstm", "preactivation_std"] == pytest.approx(out.std().item(), rel=1e-5)
    weights = torch.cat([p.detach().flatten() for n, p in model.lstm.named_parameters() if n.startswith("weight")])
    assert stats["lstm", "weight_norm"] == pytest.approx(weights.norm().item(), rel=1e-6)
    assert ("lstm", "input_jacobian_sv_max") in stats  # from the embedding's output: the ids are integers


class Conv1D(nn.Module):
    """transformers' Conv1D: a linear layer as torch.addmm(b, x, W) with W of shape (in, out)."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight, self.bias = nn.Parameter(torch.randn(n_in, n_out) * 0.3), nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight).view(*x.shape[:-1], -1)


def test_transformers_conv1d_and_dict_inputs_with_keyword_arguments():
    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc, self.c_proj = Conv1D(4, 6), Conv1D(6, 2)

        def forward(self, hidden, mask=None):
            return {"logits": self.c_proj(F.gelu(self.c_fc(hidden), approximate="tanh")) * mask[..., None]}

    torch.manual_seed(0)
    model = Tiny()
    x, mask, y = torch.randn(9, 4), torch.ones(9), torch.randint(0, 2, (9,))
    probe = Probe(model, {"hidden": x, "mask": mask}, y)  # the default loss reads the output's logits
    stats = measured(probe, "c_fc")
    assert then(probe)["c_fc"] == "gelu-tanh"
    with torch.no_grad():
        assert stats["activation_std"] == pytest.approx(F.gelu(model.c_fc(x), approximate="tanh").std().item(),
                                                        rel=1e-6)
    # the layer Jacobian is diag(φ'(s)) Wᵀ for Conv1D's (in, out) weight, per example
    rows = probe.measure(1)
    expected = torch.stack([torch.autograd.functional.jacobian(
        lambda v: F.gelu(model.c_fc(v[None]), approximate="tanh")[0], e) for e in x[:2]])
    sv = torch.linalg.svdvals(expected)
    spectrum = {r["stat"]: r["value"] for r in rows if r["layer"] == "c_fc" and r["stat"].startswith("jacobian")}
    assert spectrum == pytest.approx({"jacobian_sv_mean": sv.mean().item(),
                                      "jacobian_sv_min": sv.min(1).values.mean().item(),
                                      "jacobian_sv_max": sv.max(1).values.mean().item()}, rel=1e-5)


def test_summary_lists_every_entry_and_what_follows():
    probe = Probe(MLP(8, [6, 5], 3, "tanh", batchnorm=True, dropout=0.5), torch.randn(12, 8),
                  torch.randint(0, 3, (12,)), F.cross_entropy, layer_names="positions")
    summary = [(row["layer"], row["module"], row["kind"], row["then"]) for row in probe.summary()]
    assert summary == [("layer 1", "1", "linear", "tanh"), ("2", "2", "norm", "tanh"),
                       ("layer 2", "5", "linear", "tanh"), ("6", "6", "norm", "tanh"),
                       ("output", "9", "linear", "no activation: the model's output")]


def test_summary_names_the_weights_no_known_layer_used():
    class Bilinear(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.mix = nn.Linear(4, 4), nn.Parameter(torch.eye(4))

        def forward(self, x):
            return torch.tanh(self.fc(x)) @ self.mix

    rows = Probe(Bilinear(), torch.randn(5, 4), torch.randint(0, 4, (5,)), F.cross_entropy).summary()
    assert [(row["layer"], row["kind"], row["then"]) for row in rows] == [
        ("fc", "linear", "tanh"),
        ("Bilinear", "not recognised",
         "not probed: no layer function the probe knows used the weights of this Bilinear in the pass")]


def test_chosen_layers_and_bad_names(conv_net):
    probe = Probe(conv_net(nn.ReLU()), torch.randn(4, 1, 8, 8), torch.randint(0, 4, (4,)), F.cross_entropy,
                  layers=["conv1"])
    assert [(row["layer"], row["then"]) for row in probe.summary()] == [("conv1", "relu")]
    with pytest.raises(DepthlabError, match=r"^unknown layer 'conv2' \(did you mean 'conv1'\?\); "
                                            r"valid choices: conv1, fc$"):
        Probe(conv_net(nn.ReLU()), torch.randn(4, 1, 8, 8), None, layers=["conv2"])
    with pytest.raises(DepthlabError, match="^layer 'act' is a ReLU, which has no weights to probe$"):
        Probe(conv_net(nn.ReLU()), torch.randn(4, 1, 8, 8), None, layers=["act"])
    with pytest.raises(DepthlabError, match="^Sequential has no weighted layer to probe"):
        Probe(nn.Sequential(nn.Tanh()), torch.randn(4, 3), None)


def hand_measured(model, inputs, module, activation_module, loss_of):
    """What hooks on ``module`` (its output s and ∂C/∂s) and on ``activation_module`` (its
    first output) give in one eval-mode pass: activation std, ∂C/∂s std."""
    seen = {}

    def keep_output(m, args, out):
        out.register_hook(lambda grad: seen.setdefault("grad", grad))

    def keep_activation(m, args, out):
        seen.setdefault("a", out.detach().clone())

    handles = [module.register_forward_hook(keep_output), activation_module.register_forward_hook(keep_activation)]
    model.eval()
    loss_of(model(**inputs)).backward()
    model.zero_grad()
    for handle in handles:
        handle.remove()
    return seen["a"].std().item(), seen["grad"].std().item()


def test_a_tiny_gpt2_from_its_config_has_every_weight_layer_and_its_gelu():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=2, n_embd=16, n_head=2, vocab_size=50, n_positions=12,
                                     bos_token_id=0, eos_token_id=0)
    model = transformers.GPT2LMHeadModel(config)
    ids = torch.randint(0, 50, (6, 10))
    probe = Probe(model, {"input_ids": ids, "labels": ids})  # the default loss: the output's own .loss
    stats = measured(probe, "transformer.h.1.mlp.c_fc")
    block = model.transformer.h[1].mlp
    std, grad_std = hand_measured(model, {"input_ids": ids, "labels": ids}, block.c_fc, block.act, lambda out: out.loss)
    assert (stats["activation_std"], stats["backprop_grad_std"]) == pytest.approx((std, grad_std), rel=1e-5)
    found = {row["module"] for row in probe.summary()}
    weighted = {name for name, m in model.named_modules() if any(True for _ in m.parameters(recurse=False))}
    assert found == weighted - {"lm_head"}  # lm_head's weight is wte's: its call is transformer.wte#2
    assert then(probe)["transformer.wte#2"] == "no activation: cross_entropy()"
    assert then(probe)["transformer.h.0.mlp.c_fc"] == "gelu-tanh"
    assert "jacobian_sv_mean" in {r["stat"] for r in probe.measure(1) if r["layer"] == "transformer.h.0.attn.c_attn"}


def test_a_tiny_bert_classifier_from_its_config_with_an_attention_mask():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.BertConfig(num_hidden_layers=2, hidden_size=16, num_attention_heads=2, intermediate_size=32,
                                     vocab_size=50, max_position_embeddings=12, num_labels=3)
    model = transformers.BertForSequenceClassification(config)
    ids, y = torch.randint(0, 50, (6, 10)), torch.randint(0, 3, (6,))
    mask = torch.ones_like(ids)
    mask[:, 7:] = 0
    inputs = {"input_ids": ids, "attention_mask": mask}
    probe = Probe(model, inputs, y)  # the default loss: cross-entropy on the output's .logits
    stats = measured(probe, "bert.encoder.layer.0.intermediate.dense")
    layer = model.bert.encoder.layer[0].intermediate
    std, grad_std = hand_measured(model, inputs, layer.dense, layer.intermediate_act_fn,
                                  lambda out: F.cross_entropy(out.logits, y))
    assert (stats["activation_std"], stats["backprop_grad_std"]) == pytest.approx((std, grad_std), rel=1e-5)
    assert then(probe)["bert.pooler.dense"] == "tanh"
    assert then(probe)["classifier"] == "no activation: the model's output"
    assert len(probe.summary()) == 4 + 2 * 8 + 2  # embeddings and their norm, 8 per block, pooler and classifier

import subprocess
import sys

import pytest
import torch

from depthlab.config import COERCERS, CONSTRAINTS, FIELDS, TYPES, StepName, TrainConfig, from_mapping, load_config_file
from depthlab.errors import DepthlabError


def test_toml_keys_with_hyphens(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('activation = "softsign"\nbatch-size = 20\nwidths = [100, 50]\nlr = 1\n')
    config = from_mapping(load_config_file(path))
    assert (config.activation, config.batch_size, config.hidden_widths, config.lr) == ("softsign", 20, [100, 50], 1.0)


def test_typo_in_a_config_key_suggests_the_right_one():
    with pytest.raises(DepthlabError, match=r"unknown key in config: 'widht' \(did you mean 'width'\?\)"):
        from_mapping({"widht": 100})


def test_wrong_type_is_named():
    with pytest.raises(DepthlabError, match="'batch-size' must be int, not 'ten'"):
        from_mapping({"batch_size": "ten"})


@pytest.mark.parametrize("content", ["[1, 2]", '"lr"', "3"])
def test_a_config_json_that_is_not_a_table_is_one_line(tmp_path, content):
    path = tmp_path / "run.json"
    path.write_text(content)
    with pytest.raises(DepthlabError, match=r"run.json holds a (list|str|int), not a table of keys and values$"):
        load_config_file(path)


def test_broken_toml_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("lr = = 3\n")
    with pytest.raises(DepthlabError, match="bad.toml is not valid TOML"):
        load_config_file(path)


@pytest.mark.parametrize("changes, message", [
    (dict(activation="tahn"), "unknown activation 'tahn'"),
    (dict(width=-5), "width -5"),
    (dict(depth=-1), r"depth -1 must not be negative \(0: a linear model\)"),
    (dict(optimizer="lbfgs"), "unknown optimizer 'lbfgs'.*adagrad, adam, momentum"),
    (dict(lr=0.0), "lr 0.0 must be a positive finite number"),
    (dict(lr=float("inf")), "lr inf must be a positive finite number"),
    (dict(weight_decay=float("nan")), "weight-decay nan must be a finite number, not negative"),
    (dict(weight_decay=float("inf")), "weight-decay inf must be a finite number"),
    (dict(epochs=float("inf")), "epochs inf must be a positive finite number"),
    (dict(depth=10**23), r"depth 1e\+23 is beyond 10000, the largest depthlab accepts \(hidden layers\)"),
    (dict(seed=10**20), r"seed 1e\+20 is beyond 9.22337e\+18"),
    (dict(updates=10**17), r"updates 1e\+17 is beyond 9.0072e\+15"),
    (dict(device="meta"), "unknown device 'meta'; valid choices: cpu, cuda, cuda:N, mps"),
    (dict(device="xpu"), "unknown device 'xpu'"),
    (dict(device="cpu:5"), "device 'cpu:5': the CPU has no index; use --device cpu"),
    (dict(updates=10, epochs=1.0), "not both"),
    (dict(momentum=-0.5), r"momentum -0.5 must be in \[0, 1\)"),
    (dict(momentum=1.0), r"momentum 1.0 must be in \[0, 1\)"),
    (dict(weight_decay=-1.0), "weight-decay -1.0 must be a finite number, not negative"),
    (dict(optimizer="nesterov", momentum=0.0), r"optimizer nesterov needs a momentum above 0 \(--momentum\)"),
    (dict(widths=[8, 0]), "width 0 must be a positive number of units"),
    (dict(dropout=[0.5, 1.0], depth=2), r"dropout 1.0 must be in \[0, 1\)"),
    (dict(dropout=[0.5], depth=2), "dropout lists 1 rates for 2 hidden layers"),
    (dict(step="vmap"), r"unknown step 'vmap'; valid choices: auto, autograd, fused"),
    (dict(tensorboard=True, probe=False), "--tensorboard writes the probe statistics"),
    pytest.param(dict(device="cuda:0"), "not available",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")),
    (dict(device="gpu"), "unknown device 'gpu'"),
    (dict(probe_stats=["activation_mean", "activaton_std"]),
     r"^unknown probe statistic 'activaton_std' \(did you mean 'activation_std'\?\); valid choices: activation_mean, "),
    (dict(probe_stats=[]), "^probe-stats names no statistic: name at least one, or leave it out for all$"),
])
def test_validation_errors(changes, message):
    with pytest.raises(DepthlabError, match=message):
        TrainConfig(**changes).validate()


def test_every_field_has_a_coercer_and_every_constraint_a_field():
    assert set(CONSTRAINTS) <= set(FIELDS)
    assert all(TYPES[name] in COERCERS for name in FIELDS)


def test_probe_stats_are_a_list_of_names():
    assert from_mapping({"probe-stats": ["activation_mean"]}).validate().probe_stats == ["activation_mean"]
    assert TrainConfig().probe_stats is None  # all: the run report's figures read every statistic
    with pytest.raises(DepthlabError, match=r"^run.toml: 'probe-stats' must be list\[str\], not 'activation_mean'$"):
        from_mapping({"probe-stats": "activation_mean"}, source="run.toml")


def test_the_step_is_a_choice_and_the_old_engine_key_points_to_it():
    assert from_mapping({"step": "fused"}).step is StepName.FUSED
    with pytest.raises(DepthlabError, match=r"^run.toml: 'engine' is now 'step': auto, autograd or fused$"):
        from_mapping({"engine": "fused"}, source="run.toml")


def test_importing_the_config_imports_neither_torch_nor_training():
    code = ("import sys, depthlab.config; "
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('depthlab.training')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

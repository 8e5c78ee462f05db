"""The trial: the user's optimizer read (never stepped), batches drawn once and replayed,
the same seed giving the same trial, the RNG put back."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthlab.clinic.trial import TrialSettings, draw_batches, fresh_copy, probe_updates, run_trial, untouched_rng
from depthlab.errors import DepthlabError


def test_the_settings_keep_the_users_optimizer_kind_and_hyperparameters():
    model = nn.Linear(4, 2)
    user = torch.optim.Adam(model.parameters(), lr=3e-4, betas=(0.8, 0.9), weight_decay=0.1)
    made = TrialSettings.of(user, model).make(nn.Linear(4, 2).parameters())
    assert type(made) is torch.optim.Adam
    assert {k: made.param_groups[0][k] for k in ("lr", "betas", "weight_decay")} == \
        {"lr": 3e-4, "betas": (0.8, 0.9), "weight_decay": 0.1}


def test_a_bad_optimizer_is_one_line():
    with pytest.raises(DepthlabError, match="optimizer= is a str: give a torch.optim.Optimizer"):
        TrialSettings.of("adam", nn.Linear(2, 2))


def test_a_short_loader_is_gone_through_again_and_the_probe_set_is_its_first_examples():
    x, y = torch.arange(30.0).reshape(15, 2), torch.arange(15) % 2
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=5)
    data = draw_batches(loader, 7, torch.device("cpu"))
    assert len(data.batches) == 7 and torch.equal(data.batches[3][0], x[:5]) and torch.equal(data.batches[6][0], x[:5])
    assert torch.equal(data.probe_inputs, torch.cat([x, x, x[:5]]))  # 35 examples, under 256: all 7 batches


def test_the_same_seed_and_batches_give_the_same_trial_with_dropout():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Dropout(0.5), nn.Linear(32, 3))
    data = draw_batches((torch.randn(64, 8), torch.randint(0, 3, (64,))), 10, torch.device("cpu"))
    settings = TrialSettings.of(None, model)
    runs = [run_trial("t", fresh_copy(model), settings, data, F.cross_entropy, 10, seed=3) for _ in range(2)]
    assert runs[0].losses == runs[1].losses and len(runs[0].losses) == 10
    assert runs[0].log.updates == probe_updates(10) == [0, 1, 5, 10]
    other = run_trial("t", fresh_copy(model), settings, data, F.cross_entropy, 10, seed=4)
    assert other.losses != runs[0].losses  # dropout draws from the seed


def test_a_non_finite_cost_ends_the_trial_as_diverged():
    model = nn.Linear(2, 2)
    data = draw_batches((torch.tensor([[float("nan"), 1.0]]), torch.tensor([0])), 5, torch.device("cpu"))
    trial = run_trial("t", model, TrialSettings.of(None, model), data, F.cross_entropy, 5, 0)
    assert trial.diverged_at == 1 and trial.cost == float("inf")


def test_the_global_rngs_and_the_loaders_generator_are_put_back():
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(10, 2)), shuffle=True,
                                         generator=torch.Generator().manual_seed(1))
    saved = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate(), loader.generator.get_state())
    with untouched_rng(loader):
        torch.rand(3), np.random.rand(3), random.random(), list(loader)
    assert torch.equal(saved[0], torch.get_rng_state()) and np.array_equal(saved[1], np.random.get_state()[1])
    assert saved[2] == random.getstate() and torch.equal(saved[3], loader.generator.get_state())


def test_a_time_budget_stops_the_trial_at_the_next_update_and_probes_it_there():
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    data = draw_batches((torch.randn(16, 4), torch.randint(0, 2, (16,))), 50, torch.device("cpu"))
    trial = run_trial("t", model, TrialSettings.of(None, model), data, F.cross_entropy, 50, 0, seconds=0.0)
    assert trial.steps_run == 1 and len(trial.losses) == 1 and trial.log.updates == [0, 1]


def test_the_users_parameter_groups_are_kept_and_what_it_does_not_train_stays():
    """Two groups (the weights at lr 0.1 with weight decay, the first bias at lr 0) and a
    layer the user's optimizer leaves out: the trial's copy trains as the user's loop
    would, and a parameter a remedy adds (a LayerNorm's) joins the first group."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    user = torch.optim.SGD([{"params": [model[0].weight], "weight_decay": 0.01},
                            {"params": [model[0].bias], "lr": 0.0}], lr=0.1)
    settings = TrialSettings.of(user, model)
    data = draw_batches((torch.randn(16, 4), torch.randint(0, 2, (16,))), 3, torch.device("cpu"))
    trial = run_trial("t", fresh_copy(model), settings, data, F.cross_entropy, 3, 0)
    assert not torch.equal(trial.model[0].weight, model[0].weight)
    assert torch.equal(trial.model[0].bias, model[0].bias)  # lr 0 in the user's second group
    assert torch.equal(trial.model[2].weight, model[2].weight)  # in no group of the user's
    copy = fresh_copy(model)
    originals = list(copy.parameters())
    copy[0] = nn.Sequential(copy[0], nn.LayerNorm(8))
    made = settings.make(copy.parameters(), originals)
    assert [[tuple(p.shape) for p in g["params"]] for g in made.param_groups] == [[(8, 4), (8,), (8,)], [(8,)]]
    assert [(g["lr"], g["weight_decay"]) for g in made.param_groups] == [(0.1, 0.01), (0.0, 0.0)]


def test_data_that_gives_no_batch_is_one_line_naming_it():
    with pytest.raises(DepthlabError, match=r"^the data \(a DataLoader\) gave no batch: give a data loader"):
        draw_batches(torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(0, 2))), 3,
                     torch.device("cpu"))


def test_a_persistent_workers_loader_mid_epoch_goes_on_where_the_user_left_it():
    """Such a loader keeps one iterator, and iter() of it resets that one: the batches are
    drawn from a copy, so the user's loop gets its next batch as if nothing happened."""
    x, y = torch.arange(64.0).reshape(32, 2), torch.arange(32) % 2
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4, num_workers=1,
                                         persistent_workers=True)
    mine = iter(loader)
    next(mine)
    data = draw_batches(loader, 3, torch.device("cpu"))
    assert torch.equal(data.batches[2][0], x[8:12])  # the doctor's own pass starts at the first batch
    assert torch.equal(next(mine)[0], x[4:8])  # and the user's goes on with its second

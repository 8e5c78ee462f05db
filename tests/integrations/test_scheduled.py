import contextlib

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthlab.errors import DepthlabError
from depthlab.integrations.scheduled import BUDGET, ScheduledProbe, probe_set_from
from depthlab.store.run import RunDir
from depthlab.training.schedule import ProbeSchedule


def test_a_probe_set_joins_pairs_up_to_its_size():
    batches = [(torch.full((4, 3), float(k)), torch.full((4,), k)) for k in range(5)]
    inputs, targets = probe_set_from(batches, 10)
    assert inputs.shape == (10, 3) and targets.tolist() == [0] * 4 + [1] * 4 + [2] * 2


def test_a_probe_set_of_dicts_stops_where_padding_changes_the_shape():
    batches = [{"input_ids": torch.zeros(4, 7, dtype=torch.long), "labels": torch.zeros(4, dtype=torch.long)},
               {"input_ids": torch.ones(4, 7, dtype=torch.long), "labels": torch.ones(4, dtype=torch.long)},
               {"input_ids": torch.ones(4, 9, dtype=torch.long), "labels": torch.ones(4, dtype=torch.long)}]
    inputs, targets = probe_set_from(batches, 100)
    assert targets is None and inputs["input_ids"].shape == (8, 7) and inputs["labels"].tolist() == [0] * 4 + [1] * 4


def test_a_batch_of_another_form_is_named():
    with pytest.raises(DepthlabError, match="cannot make a probe set of a batch of type str"):
        probe_set_from(["text"], 10)
    with pytest.raises(DepthlabError, match="gave no batch"):
        probe_set_from([], 10)


def test_a_plain_loop_measures_on_the_schedule_and_writes_a_run(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    x, y = torch.randn(30, 5), torch.randint(0, 3, (30,))
    scheduled = ScheduledProbe(tmp_path / "run", loss_fn=F.cross_entropy, every=10, probe_size=12,
                               budget=None)
    scheduled.start(model, 25, torch.device("cpu"), lr=0.1, batches=[(x[:8], y[:8]), (x[8:16], y[8:16])])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for update in range(25):
        scheduled.before_update(update)
        scheduled.before_update(update)  # a second call at one update (gradient accumulation) measures nothing
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    scheduled.end(25)
    run = RunDir.open(tmp_path / "run")
    assert sorted({r["update"] for r in run.probes.rows}) == list(ProbeSchedule(25, 10)) == [0, 1, 2, 5, 10, 20, 25]
    assert {h["update"] for h in run.probes.histograms} == {0, 25}  # initialization and the end
    assert run.status == {"status": "completed", "update": 25}
    assert run.probe_facts["lr"] == 0.1 and run.probe_facts["probe_size"] == 12


def test_an_unfinished_run_ends_without_a_last_measure(tmp_path):
    model = nn.Sequential(nn.Linear(5, 3))
    scheduled = ScheduledProbe(tmp_path / "run", inputs=torch.randn(6, 5), targets=torch.randint(0, 3, (6,)),
                               loss_fn=F.cross_entropy, every=10, budget=None)
    scheduled.start(model, 100, torch.device("cpu"))
    scheduled.before_update(0)
    scheduled.end(3, status="interrupted")
    run = RunDir.open(tmp_path / "run")
    assert run.status["status"] == "interrupted" and {r["update"] for r in run.probes.rows} == {0}


def test_bad_options_are_named():
    with pytest.raises(DepthlabError, match=r"every \(0\) and probe_size \(300\) must be at least 1"):
        ScheduledProbe(every=0)
    with pytest.raises(DepthlabError, match="no probe set: give the callback inputs"):
        ScheduledProbe().start(nn.Linear(2, 2), 10, torch.device("cpu"))
    with pytest.raises(DepthlabError, match="the run has 0 updates to train"):
        ScheduledProbe(inputs=torch.randn(3, 2)).start(nn.Linear(2, 2), 0, torch.device("cpu"))


def test_layers_and_stats_reach_the_probe(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))
    scheduled = ScheduledProbe(tmp_path / "run", inputs=torch.randn(6, 5), targets=torch.randint(0, 3, (6,)),
                               loss_fn=F.cross_entropy, every=10, layers="[02]", stats=["activation_mean"],
                               budget=None)
    scheduled.start(model, 3, torch.device("cpu"))
    scheduled.before_update(0)
    scheduled.end(3)
    rows = RunDir.open(tmp_path / "run").probes.rows
    assert {(r["layer"], r["stat"]) for r in rows} == {("0", "activation_mean"), ("2", "activation_mean")}
    with pytest.raises(DepthlabError, match="^layer pattern 'x\\*' matches no module with weights"):
        ScheduledProbe(inputs=torch.randn(3, 5), layers="x*").start(model, 3, torch.device("cpu"))


def test_the_callbacks_keep_a_five_percent_budget_by_default_and_record_what_it_skipped(tmp_path):
    model = nn.Sequential(nn.Linear(5, 3))
    scheduled = ScheduledProbe(tmp_path / "run", inputs=torch.randn(6, 5), targets=torch.randint(0, 3, (6,)),
                               loss_fn=F.cross_entropy, every=10)
    assert scheduled.budget == BUDGET == 0.05
    scheduled.start(model, 25, torch.device("cpu"))
    # T projected over the 25 updates: update 0's measure takes 1 s; at updates 1 and 2, 1 and 2 s of training
    # project to 25 s, whose 5% has no room for another 1 s; at update 5, 99 s project to 495 s: its measure
    # (3 s) runs, and so does update 10's (6 s, in 5% of 250 s); at update 20, 101 s project to 126 s, too little
    # for 10 s spent and 4.5 s more; the last measure fits in 5% of 290 s
    scheduled.probe.budget.clock = iter([0, 0, 1, 2, 3, 100, 100, 103, 104, 104, 110, 111, 300, 300, 301]).__next__
    for update in range(25):
        scheduled.before_update(update)
    scheduled.end(25)
    run = RunDir.open(tmp_path / "run")
    assert [u for u, _ in scheduled.probe.skipped] == [1, 2, 20]
    assert scheduled.probe.skipped[2][1] == ("skipped the measure at update 20: it would cost 4.5 s, putting the probe "
                                             "at 11.5% of the run's projected 126 s of training, over the 5% budget")
    assert sorted({r["update"] for r in run.probes.rows}) == [0, 5, 10, 25]
    assert run.status == {"status": "completed", "update": 25, "skipped_measures": 3}
    assert ScheduledProbe(budget=None).budget is None and ScheduledProbe(budget=0.2).budget == 0.2
    with pytest.raises(DepthlabError, match="^budget 5 is not a fraction"):
        ScheduledProbe(budget=5)


def test_measures_run_on_the_converted_probe_set_in_the_framework_s_context():
    """A framework training a bfloat16 model under a context of its own: ``convert`` casts
    the float32 batches' inputs (not the integer targets) to bfloat16, and each measure,
    the last one included, runs in ``context`` (here a bfloat16 autocast region, entered
    once per measure). Layer 0's pre-activation std is then the bfloat16 one, computed by
    hand, within 1e-4 relative (the probe reduces in float32, the reference in float64)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).to(torch.bfloat16)
    x, y = torch.randn(12, 5), torch.randint(0, 3, (12,))
    entered = []

    @contextlib.contextmanager
    def context():
        entered.append(len(entered))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            yield

    scheduled = ScheduledProbe(loss_fn=F.cross_entropy, every=10, budget=None)
    scheduled.start(model, 3, torch.device("cpu"), batches=[(x, y)], context=context,
                    convert=lambda t: t.to(torch.bfloat16) if t.is_floating_point() else t)
    assert scheduled.probe.inputs.dtype == torch.bfloat16 and torch.equal(scheduled.probe.targets, y)
    for update in range(3):
        scheduled.before_update(update)
    scheduled.end(3)
    assert len(entered) == len(list(ProbeSchedule(3, 10))) == 3  # updates 0, 1 and 3
    with torch.no_grad():
        expected = model[0](x.to(torch.bfloat16)).double().std().item()
    rows = {(r["update"], r["layer"], r["stat"]): r["value"] for r in scheduled.probe.log.rows}
    assert rows[0, "0", "preactivation_std"] == pytest.approx(expected, rel=1e-4)


def test_a_framework_resumed_from_an_older_checkpoint_goes_on_and_keeps_what_was_stored(tmp_path):
    def scheduled_run(first: int, last: int, crash: bool) -> ScheduledProbe:
        torch.manual_seed(first)
        model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
        scheduled = ScheduledProbe(tmp_path / "run", inputs=torch.randn(6, 5), targets=torch.randint(0, 3, (6,)),
                                   loss_fn=F.cross_entropy, every=10, budget=None)
        scheduled.start(model, 25, torch.device("cpu"), first=first)
        for update in range(first, last):
            scheduled.before_update(update)
            scheduled.log_metrics(update, train_cost=float(first))  # which attempt wrote it
        if crash:
            scheduled.probe.writer.run.release()  # the process died here
        else:
            scheduled.end(last)
        return scheduled

    scheduled_run(0, 12, crash=True)  # measured 0, 1, 2, 5, 10; logged up to 11
    with pytest.raises(DepthlabError, match=r"run up to update 11 and this fit starts at update 0: resume the fit "
                                            r"from its checkpoint, or give the callback another path$"):
        scheduled_run(0, 25, crash=False)  # a new fit would mix two trainings in one run
    ended = scheduled_run(6, 25, crash=False)  # resumed from a checkpoint at update 6
    ended.end(25, status="interrupted")  # an exception reported after the end (another callback's)
    run = RunDir.open(tmp_path / "run")
    assert run.probes.updates == [0, 1, 2, 5, 10, 20, 25]
    assert [(m["update"], m["train_cost"]) for m in run.metrics()] == [(u, 0.0) for u in range(12)] + [
        (u, 6.0) for u in range(12, 25)]
    assert run.status == {"status": "completed", "update": 25}

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthlab.errors import DepthlabError
from depthlab.probe import Probe
from depthlab.probe.budget import OverheadBudget
from depthlab.store.run import RunDir

FULL, LIGHT = (True, True), (False, False)


def ticks(*times):
    """A fake clock reading ``times`` in turn."""
    it = iter(times)
    return lambda: next(it)


def probe(**options):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    return Probe(model, torch.randn(6, 5), torch.randint(0, 3, (6,)), F.cross_entropy, **options)


def test_the_first_measure_runs_and_later_ones_only_within_the_fraction():
    budget = OverheadBudget(0.1, clock=ticks(0, 0, 1, 5, 21))
    assert budget.refusal(0, FULL) is None  # the first: nothing to judge by
    with budget.timing(FULL):  # 0 → 1: one second
        pass
    assert budget.expected(FULL) == 1 and budget.probing == 1
    assert budget.refusal(1, FULL) is not None  # 4 s of training: 2 s > 0.4 s
    assert budget.training == 4
    assert budget.refusal(2, FULL) is None  # 20 s of training: 2 s ≤ 2 s
    assert budget.training == 20


def test_a_known_length_projects_the_training_time_over_the_run():
    # the same clock as above, for a run of 100 updates from update 0: at update 1, 4 s of training project to
    # 400 s, whose 10% holds the 2 s; without the length the same measure is refused
    known = OverheadBudget(0.1, clock=ticks(0, 0, 1, 5), total=100)
    unknown = OverheadBudget(0.1, clock=ticks(0, 0, 1, 5))
    for budget in (known, unknown):
        budget.refusal(0, FULL)
        with budget.timing(FULL):
            pass
    assert known.refusal(1, FULL) is None and known.horizon(1) == 400
    assert unknown.refusal(1, FULL).endswith("putting the probe at 50.0% of 4 s of training, over the 10% budget")


def test_each_kind_has_its_own_cost_and_an_unseen_one_costs_as_the_dearest():
    budget = OverheadBudget(0.5, clock=ticks(0, 0, 4, 18, 20, 20, 21, 22, 22))
    budget.refusal(0, FULL)
    with budget.timing(FULL):  # 4 s
        pass
    assert budget.refusal(1, LIGHT) is not None  # 14 s of training: an unseen kind costs 4 s, 8 s > 7 s
    assert budget.refusal(2, LIGHT) is None  # 16 s: 8 s ≤ 8 s
    with budget.timing(LIGHT):  # 1 s
        pass
    assert budget.expected(FULL) == 4 and budget.expected(LIGHT) == 1 and budget.expected((True, False)) == 4
    assert budget.refusal(3, LIGHT) is None  # 17 s: 5 + 1 ≤ 8.5
    assert budget.refusal(3, FULL) is not None  # 5 + 4 > 8.5


def test_a_skip_is_recorded_with_its_numbers_and_returns_an_empty_measure(tmp_path):
    p = probe(budget=0.05)
    p.budget.clock = ticks(0, 0, 1, 11, 41, 41, 41.5)
    p.log_to(tmp_path / "run")
    assert len(p.measure(0)) > 0
    skipped = p.measure(1)
    assert len(skipped) == 0 and skipped.update == 1 and skipped.histograms == []
    assert p.skipped == [(1, "skipped the measure at update 1: it would cost 1 s, putting the probe at 20.0% "
                             "of 10 s of training, over the 5% budget")]
    assert len(p.measure(2)) > 0  # 40 s of training: 2 s is 5%
    assert p.budget.expected((True, True)) == 0.75
    assert {row["update"] for row in p.log.rows} == {0, 2}
    p.finish(2)
    assert RunDir.open(tmp_path / "run").status == {"status": "completed", "update": 2, "skipped_measures": 1}


def test_no_budget_measures_as_before(tmp_path):
    unbudgeted, plain = probe(budget=None), probe()
    assert unbudgeted.budget is None and unbudgeted.skipped == []
    for update in range(3):
        assert unbudgeted.measure(update).rows == plain.measure(update).rows
    plain.log_to(tmp_path / "run").finish(5)
    assert RunDir.open(tmp_path / "run").status == {"status": "completed", "update": 5}


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, "5%", True])
def test_a_budget_outside_zero_to_one_is_one_line(bad):
    with pytest.raises(DepthlabError, match=r"^budget .* is not a fraction of the training time between 0 and 1"):
        probe(budget=bad)


def test_the_default_clock_counts_seconds():
    budget = OverheadBudget(0.05)
    first = budget.clock()
    assert budget.clock() >= first > 0

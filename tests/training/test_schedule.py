import subprocess
import sys

import pytest

from depthlab.training.schedule import ProbeSchedule, evaluates_at_start


def updates(total, every):
    return list(ProbeSchedule(total, every))


def test_dense_early_sparse_late():
    assert updates(3000, 1000) == [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 3000]


def test_short_runs_end_with_the_last_update():
    assert updates(25, 10) == [0, 1, 2, 5, 10, 20, 25]
    assert updates(10, 10) == [0, 1, 2, 5, 10]


def test_a_run_shorter_than_the_probe_interval_probes_once_per_decade():
    assert updates(7, 1000) == [0, 1, 7]
    assert updates(200, 2000) == [0, 1, 10, 100, 200]
    assert updates(1999, 2000) == [0, 1, 10, 100, 1000, 1999]


def test_membership_is_the_listed_updates():
    for total, every in ((3000, 1000), (7, 1000), (1999, 2000), (25, 10), (123_457, 500)):
        schedule = ProbeSchedule(total, every)
        assert [u for u in range(-2, total + 3) if u in schedule] == list(schedule)


def test_jacobians_at_start_and_every_fiftieth_interval_histograms_at_the_end_too():
    def chosen(total, every, kind):
        schedule = ProbeSchedule(total, every)
        return [u for u in schedule if schedule.measure(u)[kind]]

    assert chosen(120_000, 1000, "with_jacobians") == [0, 50_000, 100_000]
    assert chosen(999, 1000, "with_jacobians") == [0]
    assert chosen(120_000, 1000, "with_histograms") == [0, 50_000, 100_000, 120_000]
    assert chosen(200, 2000, "with_histograms") == [0, 200]


SCHEDULE_MEMORY = """
import resource
from depthlab.training.schedule import ProbeSchedule
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
schedule = ProbeSchedule(10**12, 2000)
checks = [10**12 in schedule, 999_999_998_000 in schedule, 999_999_999_999 in schedule, 5 in schedule,
          schedule.measure(10**12)["with_histograms"], schedule.measure(10**11)["with_jacobians"]]
head = [u for _, u in zip(range(20), schedule)]
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before, checks, head[-1])
"""


def test_a_schedule_of_a_trillion_updates_takes_no_memory():
    done = subprocess.run([sys.executable, "-c", SCHEDULE_MEMORY], capture_output=True, text=True, timeout=60,
                          check=True)
    kilobytes, rest = done.stdout.split(" ", 1)
    assert int(kilobytes) < 50 * 1024  # under 50 MB (it was a MemoryError after 5 GB)
    assert rest.strip() == "[True, True, False, True, True, True] 18000"


def test_the_start_is_evaluated_when_another_evaluation_comes_before_the_end():
    assert evaluates_at_start(101, 100) and not evaluates_at_start(100, 100) and not evaluates_at_start(5, 100)


@pytest.mark.parametrize("total, every", [(3000, 1000), (200, 2000), (120_000, 1000), (7, 3), (55, 10), (1, 1)])
def test_the_next_probe_after_any_update_is_the_next_one_listed(total, every):
    schedule = ProbeSchedule(total, every)
    listed = list(schedule)
    for update in range(-1, total + 2, max(1, total // 500)):
        assert schedule.after(update) == next((u for u in listed if u > update), None)

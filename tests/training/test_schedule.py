from depthlab.training.schedule import evaluates_at_start, histogram_updates, jacobian_updates, probe_updates


def test_dense_early_sparse_late():
    assert probe_updates(3000, 1000) == [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 3000]


def test_short_runs_end_with_the_last_update():
    assert probe_updates(25, 10) == [0, 1, 2, 5, 10, 20, 25]
    assert probe_updates(10, 10) == [0, 1, 2, 5, 10]


def test_a_run_shorter_than_the_probe_interval_probes_once_per_decade():
    assert probe_updates(7, 1000) == [0, 1, 7]
    assert probe_updates(200, 2000) == [0, 1, 10, 100, 200]
    assert probe_updates(1999, 2000) == [0, 1, 10, 100, 1000, 1999]


def test_jacobians_at_start_and_every_fiftieth_interval_histograms_at_the_end_too():
    assert sorted(jacobian_updates(120_000, 1000)) == [0, 50_000, 100_000]
    assert sorted(jacobian_updates(999, 1000)) == [0]
    assert sorted(histogram_updates(120_000, 1000)) == [0, 50_000, 100_000, 120_000]
    assert sorted(histogram_updates(200, 2000)) == [0, 200]
    for total, every in ((7, 1000), (120_000, 1000), (1000, 1000)):
        assert histogram_updates(total, every) <= set(probe_updates(total, every))


def test_the_start_is_evaluated_when_another_evaluation_comes_before_the_end():
    assert evaluates_at_start(101, 100) and not evaluates_at_start(100, 100) and not evaluates_at_start(5, 100)

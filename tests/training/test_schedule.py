from depthlab.training.schedule import jacobian_updates, probe_updates


def test_dense_early_sparse_late():
    assert probe_updates(3000, 1000) == [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 3000]


def test_short_runs_end_with_the_last_update():
    assert probe_updates(7, 1000) == [0, 1, 2, 5, 7]
    assert probe_updates(25, 10) == [0, 1, 2, 5, 10, 20, 25]


def test_jacobians_at_start_every_fiftieth_interval_and_end():
    assert sorted(jacobian_updates(120_000, 1000)) == [0, 50_000, 100_000, 120_000]
    assert jacobian_updates(7, 1000) <= set(probe_updates(7, 1000))

"""Nielsen's learning speeds, measured on a small fake MNIST written in IDX format, so the
tests never depend on the data installed on the machine."""

from __future__ import annotations

import numpy as np
import pytest

from depthlab.data.registry import DATASETS
from depthlab.studies.nielsen import speed
from depthlab.studies.nielsen.plan import SPEED_DEPTH


@pytest.fixture(scope="module")
def fake_mnist(study_data):
    return DATASETS.get("mnist").load(study_data)


def test_learning_speed_at_init_grows_toward_the_output(fake_mnist):
    speeds = speed.learning_speed_at_init(fake_mnist, 4, seeds=2).mean(0)
    assert np.all(np.diff(speeds) > 0)
    assert speeds[-1] / speeds[0] > 3


def test_full_batch_training_reads_the_probes_learning_speed_at_epoch_0(fake_mnist):
    at_init = speed.learning_speed_at_init(fake_mnist, SPEED_DEPTH, seeds=1)[0]
    training = speed.learning_speed_in_training(fake_mnist, epochs=3)
    assert training.shape == (3, SPEED_DEPTH)
    assert training[0] == pytest.approx(at_init, rel=1e-5)
    assert not np.allclose(training[2], training[0])

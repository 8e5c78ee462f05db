import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthlab.probe import Probe
from depthlab.probe.tensorboard import TensorBoardWriter

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def test_event_files_hold_every_row_and_histogram(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    probe = Probe(model, torch.randn(20, 4), torch.randint(0, 3, (20,)), F.cross_entropy, jacobian_examples=2, layer_names="positions")
    writer = TensorBoardWriter(tmp_path)
    for step in (0, 3):
        writer.write(probe.measure(step), probe.histograms_at(step), step)
    writer.close()
    assert list(tmp_path.glob("events.out.tfevents.*"))

    events = event_accumulator.EventAccumulator(str(tmp_path), size_guidance={"scalars": 0, "histograms": 0})
    events.Reload()
    tags = events.Tags()
    assert set(tags["scalars"]) == {f"{r['stat']}/{r['layer']}" for r in probe.log.rows}
    assert set(tags["histograms"]) == {f"{h['quantity']}/{h['layer']}" for h in probe.log.histograms}
    written = [(e.step, e.value) for e in events.Scalars("activation_std/layer 1")]
    steps, values = probe.series("activation_std", "layer 1")
    assert [s for s, _ in written] == steps.tolist()
    assert [v for _, v in written] == pytest.approx(values.tolist())
    histogram = events.Histograms("activation/layer 1")[-1].histogram_value
    assert histogram.num == 20 * 6
    assert list(histogram.bucket) == probe.histograms_at(3)[0]["counts"]
